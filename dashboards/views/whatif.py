"""What-if: vary one model's traffic and SLO, or the scenario's spot policy, HA floor and platforms, and
re-run the library's recommendation. Nothing is stored unless "Save as new recommendation" is pressed.
A language model's what-if varies its traffic, its TTFT and TPOT SLO and its request sizes
(``advisor.optimize.llm.vary_llm``), re-runs the recommendation the same way and is not stored."""

from __future__ import annotations

import dashkit
import pandas as pd
import streamlit as st

import advisor
import advisor.render as render
from advisor.api import WhatIf, cost_change, recommend, save_what_if, what_if
from advisor.insights import scenario_path
from advisor.optimize.llm import LLMWhatIf, vary_llm
from advisor.render import what_if_table


@st.cache_data(show_spinner=False, max_entries=64)
def _run(home: str, rec_id: str, model: str, change_json: str) -> advisor.Recommendation:
    change = WhatIf.model_validate_json(change_json)
    return what_if(dashkit.by_id(home, rec_id), model, change, settings=dashkit.settings())


def _form(rec: advisor.Recommendation, model: str) -> WhatIf | None:
    m = rec.model(model)
    slo = m.plan.plan.slo.latency_p99_ms if m.plan is not None else 100.0
    with st.form("what-if"):
        left, right = st.columns(2)
        scale = left.number_input("Traffic scale (× today's profile)", 0.1, 100.0, 1.0, 0.25, key="scale")
        new_slo = left.number_input("p99 SLO (ms)", 1.0, 600_000.0, float(slo), 10.0, key="slo")
        floor = left.number_input(
            "HA floor (minimum replicas)", 1, 100, value=None, key="floor", placeholder="as the scenario says"
        )
        spot = right.selectbox("Spot", ["as the scenario says", "allowed", "not allowed"], key="spot")
        bands = [b.value for b in advisor.InterruptionBand]
        band = right.selectbox("Spot interruption band up to", ["as the scenario says", *bands], key="band")
        platforms = right.multiselect(
            "Platforms",
            [p.value for p in advisor.Platform],
            key="platforms",
            placeholder="as the scenario says",
        )
        if not st.form_submit_button("Run what-if"):
            return None
    return WhatIf(
        traffic_scale=scale,
        slo_p99_ms=None if abs(new_slo - slo) < 1e-9 else new_slo,
        spot_allowed=None if spot == "as the scenario says" else spot == "allowed",
        max_interruption_band=None if band == "as the scenario says" else band,
        min_replicas=floor,
        platforms=tuple(platforms) or None,
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _run_llm(home: str, rec_id: str, model: str, change_json: str) -> advisor.Recommendation:
    """The recommendation of the scenario with one language model varied (a what-if: nothing stored)."""
    rec = dashkit.by_id(home, rec_id)
    path = scenario_path(rec)
    change = LLMWhatIf.model_validate_json(change_json)
    varied = vary_llm(
        advisor.load_scenario(path), model, change, peak_rps=render.llm_model(rec, model).peak_rps
    )
    out = recommend(varied, scenario_file=path, settings=dashkit.settings())
    return out.model_copy(
        update={"summary": f"What-if of {rec.id} ({change.describe(model)}): {out.summary}"}
    )


def _llm_form(rec: advisor.Recommendation, model: str) -> LLMWhatIf | None:
    m = render.llm_model(rec, model)
    mean_in, mean_out = render.mean_request_tokens(m)
    with st.form("llm-what-if"):
        left, right = st.columns(2)
        scale = left.number_input(
            "Traffic scale (× today's requests/s)", 0.1, 100.0, 1.0, 0.25, key="llm_scale"
        )
        ttft = left.number_input("p99 TTFT SLO (ms)", 1.0, 3_600_000.0, m.slo_ttft_p99_ms, 100.0, key="ttft")
        tpot = left.number_input("p99 TPOT SLO (ms)", 1.0, 60_000.0, m.slo_tpot_p99_ms, 5.0, key="tpot")
        sizes = right.selectbox(
            "Request sizes", ["as the scenario says", "fixed sizes (below)"], key="llm_sizes"
        )
        tokens_in = right.number_input(
            "Input tokens a request", 1, 1_000_000, round(mean_in), key="tokens_in"
        )
        tokens_out = right.number_input(
            "Output tokens a request", 1, 1_000_000, round(mean_out), key="tokens_out"
        )
        right.caption(
            "Fixed sizes replace the scenario's request-size buckets by one bucket; the defaults are a"
            " request's mean."
        )
        if not st.form_submit_button("Run what-if"):
            return None
    fixed = sizes != "as the scenario says"
    return LLMWhatIf(
        traffic_scale=scale,
        slo_ttft_p99_ms=None if abs(ttft - m.slo_ttft_p99_ms) < 1e-9 else ttft,
        slo_tpot_p99_ms=None if abs(tpot - m.slo_tpot_p99_ms) < 1e-9 else tpot,
        input_tokens=int(tokens_in) if fixed else None,
        output_tokens=int(tokens_out) if fixed else None,
    )


def _llm_compare(stored: advisor.Recommendation, varied: advisor.Recommendation, model: str) -> None:
    """The stored language model against the what-if's: $/month, $/M tokens, the mix, the scenario total."""
    before, after = render.llm_model(stored, model), render.llm_model(varied, model)
    cols = st.columns(3)
    cols[0].metric("Stored plan ($/month)", dashkit.usd(before.usd_per_month))
    delta = after.usd_per_month - before.usd_per_month
    cols[1].metric(
        "What-if ($/month)",
        dashkit.usd(after.usd_per_month),
        delta=f"{delta:+,.2f} $/month",
        delta_color="inverse",
    )
    total = varied.totals.recommended_usd_per_month - stored.totals.recommended_usd_per_month
    cols[2].metric(
        "Scenario total (what-if)",
        dashkit.usd(varied.totals.recommended_usd_per_month),
        delta=f"{total:+,.2f} $/month",
        delta_color="inverse",
    )
    prices = {"stored": render.llm_token_prices(before), "what-if": render.llm_token_prices(after)}
    rows = [
        {"figure": k, "stored": prices["stored"][k], "what-if": prices["what-if"][k]}
        for k in prices["stored"]
    ]
    rows += [
        {
            "figure": "instances over the day",
            "stored": render.mix_words(before),
            "what-if": render.mix_words(after),
        },
        {"figure": "peak requests/s", "stored": f"{before.peak_rps:.3g}", "what-if": f"{after.peak_rps:.3g}"},
        {
            "figure": "action",
            "stored": dashkit.action_words(before.action),
            "what-if": dashkit.action_words(after.action),
        },
    ]
    st.table(pd.DataFrame(rows).set_index("figure"))
    st.caption("A what-if of a language model is not stored; recommend the varied scenario to keep it.")


def _llm_what_if(rec: advisor.Recommendation, model: str) -> None:
    st.markdown(
        f"Vary **{model}** (a language model: traffic, TTFT and TPOT SLO, request sizes) and compare with the"
        " stored plan. The what-if re-runs the recommendation; it is not the stored one."
    )
    change = _llm_form(rec, model)
    if change is not None:
        with st.spinner(f"Recommending with {change.describe(model)}…"):
            varied = _run_llm(dashkit.home_key(), rec.id, model, change.model_dump_json())
            st.session_state["llm_what_if"] = (rec.id, model, change, varied)
    kept = st.session_state.get("llm_what_if")
    if kept is not None and kept[0] == rec.id and kept[1] == model:
        st.subheader(f"What-if: {kept[2].describe(model)}")
        _llm_compare(rec, kept[3], model)


st.title("What-if")
with dashkit.page_errors():
    rec = dashkit.pick_recommendation()
    model = dashkit.pick_model(rec, with_llm=True) if rec is not None else None
    if rec is not None and model is not None and model in {m.model for m in rec.llm_models}:
        dashkit.caption_for(rec)
        _llm_what_if(rec, model)
    elif rec is not None and model is not None:
        dashkit.caption_for(rec)
        st.markdown(
            f"Vary **{model}** (traffic, SLO) or the scenario (spot, HA floor, platforms) and compare "
            "with the stored plan. Scenario settings apply to every model of the scenario."
        )
        change = _form(rec, model)
        if change is not None:
            with st.spinner(f"Recommending with {change.describe(model)}…"):
                st.session_state["what_if"] = (
                    rec.id,
                    model,
                    change,
                    _run(dashkit.home_key(), rec.id, model, change.model_dump_json()),
                )
        kept = st.session_state.get("what_if")
        if kept is not None and kept[0] == rec.id and kept[1] == model:
            _, _, change, varied = kept
            stored_m, varied_m = rec.model(model), varied.model(model)
            delta = cost_change(stored_m, varied_m)
            total_delta = varied.totals.recommended_usd_per_month - rec.totals.recommended_usd_per_month
            st.subheader(change.describe(model))
            cols = st.columns(3)
            cols[0].metric("Stored plan", dashkit.usd(stored_m.cost.usd_per_month if stored_m.cost else None))
            cols[1].metric(
                "What-if",
                dashkit.usd(varied_m.cost.usd_per_month if varied_m.cost else None),
                delta=None if delta is None else f"{delta:+,.2f} $/month",
                delta_color="inverse",
            )
            cols[2].metric(
                "Scenario total (what-if)",
                dashkit.usd(varied.totals.recommended_usd_per_month),
                delta=f"{total_delta:+,.2f} $/month",
                delta_color="inverse",
            )
            st.table(what_if_table(stored_m, varied_m).set_index("figure"))
            if varied_m.reason:
                st.info(varied_m.reason + (f" — {varied_m.fix}" if varied_m.fix else ""))
            saved = st.session_state.setdefault("saved_what_ifs", set())
            if varied.id not in saved and any(
                r["id"] == varied.id for r in advisor.stored_recommendations(100, settings=dashkit.settings())
            ):
                saved.add(varied.id)  # saved from another session (the what-if is cached across sessions)
            if varied.id in saved:
                st.success(f"Saved as {varied.id}: the latest recommendation of {varied.scenario}.")
            elif st.button("Save as new recommendation", key="save"):
                save_what_if(rec, model, change, varied, settings=dashkit.settings())
                saved.add(varied.id)
                dashkit.latest.clear()
                st.success(f"Saved as {varied.id}: the latest recommendation of {varied.scenario}.")
