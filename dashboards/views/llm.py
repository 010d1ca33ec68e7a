"""LLM model: a language model's stored plan — $/M input, output and blended tokens against the baselines,
its traffic in requests/s and tokens/s against the capacity the plan provisions over the replayed period,
the prior's TTFT and TPOT against load with the SLO lines, the mix (instances per type, the bucket routing),
and a link to its what-if. Figures come from the stored document through ``advisor.render``; nothing here
searches for a plan."""

from __future__ import annotations

import math
from typing import Any

import dashkit
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative
from plotly.subplots import make_subplots

import advisor
import advisor.render as render

LLMModel = Any  # advisor.recommendation.llm.LLMModelRecommendation, read through advisor.render.llm_model
MAX_POINTS = 5_000  # per trace; longer replays are shown at a coarser step
COLORS = qualitative.Plotly
ROWS = (  # the traffic chart's rows: (title, demand column, provisioned column)
    ("requests/s", "demand_rps", "provisioned_rps"),
    ("input tokens/s", "demand_input_tokens_per_s", "provisioned_input_tokens_per_s"),
    ("output tokens/s", "demand_output_tokens_per_s", "provisioned_output_tokens_per_s"),
)


@st.cache_data(show_spinner=False)
def _replay(home: str, rec_id: str, model: str) -> render.LLMReplayView:
    return render.llm_replay(dashkit.by_id(home, rec_id), model, settings=dashkit.settings())


@st.cache_data(show_spinner=False)
def _latency(home: str, rec_id: str, model: str, bucket: str) -> pd.DataFrame:
    rec = dashkit.by_id(home, rec_id)
    return render.llm_latency_curves(rec, model, settings=dashkit.settings(), buckets=[bucket])


