"""The harness against real servers on 127.0.0.1: known capacity (M/D/k), faults, load semantics.

Slow: each test starts a real server and a Locust generator process. The servers sleep instead of computing,
so the numbers hold on a busy shared machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from advisor.bench import results
from advisor.bench.config import BenchConfig
from advisor.bench.exact_queue import mdk_capacity_rps
from advisor.bench.loadgen.driver import LoadGenerator
from advisor.bench.measurements import LoadMode, PointSpec, RunStatus, merge_windows
from advisor.bench.runner import free_port, run_capacity, run_endpoint
from advisor.bench.search import SearchConfig
from advisor.bench.servers.payloads import build_request
from advisor.domain import SLO
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import run_cli

# The tests marked load time the server or the generator to the millisecond: they run alone (pyproject's
# markers). The others check faults and what is stored, and hold beside other work.
pytestmark = pytest.mark.slow

# Windows long enough for a p99 near saturation to show (see tests/unit/bench/test_bench_search.py for the
# same check against a simulated queue), short enough to keep each search near a minute.
MDK_CONFIG = BenchConfig.quick(
    warmup_s=2.0,
    window_s=3.0,
    probe_users=48,
    search=SearchConfig(resolution=0.05, max_retries=1, max_points=12),
)


# One size: the search's precision at other capacities is checked on the simulated queue (test_bench_search).
@pytest.mark.load
@pytest.mark.parametrize(("slots", "service_ms", "slo_ms"), [(16, 100, 200)])
def test_capacity_of_a_server_of_known_capacity_is_within_10_percent(
    settings: Settings, slots: int, service_ms: int, slo_ms: float
) -> None:
    truth = mdk_capacity_rps(slots, service_ms / 1000, slo_ms)
    result = run_capacity(
        settings,
        "synthetic",
        "c7a.medium",
        SLO(latency_p99_ms=slo_ms),
        options={"slots": str(slots), "service_ms": str(service_ms)},
        config=MDK_CONFIG,
    )
    trace = [(p.target_rps, p.p99_ms, p.passed) for p in result.points]
    assert result.status is RunStatus.COMPLETED, result.error
    assert 0.9 * truth <= result.capacity_rps <= 1.1 * truth, (result.capacity_rps, truth, trace)
    assert result.plateau_rps is not None and result.plateau_rps <= slots / (service_ms / 1000) * 1.02
    assert result.emulation is not None and result.emulation.method in ("cgroup_v2", "affinity_rlimit")
    assert result.host is not None and result.host.cores >= 1
    with Store(settings.db_path) as store:
        stored = results.load_result(store, result.run_id)
        assert stored.capacity_rps == result.capacity_rps and len(stored.points) == len(result.points)
        assert all(p.valid for p in stored.points)


def test_a_server_killed_mid_run_ends_the_run_fast_and_keeps_its_points(settings: Settings) -> None:
    die_after_s = 8.0
    result = run_capacity(
        settings,
        "synthetic",
        "c7a.medium",
        SLO(latency_p99_ms=200),
        options={"slots": "8", "service_ms": "50", "die_after_s": str(die_after_s)},
    )
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "killed by signal 9" in result.error
    assert result.points, "the points measured before the crash are kept"
    assert (
        result.wall_s is not None and result.wall_s < die_after_s + 10
    )  # the run ends within 10 s of the death
    with Store(settings.db_path) as store:
        stored = results.load_result(store, result.run_id)
    assert stored.status is RunStatus.FAILED and len(stored.points) == len(result.points)
    assert stored.log_tail is not None and stored.capacity_rps == 0.0


StartServer = Callable[..., str]


@pytest.fixture
def synthetic_server() -> Iterator[StartServer]:
    """Starts a synthetic server with the given options (the test's own); returns its base URL."""
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start(**opts: str) -> str:
        args = [sys.executable, "-m", "advisor.bench.servers.reference.synthetic", "--port", str(port)]
        for k, v in opts.items():
            args += [f"--{k.replace('_', '-')}", v]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.2)
        raise AssertionError("synthetic server did not start")

    yield start
    for proc in procs:
        proc.kill()  # not terminate(): a graceful stop would first wait out requests still being served (3 s)
        proc.wait(timeout=10)


def test_5xx_answers_count_as_errors(settings: Settings, synthetic_server: StartServer) -> None:
    base = synthetic_server(slots="16", service_ms="10", error_every="4")
    cfg = BenchConfig.quick(search=SearchConfig(max_points=1))
    with Store(settings.db_path) as store:
        result = run_endpoint(
            store,
            build_request(base + "/predict", body={"x": 1}),
            SLO(latency_p99_ms=500),
            label="five-hundreds",
            config=cfg,
        )
    open_points = [p for p in result.points if p.mode is LoadMode.OPEN]
    assert open_points and all(0.15 <= p.error_rate <= 0.35 for p in open_points)  # every 4th answer is a 503
    assert result.capacity_rps == 0.0 and "error rate" in result.reason
    assert "503" in open_points[0].note


