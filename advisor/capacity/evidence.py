"""What the bench store knows about a model: its measured capacities and the fastest latency it ever showed.

The only reading of bench results for capacity questions (``advisor recommend``, ``advisor bench suggest``,
the dashboard): completed runs only, the latest capacity per (label, shape, SLO), the peak server memory
(RSS) of the run behind it, and per label the lowest p99 of any valid point. The queries run against
anything with the store's ``query(sql, params)`` method (:class:`RowSource`), so this package never imports
the store itself and tests can hand it any SQLite connection wrapper.

A model's runs may be stored under several labels (its scenario name, then its reference server's name):
:meth:`BenchEvidence.for_labels` returns them in that order of preference.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class RowSource(Protocol):
    """The read interface of :class:`advisor.store.Store`."""

    def query(self, sql: str, params: tuple[Any, ...] = ...) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Measurement:
    """The latest capacity of one (label, shape, SLO) from a completed bench run."""

    run_id: str
    label: str
    shape: str
    capacity_rps: float
    slo_p99_ms: float
    p99_ms_at_capacity: float | None = None
    lower_bound: bool = False
    reason: str = ""
    peak_rss_mib: float | None = None


@dataclass(frozen=True)
class LatencyFloor:
    """The lowest p99 of any valid point of a completed run, and where it was seen."""

    p99_ms: float
    run_id: str
    shape: str

    @property
    def source(self) -> str:
        return f"bench run {self.run_id} on {self.shape}"


@dataclass(frozen=True)
class BenchEvidence:
    """Measurements and latency floors for a set of labels, read once."""

    measurements: tuple[Measurement, ...] = ()
    floors: dict[str, LatencyFloor] = field(default_factory=dict)

    def for_labels(self, labels: Sequence[str]) -> tuple[list[Measurement], LatencyFloor | None]:
        """The measurements under ``labels`` (earlier labels first) and the lowest floor among them."""
        order = {label: i for i, label in enumerate(labels)}
        mine = [m for m in self.measurements if m.label in order]
        mine.sort(key=lambda m: (order[m.label], m.shape, m.slo_p99_ms))
        floors = [self.floors[label] for label in labels if label in self.floors]
        floor = min(floors, key=lambda f: (f.p99_ms, f.run_id)) if floors else None
        return mine, floor


_CAPACITIES_SQL = (
    "SELECT c.run_id, c.model, c.shape, c.capacity_rps, c.slo_p99_ms, c.p99_ms_at_capacity,"
    " c.lower_bound, c.reason,"
    " (SELECT MAX(p.server_rss_mib) FROM bench_points p WHERE p.run_id = c.run_id) AS peak_rss_mib"
    " FROM capacities c JOIN bench_runs r ON r.id = c.run_id"
    " WHERE c.model IN ({marks}) AND c.estimated = 0 AND r.status = 'completed'"
    " ORDER BY c.id"
)
_FLOORS_SQL = (
    "SELECT r.model, p.p99_ms, r.id, r.shape FROM bench_points p JOIN bench_runs r ON r.id = p.run_id"
    " WHERE r.model IN ({marks}) AND r.status = 'completed' AND p.valid = 1 AND p.p99_ms IS NOT NULL"
    " ORDER BY p.p99_ms ASC, r.id"
)


def read_evidence(rows: RowSource, labels: Iterable[str]) -> BenchEvidence:
    """Everything stored under any of ``labels`` (two queries, whatever the number of labels)."""
    wanted = tuple(dict.fromkeys(labels))
    if not wanted:
        return BenchEvidence()
    marks = ",".join("?" for _ in wanted)
    latest: dict[tuple[str, str, float], Measurement] = {}
    for r in rows.query(_CAPACITIES_SQL.format(marks=marks), wanted):
        if not (_usable(r["capacity_rps"], 0.0) and _usable(r["slo_p99_ms"])):
            continue  # written before imports were checked (NaN, inf, negative): not evidence
        m = Measurement(
            run_id=str(r["run_id"]),
            label=str(r["model"]),
            shape=str(r["shape"]),
            capacity_rps=float(r["capacity_rps"]),
            slo_p99_ms=float(r["slo_p99_ms"]),
            p99_ms_at_capacity=_opt(r["p99_ms_at_capacity"]),
            lower_bound=bool(r["lower_bound"]),
            reason=str(r["reason"] or ""),
            peak_rss_mib=_opt(r["peak_rss_mib"]),
        )
        latest[(m.label, m.shape, m.slo_p99_ms)] = m  # rows come oldest first: the last one wins
    floors: dict[str, LatencyFloor] = {}
    for r in rows.query(_FLOORS_SQL.format(marks=marks), wanted):
        if not _usable(r["p99_ms"], 0.0):
            continue
        floors.setdefault(str(r["model"]), LatencyFloor(float(r["p99_ms"]), str(r["id"]), str(r["shape"])))
    return BenchEvidence(tuple(latest.values()), floors)


def _usable(value: object, low: float = math.ulp(0.0)) -> bool:
    """A stored figure that is a finite number of at least ``low``."""
    return isinstance(value, int | float) and math.isfinite(value) and value >= low


def _opt(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
