"""Ctrl-C and SIGTERM: one line, exit 130/143, at any moment (start-up included), and nothing left running.

Start-up counts from the moment the interpreter runs advisor's code: before that CPython is still starting
(site.py, and an editable install's import hook with it), no program can catch a signal there, and how
long that takes depends on the machine. The delays are therefore added to the time a bare interpreter of
the same environment takes to start and exit (:func:`interpreter_start_s`).

``recommend --bench`` is the hard case: it starts a model server (in its own session) and a Locust generator.
SIGTERM must stop both, mark the run interrupted, and leave no process of its tree alive.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import psutil
import pytest

from tests.helpers import REPO_ROOT
from tests.optimize_helpers import model, scenario_dict, write_scenario

pytestmark = pytest.mark.slow  # a fresh interpreter per test: the process and its signals are the subject


@pytest.fixture(scope="module")
def interpreter_start_s() -> float:
    """The slowest of three starts of this environment's interpreter doing nothing (site.py included)."""
    times = []
    for _ in range(3):
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True, cwd=REPO_ROOT)
        times.append(time.monotonic() - began)
    return max(times)


def _start(*args: str, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "advisor", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "ADVISOR_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _one_interrupt_line(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted ("), stderr


@pytest.mark.parametrize("delay_s", [0.05, 0.3, 1.0, 1.6])
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_at_any_moment_of_start_up_is_one_line(
    tmp_path: Path, delay_s: float, sig: signal.Signals, status: int, interpreter_start_s: float
) -> None:
    proc = _start("recommend", "examples/demo-scenario.yaml", "--no-store", home=tmp_path)
    time.sleep(interpreter_start_s + delay_s)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    # the command had done its work (a fast machine may be done by 1.6 s): a signal that arrives in the
    # interpreter's teardown ends the process by that signal, after the whole answer was printed
    if proc.returncode in (0, -sig) and "4 model(s) for $" in out:
        assert delay_s >= 1.0 and "Traceback" not in err, (delay_s, err)
        assert "4 model(s) for $" in out, out[-2000:]
        return
    # SIGTERM before the interpreter runs any of advisor (a start-up slower than measured, on a busy machine)
    # ends it by the default disposition: nothing printed, nothing stored (SIGINT would show a traceback)
    if sig == signal.SIGTERM and proc.returncode == -sig and delay_s < 0.3:
        assert out == err == "", (out, err)
        return
    assert proc.returncode == status, (proc.returncode, err)
    _one_interrupt_line(err)


_SLOW_SHUTDOWN = """
import atexit, sys, time
from advisor.cli.entry import main
atexit.register(lambda: (print("shutting down", flush=True), time.sleep(1.5)))
sys.exit(main(["pricing", "--help"], hold=True))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_once_the_command_is_done_leaves_its_status(tmp_path: Path, sig: signal.Signals) -> None:
    """The console script blocks both signals once the command returned: CPython puts the default handlers
    back while it shuts down, and a signal then would end a finished command with -2/-15 and no word."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SHUTDOWN],
        cwd=REPO_ROOT,
        env={**os.environ, "ADVISOR_HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    out = []
    for line in proc.stdout:
        out.append(line)
        if line == "shutting down\n":
            break
    proc.send_signal(sig)
    _rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (proc.returncode, err)
    assert "Usage" in "".join(out) and err == "", err


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return cast(list[psutil.Process], psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _command_line(p: psutil.Process) -> str:
    """The process's command line; "" for one that has already ended (a probe that ran and exited)."""
    try:
        return " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return ""


@pytest.mark.slow
def test_sigterm_to_recommend_bench_stops_the_server_and_the_generator(tmp_path: Path) -> None:
    data = scenario_dict(
        model("synth", server={"reference": "synthetic"}, slo={"latency_p99_ms": 400}, capacities_rps={}),
        candidates={"families": ["c7a"], "max_size_vcpu": 4},
        bench={"shapes": ["c7a.medium"], "quick": True},
    )
    path = write_scenario(tmp_path / "s.yaml", data)
    home = tmp_path / "home"
    proc = _start("recommend", str(path), "--bench", home=home)
    seen: dict[int, psutil.Process] = {}
    commands: dict[int, str] = {}  # read when first seen: a short-lived descendant may be gone later
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the first point (the probe), keeping every descendant
        seen.update({p.pid: p for p in _tree(proc.pid)})
        commands.update({pid: _command_line(p) for pid, p in seen.items() if not commands.get(pid)})
        db = home / "advisor.db"
        if db.is_file():
            with sqlite3.connect(db) as conn:
                try:
                    if conn.execute("SELECT COUNT(*) FROM bench_points").fetchone()[0] >= 1:
                        break
                except sqlite3.OperationalError:  # the store is still being created (its first migration)
                    pass
        time.sleep(0.2)
    seen.update({p.pid: p for p in _tree(proc.pid)})
    commands.update({pid: _command_line(p) for pid, p in seen.items() if not commands.get(pid)})
    servers = [pid for pid, cmd in commands.items() if "advisor.bench.servers.reference.synthetic" in cmd]
    generators = [pid for pid, cmd in commands.items() if "advisor.bench.loadgen.process" in cmd]
    assert servers and generators, list(commands.values())
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    _one_interrupt_line(err)
    time.sleep(0.5)
    alive = [p for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [commands.get(p.pid) or _command_line(p) for p in alive]
    with sqlite3.connect(home / "advisor.db") as conn:
        assert conn.execute("SELECT status FROM bench_runs").fetchall() == [("interrupted",)]
