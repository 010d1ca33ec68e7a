"""Both reference models measured on two local shapes, through the CLI as a user runs it (short windows).

Shapes: c7a.medium (1 vCPU, 2 GiB) and c6i.large (2 vCPU, 4 GiB); the second needs a host with 2 CPUs.
The search is cut short (coarse resolution, few points): this checks that real models are measured, stored
and reported, not how precisely (test_bench_harness.py checks precision against a known server).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from advisor.bench import results
from advisor.capacity import read_evidence
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import REPO_ROOT, run_cli

pytestmark = pytest.mark.slow

SHAPES = ["c7a.medium", "c6i.large"]
SHORT = ["--quick", "--warmup-s", "1", "--window-s", "1.5", "--resolution", "0.3"]


@pytest.mark.load  # capacities on emulated shapes: nothing else may use their CPUs
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="c6i.large needs a host with 2 CPUs")
@pytest.mark.parametrize(
    ("model", "slo_ms", "shapes", "points"), [("tabular", 100, SHAPES, 3), ("embedding", 2000, SHAPES[:1], 1)]
)
def test_reference_models_on_their_shapes(model: str, slo_ms: int, shapes: list[str], points: int) -> None:
    """tabular on two shapes (one run, two servers, three open-loop points each); embedding on one, with one
    open-loop point under a loose SLO (its server loads torch, and at its few requests/s on one vCPU a window
    takes ten seconds and its p99 is noisy)."""
    out = run_cli(
        "bench",
        "run",
        "--model",
        model,
        "--shapes",
        ",".join(shapes),
        "--slo-p99-ms",
        str(slo_ms),
        *SHORT,
        "--max-points",
        str(points),
        "--json",
        timeout=400,
    )
    assert out.code == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["model"] == model and [r["shape"] for r in report["results"]] == shapes
    for r in report["results"]:
        assert r["status"] == "completed" and r["estimated"] is False and r["run_id"]
        assert r["capacity_rps"] > 0, r["reason"]
        assert r["p99_ms_at_capacity"] <= slo_ms
        assert r["emulation"]["vcpu"] == (1 if r["shape"] == "c7a.medium" else 2)
        assert r["emulation"]["method"] in ("cgroup_v2", "affinity_rlimit")
        kinds = [p["mode"] for p in r["points"]]
        assert kinds[0] == "closed" and "open" in kinds
        assert all(p["server_rss_mib"] and p["server_rss_mib"] > 20 for p in r["points"])
    with Store(Settings().db_path) as store:
        stored = {m.shape: m.capacity_rps for m in read_evidence(store, [model]).measurements}
    assert stored == {r["shape"]: r["capacity_rps"] for r in report["results"]}


def _synthetic_servers(parent: int) -> list[psutil.Process]:
    """The synthetic servers ``parent`` started (another test's, on another worker, are not its own)."""
    return [
        p
        for p in psutil.Process(parent).children(recursive=True)
        if "advisor.bench.servers.reference.synthetic" in " ".join(p.cmdline())
    ]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_kill_keeps_what_was_measured_and_stops_the_server(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "advisor",
            "bench",
            "run",
            "--model",
            "synthetic",
            "--shapes",
            "c7a.medium",
            "--slo-p99-ms",
            "200",
            "--quick",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    deadline = time.monotonic() + 60
    with Store(Settings().db_path) as store:
        while time.monotonic() < deadline:  # wait until the closed-loop probe is stored
            rows = store.query("SELECT COUNT(*) AS n FROM bench_points")
            if rows[0]["n"] >= 1:
                break
            time.sleep(0.3)
    started = _synthetic_servers(proc.pid)
    assert started, "the bench started no synthetic server"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (130 if sig == signal.SIGINT else 143) and "Traceback" not in err
    assert "what was measured so far is stored" in err
    with Store(Settings().db_path) as store:
        (run,) = results.list_runs(store)
        assert run["status"] == "interrupted" and run["points"] >= 1
    _, alive = psutil.wait_procs(started, timeout=5)
    assert not alive  # the server it started is gone
