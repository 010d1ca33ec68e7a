"""What-if: vary one model's traffic and SLO, or the scenario's spot policy, HA floor and platforms, and
re-run the library's recommendation. Nothing is stored unless "Save as new recommendation" is pressed."""

from __future__ import annotations

import dashkit
import streamlit as st

import advisor
from advisor.api import WhatIf, cost_change, save_what_if, what_if
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


st.title("What-if")
with dashkit.page_errors():
    rec = dashkit.pick_recommendation()
    model = dashkit.pick_model(rec) if rec is not None else None
    if rec is not None and model is not None:
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
