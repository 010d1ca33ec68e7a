"""The confirmation of the right-sizing search's finalists: each replayed on the profile's own step, validated
in full and with the cost model's own queue calibration; the recommended plan, if it buys spot, under more
interruption draws.

The finalists the search expects to confirm (:func:`to_confirm`) are replayed as one batch under the main
seed: a plan's result is the same alone or in any batch (``advisor.cost.simulate``), so batching changes no
figure, only the number of calls. A plan it did not expect (the next one after a confirmation failed) is
replayed alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from advisor.cost.prices import PlanPrices
from advisor.cost.result import CostResult, Screened
from advisor.cost.simulate import screen_many, simulate_many
from advisor.optimize.rightsize.pricecache import PriceCache, minutes_over_slo_pct
from advisor.optimize.rightsize.search_types import Confirmed, Evaluated, Screening, SearchOptions
from advisor.recommendation.plan import Plan
from advisor.traffic.profile import HOURS_PER_MONTH, TrafficProfile

CONFIRM_SEEDS = 2  # extra interruption draws a spot plan must also pass, at least
EXERCISED_RECLAIMS = 3  # whole-pool reclaims expected over all the seeds of a recommended spot plan
MAX_CONFIRM_SEEDS = 400


def to_confirm(feasible: Sequence[Screening], alternatives: int) -> list[Screening]:
    """The plans the search's finish confirms when every confirmation passes (``feasible`` cheapest first):
    the cheapest, the cheapest of the next ``alternatives`` candidates, then the cheapest of every other
    platform."""
    picks: list[Screening] = []
    seen: set[tuple[str, str]] = set()
    for ev in feasible:
        if ev.candidate.key not in seen and len(picks) <= alternatives:
            picks.append(ev)
            seen.add(ev.candidate.key)
    shown = {e.plan.platform for e in picks}
    for ev in feasible:
        if ev.plan.platform not in shown and ev.candidate.key not in seen:
            picks.append(ev)
            seen.add(ev.candidate.key)
            shown.add(ev.plan.platform)
    return picks


class Confirmer:
    """Confirms one model's finalists; ``replayed`` counts the replays it ran."""

    def __init__(self, profile: TrafficProfile, prices: PriceCache, options: SearchOptions) -> None:
        self.profile, self.prices, self.options = profile, prices, options
        self.replayed = 0
        self._main: dict[int, tuple[Plan, PlanPrices, CostResult]] = {}

    def replay_main_seed(self, evs: Sequence[Screening]) -> None:
        """The confirmations of ``evs`` under the main seed, as one batch, for :meth:`confirm`."""
        if not evs:
            return
        plans = [full_plan(ev.plan) for ev in evs]
        prices = [self.prices.prices(plan) for plan in plans]
        # on-demand nodes kept: the recommended plan's feed the fleet's Savings Plan
        results = simulate_many(plans, self.profile, prices, seed=self.options.seed, keep_on_demand=True)
        self.replayed += len(evs)
        for ev, plan, price, result in zip(evs, plans, prices, results, strict=True):
            self._main[id(ev)] = (plan, price, result)

    def confirm(
        self, ev: Screening | Confirmed, *, all_seeds: bool, first: CostResult | None = None
    ) -> Confirmed | None:
        """``ev`` confirmed on the profile's own step; None if over budget.

        The recommended plan, if it buys spot (``all_seeds``), is replayed under :func:`confirm_replays` more
        interruption draws, and more (in tens, up to ``MAX_CONFIRM_SEEDS``) until a whole-pool reclaim was
        drawn in one of them; alternatives under the main seed only. ``first``: the main seed's result of
        ``ev``, a plan confirmed before.
        """
        seed = self.options.seed
        main = self._main.get(id(ev))
        if main is not None:
            plan, price, result = main
        else:
            plan = full_plan(ev.plan) if first is None else ev.plan
            price = self.prices.prices(plan)
            if first is None:
                first = simulate_many([plan], self.profile, [price], seed=seed, keep_on_demand=True)[0]
                self.replayed += 1
            result = first
        results: list[CostResult | Screened] = [result]
        if plan.purchase.uses_spot and all_seeds:
            extra = confirm_replays(plan, price, self.profile)
            results += self._under_seeds(plan, price, range(seed + 1, seed + 1 + extra))
            while not any(r.pool_reclaims for r in results) and len(results) <= MAX_CONFIRM_SEEDS:
                start = seed + len(results)
                results += self._under_seeds(plan, price, range(start, start + 10))
        budget = self.options.slo_budget_pct_minutes + 1e-12
        overs = [minutes_over_slo_pct(r) for r in results]
        if not all(o <= budget and r.meets_slo for o, r in zip(overs, results, strict=True)):
            return None
        reclaims = sum(r.pool_reclaims for r in results)
        seeds = tuple(seed + i for i in range(len(results)))
        return Evaluated(ev.candidate, plan, result, max(overs), True, seeds, ev.job, reclaims)

    def _under_seeds(self, plan: Plan, price: PlanPrices, seeds: Sequence[int]) -> list[Screened]:
        """The plan under each of the extra ``seeds``, rows of one batch, screened against the budget."""
        n = len(seeds)
        self.replayed += n
        budget = self.options.slo_budget_pct_minutes
        return screen_many([plan] * n, self.profile, [price] * n, seed=list(seeds), budget_pct_minutes=budget)


