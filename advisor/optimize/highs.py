"""scipy's HiGHS solvers (``milp``, ``linprog``) with the solver's native prints kept off standard output.

HiGHS 1.12, the one scipy 1.17 bundles, prints ``HighsMipSolverData::transformNewIntegerFeasibleSolution
tmpSolver.run();`` with C's ``printf`` now and then during a MIP solve, whatever its output options say
(reported against 1.12.0 as ERGO-Code/HiGHS#2783, since closed). On the 200-model benchmark fleet the
packer's solves print it about once a run, into the middle of ``advisor recommend --format json``'s
document. Every HiGHS solve in advisor goes through this module, which points file descriptor 1 at
``/dev/null`` while the solver runs: what Python had buffered is written first, what C buffered during the
solve is discarded before the descriptor comes back. Solves on several threads of one process share one
redirection (the first one in makes it, the last one out undoes it), so no thread restores another's
``/dev/null``. What another thread writes to standard output while a solve runs is lost with it: advisor
writes its results after the solves (progress goes to standard error, which is left alone).

Before advisor forks a process, :func:`stop_worker_threads` ends HiGHS's own threads, which a child would
wait for for ever.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scipy import optimize

try:  # HiGHS's own class as scipy binds it: the one handle on its global scheduler (stop_worker_threads)
    from scipy.optimize._highspy._core import _Highs
except ImportError:  # a scipy that binds HiGHS otherwise
    _Highs = None

_lock = threading.Lock()
_state: dict[str, int] = {"depth": 0, "saved": -1}
_libc = ctypes.CDLL(None)


def milp(*args: Any, **kwargs: Any) -> optimize.OptimizeResult:
    """:func:`scipy.optimize.milp`, its native prints discarded."""
    with stdout_silenced():
        return optimize.milp(*args, **kwargs)


def linprog(*args: Any, **kwargs: Any) -> optimize.OptimizeResult:
    """:func:`scipy.optimize.linprog`, its native prints discarded."""
    with stdout_silenced():
        return optimize.linprog(*args, **kwargs)


@contextmanager
def stdout_silenced() -> Iterator[None]:
    """File descriptor 1 on ``/dev/null`` for the duration (module docstring)."""
    with _lock:
        if _state["depth"] == 0:
            # stdout closed, or its reader gone: the CLI's own write says so, not a solve
            with contextlib.suppress(OSError, ValueError):
                if sys.stdout is not None:
                    sys.stdout.flush()
            _libc.fflush(None)
            try:
                _state["saved"] = os.dup(1)
            except OSError:  # no descriptor 1 (a daemon that closed it): nothing to keep clean
                _state["saved"] = -1
            else:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.close(null)
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["saved"] >= 0:
                _libc.fflush(None)  # C's buffered output of the solve goes to /dev/null, not after it
                os.dup2(_state["saved"], 1)
                os.close(_state["saved"])


def stop_worker_threads() -> None:
    """End HiGHS's worker threads in this process, before it forks; its next solve starts them again.

    HiGHS keeps a global scheduler: the first solve starts ``threads`` - 1 worker threads and keeps them
    (by default ``threads`` is half the machine's logical CPUs, rounded up: ``initialize_scheduler`` in
    HiGHS 1.12's ``highs/parallel/HighsParallel.h``; none on a 2-CPU machine, one from 3 CPUs). A forked
    child inherits the scheduler but not its threads, and its first solve that hands work to them waits for
    ever: with HiGHS 1.12 from scipy 1.17, a parent that had solved a MILP with two threads forked a child
    whose MILP never returned, where after ``resetGlobalScheduler`` it took its usual time. That call is
    HiGHS's own way to end the scheduler; scipy has no public one, hence its private binding, and nothing
    is done where that is missing. Call it only where no other thread can be solving.
    """
    if _Highs is not None:
        _Highs.resetGlobalScheduler(True)
