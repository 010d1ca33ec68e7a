"""History: a scenario's recommendations over time (cost, savings) and the changes applied from them."""

from __future__ import annotations

import dashkit
import plotly.graph_objects as go
import streamlit as st

from advisor.insights import applied_changes, recommendation_history

st.title("History")
with dashkit.page_errors():
    rec = dashkit.pick_recommendation()
    if rec is not None:
        settings = dashkit.settings()
        history = recommendation_history(rec.scenario, settings=settings)
        fig = go.Figure()
        for column, label in [
            ("current_usd_per_month", "today"),
            ("recommended_usd_per_month", "recommended"),
            ("with_commitment_usd_per_month", "with the Savings Plan"),
        ]:
            fig.add_trace(
                go.Scatter(x=history["created_at"], y=history[column], name=label, mode="lines+markers")
            )
        fig.update_layout(height=360, yaxis_title="$/month", margin={"l": 10, "r": 10, "t": 30, "b": 10})
        st.subheader(f"Recommendations of {rec.scenario}: {len(history)}")
        st.plotly_chart(fig, width="stretch")
        dashkit.dataframe(
            history.iloc[::-1],
            money=(
                "current_usd_per_month",
                "recommended_usd_per_month",
                "with_commitment_usd_per_month",
                "held_back_savings_usd_per_month",
            ),
            savings_vs_current_pct=st.column_config.NumberColumn("Saving vs today", format="%.1f%%"),
        )
        st.subheader("Applied changes")
        changes = applied_changes(settings=settings)
        changes = changes[changes["recommendation_id"].isin(history["id"])]
        if changes.empty:
            st.info("No change applied to a cluster from these recommendations is recorded in the store.")
        else:
            dashkit.dataframe(changes)