def settle_minutes(
    evaluated: list[Screening], profile: TrafficProfile, prices: PriceCache, seed: int
) -> list[Screening]:
    """``evaluated`` with the minutes over the SLO worked out for the plans whose screening left them
    unsettled (far over the budget): for a model no plan serves, to say which came closest."""
    unsettled = [e for e in evaluated if not e.result.settled]
    if not unsettled:
        return evaluated
    plans = [e.plan for e in unsettled]
    again = screen_many(plans, profile, [prices.prices(p) for p in plans], seed=seed)
    exact = {id(e): r for e, r in zip(unsettled, again, strict=True)}
    return [
        replace(e, result=exact[id(e)], minutes_over_slo_pct=exact[id(e)].minutes_over_slo_pct)
        if id(e) in exact
        else e
        for e in evaluated
    ]


def why_none(
    evaluated: list[Screening], profile: TrafficProfile, prices: PriceCache, options: SearchOptions
) -> tuple[str, int]:
    """Why a model has no plan (every one of ``evaluated`` over the budget), naming the plan that came
    closest; and how many plans were replayed again to say it."""
    closest = settle_minutes(evaluated, profile, prices, options.seed)
    worst = min(closest, key=lambda e: e.minutes_over_slo_pct) if closest else None
    detail = ""
    if worst is not None:
        detail = f"; the closest, {worst.plan.name}, is over it {worst.minutes_over_slo_pct:.3g}% of minutes"
    reason = f"no plan keeps the minutes over the SLO within {options.slo_budget_pct_minutes:g}%{detail}"
    return reason, sum(not e.result.settled for e in evaluated)


def full_plan(searched: Plan) -> Plan:
    """A searched plan validated in full, its service time left to the cost model's own calibration."""
    data = searched.model_dump()
    data["capacity"]["service_time_ms"] = None
    return Plan.model_validate(data)


def confirm_replays(plan: Plan, prices: PlanPrices, profile: TrafficProfile) -> int:
    """How many more seeds a spot plan is replayed under: at least ``CONFIRM_SEEDS``, and enough that
    ``EXERCISED_RECLAIMS`` whole-pool reclaims are expected over all of them (a pool reclaimed about once in
    40 months by the lowest band would otherwise never be in a week's replay), at most ``MAX_CONFIRM_SEEDS``.
    """
    given = plan.spot.pool_reclaims_per_month
    per_month = sum(p.monthly_interruption_rate if given is None else given for p in prices.spot_pools)
    expected = per_month * profile.duration_hours / HOURS_PER_MONTH
    if expected <= 0:
        return CONFIRM_SEEDS
    return max(CONFIRM_SEEDS, min(MAX_CONFIRM_SEEDS, math.ceil(EXERCISED_RECLAIMS / expected) - 1))
