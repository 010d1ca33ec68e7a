"""Model: the plan (platform, types, pools, bounds, schedules, purchase mix), its replay against the
traffic (capacity ready on-demand and spot, overloaded minutes marked), the cost breakdown, the
alternatives and baselines, and where every figure comes from."""

from __future__ import annotations

import dashkit
import plotly.graph_objects as go
import streamlit as st

import advisor.render as render
from advisor.insights import ReplayView, comparison_table, model_replay, model_row

MAX_POINTS = 20_000  # per trace; longer replays are shown at a coarser step
BAR_LAYOUT = {"height": 320, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "xaxis_title": "$/month"}


@st.cache_data(show_spinner=False)
def _replay(home: str, rec_id: str, model: str) -> ReplayView:
    return model_replay(dashkit.by_id(home, rec_id), model, settings=dashkit.settings())


def _chart(view: ReplayView) -> go.Figure:
    frame = view.frame
    every = max(1, -(-len(frame) // MAX_POINTS))
    if every > 1:  # coarser: the peak demand against the least capacity of each bucket
        groups = frame.groupby(frame.reset_index().index // every)
        shown = groups.agg(
            {
                "demand_rps": "max",
                "capacity_on_demand_rps": "min",
                "capacity_spot_rps": "min",
                "provisioned_capacity_rps": "min",
                "overloaded": "max",
            }
        )
        shown.index = frame.index[::every][: len(shown)]
    else:
        shown = frame
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=shown.index,
            y=shown["capacity_on_demand_rps"],
            name="ready on-demand capacity",
            stackgroup="capacity",
            line={"width": 0},
            fillcolor="rgba(31,119,180,0.45)",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=shown.index,
            y=shown["capacity_spot_rps"],
            name="ready spot capacity",
            stackgroup="capacity",
            line={"width": 0},
            fillcolor="rgba(44,160,44,0.45)",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=shown.index,
            y=shown["provisioned_capacity_rps"],
            name="provisioned (billed)",
            line={"width": 1, "dash": "dot", "color": "gray"},
        )
    )
    fig.add_trace(
        go.Scatter(x=shown.index, y=shown["demand_rps"], name="demand", line={"width": 1.5, "color": "black"})
    )
    hot = shown[shown["overloaded"].astype(bool)]
    fig.add_trace(
        go.Scatter(
            x=hot.index,
            y=hot["demand_rps"],
            mode="markers",
            name="overloaded minute",
            marker={"color": "red", "size": 6, "symbol": "x"},
        )
    )
    fig.update_layout(
        height=420,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title="requests/s",
        legend={"orientation": "h"},
    )
    return fig


def _plan_section(m) -> None:  # type: ignore[no-untyped-def]
    p, d = m.plan, m.plan.deployment
    st.subheader("Plan")
    cols = st.columns(4)
    cols[0].metric("Platform", p.platform.value, help=p.shape)
    cols[1].metric("Replicas", f"{p.replicas_min}–{p.replicas_max}", help=f"{p.replicas_per_node} per node")
    purchase = (
        "on-demand"
        if p.spot_pct_above_base <= 0
        else (f"{p.on_demand_base_nodes} on-demand + {p.spot_pct_above_base:g}% spot")
    )
    cols[2].metric("Purchase", purchase)
    cols[3].metric(
        "$/month",
        dashkit.usd(m.cost.usd_per_month),
        delta=None if m.savings_vs_current_pct is None else f"-{m.savings_vs_current_pct:.1f}% vs today",
        delta_color="inverse",
    )
    facts = {
        "instance types": ", ".join(p.instance_types),
        "target utilisation": f"{p.target_utilisation:.2f}",
        "scale-up delay / scale-down window": (
            f"{p.scale_up_delay_s:g} s / {p.scale_down_stabilisation_s:g} s"
        ),
        "load balancer": p.load_balancer,
    }
    if d is not None:
        facts["deploy target"] = d.target.label if d.target is not None else "—"
        metric = d.scaling_metric
        scaler = {"hpa": "HPA", "keda": "KEDA"}.get(metric.scaler, metric.scaler)
        facts["scaling target"] = f"{metric.target_value:,.4g} {metric.unit} ({scaler})"
        facts["pools"] = ", ".join(d.pools) or "—"
        if d.migration:
            facts["migration"] = f"the plan's platform ({p.platform.value}) is not the target's: a migration"
    if p.plan.autoscaling.schedules:
        facts["scheduled minimums"] = model_row(m)["schedules"]
    st.table({"": list(facts), "value": list(facts.values())})
    if why := render.platform_choice(m):
        st.caption(dashkit.code_spans(f"Why {p.platform.value}: {why}"))


def _comparison_name(name: str, kind: str) -> str:
    if kind == "recommended":
        return "Recommended"
    if kind == "alternative":
        return f"Alternative: {name}"
    return dashkit.first_upper(render.baseline_label(name))


def _levers(m) -> None:  # type: ignore[no-untyped-def]
    st.subheader("Where the saving against today comes from")
    today = m.current.usd_per_month if m.current is not None else None
    fig = dashkit.lever_waterfall(m.savings_by_lever, today, m.effective_usd_per_month, height=320)
    if fig is None:
        why = "it has no deployment today" if m.current is None else "it keeps what runs today"
        st.info(f"No saving against today to split: {why}.")
        return
    st.plotly_chart(fig, width="stretch", key="model_levers")
    st.caption(dashkit.LEVER_NOTE)


def _provenance(rec, m) -> None:  # type: ignore[no-untyped-def]
    cap = m.plan.capacity
    st.subheader("Where the figures come from")
    st.markdown(
        f"- **capacity**: {cap.rps_per_replica:,.4g} requests/s per replica, **{cap.provenance.value}** "
        f"({cap.basis}); {dashkit.code_spans(cap.source)}"
        + (f"; band {cap.low_rps:,.4g}–{cap.high_rps:,.4g}" if cap.low_rps and cap.high_rps else "")
        + (f"; bench runs {', '.join(cap.bench_run_ids)}" if cap.bench_run_ids else "")
    )
    est = "estimated" if m.cost.prices_estimated else "list prices"
    st.markdown(f"- **prices** ({est}; snapshot {dashkit.code_spans(rec.provenance.price_snapshot)}):")
    st.markdown("\n".join(f"    - {dashkit.code_spans(s)}" for s in m.cost.price_sources))
    if m.slo_risk is not None:
        r = m.slo_risk
        draws = (
            f"seed {r.seeds[0]}"
            if len(r.seeds) == 1
            else f"{len(r.seeds)} seeds ({r.seeds[0]}–{r.seeds[-1]})"
        )
        reclaims = f", {r.pool_reclaims} whole-pool spot reclaims among them" if r.pool_reclaims else ""
        st.markdown(f"- **SLO risk**: replayed under {draws}{reclaims}; {r.queue_model}")


st.title("Model")
with dashkit.page_errors():
    rec = dashkit.pick_recommendation()
    name = dashkit.pick_model(rec) if rec is not None else None
    if rec is not None and name is not None:
        m = rec.model(name)
        dashkit.caption_for(rec)
        st.header(f"{m.model} · team {m.team} · {dashkit.action_words(m.action)}")
        if m.reason:
            st.info(dashkit.code_spans(m.reason + (f" — {m.fix}" if m.fix else "")))
        if m.plan is not None and m.cost is not None:
            _plan_section(m)
            st.subheader("Traffic against capacity")
            with st.spinner("Replaying the plan over its traffic…"):
                view = _replay(dashkit.home_key(), rec.id, name)
            st.plotly_chart(_chart(view), width="stretch")
            note = (
                ""
                if view.matches_stored
                else (
                    " Prices moved since the recommendation: the replay costs"
                    f" {dashkit.usd(view.usd_per_month)}"
                    f"/month against {dashkit.usd(view.stored_usd_per_month)} stored."
                )
            )
            st.caption(
                f"Profile {dashkit.code_spans(view.profile)}, step {view.step_s} s, seed {view.seed}: "
                f"{view.overload_minutes:,.0f} overloaded minutes in the replayed period.{note}"
            )
            _levers(m)
            left, right = st.columns(2)
            left.subheader("Cost breakdown ($/month)")
            parts = {render.component_label(k): v for k, v in m.cost.by_component.items() if abs(v) >= 0.005}
            bars = go.Figure(go.Bar(x=list(parts.values()), y=list(parts), orientation="h"))
            left.plotly_chart(bars.update_layout(BAR_LAYOUT), width="stretch")
            right.subheader("Alternatives and baselines")
            comp = comparison_table(m)
            comp["name"] = [_comparison_name(n, k) for n, k in zip(comp["name"], comp["kind"], strict=True)]
            colours = [
                "#2ca02c" if k == "recommended" else "#1f77b4" if k == "alternative" else "#7f7f7f"
                for k in comp["kind"]
            ]
            bars = go.Figure(
                go.Bar(x=comp["usd_per_month"], y=comp["name"], orientation="h", marker_color=colours)
            )
            right.plotly_chart(bars.update_layout(BAR_LAYOUT), width="stretch")
            dashkit.dataframe(
                comp.drop(columns=["kind"]).rename(columns={"name": "plan"}),
                money=("usd_per_month",),
                minutes_over_slo_pct=st.column_config.NumberColumn(
                    "% of minutes over the SLO", format="%.2f"
                ),
            )
            _provenance(rec, m)
