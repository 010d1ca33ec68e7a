"""The benchmark harness: how many requests/s one replica of a model serves on a shape under a p99 SLO.

Public API (the rest is private; importing this package never imports Locust, which lives only in the
generator process started by :mod:`advisor.bench.loadgen.driver`):

* :func:`run_server` — measure a :class:`BenchServer` (a reference model, :func:`reference_server`, or a
  server command, :func:`command_server`) on one shape; :func:`run_capacity` for a reference model by name;
  :func:`run_endpoint` for a server already running; :class:`BenchConfig` (and its ``quick()``);
* :func:`scenario_bench_jobs` / :func:`bench_scenario` — what ``recommend --bench`` measures, and the runs;
* :class:`CapacitySearch` — the pure search; :class:`CapacityResult`, :class:`PointResult` — the values;
  :data:`REFERENCE_MODELS` — the registry; :func:`mdk_capacity_rps` — the exact M/D/k truth for tests;
* stored runs: :func:`list_runs`, :func:`load_result`, :func:`import_result` (results measured elsewhere);
* :class:`LoadGenerator` — the Locust generator process on its own, for measuring the generator itself.

Capacity estimates for unmeasured shapes are :mod:`advisor.capacity`'s (``bench suggest`` uses them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names

if TYPE_CHECKING:
    from advisor.bench.config import BenchConfig, BenchEvent
    from advisor.bench.exact_queue import mdk_capacity_rps
    from advisor.bench.loadgen.driver import LoadGenerator
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
    from advisor.bench.results import import_result, list_runs, load_result, points_csv
    from advisor.bench.runner import free_port, run_capacity, run_command, run_endpoint, run_server
    from advisor.bench.scenario import BenchJob, ScenarioBench, bench_scenario, scenario_bench_jobs
    from advisor.bench.search import CapacitySearch, SearchConfig
    from advisor.bench.servers.payloads import build_request
    from advisor.bench.servers.registry import REFERENCE_MODELS
    from advisor.bench.servers.spec import BenchServer, Payload, command_server, reference_server

# Names load on first use: the harness needs the bench extra (psutil; Locust in its own process), while the
# stored results (advisor.bench.results, .measurements) and the targets read without it.
_LAZY = {
    "BenchConfig": "advisor.bench.config",
    "BenchEvent": "advisor.bench.config",
    "BenchJob": "advisor.bench.scenario",
    "BenchReport": "advisor.bench.measurements",
    "CapacityResult": "advisor.bench.measurements",
    "CapacitySearch": "advisor.bench.search",
    "GENERATOR_CPU_LIMIT_PCT": "advisor.bench.measurements",
    "LoadGenerator": "advisor.bench.loadgen.driver",
    "LoadMode": "advisor.bench.measurements",
    "Payload": "advisor.bench.servers.spec",
    "PointResult": "advisor.bench.measurements",
    "PointSpec": "advisor.bench.measurements",
    "REFERENCE_MODELS": "advisor.bench.servers.registry",
    "RunStatus": "advisor.bench.measurements",
    "ScenarioBench": "advisor.bench.scenario",
    "SearchConfig": "advisor.bench.search",
    "BenchServer": "advisor.bench.servers.spec",
    "WindowStats": "advisor.bench.measurements",
    "bench_scenario": "advisor.bench.scenario",
    "build_request": "advisor.bench.servers.payloads",
    "command_server": "advisor.bench.servers.spec",
    "free_port": "advisor.bench.runner",
    "import_result": "advisor.bench.results",
    "list_runs": "advisor.bench.results",
    "load_result": "advisor.bench.results",
    "mdk_capacity_rps": "advisor.bench.exact_queue",
    "merge_windows": "advisor.bench.measurements",
    "scenario_bench_jobs": "advisor.bench.scenario",
    "points_csv": "advisor.bench.results",
    "reference_server": "advisor.bench.servers.spec",
    "run_capacity": "advisor.bench.runner",
    "run_command": "advisor.bench.runner",
    "run_endpoint": "advisor.bench.runner",
    "run_server": "advisor.bench.runner",
}

__all__ = [
    "GENERATOR_CPU_LIMIT_PCT",
    "REFERENCE_MODELS",
    "BenchConfig",
    "BenchEvent",
    "BenchJob",
    "BenchReport",
    "BenchServer",
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
    "WindowStats",
    "bench_scenario",
    "build_request",
    "command_server",
    "free_port",
    "import_result",
    "list_runs",
    "load_result",
    "mdk_capacity_rps",
    "merge_windows",
    "points_csv",
    "reference_server",
    "run_capacity",
    "run_command",
    "run_endpoint",
    "run_server",
    "scenario_bench_jobs",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
