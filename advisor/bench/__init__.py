"""The benchmark harness: how many requests/s one replica of a model serves on a shape under a p99 SLO.

Public API (the rest is private; importing this package never imports Locust, which lives only in the
generator process started by :mod:`advisor.bench.loadgen`):

* :func:`run_target` — measure a :class:`ServerTarget` (a reference model, :func:`reference_target`, or a
  server command, :func:`command_target`) on one shape; :func:`run_capacity` for a reference model by name;
  :func:`run_endpoint` for a server already running; :class:`BenchConfig` (and its ``quick()``);
* :func:`plan_scenario_bench` / :func:`bench_scenario` — what ``recommend --bench`` measures, and the runs;
* :class:`CapacitySearch` — the pure search; :class:`CapacityResult`, :class:`PointResult` — the values;
  :data:`REFERENCE_MODELS` — the registry; :func:`mdk_capacity_rps` — the exact M/D/k truth for tests;
* stored runs: :func:`list_runs`, :func:`load_result`, :func:`import_result` (results measured elsewhere);
* :class:`LoadGenerator` — the Locust generator process on its own, for measuring the generator itself.

Capacity estimates for unmeasured shapes are :mod:`advisor.capacity`'s (``bench suggest`` uses them).
"""

from __future__ import annotations

from advisor.bench.config import BenchConfig, BenchEvent
from advisor.bench.exact_queue import mdk_capacity_rps
from advisor.bench.loadgen import LoadGenerator
from advisor.bench.measurements import (
    GENERATOR_CPU_LIMIT_PCT,
    BenchReport,
    CapacityResult,
    LoadMode,
    PointResult,
    PointSpec,
    RunStatus,
    WindowStats,
    merge_windows,
)
from advisor.bench.payloads import build_request
from advisor.bench.registry import REFERENCE_MODELS
from advisor.bench.results import import_result, list_runs, load_result, points_csv
from advisor.bench.runner import free_port, run_capacity, run_command, run_endpoint, run_target
from advisor.bench.scenario import BenchJob, ScenarioBench, bench_scenario, plan_scenario_bench
from advisor.bench.search import CapacitySearch, SearchConfig
from advisor.bench.targets import Payload, ServerTarget, command_target, reference_target

__all__ = [
    "GENERATOR_CPU_LIMIT_PCT",
    "REFERENCE_MODELS",
    "BenchConfig",
    "BenchEvent",
    "BenchJob",
    "BenchReport",
    "CapacityResult",
    "CapacitySearch",
    "LoadGenerator",
    "LoadMode",
    "Payload",
    "PointResult",
    "PointSpec",
    "RunStatus",
    "ScenarioBench",
    "SearchConfig",
    "ServerTarget",
    "WindowStats",
    "bench_scenario",
    "build_request",
    "command_target",
    "free_port",
    "import_result",
    "list_runs",
    "load_result",
    "mdk_capacity_rps",
    "merge_windows",
    "plan_scenario_bench",
    "points_csv",
    "reference_target",
    "run_capacity",
    "run_command",
    "run_endpoint",
    "run_target",
]
