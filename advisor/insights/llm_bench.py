"""LLM bench runs as the surfaces show them: the stored runs, their results, one row per measured point, the
capacity sentence, and the per-bucket capacity grid (input tokens × output tokens).

Every figure is read from the stored :class:`~advisor.bench.llm.records.LLMCapacity` documents; latencies
follow advisor's definitions (:data:`advisor.bench.llm.records.DEFINITIONS`). Reading never creates
anything: without a store every frame is empty.
"""

from __future__ import annotations

import re

import pandas as pd

from advisor.bench.llm.records import LLMCapacity
from advisor.bench.llm.store import list_runs, load_run
from advisor.errors import InputError
from advisor.insights.stored import _store
from advisor.render.bench_llm import capacity_sentence
from advisor.settings import Settings
from advisor.traffic.tokens import range_labels

LLM_RUN_COLUMNS = (
    "id",
    "run_id",
    "model",
    "shape",
    "bucket",
    "tool",
    "target",
    "status",
    "capacity_rps",
    "started_at",
    "updated_at",
)
LLM_METRICS = ("ttft", "tpot", "itl", "e2e")
_STATS = ("p50", "ci_estimate", "ci_low", "ci_high")
LLM_POINT_COLUMNS = (
    *("run_id", "model", "shape", "bucket", "tool", "slo_percentile", "capacity_rps", "capacity_high_rps"),
    *("seq", "offered_rps", "achieved_rps", "requests", "errors"),
    *(f"{m}_{s}_ms" for m in LLM_METRICS for s in _STATS),
    "e2e_p99_ms",
    *("input_tokens_per_s", "output_tokens_per_s", "goodput_rps", "attainment", "send_lag_p99_ms"),
    *("verdict", "confirm"),
)
WHOLE_DISTRIBUTION = "all"
"""The ``bucket`` of a result measured over the whole size distribution, in the frames here."""
_BUCKET = re.compile(r"^in (?P<input>\S+) x out (?P<output>\S+)$")


def llm_bench_runs(
    *, model: str | None = None, limit: int = 200, settings: Settings | None = None
) -> pd.DataFrame:
    """Stored LLM bench rows, newest first: one per (run, shape, bucket) with the capacity it found in
    requests/s (``LLM_RUN_COLUMNS``; ``bucket`` None for the whole distribution). Empty without a store."""
    store = _store(settings)
    if store is None:
        return pd.DataFrame(columns=list(LLM_RUN_COLUMNS))
    with store:
        rows = list_runs(store, model=model, limit=limit)
    return pd.DataFrame(rows, columns=list(LLM_RUN_COLUMNS))


def llm_bench_results(run_ids: list[str], *, settings: Settings | None = None) -> list[LLMCapacity]:
    """Every result of the runs asked (a run id, or one row's id ``RUN#BUCKET``), in the order asked, each
    run's whole-distribution result before its buckets; a row asked twice comes once. NotFoundError for an
    unknown id; empty without a store."""
    store = _store(settings)
    if store is None or not run_ids:
        return []
    seen: set[tuple[str, str, str | None]] = set()
    out: list[LLMCapacity] = []
    with store:
        for run_id in run_ids:
            for r in load_run(store, run_id):
                if (key := (r.run_id, r.shape, r.bucket)) not in seen:
                    seen.add(key)
                    out.append(r)
    return out


def llm_bench_points(results: list[LLMCapacity]) -> pd.DataFrame:
    """One row per measured point (``LLM_POINT_COLUMNS``): the result's run, shape, bucket (``"all"`` for the
    whole distribution), tool and capacity beside the point's offered and achieved rate (requests/s), each
    latency's p50 and the SLO percentile's estimate with its 95 % interval (``<metric>_ci_estimate_ms``,
    ``_ci_low_ms``, ``_ci_high_ms``; the percentile is ``slo_percentile``, e.g. 99; a side no order statistic
    bounds is NaN), E2E p99, input and output tokens/s achieved, goodput, attainment, send lag, verdict and
    whether the point was a confirming one. Empty (with the columns) when no result has a point."""
    rows = []
    for r in results:
        for p in r.points:
            row: dict[str, object] = {
                "run_id": r.run_id,
                "model": r.model,
                "shape": r.shape,
                "bucket": r.bucket or WHOLE_DISTRIBUTION,
                "tool": r.tool,
                "slo_percentile": r.slo.quantile * 100,
                "capacity_rps": r.capacity_rps,
                "capacity_high_rps": r.capacity_high_rps,
                "seq": p.seq,
                "offered_rps": p.offered_rps,
                "achieved_rps": p.achieved_rps,
                "requests": p.requests,
                "errors": p.errors,
                "e2e_p99_ms": p.e2e_ms.p99,
                "input_tokens_per_s": p.input_tokens_per_s,
                "output_tokens_per_s": p.output_tokens_per_s,
                "goodput_rps": p.goodput_rps,
                "attainment": p.attainment,
                "send_lag_p99_ms": p.send_lag_p99_ms,
                "verdict": p.verdict.value,
                "confirm": p.confirm,
            }
            for m in LLM_METRICS:
                pct = getattr(p, f"{m}_ms")
                row.update({f"{m}_{s}_ms": getattr(pct, s) for s in _STATS})
            rows.append(row)
    may_be_none = [c for c in LLM_POINT_COLUMNS if c.endswith("_ms") or c == "capacity_high_rps"]
    return pd.DataFrame(rows, columns=list(LLM_POINT_COLUMNS)).astype(dict.fromkeys(may_be_none, float))


def llm_capacity_sentence(result: LLMCapacity) -> str:
    """What one result found, in a line (:func:`advisor.render.bench_llm.capacity_sentence`, with ≤)."""
    return capacity_sentence(result, symbols=True)


def parse_bucket(label: str) -> tuple[str, str] | None:
    """``"in 1k-2k x out 250-500"`` → ``("1k-2k", "250-500")``; None for a label of another form."""
    match = _BUCKET.match(label.strip())
    return None if match is None else (match["input"], match["output"])


def llm_bucket_grid(results: list[LLMCapacity]) -> pd.DataFrame:
    """Capacity (requests/s) of each per-bucket result: input-token buckets as rows, output-token buckets as
    columns, both in token order (Mélange's edges first, other labels after, as met); NaN where no bucket
    was measured. Whole-distribution results, and bucket labels not of the form ``"in A x out B"``, are left
    out. Empty frame when no result has a bucket.

    Pass the results of one run and shape: InputError when two results name the same bucket.
    """
    cells: dict[tuple[str, str], LLMCapacity] = {}
    for r in results:
        parsed = parse_bucket(r.bucket) if r.bucket else None
        if parsed is None:
            continue
        if parsed in cells:
            other = cells[parsed]
            raise InputError(
                f"bucket {r.bucket!r} is measured twice: by run {other.run_id} on {other.shape} and by run "
                f"{r.run_id} on {r.shape}",
                where="llm_bucket_grid",
                fix="pass the results of one run and shape at a time",
            )
        cells[parsed] = r
    known = range_labels()
    rows = _ordered([i for i, _ in cells], known)
    cols = _ordered([o for _, o in cells], known)
    grid = pd.DataFrame(float("nan"), index=pd.Index(rows, name="input tokens"), columns=cols, dtype=float)
    grid.columns.name = "output tokens"
    for (i, o), r in cells.items():
        grid.loc[i, o] = r.capacity_rps
    return grid


def _ordered(labels: list[str], known: list[str]) -> list[str]:
    unique = list(dict.fromkeys(labels))
    return sorted(unique, key=lambda x: known.index(x) if x in known else len(known) + unique.index(x))
