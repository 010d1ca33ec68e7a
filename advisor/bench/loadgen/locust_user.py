"""Locust side of the load generator: the open/closed-loop user and the per-process point driver.

Imported only inside generator processes (``python -m advisor.bench.loadgen.process``): importing Locust
monkey-patches the whole process with gevent, which must never happen to the orchestrator, the test runner
or the dashboard. Everything here runs on gevent.

How a point runs in one process: :class:`PointDriver` installs a schedule
(:mod:`advisor.bench.loadgen.arrivals`)
that every :class:`ArrivalUser` of the process takes arrivals from. Each user sleeps until its arrival's
intended time, sends through Locust's ``FastHttpSession`` with ``catch_response=True``, and before the
response is reported rewrites ``response_time`` to the latency *from the intended send time* and the name to
the arrival's window. Locust's request event, stats, error table and master/worker aggregation then carry
the numbers unchanged. Unanswered arrivals are fired as failures when the point closes.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import psutil
from gevent.event import Event
from geventhttpclient.client import HTTPClientPool
from locust import FastHttpUser, constant, task
from locust.env import Environment
from locust.stats import RequestStats

from advisor.bench.loadgen.arrivals import (
    LATE_NAME,
    WARMUP_NAME,
    Arrival,
    ClosedLoopSchedule,
    OpenLoopSchedule,
)
from advisor.bench.measurements import LoadMode, PointSpec, RequestSpec, WindowStats

Schedule = OpenLoopSchedule | ClosedLoopSchedule

# Idle users wait for the next schedule; this timeout is only a safety net against a lost wake-up.
IDLE_WAIT_S = 1.0
FINALIZE_POLL_S = 0.02


class UnansweredError(Exception):
    """An arrival that had no response when its point closed (counted as a failure with its age)."""


@dataclass
class _Current:
    """What this process's users are doing now; one instance per generator process."""

    schedule: Schedule | None = None
    request: RequestSpec | None = None
    next_schedule: Event = field(default_factory=Event)
    user_ids: Any = field(default_factory=itertools.count)

    def install(self, schedule: Schedule | None, request: RequestSpec | None) -> None:
        self.schedule = schedule
        if request is not None:
            self.request = request
        previous, self.next_schedule = self.next_schedule, Event()
        previous.set()


CURRENT = _Current()


