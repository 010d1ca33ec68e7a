"""The capacity search, as a pure object: it proposes the next arrival rate and is told what was measured.

No server, no clock, no I/O: the harness asks :meth:`CapacitySearch.next_rate`, measures an open-loop point
at that rate and hands the windows to :meth:`CapacitySearch.record`; tests feed it synthetic latency curves.

Algorithm (MLPerf Server-style capacity: the highest Poisson rate whose p99 <= SLO and error rate <= the
allowed rate):

1. **Sweep**: start at ``start_rps`` (the harness uses half the closed-loop plateau) and double while points
   pass; if the first point fails, halve until one passes or the rate drops below ``min_rps`` (then the
   capacity is 0 with the reason). With a closed-loop plateau (``ceiling_rps``), open-loop arrivals at it
   cannot be sustained, so it is taken as the failing end of the bracket without measuring it; it is
   measured only when the bracket closes against it, and if it passes the search goes on above it in steps
   of ``4 x resolution`` (the probe did not quite saturate the server).
2. **Bisect** between the highest passing rate ``lo`` and the lowest failing rate ``hi`` until
   ``(hi - lo) / lo <= resolution``; the answer is ``lo``. History is re-read on every step: a failure at
   ``r`` voids any pass above ``r`` (latency is taken to be monotone in load; noise resolves conservatively).
3. **Stability**: a point counts when its last two windows agree within ``stability_tolerance`` on achieved
   throughput (plus Poisson counting noise) and on p99 (or, far from the SLO, are on the same side of it by
   that margin). Otherwise the same rate is measured again, up to ``max_retries`` times. A stable attempt is
   judged on its windows pooled; a point still unstable after the retries on the worst window of all attempts
   (conservative: a queue still building near saturation is never claimed as a pass). A point whose every
   window misses the SLO is a clear failure and is not measured again.
4. **Invalid points** (generator saturated) are never a failure of the server: rates at or above the
   lowest invalid rate are not proposed, and a capacity bounded by it is flagged ``lower_bound``.
5. **Early stop**: the search ends when the bracket is narrow enough, or after ``max_points`` points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import Field

from advisor.bench.measurements import WindowStats, merge_windows
from advisor.domain import SLO, FrozenModel


class SearchConfig(FrozenModel):
    start_rps: float = Field(default=1.0, gt=0)
    min_rps: float = Field(default=0.25, gt=0, description="below this the SLO counts as unmeetable")
    max_rps: float = Field(default=1e6, gt=0)
    resolution: float = Field(default=0.05, gt=0, lt=1, description="relative width of the final bracket")
    stability_tolerance: float = Field(default=0.10, gt=0, lt=1)
    max_retries: int = Field(default=2, ge=0)
    max_points: int = Field(default=20, ge=1)


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    RETRY = "retry"
    INVALID = "invalid"


@dataclass(frozen=True)
class Judged:
    """The search's reading of one measured point."""

    rate_rps: float
    verdict: Verdict
    p99_ms: float | None
    error_rate: float
    achieved_rps: float
    stable: bool
    reason: str


@dataclass(frozen=True)
class SearchOutcome:
    capacity_rps: float
    p99_ms_at_capacity: float | None
    reason: str
    lower_bound: bool
    history: list[Judged] = field(default_factory=list)


def windows_agree(a: WindowStats, b: WindowStats, slo: SLO, tolerance: float) -> bool:
    """True when two consecutive windows tell the same story (see module docstring, point 3).

    Throughput: within ``tolerance`` plus two standard deviations of Poisson counting noise. Without that
    allowance two 2-second windows at 12 req/s (about 24 requests each, noise ~30%) would never agree.
    Worked example: 100 and 85 successes in 2 s windows: 50 vs 42.5 req/s; allowed 5.0 + 2*sqrt(185)/2 = 18.6
    req/s, so they agree.
    """
    noise = 2.0 * math.sqrt(a.successes + b.successes) / max(min(a.duration_s, b.duration_s), 1e-9)
    if abs(a.achieved_rps - b.achieved_rps) > tolerance * max(a.achieved_rps, b.achieved_rps) + noise:
        return False
    if (a.error_rate > slo.max_error_rate) != (b.error_rate > slo.max_error_rate):
        return False
    pa, pb = a.percentile_ms(0.99), b.percentile_ms(0.99)
    if pa is None or pb is None:
        return pa is None and pb is None
    if _rel_diff(pa, pb) <= tolerance:
        return True
    limit = slo.latency_p99_ms
    both_below = max(pa, pb) <= limit * (1 - tolerance)
    both_above = min(pa, pb) >= limit * (1 + tolerance)
    return both_below or both_above


