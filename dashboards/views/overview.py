"""Overview: the latest recommendation of a scenario at a glance — today against recommended by team and by
model, where the saving comes from (the lever waterfall), the baselines, SLO risk, efficiency, and the
models, whose rows add up to the total on the page (the shared node pools' saving on its own line);
language models are rows like the others, linked to the LLM model page."""

from __future__ import annotations

import dashkit
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import advisor
import advisor.render as render
from advisor.insights import model_table
from advisor.recommendation import Totals

CHART_LAYOUT = {"height": 360, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "legend": {"orientation": "h"}}
MAX_MODEL_BARS = 25  # the by-model chart shows the models that cost most today; the table has them all
POOLING_ROW = "Shared node pools (the models' shares)"


def _by(frame: pd.DataFrame, key: str) -> go.Figure:
    """Today against recommended per team or model: what each costs under the recommendation (its
    effective cost, pooling share taken off), so that the bars add up to the page's total."""
    columns = ["today_usd_per_month", "recommended_usd_per_month"]
    grouped = frame.groupby(key, sort=False)[columns].sum(min_count=1)
    grouped = grouped.sort_values("today_usd_per_month", ascending=False).head(MAX_MODEL_BARS)
    fig = go.Figure()
    fig.add_bar(name="Today", x=grouped.index, y=grouped["today_usd_per_month"], marker_color="#7f7f7f")
    fig.add_bar(
        name="Recommended", x=grouped.index, y=grouped["recommended_usd_per_month"], marker_color="#2ca02c"
    )
    return fig.update_layout(barmode="group", yaxis_title="$/month", **CHART_LAYOUT)


def _charts(rec: advisor.Recommendation, table: pd.DataFrame) -> None:
    left, right = st.columns(2)
    left.subheader("Today against recommended ($/month)")
    by_team, by_model = left.tabs(["By team", "By model"])
    by_team.plotly_chart(_by(table, "team"), width="stretch", key="by_team")
    by_model.plotly_chart(_by(table, "model"), width="stretch", key="by_model")
    right.subheader("Where the saving comes from")
    t = rec.totals
    fig = dashkit.lever_waterfall(
        t.savings_by_lever, t.current_usd_per_month, t.recommended_for_current_models_usd_per_month
    )
    if fig is None:
        right.info(
            "No model of this recommendation runs today, so there is no saving against today to split."
        )
        return
    right.plotly_chart(fig, width="stretch", key="levers")
    right.caption(f"Models with a deployment today. {dashkit.LEVER_NOTE}")


def _baselines(t: Totals, saving: float | None) -> None:
    st.subheader("Against the baselines")
    rows = [{"plan": "Today", "usd_per_month": t.current_usd_per_month, "saves": dashkit.pct(saving)}]
    rows += [
        {
            "plan": dashkit.first_upper(render.baseline_label(name)),
            "usd_per_month": usd,
            "saves": dashkit.pct(t.savings_vs_baselines_pct.get(name)),
        }
        for name, usd in t.baselines_usd_per_month.items()
    ]
    # the reference every saving above is taken from: its own cell stays empty, not "saves 0 %"
    rows.append({"plan": "Recommended", "usd_per_month": t.recommended_usd_per_month, "saves": "—"})
    dashkit.dataframe(
        pd.DataFrame(rows),
        money=("usd_per_month",),
        plan=st.column_config.TextColumn("Plan"),
        saves=st.column_config.TextColumn("Recommended saves"),
    )


