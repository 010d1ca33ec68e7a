"""Overview: the latest recommendation of a scenario — today against recommended and the baselines, the
savings, SLO risk, efficiency against the bounds, the warnings, and the models by team and action."""

from __future__ import annotations

import dashkit
import streamlit as st

import advisor.render as render
from advisor.insights import model_table

st.title("Overview")
with dashkit.page_errors():
    rec = dashkit.pick_recommendation()
    if rec is not None:
        t = rec.totals
        dashkit.caption_for(rec)
        st.markdown(f"**{render.headline(rec.models, rec.totals)}**")
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
        st.subheader("Against the baselines")
        rows = [{"plan": "today", "usd_per_month": t.current_usd_per_month, "recommended_saves_pct": saving}]
        rows += [
            {
                "plan": name,
                "usd_per_month": usd,
                "recommended_saves_pct": t.savings_vs_baselines_pct.get(name),
            }
            for name, usd in t.baselines_usd_per_month.items()
        ]
        # the reference every saving above is taken from: its own cell stays empty, not "saves 0 %"
        rows.append(
            {
                "plan": "recommended",
                "usd_per_month": t.recommended_usd_per_month,
                "recommended_saves_pct": None,
            }
        )
        st.dataframe(
            rows,
            hide_index=True,
            column_config={
                **dashkit.money_columns("usd_per_month"),
                "recommended_saves_pct": st.column_config.NumberColumn("recommended saves", format="%.1f%%"),
            },
        )
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
            st.warning(warning)
        for m in risky:
            st.error(
                f"{m.model}: {m.slo_risk.minutes_over_slo_per_month:,.1f} minutes over the SLO per month,"  # type: ignore[union-attr]
                " more than the budget allows"
            )
        st.subheader("Models")
        table = model_table(rec)
        f1, f2 = st.columns(2)
        teams = f1.multiselect("Team", sorted(table["team"].unique()), key="teams")
        actions = f2.multiselect("Action", sorted(table["action"].unique()), key="actions")
        if teams:
            table = table[table["team"].isin(teams)]
        if actions:
            table = table[table["action"].isin(actions)]
        table.insert(1, "page", [f"/model?scenario={rec.scenario}&model={name}" for name in table["model"]])
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                "page": st.column_config.LinkColumn("details", display_text="open"),
                **dashkit.money_columns(
                    "today_usd_per_month", "recommended_usd_per_month", "saving_usd_per_month"
                ),
                "saving_pct": st.column_config.NumberColumn("saving", format="%.1f%%"),
                "p99_ms": st.column_config.NumberColumn("p99 (ms)", format="%.0f"),
            },
        )
        st.caption(
            f"Shown: {len(table)} of {len(rec.models)} models; their recommended total "
            f"{dashkit.usd(float(table['recommended_usd_per_month'].fillna(0).sum()))}/month."
            + (f" {pooled}" if (pooled := render.pooling_note(rec)) is not None else "")
        )
