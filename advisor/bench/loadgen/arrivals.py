"""Arrival schedules shared by the users of one load-generator process (pure, no Locust, no I/O).

Open loop: a seeded Poisson process at ``rate_rps`` from ``start_s`` to ``end_s``. Users *take* the next
arrival, sleep until its intended time, send, and report latency from that intended time. When every user is
busy (a stalled server), arrivals pile up in the schedule and are sent late, and their latency still counts
from when they should have gone out: there is no coordinated omission.

Each arrival belongs to the window its intended time falls in (``warmup``, ``w0``, ``w1``...), and that is
the Locust stats name it is reported under, so Locust's own per-name stats (and their aggregation in
master/worker mode) give the per-window numbers directly.

In a closed loop there are no intended times to miss: a request is named after the window it *completes*
in, so each window's count is the throughput over that window (requests still in flight at the end are
dropped, not failed).

At the end of a point, :meth:`finalize` hands back every arrival that never got an answer (still in flight
or never sent) so the caller can report it as a failure with its age as latency. An answer that arrives
afterwards is "late" and must be reported under :data:`LATE_NAME`, outside every window.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

LATE_NAME = "late"
WARMUP_NAME = "warmup"


@dataclass(frozen=True)
class Arrival:
    seq: int
    intended_s: float
    name: str


def window_name(prefix: str, index: int) -> str:
    return f"{prefix}w{index}"


@dataclass
class _Book:
    """Bookkeeping common to both schedules: which arrivals are out and which were closed."""

    open_arrivals: dict[int, Arrival] = field(default_factory=dict)
    closed: bool = False
    taken: int = 0
    completed: int = 0


class _Windows:
    def __init__(self, prefix: str, start_s: float, warmup_s: float, window_s: float, windows: int) -> None:
        if window_s <= 0 or windows < 1 or warmup_s < 0:
            raise ValueError("window_s > 0, windows >= 1 and warmup_s >= 0 are required")
        self.prefix = prefix
        self.start_s = start_s
        self.warmup_s = warmup_s
        self.window_s = window_s
        self.windows = windows
        self.measure_start_s = start_s + warmup_s
        self.end_s = self.measure_start_s + windows * window_s

    def name_at(self, t: float) -> str:
        if t < self.measure_start_s:
            return f"{self.prefix}{WARMUP_NAME}"
        index = min(int((t - self.measure_start_s) / self.window_s), self.windows - 1)
        return window_name(self.prefix, index)

    def names(self) -> list[str]:
        return [window_name(self.prefix, i) for i in range(self.windows)]


class OpenLoopSchedule(_Windows):
    """Poisson arrivals at ``rate_rps`` over ``[start_s, end_s)``, handed out in order to whoever asks."""

    def __init__(
        self,
        rate_rps: float,
        start_s: float,
        warmup_s: float,
        window_s: float,
        windows: int,
        *,
        seed: int = 0,
        prefix: str = "",
    ) -> None:
        super().__init__(prefix, start_s, warmup_s, window_s, windows)
        if rate_rps <= 0 or not math.isfinite(rate_rps):
            raise ValueError("rate_rps must be a positive number")
        self.rate_rps = rate_rps
        self._rng = random.Random(seed)
        self._next_s = start_s + self._rng.expovariate(rate_rps)
        self._seq = 0
        self._book = _Book()

    @property
    def exhausted(self) -> bool:
        return self._book.closed or self._next_s >= self.end_s

    def take(self, user_index: int = 0) -> Arrival | None:
        """The next arrival (possibly overdue, possibly in the future), or None when none is left."""
        if self.exhausted:
            return None
        arrival = Arrival(self._seq, self._next_s, self.name_at(self._next_s))
        self._seq += 1
        self._next_s += self._rng.expovariate(self.rate_rps)
        self._book.open_arrivals[arrival.seq] = arrival
        self._book.taken += 1
        return arrival

    def complete(self, arrival: Arrival, now: float | None = None) -> str:
        """Record an answer; the stats name to report it under (:data:`LATE_NAME` once finalized).

        Open loop: the window of the arrival's *intended* time, so every arrival of a window is counted
        there whether it was answered quickly, slowly or not at all.
        """
        if self._book.open_arrivals.pop(arrival.seq, None) is None:
            return LATE_NAME
        self._book.completed += 1
        return arrival.name

    @property
    def outstanding(self) -> int:
        """Arrivals taken by users and not answered yet."""
        return len(self._book.open_arrivals)

    def finalize(self) -> list[Arrival]:
        """Close the schedule; return every arrival before ``end_s`` that never got an answer."""
        unanswered = list(self._book.open_arrivals.values())
        self._book.open_arrivals.clear()
        while self._next_s < self.end_s and not self._book.closed:
            unanswered.append(Arrival(self._seq, self._next_s, self.name_at(self._next_s)))
            self._seq += 1
            self._next_s += self._rng.expovariate(self.rate_rps)
        self._book.closed = True
        return unanswered


class ClosedLoopSchedule(_Windows):
    """``users`` users each sending back-to-back (no think time) from ``start_s`` to ``end_s``.

    ``clock`` is read when a user asks, because in a closed loop the send time *is* the intended time.
    """

    def __init__(
        self,
        users: int,
        start_s: float,
        warmup_s: float,
        window_s: float,
        windows: int,
        clock: Callable[[], float],
        *,
        prefix: str = "",
    ) -> None:
        super().__init__(prefix, start_s, warmup_s, window_s, windows)
        if users < 1:
            raise ValueError("users must be >= 1")
        self.users = users
        self._clock = clock
        self._seq = 0
        self._book = _Book()

    @property
    def exhausted(self) -> bool:
        return self._book.closed or self._clock() >= self.end_s

    def take(self, user_index: int = 0) -> Arrival | None:
        if user_index >= self.users or self.exhausted:
            return None
        now = max(self._clock(), self.start_s)
        arrival = Arrival(self._seq, now, self.name_at(now))
        self._seq += 1
        self._book.open_arrivals[arrival.seq] = arrival
        return arrival

    def complete(self, arrival: Arrival, now: float | None = None) -> str:
        """Closed loop: the window the answer *completed* in (throughput is completions per window)."""
        if self._book.open_arrivals.pop(arrival.seq, None) is None:
            return LATE_NAME
        t = self._clock() if now is None else now
        return self.name_at(t) if t < self.end_s else LATE_NAME

    @property
    def outstanding(self) -> int:
        return len(self._book.open_arrivals)

    def finalize(self) -> list[Arrival]:
        """Close; in a closed loop an unanswered request is not a missed deadline, so nothing is returned."""
        self._book.open_arrivals.clear()
        self._book.closed = True
        return []