def _models(rec: advisor.Recommendation, table: pd.DataFrame) -> None:
    st.subheader("Models")
    f1, f2 = st.columns(2)
    teams = f1.multiselect("Team", sorted(table["team"].unique()), key="teams")
    actions = f2.multiselect("Action", sorted(table["action"].unique()), key="actions")
    if teams:
        table = table[table["team"].isin(teams)]
    if actions:
        table = table[table["action"].isin(actions)]
    shown = table[
        ["model", "team", "action", "platform", "instance_types", "replicas", "purchase",
         "today_usd_per_month", "plan_usd_per_month", "p99_ms"]
    ].copy()  # fmt: skip
    llm = {m.model for m in rec.llm_models}  # a language model's details are on the LLM model page
    pages = [
        f"/{'llm' if name in llm else 'model'}?scenario={rec.scenario}&model={name}"
        for name in shown["model"]
    ]
    shown.insert(1, "page", pages)
    pooled = float(table["pooling_usd_per_month"].sum())
    extra = []
    if pooled > 0.005:
        extra.append({"model": POOLING_ROW, "plan_usd_per_month": -pooled})
    total = float(table["plan_usd_per_month"].fillna(0).sum()) - pooled
    today = table["today_usd_per_month"].sum(min_count=1)
    extra.append({"model": "Total", "today_usd_per_month": today, "plan_usd_per_month": total})
    shown = pd.concat([shown, pd.DataFrame(extra)], ignore_index=True)
    dashkit.dataframe(
        shown,
        money=("today_usd_per_month", "plan_usd_per_month"),
        page=st.column_config.LinkColumn("Details", display_text="open"),
        plan_usd_per_month=st.column_config.NumberColumn("Recommended ($/month)", format="dollar"),
        p99_ms=st.column_config.NumberColumn("p99 (ms)", format="%.0f"),
    )
    note = "" if pooled <= 0.005 else " Each model's row is its own plan; the pools' saving is its own line."
    count = len(rec.models) + len(rec.llm_models)
    st.caption(f"Shown: {len(table)} of {count} models; their recommended total "
               f"{dashkit.usd(total)}/month.{note}")  # fmt: skip


def _table(rec: advisor.Recommendation) -> pd.DataFrame:
    """The models' rows in words, language models after the classic ones: each costs its own plan
    (effective cost + pooling share; a language model shares no pool)."""
    table = model_table(rec)
    llm = render.llm_overview_rows(rec).dropna(axis=1, how="all")  # no all-empty column into concat
    if table.empty:
        table = llm.reindex(columns=list(dict.fromkeys([*table.columns, *llm.columns])))
    elif not llm.empty:
        table = pd.concat([table, llm], ignore_index=True)
    pooling = {m.model: m.pooling_savings_usd_per_month for m in rec.models}
    table["pooling_usd_per_month"] = table["model"].map(pooling).fillna(0.0)
    table["plan_usd_per_month"] = table["recommended_usd_per_month"] + table["pooling_usd_per_month"]
    table["action"] = table["action"].map(dashkit.action_words)
    return table


st.title("Overview")
with dashkit.page_errors():
    rec = dashkit.pick_recommendation()
    if rec is not None:
        t = rec.totals
        dashkit.caption_for(rec)
        st.markdown(f"**{render.headline(rec.models, rec.totals, rec.llm_models)}**")
        cols = st.columns(4)
        cols[0].metric("Today ($/month)", dashkit.usd(t.current_usd_per_month))
        saving = t.savings_vs_current_pct
        cols[1].metric(
            "Recommended ($/month)",
            dashkit.usd(t.recommended_usd_per_month),
            delta=None if saving is None else f"-{saving:.1f}% vs today",
            delta_color="inverse",
        )
        cols[2].metric("With the Savings Plan ($/month)", dashkit.usd(t.with_commitment_usd_per_month))
        risky = [m for m in rec.models if m.slo_risk is not None and not m.slo_risk.within_budget]
        planned = [m for m in rec.models if m.slo_risk is not None]
        cols[3].metric("Within the SLO budget", f"{len(planned) - len(risky)} of {len(planned)} models")
        table = _table(rec)
        _charts(rec, table)
        _baselines(t, saving)
        eff = st.columns(3)
        eff[0].metric(
            "Efficiency vs the fluid bound",
            dashkit.pct(100 * t.efficiency if t.efficiency else None),
            help=f"fluid lower bound {dashkit.usd(t.fluid_bound_usd_per_month)}/month ÷ recommended",
        )
        eff[1].metric(
            "Efficiency vs the HA-floor bound",
            dashkit.pct(100 * t.floor_efficiency if t.floor_efficiency else None),
            help=f"bound keeping the HA floor {dashkit.usd(t.floor_bound_usd_per_month)}/month ÷ recommended",
        )
        eff[2].metric(
            "Held back by the churn guard ($/month)",
            dashkit.usd(t.held_back_savings_usd_per_month),
            help=f"{t.held_back_models} model(s) kept as they run; not in the totals",
        )
        for warning in rec.warnings:
            st.warning(dashkit.code_spans(warning))
        for m in risky:
            st.error(
                f"{m.model}: {m.slo_risk.minutes_over_slo_per_month:,.1f} minutes over the SLO per month,"  # type: ignore[union-attr]
                " more than the budget allows"
            )
        _models(rec, table)
