"""Worker processes on this machine for the optimiser's independent steps: the per-model searches
(:mod:`advisor.optimize.executor`) and the fleet's packing groups (:mod:`advisor.optimize.fleet.pooling`).

A worker is forked from this process when it runs no other thread: it starts at once, with everything this
process holds. A process that has started threads (a Dask client's event loop, a test runner's, a progress
display's) cannot fork safely - a lock another thread holds stays held in the child - so its workers come
from a fork server (a fresh single-threaded process that imports advisor once, about 1.5 s), or are spawned
where there is none (not Linux).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
from collections.abc import Iterator
from multiprocessing.context import BaseContext

# imported in the fork server, not by each worker on its first task (scipy.optimize alone takes 0.5 s)
_PRELOAD = ("advisor.optimize.executor", "scipy.optimize")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def fork_context() -> BaseContext | None:
    """The fork start method when this process may fork itself (no other thread runs), else None."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
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


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects alive now (the catalog, the scenario, the candidate types) out of the garbage
    collector's passes while the block runs: a full pass over them costs about 0.1 s a time at fleet scale,
    and in a forked worker it would write to every page it scans (copy-on-write). They are handed back at
    the end, so a long-lived caller's garbage is collected as before; a caller that froze its own heap keeps
    it frozen."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
