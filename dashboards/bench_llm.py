"""The bench page's LLM section (``views/bench.py`` calls :func:`show`): stored LLM runs, their TTFT, TPOT,
E2E and token rates against the offered rate with the SLO bounds and the capacity found, the capacity
sentence per result, the per-bucket capacity grid, imported runs' warnings and a CSV of the points.

Only presentation lives here; every figure comes from ``advisor.insights`` (the stored documents).
"""

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
from advisor.bench.llm import DEFINITIONS, LLMCapacity
from advisor.insights import (
    llm_bench_points,
    llm_bench_results,
    llm_bucket_grid,
    llm_capacity_sentence,
    llm_points_csv,
)

RUN_COLUMNS = ["id", "model", "shape", "bucket", "tool", "status", "capacity_rps", "started_at"]
PANELS = {  # (row, col) of each chart in the figure; the latency ones are named as in LLMSLO.bounds()
    "ttft": (1, 1),
    "tpot": (1, 2),
    "e2e": (2, 1),
    "tokens": (2, 2),
}
_COLORS = qualitative.Plotly


def show(runs: pd.DataFrame, settings: advisor.Settings) -> None:
    """The LLM section for ``runs`` (``llm_bench_runs``' rows, not empty)."""
    st.subheader("LLM runs (token streaming)")
    table = runs[RUN_COLUMNS].assign(bucket=runs["bucket"].fillna("all"))
    dashkit.dataframe(table, capacity_rps=st.column_config.NumberColumn("Capacity (req/s)", format="%.4g"))
    run_ids = list(dict.fromkeys(runs["run_id"]))
    latest_per_shape = list(dict.fromkeys(runs.drop_duplicates(["model", "shape"])["run_id"]))
    chosen = st.multiselect("LLM runs to show", run_ids, default=latest_per_shape[:4], key="llm_bench_runs")
    if not chosen:
        return
    results = llm_bench_results(chosen, settings=settings)
    _sentences(results)
    _warnings(results)
    plotted = _plotted(results)
    points = llm_bench_points(plotted)
    if points.empty:
        st.info("These runs have no stored points (summaries imported without them).")
    else:
        st.plotly_chart(_chart(points, plotted), width="stretch")
    _grids(results)
    st.caption(
        "Definitions (advisor/1): "
        + "; ".join(f"**{name.upper()}**: {text}" for name, text in DEFINITIONS.items())
        + ". Error bars: the SLO percentile's distribution-free 95 % interval (one side is missing where too"
        " few requests bound it)."
    )
    st.download_button(
        "Export LLM points as CSV",
        llm_points_csv(results),
        file_name="llm-bench-points.csv",
        mime="text/csv",
        key="llm_bench_csv",
    )


def _label(r: LLMCapacity) -> str:
    return f"{r.shape} {r.bucket or 'all sizes'} ({r.run_id})"


def _sentences(results: list[LLMCapacity]) -> None:
    """The capacity sentence of each whole-distribution result; the buckets' in an expander."""

    def line(r: LLMCapacity) -> str:
        where = f"**{r.model}** on **{r.shape}**, {r.bucket or 'all sizes'} ({r.tool}, run `{r.run_id}`)"
        return f"- {where}: {llm_capacity_sentence(r)}"

    whole = [line(r) for r in results if r.bucket is None]
    buckets = [line(r) for r in results if r.bucket is not None]
    if whole:
        st.markdown("**Capacity found**\n\n" + "\n".join(whole))
    if buckets:
        with st.expander(f"Capacity found per request-size bucket ({len(buckets)})", expanded=not whole):
            st.markdown("\n".join(buckets))


def _warnings(results: list[LLMCapacity]) -> None:
    for r in results:
        for w in r.warnings:
            st.warning(f"{r.run_id} ({r.tool}, {r.bucket or 'all sizes'}): {w}")
        if r.error:
            st.error(f"{r.run_id} ({r.tool}, {r.bucket or 'all sizes'}): {r.error}")


def _plotted(results: list[LLMCapacity]) -> list[LLMCapacity]:
    """The whole-distribution results with points; each bucket's too when asked, or when there is no other."""
    whole = [r for r in results if r.bucket is None and r.points]
    buckets = [r for r in results if r.bucket is not None and r.points]
    if buckets and (
        not whole or st.checkbox("Plot each bucket's points too", value=False, key="llm_bench_buckets")
    ):
        return whole + buckets
    return whole


