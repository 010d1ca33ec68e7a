"""The LLM capacity search, as a pure object: it proposes the next offered rate and is told the point.

No server, no clock: the harness asks :meth:`LLMSearch.next_step` for a rate and whether to measure it short
(screening) or long (confirming), measures, and hands the :class:`LLMPoint` to :meth:`LLMSearch.record`.
Tests drive it with synthetic points.

1. **Bracket** with short screening points judged on their percentile estimates: from ``start_rps`` double
   while they pass, halve while they fail (below ``min_rps`` the SLO is unmeetable: capacity 0 with the
   reason). Far from capacity a short point is reliable; near it, it is not (a queue needs time to build, so
   a short window flatters a rate just over capacity), which is why the answer is never taken from one.
2. **Confirm and bisect** with long points judged on their 95 % intervals only: first the highest screening
   pass (halving until one is confirmed; when the point budget has one point left and nothing is confirmed
   yet, that point confirms the highest pass), then the geometric middle of the highest confirmed pass and the
   lowest rate that failed or stayed undecided, until that bracket is ``resolution`` wide (relative). An
   undecided point counts against its rate: the capacity is never rounded up, and the result says when its
   upper end was undecided rather than failed.

A point the generator could not drive (``INVALID``) is not the server's failure: it is measured once more,
and a rate invalid twice bounds the search (no rate at or above it is proposed again; a capacity bounded by it
is flagged ``lower_bound``). A point stopped for a backlog fails.
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
    resolution: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="relative width of the final bracket: the capacity is its lower end, so a bracket of 10 %"
        " alone puts the answer up to 10 % under the truth",
    )
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

    # ----- reading the history ------------------------------------------------------------------------------
    def _invalid_floor(self) -> float | None:
        """The lowest rate the generator failed to drive twice (once may be a stall of a busy machine)."""
        invalid = [p.offered_rps for p in self.points if p.verdict is PointVerdict.INVALID]
        rates = [r for r in set(invalid) if invalid.count(r) >= 2]
        return min(rates) if rates else None

    def _retry_invalid(self) -> Step | None:
        last = self.points[-1]
        if last.verdict is PointVerdict.INVALID and self._invalid_floor() != last.offered_rps:
            return Step(last.offered_rps, last.confirm)
        return None

    def _confirmed(self) -> list[LLMPoint]:
        return [p for p in self.points if p.confirm and p.verdict is not PointVerdict.INVALID]

    def _lowest_failure(self) -> float | None:
        """The lowest rate a confirming point failed or left undecided, else the lowest screening failure."""
        confirmed = [p.offered_rps for p in self._confirmed() if p.verdict is not PointVerdict.PASS]
        if confirmed:
            return min(confirmed)
        screened = [
            p.offered_rps
            for p in self.points
            if not p.confirm and p.verdict is not PointVerdict.INVALID and not p.estimate_passes
        ]
        return min(screened) if screened else None

    def _highest_confirmed_pass(self) -> float | None:
        fail = self._lowest_failure()
        rates = [
            p.offered_rps
            for p in self._confirmed()
            if p.verdict is PointVerdict.PASS and (fail is None or p.offered_rps < fail)
        ]
        return max(rates) if rates else None

    # ----- the protocol -------------------------------------------------------------------------------------
    def record(self, point: LLMPoint) -> None:
        self.points.append(point)

    def next_step(self) -> Step | None:
        """The next rate to measure, or None when the search is over."""
        cfg = self.config
        if len(self.points) >= cfg.max_points:
            return None
        if not self.points:
            return Step(min(cfg.start_rps, cfg.max_rps), False)
        if (retry := self._retry_invalid()) is not None:
            return retry
        fail, ceiling = self._lowest_failure(), self._invalid_floor()
        top = min(x for x in (fail, ceiling, math.inf) if x is not None)
        if not any(p.confirm for p in self.points):
            return self._bracket(top, last=len(self.points) == cfg.max_points - 1)
        lo = self._highest_confirmed_pass()
        if lo is None:  # every confirmation so far failed: halve below the lowest
            nxt = min(p.offered_rps for p in self._confirmed()) / 2 if self._confirmed() else top / 2
            return None if nxt < cfg.min_rps else Step(nxt, True)
        if top == math.inf:
            return None if lo >= cfg.max_rps else Step(min(lo * 2, cfg.max_rps), True)
        if (top - lo) / lo <= cfg.resolution:
            return None
        return Step(math.sqrt(lo * top), True)

    def _bracket(self, top: float, last: bool) -> Step | None:
        """Screening: double while passing, halve while failing; then confirm the highest pass. The budget's
        ``last`` point confirms the highest pass so far: a capacity held at 95 %, if lower than a longer
        search would find, rather than none."""
        cfg = self.config
        passes = [
            p.offered_rps for p in self.points if p.estimate_passes and not p.confirm and p.offered_rps < top
        ]
        if not passes:
            nxt = min(p.offered_rps for p in self.points) / 2
            return None if nxt < cfg.min_rps else Step(nxt, False)
        lo = max(passes)
        if top == math.inf and lo < cfg.max_rps and not last:
            return Step(min(lo * 2, cfg.max_rps), False)
        return Step(lo, True)

    def outcome(self) -> Outcome:
        capacity = self._highest_confirmed_pass() or 0.0
        fail, ceiling = self._lowest_failure(), self._invalid_floor()
        above = [r for r in (fail, ceiling) if r is not None and r > capacity]
        high = min(above) if above else None
        undecided = high is not None and any(
            p.confirm and p.verdict is PointVerdict.UNDECIDED and p.offered_rps == high for p in self.points
        )
        lower_bound = ceiling is not None and high == ceiling
        reason = ""
        if capacity == 0.0:
            if not self.points:
                reason = "nothing was measured"
            elif fail is not None and fail <= self.config.min_rps * 2:
                reason = f"the SLO is missed even at {fail:g} requests/s"
            elif any(p.confirm and p.verdict is PointVerdict.UNDECIDED for p in self.points):
                reason = "no rate could be confirmed: every confirming point straddled a bound"
            else:
                reason = "no rate was confirmed within the point budget"
        elif lower_bound:
            reason = "the load generator could not drive a higher rate: capacity is at least this"
        elif high is None:
            reason = f"no rate up to {capacity:g} requests/s missed the SLO (the search's upper limit)"
        return Outcome(capacity, high, undecided, lower_bound, reason)
