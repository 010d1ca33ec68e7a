"""Bench: stored runs and their points, with CSV exports. Request/response runs: latency percentiles against
the offered rate per shape, the SLO line, the capacity found, the load generator's CPU. LLM runs (token
streaming): TTFT, TPOT, E2E and tokens/s against the offered rate, the capacity per request-size bucket
(the section is in ``bench_llm.py`` beside dashkit)."""

from __future__ import annotations

import bench_llm
import dashkit
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import advisor
from advisor.bench import points_csv
from advisor.insights import bench_points, bench_results, bench_runs, llm_bench_runs

NO_RUNS_HINT = (
    "No bench run in the store yet. `make demo` measures the two reference models; "
    "`advisor bench run --help` measures a server of your own (an LLM with `--slo-ttft-p99-ms` and "
    "`--slo-tpot-p99-ms`), and `advisor bench import` stores vLLM, GuideLLM or AIPerf results."
)


def _chart(points, results) -> go.Figure:  # type: ignore[no-untyped-def]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    for (run_id, shape), pts in points.groupby(["run_id", "shape"], sort=False):
        # drawn in offered-rate order (the closed-loop probe at what it achieved): over capacity a server
        # completes less than it is offered, and an achieved-rate order zigzags the curve
        pts = pts.assign(offered=pts["target_rps"].fillna(pts["achieved_rps"])).sort_values(
            "offered", kind="stable"
        )
        label = f"{shape} ({run_id[-6:]})"
        fig.add_trace(
            go.Scatter(
                x=pts["offered"],
                y=pts["p99_ms"],
                mode="lines+markers",
                name=f"p99 {label}",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=pts["offered"],
                y=pts["p50_ms"],
                mode="lines",
                line={"dash": "dot"},
                name=f"p50 {label}",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=pts["offered"],
                y=pts["generator_cpu_pct"],
                mode="lines+markers",
                name=f"generator CPU {label}",
            ),
            row=2,
            col=1,
        )
    for r in results:
        fig.add_hline(
            y=r.slo_p99_ms,
            line_dash="dash",
            line_color="red",
            row=1,
            col=1,
            annotation_text=f"SLO {r.slo_p99_ms:g} ms",
        )
        if r.capacity_rps > 0:
            fig.add_vline(
                x=r.capacity_rps,
                line_dash="dot",
                line_color="green",
                annotation_text=f"{r.shape}: {r.capacity_rps:,.4g} rps",
            )
    fig.update_yaxes(title_text="latency (ms)", row=1, col=1)
    fig.update_yaxes(title_text="generator CPU %", row=2, col=1)
    fig.update_xaxes(title_text="offered rate (requests/s)", row=2, col=1)
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def _classic(runs: pd.DataFrame, settings: advisor.Settings) -> None:
    """Request/response runs: the runs table, the run picker, the chart, the capacity found, the CSV."""
    dashkit.dataframe(runs, capacity_rps=st.column_config.NumberColumn("Capacity (req/s)", format="%.4g"))
    latest_per_shape = runs.drop_duplicates(["model", "shape"])["id"].tolist()
    chosen = st.multiselect(
        "Runs to plot", runs["id"].tolist(), default=latest_per_shape[:6], key="bench_runs"
    )
    if not chosen:
        return
    results = bench_results(chosen, settings=settings)
    points = bench_points(results)
    if points.empty:
        st.info("These runs have no stored points.")
    else:
        st.plotly_chart(_chart(points, results), width="stretch")
        found = [
            f"{r.shape}: {r.capacity_rps:,.4g} requests/s at p99 ≤ {r.slo_p99_ms:g} ms"
            + (" (lower bound: the generator capped it)" if r.lower_bound else "")
            for r in results
        ]
        st.markdown("**Capacity found** — " + "; ".join(found))
    st.download_button(
        "Export points as CSV", points_csv(results), file_name="bench-points.csv", mime="text/csv"
    )


st.title("Bench")
with dashkit.page_errors():
    settings = dashkit.settings()
    runs = bench_runs(settings=settings)
    llm_runs = llm_bench_runs(settings=settings)
    if runs.empty and llm_runs.empty:
        st.info(NO_RUNS_HINT)
    else:
        models = sorted({*runs["model"], *llm_runs["model"]})
        model = st.sidebar.selectbox("Bench model", ["(all)", *models], key="bench_model")
        if model != "(all)":
            runs = runs[runs["model"] == model]
            llm_runs = llm_runs[llm_runs["model"] == model]
        if not runs.empty:
            if not llm_runs.empty:
                st.subheader("Request/response runs")
            _classic(runs, settings)
        if not llm_runs.empty:
            bench_llm.show(llm_runs, settings)
