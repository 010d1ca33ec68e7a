"""HiGHS solves keep standard output clean: C's prints in a solve are dropped, the descriptor comes back."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from scipy.optimize import LinearConstraint

from advisor.optimize.highs import milp, stdout_silenced

libc = ctypes.CDLL(None)


@contextmanager
def stdout_pipe() -> Iterator[Callable[[], bytes]]:
    """Descriptor 1 on a pipe inside the block (a context manager, not a fixture: pytest points descriptor
    1 at its own capture file again between a test's setup and its call); yields what reads the pipe."""
    libc.fflush(None)
    r, w = os.pipe()
    saved = os.dup(1)
    os.dup2(w, 1)
    os.close(w)

    def read() -> bytes:
        libc.fflush(None)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)  # closes the pipe's last write end
        os.close(null)
        with os.fdopen(r, "rb") as f:
            return f.read()

    try:
        yield read
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


# a process whose standard output is a pipe, as ``advisor recommend --format json | jq`` runs; without
# PYTHONUNBUFFERED, which also makes C's stdout unbuffered, C keeps what it prints in its buffer
PRINTS_AROUND_A_SOLVE = """
import ctypes
from advisor.optimize.highs import stdout_silenced
libc = ctypes.CDLL(None)
libc.printf(b"before\\n")
with stdout_silenced():
    libc.printf(b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\\n")
libc.printf(b"after\\n")
"""


def test_c_prints_during_a_solve_never_reach_a_piped_stdout() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    out = subprocess.run(
        [sys.executable, "-c", PRINTS_AROUND_A_SOLVE], env=env, capture_output=True, check=True, timeout=60
    )
    assert out.stdout == b"before\nafter\n"


def test_overlapping_solves_on_two_threads_give_back_the_real_stdout() -> None:
    with stdout_pipe() as read:
        _overlap_on_two_threads()
        libc.printf(b"back\n")
        assert read() == b"back\n"


def _overlap_on_two_threads() -> None:
    real = os.fstat(1)
    null = os.stat(os.devnull)
    inside = threading.Barrier(2)
    first_out = threading.Event()
    seen: list[bool] = []

    def solve(first: bool) -> None:
        with stdout_silenced():
            inside.wait()
            if first:
                first_out.set()
                return
            first_out.wait()
            seen.append(os.fstat(1).st_ino == null.st_ino)  # the other thread left: still silenced

    threads = [threading.Thread(target=solve, args=(k == 0,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [True]
    assert (os.fstat(1).st_dev, os.fstat(1).st_ino) == (real.st_dev, real.st_ino)


def test_milp_answers_as_scipys() -> None:
    # a knapsack of capacity 10: items (value, weight) (6, 5), (5, 4), (4, 3), (3, 2); the best, 13, takes
    # the first, third and fourth (weight 10)
    res = milp(
        -np.array([6.0, 5.0, 4.0, 3.0]),
        constraints=[LinearConstraint(np.array([[5.0, 4.0, 3.0, 2.0]]), -np.inf, 10.0)],
        integrality=np.ones(4),
        bounds=(0, 1),
    )
    assert res.status == 0
    assert np.rint(res.x).tolist() == [1.0, 0.0, 1.0, 1.0]
    assert res.fun == pytest.approx(-13.0)


# A fresh interpreter whose HiGHS scheduler has a worker thread (this machine's default may have none: the
# first solve asks for two threads), then a child forked where advisor forks, which solves a small MILP.
# Forked without ending the scheduler's thread first, the child's solve never returns (HiGHS 1.12).
FORK_AFTER_A_TWO_THREAD_SOLVE = """
import os, time, warnings
import numpy as np
from scipy.optimize import LinearConstraint
from advisor.optimize.highs import milp
from advisor.optimize.processes import fork_context
rng = np.random.default_rng(0)
a = rng.integers(1, 20, (3, 10)).astype(float)
c = -rng.integers(1, 50, 10).astype(float)
knapsack = {"constraints": [LinearConstraint(a, -np.inf, a.sum(axis=1) // 2)], "integrality": np.ones(10),
            "bounds": (0, 1)}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # scipy says it hands "threads" to HiGHS as it is
    assert milp(c, options={"threads": 2}, **knapsack).status == 0
assert fork_context() is not None
pid = os.fork()
if pid == 0:
    os._exit(0 if milp(c, options={"time_limit": 5.0}, **knapsack).status == 0 else 3)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print("child", os.waitstatus_to_exitcode(status))
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    print("child hung")
"""


def test_a_child_forked_after_a_threaded_solve_solves_too() -> None:
    run = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_A_TWO_THREAD_SOLVE], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "child 0"