class ArrivalUser(FastHttpUser):
    """One sender. Open loop: takes arrivals from the shared Poisson schedule. Closed: sends back to back."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        self.user_index = next(CURRENT.user_ids)

    @task
    def serve_arrival(self) -> None:
        wake = CURRENT.next_schedule
        schedule = CURRENT.schedule
        request = CURRENT.request
        arrival = schedule.take(self.user_index) if schedule is not None else None
        if arrival is None or schedule is None or request is None:
            wake.wait(timeout=IDLE_WAIT_S)
            return
        self._send(schedule, request, arrival)

    def _send(self, schedule: Schedule, request: RequestSpec, arrival: Arrival) -> None:
        delay = arrival.intended_s - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        with self.client.request(
            request.method,
            request.path,
            name=arrival.name,
            data=request.body or None,
            headers=request.headers,
            catch_response=True,
        ) as response:
            now = time.monotonic()
            response.request_meta["response_time"] = (now - arrival.intended_s) * 1000.0
            response.request_meta["name"] = schedule.complete(arrival, now)


def make_user_class(host: str, pool_size: int, request_timeout_s: float) -> type[ArrivalUser]:
    """The concrete user class for this process: one shared HTTP connection pool of ``pool_size``."""
    return type(
        "AdvisorArrivalUser",
        (ArrivalUser,),
        {
            "abstract": False,
            "host": host,
            "network_timeout": request_timeout_s,
            "connection_timeout": request_timeout_s,
            # Shared pool: connections stay warm and their number follows the requests in flight, not the
            # number of users (a user that only ever sent one request would otherwise hold a connection).
            # The pool builds its own clients, so the timeouts must be given to it (the user's are ignored).
            "client_pool": HTTPClientPool(
                concurrency=pool_size, network_timeout=request_timeout_s, connection_timeout=request_timeout_s
            ),
            "__module__": __name__,
        },
    )


class CpuMeter:
    """CPU of this process over an interval, percent of one core (what Locust's own 90% warning watches)."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._start: tuple[float, float] | None = None

    def start(self) -> None:
        t = self._proc.cpu_times()
        self._start = (t.user + t.system, time.monotonic())

    def stop(self) -> float:
        if self._start is None:
            return 0.0
        t = self._proc.cpu_times()
        cpu0, wall0 = self._start
        wall = max(time.monotonic() - wall0, 1e-6)
        return float(100.0 * (t.user + t.system - cpu0) / wall)


class PointDriver:
    """Runs this process's share of a point: schedule, wait, close, report unanswered arrivals."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment

    def run(
        self,
        spec: PointSpec,
        request: RequestSpec,
        *,
        rate_share_rps: float | None,
        users_share: int | None,
        seed: int,
        start_delay_s: float = 0.05,
    ) -> float:
        """Run the point to its end; returns this process's CPU % over the measured windows."""
        start = time.monotonic() + start_delay_s
        prefix = point_prefix(spec.id)
        schedule: Schedule
        if spec.mode is LoadMode.OPEN:
            assert rate_share_rps is not None
            schedule = OpenLoopSchedule(
                rate_share_rps, start, spec.warmup_s, spec.window_s, spec.windows, seed=seed, prefix=prefix
            )
        else:
            assert users_share is not None
            schedule = ClosedLoopSchedule(
                max(users_share, 1),
                start,
                spec.warmup_s,
                spec.window_s,
                spec.windows,
                time.monotonic,
                prefix=prefix,
            )
        CURRENT.install(schedule, request)
        meter = CpuMeter()
        _sleep_until(schedule.measure_start_s)
        meter.start()
        _sleep_until(schedule.end_s)
        cpu_pct = meter.stop()
        deadline = schedule.end_s + spec.drain_s
        while schedule.outstanding and time.monotonic() < deadline:
            gevent.sleep(FINALIZE_POLL_S)
        now = time.monotonic()
        for arrival in schedule.finalize():
            self.env.events.request.fire(  # type: ignore[no-untyped-call]
                request_type=request.method,
                name=arrival.name,
                response_time=(now - arrival.intended_s) * 1000.0,
                response_length=0,
                exception=UnansweredError(f"no response within the point (drain {spec.drain_s:g} s)"),
                context={},
            )
        CURRENT.install(None, None)
        return cpu_pct


def _sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        gevent.sleep(delay)


def point_prefix(point_id: int) -> str:
    return f"p{point_id}/"


def collect_windows(
    stats: RequestStats, spec: PointSpec, method: str
) -> tuple[WindowStats | None, list[WindowStats], dict[str, int], int]:
    """Per-window stats of a finished point from Locust's stats: (warm-up, windows, errors, late count)."""
    prefix = point_prefix(spec.id)

    def one(name: str, duration: float) -> WindowStats:
        entry = stats.entries.get((name, method))
        if entry is None:
            return WindowStats(name=name.removeprefix(prefix), duration_s=duration, requests=0, failures=0)
        return WindowStats(
            name=name.removeprefix(prefix),
            duration_s=duration,
            requests=entry.num_requests,
            failures=entry.num_failures,
            histogram={int(k): int(v) for k, v in entry.response_times.items()},
            max_ms=float(entry.max_response_time or 0.0),
        )

    warmup = one(prefix + WARMUP_NAME, spec.warmup_s) if spec.warmup_s > 0 else None
    windows = [one(f"{prefix}w{i}", spec.window_s) for i in range(spec.windows)]
    errors: dict[str, int] = {}
    for err in stats.errors.values():
        if str(err.name).startswith(prefix) and not str(err.name).endswith(WARMUP_NAME):
            key = str(err.error)[:200]
            errors[key] = errors.get(key, 0) + int(err.occurrences)
    late_entry = stats.entries.get((LATE_NAME, method))
    late = late_entry.num_requests if late_entry is not None else 0
    return warmup, windows, errors, late