def _chart(points: pd.DataFrame, results: list[LLMCapacity]) -> go.Figure:
    pct = _percentile(results)
    fig = make_subplots(
        rows=2,
        cols=2,
        shared_xaxes=True,
        vertical_spacing=0.12,
        horizontal_spacing=0.08,
        subplot_titles=(
            f"TTFT (ms): {pct} and p50",
            f"TPOT (ms): {pct} and p50",
            f"E2E {pct} (ms)",
            "tokens/s achieved: input and output",
        ),
    )
    for n, (r, pts) in enumerate(_by_result(points, results)):
        style: dict[str, Any] = {"legendgroup": _label(r), "line": {"color": _COLORS[n % len(_COLORS)]}}
        for metric in ("ttft", "tpot", "e2e"):
            row, col = PANELS[metric]
            name = f"{metric.upper()} {pct} {_label(r)}"
            fig.add_trace(_slo_trace(pts, metric, name, metric == "ttft", style), row, col)
            if metric != "e2e":
                fig.add_trace(_p50_trace(pts, metric, _label(r), style), row, col)
        row, col = PANELS["tokens"]
        for side, dash in (("input", "solid"), ("output", "dash")):
            fig.add_trace(
                go.Scatter(
                    x=pts["offered_rps"],
                    y=pts[f"{side}_tokens_per_s"],
                    mode="lines+markers",
                    name=f"{side} tokens/s {_label(r)}",
                    showlegend=False,
                    legendgroup=_label(r),
                    line={"color": style["line"]["color"], "dash": dash},
                ),
                row,
                col,
            )
        if r.capacity_rps > 0:
            _capacity_line(fig, r)
    _slo_lines(fig, results, pct)
    for row, col in PANELS.values():
        fig.update_xaxes(title_text="offered rate (requests/s)" if row == 2 else None, row=row, col=col)
    fig.update_layout(height=720, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"})
    return fig


def _percentile(results: list[LLMCapacity]) -> str:
    quantiles = {r.slo.quantile for r in results}
    return f"p{quantiles.pop() * 100:g}" if len(quantiles) == 1 else "SLO percentile"


def _by_result(points: pd.DataFrame, results: list[LLMCapacity]) -> list[tuple[LLMCapacity, pd.DataFrame]]:
    out = []
    for r in results:
        mask = (points["run_id"] == r.run_id) & (points["shape"] == r.shape)
        mask &= points["bucket"] == (r.bucket or "all")
        if mask.any():
            out.append((r, points[mask].sort_values("offered_rps")))
    return out


def _error_bars(pts: pd.DataFrame, metric: str) -> dict[str, Any]:
    est = pts[f"{metric}_ci_estimate_ms"]
    return {
        "type": "data",
        "symmetric": False,
        "array": _or_none(pts[f"{metric}_ci_high_ms"] - est),
        "arrayminus": _or_none(est - pts[f"{metric}_ci_low_ms"]),
        "thickness": 1,
    }


def _or_none(values: pd.Series) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values]


def _slo_trace(pts: pd.DataFrame, metric: str, name: str, legend: bool, style: dict[str, Any]) -> go.Scatter:
    return go.Scatter(
        x=pts["offered_rps"],
        y=pts[f"{metric}_ci_estimate_ms"],
        error_y=_error_bars(pts, metric),
        mode="lines+markers",
        name=name,
        showlegend=legend,
        **style,
    )


def _p50_trace(pts: pd.DataFrame, metric: str, label: str, style: dict[str, Any]) -> go.Scatter:
    return go.Scatter(
        x=pts["offered_rps"],
        y=pts[f"{metric}_p50_ms"],
        mode="lines",
        name=f"{metric.upper()} p50 {label}",
        showlegend=False,
        legendgroup=style["legendgroup"],
        line={"color": style["line"]["color"], "dash": "dot"},
    )


def _capacity_line(fig: go.Figure, r: LLMCapacity) -> None:
    """A dotted green line at the capacity in every chart, named once (in the TTFT chart)."""
    for panel, (row, col) in PANELS.items():
        named = {"annotation_text": f"{r.shape}: {r.capacity_rps:,.4g} req/s"} if panel == "ttft" else {}
        fig.add_vline(x=r.capacity_rps, line_dash="dot", line_color="green", row=row, col=col, **named)


def _slo_lines(fig: go.Figure, results: list[LLMCapacity], pct: str) -> None:
    """One dashed red line per distinct bound in the TTFT, TPOT and E2E charts."""
    for metric in ("ttft", "tpot", "e2e"):
        row, col = PANELS[metric]
        for bound in sorted({b for r in results if (b := r.slo.bounds().get(metric)) is not None}):
            fig.add_hline(
                y=bound,
                line_dash="dash",
                line_color="red",
                row=row,
                col=col,
                annotation_text=f"{metric.upper()} SLO {pct} ≤ {bound:g} ms",
            )


def _grids(results: list[LLMCapacity]) -> None:
    """The capacity of each bucket, per run and shape: input tokens as rows, output tokens as columns."""
    groups: dict[tuple[str, str], list[LLMCapacity]] = {}
    for r in results:
        if r.bucket is not None:
            groups.setdefault((r.run_id, r.shape), []).append(r)
    for (run_id, shape), members in groups.items():
        grid = llm_bucket_grid(members)
        if grid.empty:
            continue
        st.markdown(f"**Capacity per request-size bucket** (req/s): {shape}, run `{run_id}`")
        dashkit.dataframe(grid.reset_index().rename_axis(columns=None))
        if grid.size > 1:
            heat = go.Heatmap(
                z=grid.to_numpy(),
                x=list(grid.columns),
                y=list(grid.index),
                colorscale="Greens",
                text=grid.map(lambda v: "" if pd.isna(v) else f"{v:.3g}").to_numpy(),
                texttemplate="%{text}",
                colorbar={"title": "req/s"},
                hovertemplate="in %{y} x out %{x}: %{z:.4g} req/s<extra></extra>",
            )
            fig = go.Figure(heat)
            fig.update_layout(
                height=120 + 40 * len(grid.index),
                margin={"l": 10, "r": 10, "t": 10, "b": 10},
                xaxis_title="output tokens",
                yaxis={"title": "input tokens", "autorange": "reversed"},  # rows as in the table
            )
            st.plotly_chart(fig, width="stretch", key=f"llm_grid_{run_id}_{shape}")
