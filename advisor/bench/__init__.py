"""The benchmark harness: how many requests/s one replica of a model serves on a shape under a p99 SLO.

Public API (the rest is private; importing this package never imports Locust, which lives only in the
generator process started by :mod:`advisor.bench.loadgen`):

* :func:`run_capacity` — measure a reference model (``tabular``, ``embedding``, ``synthetic``) on one shape;
  :func:`run_command` / :func:`run_endpoint` for any server; :class:`BenchConfig` (and its ``quick()``).
* :func:`capacity_table` — measured capacities per instance type, estimates (flagged, with bands) elsewhere;
  :func:`suggest_measurements` — which types are worth measuring next.
* :class:`CapacitySearch` — the pure search; :class:`CapacityResult`, :class:`PointResult`,
  :class:`CapacityEstimate` — the values; :data:`REFERENCE_MODELS` — the registry.
"""

from __future__ import annotations

from advisor.bench.config import BenchConfig, BenchEvent
from advisor.bench.estimate import CapacityEstimate, GpuWorkload, capacity_table, suggest_measurements
from advisor.bench.measurements import BenchReport, CapacityResult, PointResult, RunStatus
from advisor.bench.registry import REFERENCE_MODELS
from advisor.bench.runner import run_capacity, run_command, run_endpoint
from advisor.bench.search import CapacitySearch, SearchConfig

__all__ = [
    "REFERENCE_MODELS",
    "BenchConfig",
    "BenchEvent",
    "BenchReport",
    "CapacityEstimate",
    "CapacityResult",
    "CapacitySearch",
    "GpuWorkload",
    "PointResult",
    "RunStatus",
    "SearchConfig",
    "capacity_table",
    "run_capacity",
    "run_command",
    "run_endpoint",
    "suggest_measurements",
]
