"""The LLM capacity search, as a pure object: it proposes the next offered rate and is told the point.

No server, no clock: the harness asks :meth:`LLMSearch.next_step` for a rate and whether to measure it short
(screening) or long (confirming), measures, and hands the :class:`LLMPoint` to :meth:`LLMSearch.record`.
Tests drive it with synthetic points.

1. **Bracket** with short points judged on their percentile estimates: from ``start_rps`` double while they
   pass, halve while they fail (below ``min_rps`` the SLO is unmeetable: capacity 0 with the reason).
2. **Bisect** geometrically between the highest passing and the lowest failing rate until the bracket is
   ``resolution`` wide (relative).
3. **Confirm** the candidate (the highest passing rate) with a long point judged on its 95 % intervals.
   Passed: that is the capacity. Failed: it becomes the failing end and the next lower pass is confirmed.
   Undecided (an interval straddles a bound after the longest point): likewise, and the result says the
   capacity's upper end is undecided, never rounded up.

A point the generator could not drive (``INVALID``) is not the server's failure: no rate at or above it is
proposed again and a capacity bounded by it is flagged ``lower_bound``. A point stopped for a backlog fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import Field

from advisor.bench.llm.records import LLMPoint, PointVerdict
from advisor.domain import FrozenModel


class LLMSearchConfig(FrozenModel):
    start_rps: float = Field(default=1.0, gt=0)
    min_rps: float = Field(default=0.05, gt=0, description="below this the SLO counts as unmeetable")
    max_rps: float = Field(default=10_000.0, gt=0)
    resolution: float = Field(default=0.1, gt=0, lt=1, description="relative width of the final bracket")
    max_points: int = Field(default=16, ge=1)


@dataclass(frozen=True)
class Step:
    rate_rps: float
    confirm: bool


@dataclass(frozen=True)
class Outcome:
    capacity_rps: float
    high_rps: float | None
    undecided: bool
    lower_bound: bool
    reason: str


@dataclass
class LLMSearch:
    config: LLMSearchConfig
    points: list[LLMPoint] = field(default_factory=list)
    _failed_confirms: set[float] = field(default_factory=set)
    _undecided: set[float] = field(default_factory=set)
    _confirmed: float | None = None

    # ----- reading the history ------------------------------------------------------------------------------
    def _invalid_floor(self) -> float | None:
        rates = [p.offered_rps for p in self.points if p.verdict is PointVerdict.INVALID]
        return min(rates) if rates else None

    def _passing(self) -> list[float]:
        """Rates that pass (confirmed or on their estimates) and are not voided by a failure below them."""
        fail = self._lowest_fail()
        out = []
        for p in self.points:
            if p.verdict is PointVerdict.INVALID or p.offered_rps in self._failed_confirms:
                continue
            ok = p.verdict is PointVerdict.PASS if p.confirm else p.estimate_passes
            if ok and (fail is None or p.offered_rps < fail):
                out.append(p.offered_rps)
        return sorted(set(out))

    def _lowest_fail(self) -> float | None:
        rates = [p.offered_rps for p in self.points if self._fails(p)]
        rates += list(self._failed_confirms | self._undecided)
        return min(rates) if rates else None

    def _fails(self, p: LLMPoint) -> bool:
        if p.verdict is PointVerdict.INVALID:
            return False
        if p.confirm:
            return p.verdict in (PointVerdict.FAIL, PointVerdict.UNDECIDED)
        return p.verdict is PointVerdict.FAIL or not p.estimate_passes

    # ----- the protocol -------------------------------------------------------------------------------------
    def record(self, point: LLMPoint) -> None:
        self.points.append(point)
        if point.confirm:
            if point.verdict is PointVerdict.PASS:
                self._confirmed = point.offered_rps
            elif point.verdict is PointVerdict.UNDECIDED:
                self._undecided.add(point.offered_rps)
            elif point.verdict is PointVerdict.FAIL:
                self._failed_confirms.add(point.offered_rps)

    def next_step(self) -> Step | None:
        """The next rate to measure, or None when the search is over."""
        if self._confirmed is not None or len(self.points) >= self.config.max_points:
            return None
        cfg = self.config
        passing, fail, ceiling = self._passing(), self._lowest_fail(), self._invalid_floor()
        if not self.points:
            return Step(min(cfg.start_rps, cfg.max_rps), False)
        if not passing:
            low = min(p.offered_rps for p in self.points)
            nxt = low / 2
            return None if nxt < cfg.min_rps else Step(nxt, False)
        lo = passing[-1]
        hi = min(x for x in (fail, ceiling) if x is not None) if (fail or ceiling) else None
        if hi is None:
            nxt = lo * 2
            return None if lo >= cfg.max_rps else Step(min(nxt, cfg.max_rps), False)
        if (hi - lo) / lo > cfg.resolution and hi != ceiling:
            return Step(math.sqrt(lo * hi), False)
        if self._confirmed_at(lo):
            return None
        return Step(lo, True)

    def _confirmed_at(self, rate: float) -> bool:
        return any(
            p.confirm and p.verdict is PointVerdict.PASS and p.offered_rps == rate for p in self.points
        )

    def outcome(self) -> Outcome:
        confirmed = [p.offered_rps for p in self.points if p.confirm and p.verdict is PointVerdict.PASS]
        fail, ceiling = self._lowest_fail(), self._invalid_floor()
        capacity = max((r for r in confirmed if fail is None or r < fail), default=0.0)
        above = [r for r in (fail, ceiling) if r is not None and r > capacity]
        high = min(above) if above else None
        undecided = high is not None and high in self._undecided
        lower_bound = ceiling is not None and high == ceiling
        reason = ""
        if capacity == 0.0:
            if not self.points:
                reason = "nothing was measured"
            elif fail is not None and fail <= self.config.min_rps * 2:
                reason = f"the SLO is missed even at {fail:g} requests/s"
            elif self._undecided:
                reason = "no rate could be confirmed: every confirming point straddled a bound"
            else:
                reason = "no rate was confirmed within the point budget"
        elif lower_bound:
            reason = "the load generator could not drive a higher rate: capacity is at least this"
        elif high is None:
            reason = f"no rate up to {capacity:g} requests/s missed the SLO (the search's upper limit)"
        return Outcome(capacity, high, undecided, lower_bound, reason)