def test_timeouts_count_as_errors(settings: Settings, synthetic_server: StartServer) -> None:
    base = synthetic_server(slots="64", service_ms="3000")
    cfg = BenchConfig.quick(request_timeout_s=0.5)
    with Store(settings.db_path) as store:
        result = run_endpoint(
            store,
            build_request(base + "/predict", body={"x": 1}),
            SLO(latency_p99_ms=500),
            label="slow",
            config=cfg,
        )
    # Nothing is ever answered in time: not a capacity of 0 but a target that does not answer (a failure).
    assert result.status is RunStatus.FAILED and result.capacity_rps == 0.0
    assert "answered none" in result.reason and result.points[0].errors > 0


def test_open_loop_counts_latency_from_the_intended_send_time(synthetic_server: StartServer) -> None:
    base = synthetic_server(slots="1", service_ms="100")  # serves 10 req/s at most
    request = build_request(base + "/predict", body={"x": 1})
    with LoadGenerator(request, pool_users=64) as gen:
        closed = gen.measure(
            PointSpec(id=0, mode=LoadMode.CLOSED, users=1, warmup_s=0.5, window_s=2, windows=2, drain_s=0)
        )
        overload = gen.measure(
            PointSpec(
                id=1, mode=LoadMode.OPEN, rate_rps=20, warmup_s=0.5, window_s=2, windows=2, drain_s=1, seed=5
            )
        )
    c, o = merge_windows(closed.windows), merge_windows(overload.windows)
    assert 7 <= c.achieved_rps <= 10.5 and (c.percentile_ms(0.99) or 0) < 200  # closed loop hides the queue
    assert 55 <= o.requests <= 110  # every arrival counted (20 req/s x 4 s), not just the 10 req/s served
    assert (o.percentile_ms(0.5) or 0) > 500  # waiting in line is latency too
    assert o.failures > 0 and any("no response" in e for e in overload.errors)


@pytest.mark.load
def test_locust_master_with_worker_processes_shares_the_load(synthetic_server: StartServer) -> None:
    base = synthetic_server(slots="64", service_ms="20")
    request = build_request(base + "/predict", body={"x": 1})
    with LoadGenerator(request, pool_users=64, workers=2, master_port=free_port()) as gen:
        m = gen.measure(
            PointSpec(
                id=1, mode=LoadMode.OPEN, rate_rps=100, warmup_s=0.5, window_s=2, windows=2, drain_s=1, seed=3
            )
        )
        assert gen.processes == 3
    pooled = merge_windows(m.windows)
    assert m.generator_processes == 2
    assert abs(pooled.requests - 400) < 5 * 400**0.5 and pooled.failures == 0
    assert 20 <= (pooled.percentile_ms(0.99) or 0) < 100


def test_a_saturated_generator_invalidates_points_instead_of_blaming_the_server(settings: Settings) -> None:
    cfg = BenchConfig.quick(
        generator_cpu_limit_pct=0.0, search=SearchConfig(max_points=1)
    )  # every point "saturated"
    result = run_capacity(
        settings,
        "synthetic",
        "c7a.medium",
        SLO(latency_p99_ms=300),
        options={"slots": "16", "service_ms": "20"},
        config=cfg,
    )
    open_points = [p for p in result.points if p.mode is LoadMode.OPEN]
    assert (
        open_points and not any(p.valid for p in open_points) and all(p.passed is None for p in open_points)
    )
    assert result.lower_bound and result.capacity_rps == 0.0 and "load generator saturated" in result.reason


def test_importing_the_harness_never_imports_locust() -> None:
    code = (
        "import sys, advisor.bench, advisor.bench.runner, advisor.cli.bench; "
        "print(sorted(m for m in ('locust', 'gevent') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.load  # a capacity under a p99 from three Locust processes: beside other tests it found none
def test_cli_measures_a_running_endpoint_with_locust_workers(
    synthetic_server: StartServer, tmp_path: Path
) -> None:
    base = synthetic_server(slots="32", service_ms="20")
    body = tmp_path / "body.json"
    body.write_text('{"x": 1}')
    out = run_cli(
        "bench",
        "run",
        "--endpoint",
        base + "/predict",
        "--payload",
        str(body),
        "--model",
        "svc",
        "--slo-p99-ms",
        "300",
        "--quick",
        "--max-points",
        "2",
        "--workers",
        "2",
        "--master-port",
        str(free_port()),
        "--json",
    )
    assert out.code == 0, out.stderr[-2000:]
    (result,) = json.loads(out.stdout)["results"]
    assert result["shape"] == "unknown" and result["model"] == "svc" and result["emulation"] is None
    assert result["capacity_rps"] > 0 and result["points"][0]["mode"] == "closed"  # the probe, then
    open_points = result["points"][1:]  # the budget's two open-loop points: two rates, or one retried (a
    assert len(open_points) == 2 and all(p["mode"] == "open" for p in open_points)  # busy machine's stall)
