"""LLM bench results as flat rows: one CSV row per measured point, each latency named with its definition."""

from __future__ import annotations

import csv
import io

from advisor.bench.llm.records import DEFINITIONS_ID, LLMCapacity, Percentiles

_METRICS = ("ttft", "tpot", "itl", "e2e")
_STATS = ("p50", "p90", "p95", "p99", "mean", "max", "ci_estimate", "ci_low", "ci_high")


def llm_points_csv(results: list[LLMCapacity]) -> str:
    """One row per point: run, shape, bucket, tool, offered/achieved rate, each metric's percentiles (ms,
    named ``<metric>_<stat>_ms``; ``ci_*`` is the SLO percentile's estimate and 95 % interval, the
    percentile named in ``slo_percentile``), token rates, goodput, attainment, send lag, verdict;
    ``definitions`` names the definitions the figures follow (``advisor/1``: see the README)."""
    head = ["run_id", "model", "shape", "bucket", "tool", "definitions", "slo_percentile", "seq",
            "offered_rps", "achieved_rps", "duration_s", "requests", "errors", "unfinished"]  # fmt: skip
    head += [f"{m}_{s}_ms" for m in _METRICS for s in _STATS]
    head += ["input_tokens_per_s", "output_tokens_per_s", "goodput_rps", "attainment", "send_lag_p99_ms",
             "confirm", "verdict", "note"]  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head)
    for r in results:
        for p in r.points:
            stats = [_stat(getattr(p, f"{m}_ms"), s) for m in _METRICS for s in _STATS]
            writer.writerow(
                [
                    r.run_id,
                    r.model,
                    r.shape,
                    r.bucket or "",
                    r.tool,
                    r.definitions or DEFINITIONS_ID,
                    f"{r.slo.quantile * 100:g}",
                    p.seq,
                    p.offered_rps,
                    round(p.achieved_rps, 4),
                    round(p.duration_s, 3),
                    p.requests,
                    p.errors,
                    p.unfinished,
                    *stats,
                    round(p.input_tokens_per_s, 2),
                    round(p.output_tokens_per_s, 2),
                    round(p.goodput_rps, 4),
                    round(p.attainment, 4),
                    round(p.send_lag_p99_ms, 3),
                    p.confirm,
                    p.verdict.value,
                    p.note,
                ]
            )
    return out.getvalue()


def _stat(p: Percentiles, name: str) -> str:
    value = getattr(p, name)
    return "" if value is None else f"{value:.3f}"