def _rel_diff(x: float, y: float) -> float:
    top = max(abs(x), abs(y))
    return 0.0 if top == 0 else abs(x - y) / top


class CapacitySearch:
    """Doubling sweep then bisection on the SLO boundary; see the module docstring."""

    def __init__(
        self, slo: SLO, config: SearchConfig | None = None, *, ceiling_rps: float | None = None
    ) -> None:
        self.slo = slo
        self.config = config or SearchConfig()
        self.ceiling_rps = ceiling_rps
        self.history: list[Judged] = []
        self._pending_windows: list[WindowStats] = []
        self._retry_rate: float | None = None
        self._retries = 0
        self._done_reason: str | None = None
        self._points = 0

    # ----- state read from history --------------------------------------------------------------------
    def _hi(self) -> Judged | None:
        fails = [j for j in self.history if j.verdict is Verdict.FAIL]
        return min(fails, key=lambda j: j.rate_rps) if fails else None

    def _lo(self) -> Judged | None:
        hi = self._hi()
        passes = [
            j for j in self.history if j.verdict is Verdict.PASS and (hi is None or j.rate_rps < hi.rate_rps)
        ]
        return max(passes, key=lambda j: j.rate_rps) if passes else None

    def _invalid_wall(self) -> float | None:
        rates = [j.rate_rps for j in self.history if j.verdict is Verdict.INVALID]
        return min(rates) if rates else None

    @property
    def done(self) -> bool:
        return self.next_rate() is None

    # ----- protocol ----------------------------------------------------------------------------------
    def next_rate(self) -> float | None:
        """The arrival rate (req/s) to measure next, or None when the search is over."""
        if self._done_reason is not None:
            return None
        if self._retry_rate is not None:
            return self._retry_rate
        if self._points >= self.config.max_points:
            self._done_reason = "point budget exhausted"
            return None
        lo, hi, wall = self._lo(), self._hi(), self._invalid_wall()
        measured = [r for r in (hi.rate_rps if hi else None, wall) if r is not None]
        upper = min(measured) if measured else None
        if lo is None:
            if not self.history:
                return self.config.start_rps
            assert upper is not None  # something was measured and nothing passed: a failure or a wall
            nxt = upper / 2
            if nxt < self.config.min_rps:
                self._done_reason = "below min_rps"
                return None
            return nxt
        ceiling = self._assumed_ceiling(lo)
        if ceiling is not None and (upper is None or ceiling < upper):
            # Open-loop arrivals at the closed-loop plateau are not sustainable, so the plateau is taken as a
            # failure without spending a point on it, and only measured once the bracket closes against it.
            if (ceiling - lo.rate_rps) / lo.rate_rps <= self.config.resolution:
                return ceiling
            return (lo.rate_rps + ceiling) / 2
        if upper is None:
            nxt = lo.rate_rps * 2
            if self.ceiling_rps is not None and lo.rate_rps >= self.ceiling_rps * (
                1 - self.config.resolution
            ):
                # passed at the plateau: the probe did not quite saturate the server; go on in small steps
                nxt = lo.rate_rps * (1 + 4 * self.config.resolution)
            if lo.rate_rps >= self.config.max_rps:
                self._done_reason = "max_rps reached"
                return None
            return min(nxt, self.config.max_rps)
        if (upper - lo.rate_rps) / lo.rate_rps <= self.config.resolution:
            self._done_reason = "converged"
            return None
        return (lo.rate_rps + upper) / 2

    def _assumed_ceiling(self, lo: Judged) -> float | None:
        """The plateau as an assumed failure, until a point at or above it has been measured."""
        if self.ceiling_rps is None or lo.rate_rps >= self.ceiling_rps:
            return None
        tried = any(
            j.rate_rps >= self.ceiling_rps and j.verdict in (Verdict.PASS, Verdict.FAIL) for j in self.history
        )
        return None if tried else self.ceiling_rps

    def record(
        self, rate_rps: float, windows: list[WindowStats], *, valid: bool = True, note: str = ""
    ) -> Judged:
        """Tell the search what a point at ``rate_rps`` measured (its windows after warm-up)."""
        if not windows:
            raise ValueError("a point needs at least one measured window")
        self._points += 1
        if not valid:
            judged = self._judge(
                rate_rps, windows, Verdict.INVALID, stable=True, reason=note or "load generator saturated"
            )
            self._clear_retry()
            self.history.append(judged)
            return judged
        same_rate = self._retry_rate is not None and abs(self._retry_rate - rate_rps) <= 1e-9 * rate_rps
        if not same_rate:
            self._clear_retry()
        self._pending_windows.extend(windows)
        stable = len(windows) < 2 or windows_agree(
            windows[-2], windows[-1], self.slo, self.config.stability_tolerance
        )
        # An overloaded server is never steady (its queue grows window after window), but when every window
        # misses the SLO on its own the verdict is not in doubt: measuring again would only cost time.
        clear_fail = all(not self._window_passes(w) for w in windows)
        if not stable and not clear_fail and self._retries < self.config.max_retries:
            self._retries += 1
            self._retry_rate = rate_rps
            return self._judge(
                rate_rps,
                windows,
                Verdict.RETRY,
                stable=False,
                reason=f"windows disagree; measuring again ({self._retries}/{self.config.max_retries})",
            )
        # A stable attempt is the measurement that counts: its own windows, pooled.
        pooled = merge_windows(windows)
        p99 = pooled.percentile_ms(0.99)
        if not stable:
            # Still unsteady after the retries: judge on the worst window, so a point that cannot show a
            # steady state (typically a queue still building near saturation) is never claimed as a pass.
            worst = max(self._pending_windows, key=lambda w: (w.percentile_ms(0.99) or 0.0, w.error_rate))
            pooled, p99 = worst, worst.percentile_ms(0.99)
        if pooled.requests == 0 or p99 is None:
            verdict, reason = Verdict.FAIL, "no request was measured"
        elif pooled.error_rate > self.slo.max_error_rate:
            verdict, reason = (
                Verdict.FAIL,
                f"error rate {pooled.error_rate:.2%} > {self.slo.max_error_rate:.2%}",
            )
        elif p99 > self.slo.latency_p99_ms:
            verdict, reason = Verdict.FAIL, f"p99 {p99:.0f} ms > SLO {self.slo.latency_p99_ms:g} ms"
        else:
            verdict, reason = Verdict.PASS, f"p99 {p99:.0f} ms <= SLO {self.slo.latency_p99_ms:g} ms"
        if not stable:
            reason += f" (unstable after {self._retries} retries; judged on the worst window)"
        judged = self._judge(
            rate_rps, windows if stable else self._pending_windows, verdict, stable=stable, reason=reason
        )
        self._clear_retry()
        self.history.append(judged)
        return judged

    def _window_passes(self, w: WindowStats) -> bool:
        p99 = w.percentile_ms(0.99)
        return p99 is not None and p99 <= self.slo.latency_p99_ms and w.error_rate <= self.slo.max_error_rate

    def _clear_retry(self) -> None:
        self._retry_rate = None
        self._retries = 0
        self._pending_windows = []

    def _judge(
        self, rate: float, windows: list[WindowStats], verdict: Verdict, *, stable: bool, reason: str
    ) -> Judged:
        pooled = merge_windows(windows)
        return Judged(
            rate, verdict, pooled.percentile_ms(0.99), pooled.error_rate, pooled.achieved_rps, stable, reason
        )

    # ----- answer ------------------------------------------------------------------------------------
    def outcome(self) -> SearchOutcome:
        """The capacity found so far (final once :meth:`next_rate` returned None)."""
        lo, hi, wall = self._lo(), self._hi(), self._invalid_wall()
        history = list(self.history)
        if lo is None:
            tried = min(
                (j for j in history if j.verdict is Verdict.FAIL), key=lambda j: j.rate_rps, default=None
            )
            if tried is None and wall is not None:
                return SearchOutcome(
                    0.0,
                    None,
                    f"the load generator saturated already at {wall:g} req/s; "
                    "nothing could be measured (add --workers)",
                    True,
                    history,
                )
            detail = f" at {tried.rate_rps:.3g} req/s: {tried.reason}" if tried else ""
            return SearchOutcome(
                0.0, None, f"SLO missed even at the lowest rate tried{detail}", False, history
            )
        lower_bound = wall is not None and (hi is None or wall < hi.rate_rps)
        if lower_bound:
            reason = (
                f"the load generator saturated at {wall:g} req/s before the server missed the SLO: "
                f"capacity is at least {lo.rate_rps:.3g} req/s (add --workers)"
            )
        elif hi is None:
            reason = f"passed at every rate tried up to {lo.rate_rps:.3g} req/s ({self._done_reason})"
        else:
            reason = f"{lo.reason} at {lo.rate_rps:.3g} req/s; {hi.reason} at {hi.rate_rps:.3g} req/s"
            if self._done_reason == "point budget exhausted":
                reason += " (point budget exhausted before the bracket closed)"
        return SearchOutcome(lo.rate_rps, lo.p99_ms, reason, lower_bound, history)
