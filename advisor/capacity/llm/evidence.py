"""LLM bench results as capacity evidence: what the store's ``llm_bench_runs`` rows say, read without the
bench package (the capacity layer sits above the harness in the pipeline and reads its rows as data).

One :class:`LLMMeasured` per completed row: the model (the bench run's ``--model``), the shape,
the request-size bucket (None: the run's whole size distribution), the capacity at its SLO, the SLO it was
judged against and the mean request sizes of its points. The newest row wins per (model, shape, bucket, SLO).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from advisor.capacity.evidence import RowSource

_SQL = (
    "SELECT run_id, model, shape, bucket, tool, result_json FROM llm_bench_runs"
    " WHERE status = 'completed' AND model IN ({marks}) ORDER BY updated_at, id"
)


@dataclass(frozen=True)
class LLMMeasured:
    run_id: str
    model: str
    shape: str
    bucket: str | None
    capacity_rps: float
    ttft_p99_ms: float | None
    tpot_p99_ms: float | None
    quantile: float
    input_tokens: float | None
    output_tokens: float | None
    tool: str
    lower_bound: bool
    fixed_schedule: bool = False  # a trace sent at its own times: 0 says that rate failed, not every rate

    def holds_for(self, ttft_ms: float, tpot_ms: float, quantile: float) -> bool:
        """Measured under an SLO at least as strict as this one (its capacity then serves this SLO too)."""
        strict_ttft = self.ttft_p99_ms is not None and self.ttft_p99_ms <= ttft_ms
        strict_tpot = self.tpot_p99_ms is not None and self.tpot_p99_ms <= tpot_ms
        return strict_ttft and strict_tpot and self.quantile >= quantile and self.capacity_rps > 0

    def rules_out(self, ttft_ms: float, tpot_ms: float, quantile: float) -> bool:
        """A capacity search that found no rate meeting an SLO at least as loose as this one: no rate meets
        this one either, whatever capacity was given or estimated."""
        loose_ttft = self.ttft_p99_ms is not None and self.ttft_p99_ms >= ttft_ms
        loose_tpot = self.tpot_p99_ms is not None and self.tpot_p99_ms >= tpot_ms
        searched = not self.fixed_schedule and not self.lower_bound
        return searched and loose_ttft and loose_tpot and self.quantile <= quantile and self.capacity_rps == 0


def _mean(points: list[dict[str, Any]], key: str) -> float | None:
    values = [float(p[key]) for p in points if isinstance(p, dict) and isinstance(p.get(key), int | float)]
    return sum(values) / len(values) if values else None


def _parse(row: dict[str, Any]) -> LLMMeasured | None:
    try:
        body = json.loads(str(row["result_json"]))
        slo, sizes = body.get("slo") or {}, body.get("sizes") or {}
        points = [p for p in body.get("points") or [] if isinstance(p, dict) and p.get("confirm")]
        rps = float(body["capacity_rps"])
    except (ValueError, TypeError, KeyError):
        return None  # a row this version cannot read is not evidence
    if not rps >= 0 or rps == float("inf"):
        return None
    return LLMMeasured(
        run_id=str(row["run_id"]),
        model=str(row["model"]),
        shape=str(row["shape"]),
        bucket=row["bucket"] if row["bucket"] else None,
        capacity_rps=rps,
        ttft_p99_ms=slo.get("ttft_p99_ms"),
        tpot_p99_ms=slo.get("tpot_p99_ms"),
        quantile=float(slo.get("quantile", 0.99)),
        input_tokens=_mean(points, "mean_input_tokens") or sizes.get("input_tokens"),
        output_tokens=_mean(points, "mean_output_tokens") or sizes.get("output_tokens"),
        tool=str(row["tool"]),
        lower_bound=bool(body.get("lower_bound", False)),
        fixed_schedule=body.get("schedule_time_scale") is not None,
    )


def read_llm_evidence(rows: RowSource, models: Iterable[str]) -> dict[str, list[LLMMeasured]]:
    """The completed LLM bench results of ``models``, newest last, per model (one query)."""
    wanted = tuple(dict.fromkeys(models))
    if not wanted:
        return {}
    latest: dict[tuple[str, str, str | None, float | None, float | None], LLMMeasured] = {}
    for r in rows.query(_SQL.format(marks=",".join("?" for _ in wanted)), wanted):
        m = _parse(dict(r))
        if m is not None:
            latest[(m.model, m.shape, m.bucket, m.ttft_p99_ms, m.tpot_p99_ms)] = m
    out: dict[str, list[LLMMeasured]] = {}
    for m in latest.values():
        out.setdefault(m.model, []).append(m)
    return out
