"""Worker processes on this machine for the optimiser's independent steps: the per-model searches
(:mod:`advisor.optimize.executor`) and the fleet's packing groups (:mod:`advisor.optimize.fleet.pooling`).

A worker is forked from this process when it runs no other thread: it starts at once, with everything this
process holds (HiGHS's worker threads, which Python does not count, are ended first). A process that has
started threads (a Dask client's event loop, a test runner's, a progress display's) cannot fork safely - a
lock another thread holds stays held in the child - so its workers come from a fork server (a fresh
single-threaded process that imports advisor once, about 1.5 s), or are spawned where there is none (not
Linux).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
from collections.abc import Iterator
from multiprocessing.context import BaseContext

from advisor.optimize.highs import stop_worker_threads

# imported in the fork server, not by each worker on its first task (scipy.optimize alone takes 0.5 s)
_PRELOAD = ("advisor.optimize.executor", "scipy.optimize")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def fork_context() -> BaseContext | None:
    """The fork start method when this process may fork itself (no other thread runs), else None.

    No other Python thread, and no HiGHS worker thread either: those are ended here (a child would wait
    for them for ever, :func:`advisor.optimize.highs.stop_worker_threads`)."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        stop_worker_threads()
        return multiprocessing.get_context("fork")
    return None


def start_method() -> BaseContext:
    """Fork this process when it runs no other thread; else a fork server (spawn where there is none)."""
    forked = fork_context()
    if forked is not None:
        return forked
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(_PRELOAD))  # imported once, not per worker
    return ctx


# Young objects collected once this many have been allocated (Python's default is 700): the per-model stage
# allocates millions of short-lived arrays and plan objects, nearly all freed by reference counting, so a
# pass every 700 mostly promotes the few alive at that moment, to be scanned again in the older generations.
BATCH_GEN0_THRESHOLD = 10_000


@contextlib.contextmanager
def batch_collector() -> Iterator[None]:
    """The garbage collector set for a long batch run while the block runs, as it was after.

    The objects alive now (the catalog, the scenario, the candidate types) are left out of its passes: a
    full pass over them costs about 0.1 s a time at fleet scale, and in a forked worker it would write to
    every page it scans (copy-on-write); a caller that froze its own heap keeps it frozen. Young objects are
    collected every ``BATCH_GEN0_THRESHOLD`` allocations instead of 700 (the collector's time per 200
    models, one process: 0.14 -> 0.07 s). Forked workers inherit both.
    """
    thresholds = gc.get_threshold()
    frozen_by_caller = gc.get_freeze_count() > 0
    if not frozen_by_caller:
        gc.freeze()
    gc.set_threshold(max(thresholds[0], BATCH_GEN0_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen_by_caller:
            gc.unfreeze()
