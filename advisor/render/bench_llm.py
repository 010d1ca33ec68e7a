"""Rich display of LLM bench results: points with TTFT/TPOT/ITL/E2E, capacities per shape and bucket, grids.

No logic beyond formatting; every latency follows advisor's definitions (``advisor.bench.llm.records``).
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from advisor.bench.llm.records import DEFINITIONS, LLMSLO, LLMBenchReport, LLMCapacity, LLMPoint, Percentiles
from advisor.render.console import console, err_console
from advisor.traffic.tokens import BucketGrid

_VERDICT = {"pass": "[green]pass[/]", "fail": "[yellow]fail[/]", "undecided": "[magenta]undecided[/]"}


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _slo_pct(p: Percentiles) -> str:
    """The SLO percentile with its 95 % interval: ``107 (59-111)``; '?' where no rank bounds a side."""
    if p.ci_estimate is None:
        return "-"
    if p.ci_low is None and p.ci_high is None:
        return _ms(p.ci_estimate)
    low = _ms(p.ci_low) if p.ci_low is not None else "?"
    high = _ms(p.ci_high) if p.ci_high is not None else "?"
    return f"{_ms(p.ci_estimate)} ({low}-{high})"


def slo_text(slo: LLMSLO) -> str:
    pct = f"p{slo.quantile * 100:g}"
    parts = [f"{pct} {name.upper()} <= {bound:g} ms" for name, bound in slo.bounds().items()]
    if slo.min_attainment is not None:
        parts.append(f"attainment >= {slo.min_attainment:.1%}")
    return ", ".join(parts) or "no latency bound"


def points_table(points: list[LLMPoint], slo: LLMSLO) -> Table:
    pct = f"p{slo.quantile * 100:g}"
    table = Table(title=f"Points (latencies in ms; {pct} with its 95 % interval)")
    cols = (
        *("#", "offered req/s", "achieved", "TTFT p50", f"TTFT {pct}", "TPOT p50", f"TPOT {pct}"),
        *("ITL p99", "E2E p99", "tok/s in / out", "goodput", "attain.", "lag p99", "verdict"),
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "verdict" else "right")
    for p in points:
        verdict = (
            "[red]invalid[/]" if p.generator_saturated else _VERDICT.get(p.verdict.value, p.verdict.value)
        )
        if not p.confirm and p.verdict.value != "invalid":
            verdict = "[green]screen pass[/]" if p.estimate_passes else "[yellow]screen fail[/]"
        if p.note:
            verdict += f" [dim]({p.note})[/]"
        table.add_row(
            str(p.seq), f"{p.offered_rps:.3g}", f"{p.achieved_rps:.3g}", _ms(p.ttft_ms.p50),
            _slo_pct(p.ttft_ms), _ms(p.tpot_ms.p50), _slo_pct(p.tpot_ms), _ms(p.itl_ms.p99),
            _ms(p.e2e_ms.p99),
            f"{p.input_tokens_per_s:,.0f} / {p.output_tokens_per_s:,.0f}", f"{p.goodput_rps:.3g}",
            f"{p.attainment:.1%}", f"{p.send_lag_p99_ms:.1f}", verdict,
        )  # fmt: skip
    return table


def capacity_sentence(result: LLMCapacity, *, symbols: bool = False) -> str:
    """What one result found, in plain words (the CLI and the dashboard say it the same way):
    ``4.2 req/s (4.6 req/s failed), 1,234 input + 567 output tokens/s at p99 TTFT <= 2000 ms, ...``.

    The rate above the capacity is named with what happened to it (failed, or undecided: its interval
    straddled a bound); nothing is claimed between the two. Token rates are those measured at the capacity;
    a result with no passing rate says so with its reason; ``symbols`` writes ≤ and ≥.
    """
    slo = slo_text(result.slo)
    if symbols:
        slo = slo.replace("<=", "≤").replace(">=", "≥")
    if result.capacity_rps <= 0:
        found = f"no offered rate met {slo}" + (f" ({result.reason})" if result.reason else "")
    else:
        cap = f"{result.capacity_rps:.4g} req/s"
        if result.capacity_high_rps is not None:
            state = "undecided" if result.capacity_undecided else "failed"
            cap += f" ({result.capacity_high_rps:.4g} req/s {state})"
        if result.schedule_time_scale is not None:
            cap += " (lower bound: the SLO held under the trace's own schedule)"
        elif result.lower_bound:
            cap += " (lower bound: the generator capped it)"
        tokens = (
            f", {result.input_tokens_per_s:,.0f} input + {result.output_tokens_per_s:,.0f} output tokens/s"
        )
        found = f"{cap}{tokens} at {slo}"
    if result.status != "completed":
        found += f" (run {result.status}: measured so far)"
    return found


def capacity_line(r: LLMCapacity) -> str:
    where = f" bucket [bold]{r.bucket}[/]" if r.bucket else ""
    return (
        f"[bold]{r.model}[/] on [bold]{r.shape}[/]{where}: capacity {escape(capacity_sentence(r))}"
        f"  [dim](run {r.run_id}, {r.tool})[/]"
    )


def print_capacity(r: LLMCapacity, *, with_points: bool = True) -> None:
    console.print(capacity_line(r))
    if r.reason:
        console.print(f"  {r.reason}", markup=False, highlight=False)
    for w in r.warnings:
        console.print(f"  [yellow]warning:[/] {w}", highlight=False)
    if r.error:
        console.print(f"  [red]error:[/] {r.error}", highlight=False)
    if with_points and r.points:
        console.print(points_table(r.points, r.slo))


def print_report(report: LLMBenchReport) -> None:
    for r in report.results:
        print_capacity(r, with_points=r.bucket is None)
    buckets = [r for r in report.results if r.bucket]
    if buckets:
        console.print(capacity_table(buckets))
    console.print(definitions_note())


def capacity_table(results: list[LLMCapacity]) -> Table:
    table = Table(title="Capacity per request-size bucket")
    for col in ("shape", "bucket", "capacity req/s", "upper end", "in tok/s", "out tok/s", "points", "run"):
        table.add_column(col, justify="left" if col in ("shape", "bucket", "run") else "right")
    for r in results:
        high = "-" if r.capacity_high_rps is None else f"{r.capacity_high_rps:.4g}"
        if r.capacity_undecided:
            high += " (undecided)"
        table.add_row(
            r.shape, r.bucket or "all", f"{r.capacity_rps:.4g}", high, f"{r.input_tokens_per_s:,.0f}",
            f"{r.output_tokens_per_s:,.0f}", str(len(r.points)), r.run_id,
        )  # fmt: skip
    return table


def definitions_note() -> str:
    return (
        "[dim]"
        + "; ".join(f"{k.upper()}: {v}" for k, v in DEFINITIONS.items() if k in ("ttft", "tpot", "itl"))
        + "[/]"
    )


def print_grid(grid: BucketGrid, *, title: str) -> None:
    """Rows: input tokens; columns: output tokens; cells: share of requests (blank when none)."""
    shares = grid.shares()
    used_rows = [i for i in range(len(grid.labels)) if grid.counts[i].sum()]
    used_cols = [o for o in range(len(grid.labels)) if grid.counts[:, o].sum()]
    table = Table(title=f"{title}: share of requests per input x output tokens ({grid.total:,} requests)")
    table.add_column("input \\ output")
    for o in used_cols:
        table.add_column(grid.labels[o], justify="right")
    table.add_column("all", justify="right")
    for i in used_rows:
        cells = [_share(shares[i, o]) if grid.counts[i, o] else "" for o in used_cols]
        table.add_row(grid.labels[i], *cells, f"{shares[i].sum():.1%}")
    table.add_row("all", *[f"{shares[:, o].sum():.1%}" for o in used_cols], "100%")
    console.print(table)


def _share(share: float) -> str:
    return "<0.1%" if share < 0.0005 else f"{share:.1%}"


def grid_json(grid: BucketGrid) -> dict[str, Any]:
    return {
        "edges_tokens": grid.labels,
        "requests": grid.total,
        "cells": [
            {"bucket": label, "share": round(share, 6), "requests": int(grid.counts[i, o])}
            for label, share, i, o in grid.cells()
        ],
    }


def progress_line(bucket: str, point: LLMPoint | None) -> None:
    """One line per measured point on stderr (the caller shows it only on a terminal)."""
    if point is None:
        return
    kind = "confirm" if point.confirm else "screen"
    verdict = point.verdict.value if point.confirm else ("pass" if point.estimate_passes else "fail")
    err_console.print(
        f"[dim]{bucket}[/] {kind} {point.offered_rps:.3g} req/s: TTFT p99 {_ms(point.ttft_ms.p99)} ms, "
        f"TPOT p99 {_ms(point.tpot_ms.p99)} ms, {point.requests} requests -> {verdict}",
        highlight=False,
    )


def print_runs(rows: list[dict[str, Any]]) -> None:
    table = Table(title="LLM bench runs (newest first)")
    for col in ("run", "model", "shape", "bucket", "tool", "status", "capacity req/s", "started"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"], r["model"], r["shape"], r["bucket"] or "all", r["tool"], r["status"],
            f"{r['capacity_rps']:.4g}", r["started_at"],
        )  # fmt: skip
    console.print(table)


def print_llm_estimates(estimates: list[Any], *, model: str, dtype: str, sizes: str, slo: str | None) -> None:
    """``bench estimate --llm``: one row per shape and concurrency, the memory plan and capacity per shape."""
    table = Table(title=f"{escape(model)} ({dtype}), {sizes}: the performance prior (not measured)")
    for col in ("shape", "TP", "concurrency", "TTFT ms", "TPOT ms", "output tok/s"):
        table.add_column(col, justify="left" if col == "shape" else "right")
    for e in estimates:
        if not e.fits:
            table.add_row(e.shape, "-", "-", "-", "-", "[yellow]does not fit[/]")
            continue
        for i, p in enumerate(e.points):
            first = i == 0
            table.add_row(e.shape if first else "", str(e.tp) if first else "", str(p.concurrency),
                          _ms(p.ttft_ms), _ms(p.tpot_ms), f"{p.output_tokens_per_s:,.0f}")  # fmt: skip
    console.print(table)
    for e in estimates:
        if not e.fits:
            console.print(escape(f"{e.shape}: does not fit ({e.reason})"))
            continue
        replicas = f"{e.replicas_per_instance} replica{'s' if e.replicas_per_instance != 1 else ''}"
        line = (
            f"{e.shape}: {replicas} on {e.tp} x {e.device}; a device holds"
            f" {e.weights_gib_per_device:g} GiB of weights and {e.kv_cache_gib_per_device:g} GiB of KV cache"
            f" ({e.kv_cache_tokens:,} tokens, a batch of {e.max_batch})"
        )
        if slo is not None and e.capacity_rps is not None:
            line += (
                f"; capacity at {slo}: {e.capacity_rps:.3g} requests/s a replica,"
                f" {e.capacity_rps_per_instance:.3g} an instance"
                f" ({e.capacity_output_tokens_per_s:,.0f} output tokens/s)"
            )
        console.print(escape(line))
        console.print(f"[dim]  factors {escape(e.basis)}[/]")