def _coarse(frame: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_POINTS steps: the peak demand and the peak capacity of each span (the capacity rises
    ahead of the demand, so a span's peak demand is served by its peak capacity)."""
    every = max(1, -(-len(frame) // MAX_POINTS))
    if every == 1:
        return frame
    shown = frame.groupby(frame.reset_index().index // every).max()
    shown.index = frame.index[::every][: len(shown)]
    return shown


def _traffic_chart(view: render.LLMReplayView) -> go.Figure:
    shown = _coarse(view.frame)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05)
    for row, (title, demand, provisioned) in enumerate(ROWS, start=1):
        first = row == 1
        fig.add_trace(
            go.Scatter(
                x=shown.index, y=shown[provisioned], name="provisioned capacity", legendgroup="provisioned",
                showlegend=first, line={"width": 0, "shape": "hv"}, fill="tozeroy",
                fillcolor="rgba(44,160,44,0.35)",
            ),
            row, 1,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=shown.index, y=shown[demand], name="demand", legendgroup="demand", showlegend=first,
                line={"width": 1.5, "color": "black"},
            ),
            row, 1,
        )  # fmt: skip
        fig.update_yaxes(title_text=title, row=row, col=1)
    return fig.update_layout(
        height=640, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h"}
    )


def _traffic(rec: advisor.Recommendation, m: str) -> None:
    st.subheader("Traffic against provisioned capacity")
    view = _replay(dashkit.home_key(), rec.id, m)
    st.plotly_chart(_traffic_chart(view), width="stretch", key="llm_traffic")
    stored = render.llm_model(rec, m)
    note = (
        ""
        if view.matches_stored
        else (
            f" The profile changed since the recommendation: it carries"
            f" {view.input_tokens_per_month / 1e6:,.0f}M input tokens a month against"
            f" {view.stored_input_tokens_per_month / 1e6:,.0f}M stored."
        )
    )
    st.caption(
        f"Profile {dashkit.code_spans(view.profile)}, step {view.step_s} s. Provisioned: the traffic level"
        f" (of {stored.levels} up to the peak) the mix is sized for at each step, ordered"
        f" {stored.start_up_s / 60:.1f} min ahead of the demand; its instances serve at least that rate with"
        f" the request sizes in their shares. Tokens/s are requests/s × a request's mean tokens.{note}"
    )


def _figures(m: LLMModel) -> None:
    prices = render.llm_token_prices(m)
    cols = st.columns(5)
    for col, (label, value) in zip(cols, prices.items(), strict=False):
        col.metric(label, value)
    cols[4].metric("Today ($/month)", dashkit.usd(m.current_usd_per_month))
    tokens = (
        f"{m.input_tokens_per_month / 1e6:,.0f}M input and {m.output_tokens_per_month / 1e6:,.0f}M output"
    )
    st.caption(
        f"{tokens} tokens a month; $/M input and output split the cost by"
        f" {'prefill and decode time' if m.tokens.split == 'time' else 'a fixed ratio'} (input carries"
        f" {dashkit.pct(100 * m.tokens.input_share)}); blended: the cost over all tokens."
    )
    if m.action == "keep_current":
        st.info(
            f"Kept as today: the plan would cost more than what runs today, so the totals count today's"
            f" {dashkit.usd(m.effective_usd_per_month)}/month."
        )


def _baselines(m: LLMModel) -> None:
    st.subheader("$/M blended tokens against the baselines")
    table = render.llm_baseline_table(m)
    per_m = [m.tokens.usd_per_m_blended, *(b.usd_per_m_blended for b in m.baselines)]
    colours = ["#2ca02c", *("#7f7f7f" if b.name == "current" else "#1f77b4" for b in m.baselines)]
    bars = go.Figure(
        go.Bar(
            x=per_m, y=table["plan"], orientation="h", marker_color=colours, text=table["usd_per_m_blended"],
            textposition="outside", cliponaxis=False,
        )
    )  # fmt: skip
    bars.update_yaxes(autorange="reversed")
    st.plotly_chart(
        bars.update_layout(height=260, margin={"l": 10, "r": 60, "t": 10, "b": 10}, xaxis_title="$/M tokens"),
        width="stretch",
        key="llm_baselines",
    )
    dashkit.dataframe(
        table,
        money=("usd_per_month",),
        plan=st.column_config.TextColumn("Plan"),
        detail=st.column_config.TextColumn("What it is"),
    )
    if m.break_even_rps is not None:
        st.caption(
            f"Self-hosting costs what the per-token API bills at {m.break_even_rps:.3g} requests/s"
            " on average."
        )
    st.subheader("Where the saving against today comes from")
    fig = dashkit.lever_waterfall(m.savings_by_lever, m.current_usd_per_month, m.effective_usd_per_month)
    if fig is None:
        st.info("This model does not run today: there is no saving against today to split.")
    else:
        st.plotly_chart(fig, width="stretch", key="llm_levers")
        st.caption(
            "Today → the peak mix held all month (instance type) → the mix following the traffic"
            " (autoscaling): each step the cost before it less the cost after it."
        )


def _mix(m: LLMModel) -> None:
    st.subheader("The mix: instances per type")
    st.markdown(f"**Instances over the day**: {render.mix_words(m)}")
    dashkit.dataframe(
        render.llm_mix_table(m),
        money=("usd_per_month",),
        usd_per_hour=st.column_config.NumberColumn("$/hour", format="dollar"),
        instance_hours_per_month=st.column_config.NumberColumn("Instance-hours a month", format="%.0f"),
        busiest_bucket_rps_per_instance=st.column_config.NumberColumn(
            dashkit.label("busiest_bucket_rps_per_instance"), format="%.3g"
        ),
    )
    st.subheader("Routing: where each request-size bucket goes")
    dashkit.dataframe(
        render.llm_routing_table(m),
        share_of_requests_pct=st.column_config.NumberColumn("Share of requests (%)", format="%.1f"),
        mean_input_tokens=st.column_config.NumberColumn("Mean input tokens", format="%.0f"),
        mean_output_tokens=st.column_config.NumberColumn("Mean output tokens", format="%.0f"),
    )
    st.caption(
        "The peak mix's routing: a router sends each bucket's requests to these types in these shares."
    )
    deployed = render.llm_deployed_words(m)
    if deployed is not None:
        st.markdown(deployed)


def _latency_chart(curves: pd.DataFrame, m: LLMModel) -> go.Figure:
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08,
        subplot_titles=("TTFT (ms) against load", "TPOT (ms) against load"),
    )  # fmt: skip
    for n, (option, rows) in enumerate(curves.groupby("option", sort=False)):
        colour = COLORS[n % len(COLORS)]
        for col, metric in ((1, "ttft_ms"), (2, "tpot_ms")):
            fig.add_trace(
                go.Scatter(
                    x=rows["requests_per_s"], y=rows[metric], mode="lines+markers", name=str(option),
                    legendgroup=str(option), showlegend=col == 1, line={"color": colour},
                    customdata=rows["concurrency"],
                    hovertemplate="%{customdata} in flight: %{x:.3g} req/s, %{y:.4g} ms",
                ),
                1, col,
            )  # fmt: skip
            capacity = float(rows["capacity_rps_per_replica"].iloc[0])
            named = {"annotation_text": f"{option}: {capacity:.3g} req/s"} if col == 1 else {}
            fig.add_vline(x=capacity, line_dash="dot", line_color=colour, row=1, col=col, **named)
    for col, (label, bound) in ((1, ("TTFT", m.slo_ttft_p99_ms)), (2, ("TPOT", m.slo_tpot_p99_ms))):
        fig.add_hline(y=bound, line_dash="dash", line_color="red", row=1, col=col)
        # TTFT is drawn on a log axis (a queue's TTFT grows by orders of magnitude), where an annotation's
        # y is the log of the value (a shape's is the value)
        fig.add_annotation(
            text=f"{label} SLO p99 ≤ {bound:g} ms", x=1, xref=f"x{col if col > 1 else ''} domain",
            y=math.log10(bound) if col == 1 else bound, yref=f"y{col if col > 1 else ''}",
            xanchor="right", yanchor="bottom", showarrow=False, font={"color": "red"},
        )  # fmt: skip
        fig.update_xaxes(title_text="requests/s per replica", row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=1)
    return fig.update_layout(
        height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"}
    )


def _latency_section(rec: advisor.Recommendation, m: LLMModel) -> None:
    st.subheader("TTFT and TPOT against load")
    buckets = [r.bucket for r in sorted(m.routing, key=lambda r: -r.share_of_requests)]
    bucket = (
        st.selectbox("Request-size bucket", buckets, key="llm_bucket") if len(buckets) > 1 else buckets[0]
    )
    curves = _latency(dashkit.home_key(), rec.id, m.model, bucket)
    if curves.empty:
        st.info(f"No instance group of the mix serves {bucket} within the SLO.")
        return
    st.plotly_chart(_latency_chart(curves, m), width="stretch", key="llm_latency")
    methods = sorted(set(curves["capacity_method"]))
    st.caption(
        f"The prior's TTFT and TPOT for {bucket} on a replica of each type, at 1 to"
        f" {int(curves['concurrency'].max())} requests in flight (steady state: a typical request, not a"
        " p99)."
        f" Dotted: the capacity per replica the plan uses (p99 within both SLOs under Poisson arrivals; from"
        f" {', '.join(render.LLM_CAPACITY_WORDS.get(x, x) for x in methods)})."
        " Measured runs are on the Bench page."
    )


st.title("LLM model")
with dashkit.page_errors():
    rec = dashkit.pick_recommendation()
    model = dashkit.pick_llm_model(rec) if rec is not None else None
    if rec is not None and model is not None:
        m = render.llm_model(rec, model)
        dashkit.caption_for(rec)
        st.markdown(
            f"**{m.model}** (team {m.team}): {dashkit.action_words(m.action)}; {render.llm_serving_words(m)}."
        )
        _figures(m)
        with dashkit.page_errors():  # a scenario file gone: the stored figures below are still shown
            _traffic(rec, model)
        _baselines(m)
        _mix(m)
        with dashkit.page_errors():
            _latency_section(rec, m)
        st.subheader("What-if")
        st.page_link(
            "views/whatif.py",
            label=f"Vary {model}'s traffic, SLO or request sizes on the What-if page (a what-if, not stored)",
            query_params={"scenario": rec.scenario, "model": model},
        )
        for note in m.notes:
            st.caption(dashkit.code_spans(note))
