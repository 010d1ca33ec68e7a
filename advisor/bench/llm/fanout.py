"""One point's arrivals sent from one event loop or from several generator processes, and when to stop early.

One event loop reads every chunk of every stream. At 200 requests/s of 64 tokens (12,800 chunks/s) that is
most of a CPU core (``benchmarks/bench_llm_loadgen.py``), and a loop that busy sends late: its p99 send lag
passes 5 ms. :class:`Generators` with ``processes`` above 1 deals the arrivals round-robin to that many worker
processes (``multiprocessing``'s spawn pool, started once per search), each with its own event loop and
connections; all of them send on the same monotonic clock (``time.monotonic`` is the system's, shared by its
processes), from a start time the parent sets, and their records come back merged. This is the LLM side of
``bench run --workers N`` (Locust's worker processes for the request/response bench).

Early stopping (:func:`stopper`) works on each worker's share: a share is a random thinning of the arrivals,
so each test is as valid on it, if less sensitive. The first worker to stop raises a shared event and the
others stop at their next check (every 0.5 s); the point's cutoff is the earliest worker's, so a request
still waiting in another worker is censored at an age below its true one (a lower bound stays a lower bound).
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.pool import Pool
from types import TracebackType
from typing import Any

from advisor.bench.llm.client import Arrival, PointRun, Target, open_session, run_loop, run_point
from advisor.bench.llm.metrics import clearly_failing, ttft_trend_rising
from advisor.bench.llm.records import LLMSLO, StreamRecord
from advisor.errors import MeasurementError

StopCheck = Callable[[list[StreamRecord], int], str]
ANOTHER = "stopped with another generator process"
_START_MARGIN_S = 0.5  # time for the workers to receive their arrivals before the first intended send
_READY_TIMEOUT_S = 120.0
_stop_event: Any = None  # a worker's shared stop flag (set by the pool's initializer)


def stopper(slo: LLMSLO, planned: int, started: float) -> StopCheck:
    """The early-stop test of a point of ``planned`` window arrivals begun at ``started`` (monotonic s)."""

    def should_stop(records: list[StreamRecord], sent: int) -> str:
        now = time.monotonic()
        ttft_bound = slo.ttft_p99_ms
        if ttft_bound is not None:
            ages = [(r.chunk_s[0] if r.chunk_s else now) - r.intended_s for r in records if r.error is None]
            if clearly_failing([a * 1000.0 for a in ages], ttft_bound, slo.quantile, planned):
                return "TTFT bound already missed"
        if slo.tpot_p99_ms is not None:
            tpots = [v for r in records if (v := r.tpot_ms) is not None]
            if clearly_failing(tpots, slo.tpot_p99_ms, slo.quantile, planned):
                return "TPOT bound already missed"
        errors = sum(1 for r in records if r.error is not None)
        if errors > max(5, slo.max_error_rate * planned * 2):
            return "too many errors"
        if ttft_bound is not None:  # a backlog shows as waiting requests over the bound: already caught above
            return ""
        # Without a TTFT bound a backlog breaks no bound, but the rate cannot be sustained: stop on the trend.
        # (Not with a bound: a mix of prompt sizes moves TTFT's medians by itself.)
        waiting = [
            r if r.chunk_s else r.model_copy(update={"chunk_s": [now]}) for r in records if r.error is None
        ]
        if now - started > 3.0 and ttft_trend_rising(waiting, 1000.0):
            return "backlog: TTFT rising"
        return ""

    return should_stop


async def _send(
    target: Target, arrivals: list[Arrival], drain_s: float, check: StopCheck, start_at: float | None
) -> PointRun:
    async with open_session(target) as session:
        return await run_point(
            session, target, arrivals, drain_s=drain_s, should_stop=check, start_at=start_at
        )


def _worker_init(event: Any, started: Any) -> None:
    global _stop_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl-c is the parent's to handle: it ends the pool
    _stop_event = event
    started.wait()  # this module (aiohttp, the event loop) is loaded: the parent may start a point


def _worker(
    target: Target, arrivals: list[Arrival], drain_s: float, slo: LLMSLO, start_at: float
) -> PointRun:
    own = stopper(slo, sum(a.in_window for a in arrivals), start_at)

    def check(records: list[StreamRecord], sent: int) -> str:
        if _stop_event.is_set():
            return ANOTHER
        reason = own(records, sent)
        if reason:
            _stop_event.set()
        return reason

    return run_loop(_send(target, arrivals, drain_s, check, start_at))


@dataclass
class Generators:
    """Sends points from this process (``processes`` 1) or from a pool of worker processes (a context)."""

    processes: int = 1
    _pool: Pool | None = field(default=None, init=False, repr=False)
    _event: Any = field(default=None, init=False, repr=False)

    def __enter__(self) -> Generators:
        if self.processes > 1:
            ctx = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads and sockets
            self._event = ctx.Event()
            started = ctx.Barrier(self.processes + 1)
            self._pool = ctx.Pool(self.processes, initializer=_worker_init, initargs=(self._event, started))
            try:
                started.wait(timeout=_READY_TIMEOUT_S)
            except threading.BrokenBarrierError:
                self._pool.terminate()
                raise MeasurementError(
                    f"the generator processes did not start within {_READY_TIMEOUT_S:g} s",
                    where="bench run --workers",
                    fix="run with fewer --workers, or check that the bench extra is installed",
                ) from None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.terminate()  # in flight or not: a point's requests end with it
            self._pool.join()
            self._pool = None

    def run(self, target: Target, arrivals: list[Arrival], *, drain_s: float, slo: LLMSLO) -> PointRun:
        """Send ``arrivals`` open loop (see :func:`advisor.bench.llm.client.run_point`) and stop early by
        :func:`stopper`; the records of the window's arrivals in intended-time order."""
        if self._pool is None:
            planned = sum(a.in_window for a in arrivals)
            return run_loop(_send(target, arrivals, drain_s, stopper(slo, planned, time.monotonic()), None))
        self._event.clear()
        n = self.processes
        start_at = time.monotonic() + _START_MARGIN_S
        pending = [
            self._pool.apply_async(_worker, (target, arrivals[i::n], drain_s, slo, start_at))
            for i in range(n)
        ]
        span = (arrivals[-1].offset_s if arrivals else 0.0) + drain_s
        runs = []
        for job in pending:
            try:
                runs.append(job.get(timeout=max(0.0, start_at - time.monotonic()) + span + 60.0))
            except multiprocessing.TimeoutError:
                raise MeasurementError(
                    "a generator process stopped answering (killed, or out of memory?)",
                    where="bench run --workers",
                    fix="run again, with fewer --workers or on a larger machine",
                ) from None
        return merge(runs)


def merge(runs: list[PointRun]) -> PointRun:
    """One point from the workers' runs: records by intended time, the earliest cutoff, the first reason."""
    records = sorted((r for run in runs for r in run.records), key=lambda r: r.intended_s)
    reasons = [run.stopped_early for run in runs if run.stopped_early and run.stopped_early != ANOTHER]
    return PointRun(
        records,
        window_start_s=min(run.window_start_s for run in runs),
        cutoff_s=min(run.cutoff_s for run in runs),
        stopped_early=reasons[0] if reasons else "",
    )
