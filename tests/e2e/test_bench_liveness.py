"""A bench run whose target dies, hangs or is not there: failed with the reason, points kept, never a
capacity; a run whose own process was killed is found later, marked abandoned, and its server stopped."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from advisor.bench.config import BenchConfig
from advisor.bench.measurements import RunStatus
from advisor.bench.runner import free_port, reap_abandoned, run_endpoint
from advisor.bench.search import SearchConfig
from advisor.bench.servers.payloads import build_request
from advisor.domain import SLO
from advisor.errors import MeasurementError
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import REPO_ROOT, assert_one_line_error, run_cli


def _synthetic(port: int, **opts: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "advisor.bench.servers.reference.synthetic", "--port", str(port)]
    for k, v in opts.items():
        args += [f"--{k.replace('_', '-')}", v]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    raise AssertionError("synthetic server did not start")


CONFIG = BenchConfig.quick(
    search=SearchConfig(resolution=0.05, max_retries=1, max_points=10), request_timeout_s=1.0
)


def test_nothing_listening_is_an_error_before_any_load(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    with Store(settings.db_path) as store:
        with pytest.raises(MeasurementError, match="nothing answers"):
            run_endpoint(
                store,
                build_request(f"http://127.0.0.1:{port}/predict", body={}),
                SLO(latency_p99_ms=100),
                label="ghost",
                config=CONFIG,
            )
        assert store.query("SELECT * FROM bench_runs") == []  # nothing was stored
    body = tmp_path / "body.json"
    body.write_text('{"x": 1}')
    url = f"http://127.0.0.1:{port}/predict"
    cli = run_cli("bench", "run", "--endpoint", url, "--payload", str(body), "--slo-p99-ms", "100")
    assert_one_line_error(cli, "nothing answers", f"127.0.0.1:{port}")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_an_endpoint_that_dies_or_hangs_mid_run_fails_with_its_points(settings: Settings, fault: str) -> None:
    port = free_port()
    server = _synthetic(port, slots="8", service_ms="20")

    # The server goes away (or stops answering) after the first few points.
    def fault_later() -> None:
        time.sleep(14)
        server.send_signal(signal.SIGKILL if fault == "killed" else signal.SIGSTOP)

    threading.Thread(target=fault_later, daemon=True).start()
    try:
        with Store(settings.db_path) as store:
            result = run_endpoint(
                store,
                build_request(f"http://127.0.0.1:{port}/predict", body={"x": 1}),
                SLO(latency_p99_ms=200),
                label="flaky",
                config=CONFIG,
            )
            stored = store.query("SELECT status, error FROM bench_runs")
            caps = store.query("SELECT * FROM capacities")
    finally:
        if fault == "hung":
            server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait()
    assert result.status is RunStatus.FAILED and result.capacity_rps == 0.0, result.reason
    assert "stopped answering" in result.reason or "answered none" in result.reason, result.reason
    assert len(result.points) >= 2 and result.points[0].requests > result.points[0].errors  # kept
    assert stored == [{"status": "failed", "error": result.error}] and caps == []


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_marked_abandoned_and_its_server_stopped(tmp_path: Path) -> None:
    home = tmp_path / "home"
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
            "400",
            "--quiet",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "ADVISOR_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = home / "advisor.db"
    server_pid = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and server_pid is None:
        time.sleep(0.3)
        if db.is_file():
            with sqlite3.connect(db) as conn:
                try:
                    row = conn.execute("SELECT server_pid FROM bench_runs").fetchone()
                except sqlite3.OperationalError:  # the store is still being created (its first migration)
                    row = None
                server_pid = row[0] if row else None
    assert server_pid is not None
    time.sleep(2)
    proc.kill()  # kill -9: nothing gets to record how the run ended
    proc.wait()
    assert psutil.pid_exists(server_pid)  # its own session: the server outlived its orchestrator
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM bench_runs").fetchone() == ("running",)
    with Store(db) as store:
        assert len(reap_abandoned(store)) == 1
        row = store.query("SELECT status, error FROM bench_runs")[0]
    assert row["status"] == "abandoned" and "ended without finishing" in row["error"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and psutil.pid_exists(server_pid):
        try:
            if psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
    shown = run_cli("bench", "show", env={"ADVISOR_HOME": str(home)})
    assert "abandoned" in shown.stdout
