"""The right-sizing search's plans, some not replayed: those that cannot matter before a reader gets to them.

A plan within budget has a cost floor known before its replay (:class:`NeedCurve`). At every step it runs at
least its minimum's nodes and, but at the few steps its budget lets it overload, the nodes whose ready
replicas carry the step's demand. These are priced on demand, and every other charge (nodes starting or
draining, the load balancer, data processing) only adds. A plan over budget is never shown, whatever it
costs.

After the search's first stage, a new plan waits (is deferred) when its floor is above what could still
be shown. That is its candidate's best plan within budget so far. It is also the higher of the (``keep``)-th
candidate's best and the cheapest plan of its platform. A candidate with many plans in one batch (the
rescue's raised minimums) has them replayed in rounds, lowest floors first. A plan within budget in one
round may rule out the rest.

Every reader asks through :meth:`Found.ranked` or :meth:`Found.walk`. Each first replays, as one batch,
the deferred plans that could come before the plans it hands out, each in its place, so a reader sees
what it would see had every plan been replayed. Plans tied on cost keep their order of creation. A walk
skips plans its caller no longer wants. A deferred plan that no reader reaches is never replayed. The
search's answer is the one it gives with deferral off (``SearchOptions.defer``); the tests compare the two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from advisor.cost.replay.load import OVERLOAD_SLACK
from advisor.domain import Platform
from advisor.optimize.rightsize.candidates import ShapeCandidate, nodes_for
from advisor.optimize.rightsize.pricecache import PriceCache
from advisor.optimize.rightsize.search_types import Job, Screening
from advisor.recommendation.plan import Plan
from advisor.traffic.profile import HOURS_PER_MONTH

# A candidate's plans of one batch, when it has ROUND_MIN_PLANS or more, are replayed in up to ROUNDS
# batches, lowest floors first (on the 200-model benchmark fleet: three rounds from six plans replay 14 %
# fewer plans for 5 % more batches, and a batch costs about two plans' replay).
ROUNDS = 3
ROUND_MIN_PLANS = 6
_FLOOR_MARGIN = 1e-9  # relative: a floor is compared with replayed costs summed in another order


@dataclass(frozen=True)
class Deferred:
    """A job's plan, not replayed: it costs at least ``floor_usd_per_month``."""

    job: Job
    plan: Plan
    floor_usd_per_month: float

    @property
    def candidate(self) -> ShapeCandidate:
        return self.job.candidate


class NeedCurve:
    """The nodes a candidate needs at each step of the search's demand, sorted: a plan within budget has at
    least these ready (ready capacity below the demand is an overloaded step), but at the few steps its
    budget lets it overload, and at least its minimum's nodes everywhere.

    ``overload_steps``: at least the most overloaded steps a plan within budget may have (more only lowers
    the floor). The replicas needed are rounded down a hair (the replay compares in float32, with a slack).
    """

    def __init__(
        self, demand: np.ndarray, capacity_rps: float, replicas_per_node: int, overload_steps: int
    ) -> None:
        replicas = np.ceil(demand / (capacity_rps * (1.0 + OVERLOAD_SLACK)) * (1.0 - 1e-6))
        self.nodes = np.sort(np.ceil(replicas / replicas_per_node - 1e-9))
        self.prefix = np.concatenate(([0.0], np.cumsum(self.nodes)))
        self.overload_steps = min(overload_steps, self.nodes.size)

    def node_steps(self, min_nodes: int) -> float:
        """The fewest node-steps a plan with ``min_nodes`` nodes at least, within budget, can run."""
        n, total = self.nodes.size, float(self.prefix[-1])
        at_min = int(np.searchsorted(self.nodes, min_nodes, side="right"))  # steps the minimum covers
        steps = min_nodes * at_min + (total - float(self.prefix[at_min]))
        # the steps a plan may leave overloaded: the ones with the most nodes above the minimum
        top = max(n - self.overload_steps, at_min)
        return steps - ((total - float(self.prefix[top])) - min_nodes * (n - top))


def floor_usd_per_month(plan: Plan, need: NeedCurve, on_demand_usd_per_node_hour: float) -> float:
    """The cost no screening puts an on-demand ``plan`` within budget under (0 for a plan that buys spot,
    whose nodes are priced otherwise): its nodes by :class:`NeedCurve`, on demand, over the month."""
    if plan.purchase.uses_spot:
        return 0.0
    min_nodes = nodes_for(plan.autoscaling.min_replicas, plan.replicas_per_node)
    per_step_h = HOURS_PER_MONTH / need.nodes.size
    return need.node_steps(min_nodes) * on_demand_usd_per_node_hour * per_step_h * (1.0 - _FLOOR_MARGIN)


class Floors:
    """The floor of each plan the search makes for one model (:func:`floor_usd_per_month`), a
    :class:`NeedCurve` per candidate over the search's demand."""

    def __init__(self, search_rps: np.ndarray, budget_pct_minutes: float, prices: PriceCache) -> None:
        self.rps, self.prices = search_rps, prices
        # at least the overloaded steps the budget lets through (one more only lowers the floors)
        self.overload_steps = math.ceil(budget_pct_minutes / 100.0 * search_rps.size) + 1
        self.curves: dict[tuple[str, str], NeedCurve] = {}

    def __call__(self, plan: Plan, job: Job) -> float:
        cand = job.candidate
        if cand.key not in self.curves:
            capacity = plan.capacity.rps_per_replica
            self.curves[cand.key] = NeedCurve(self.rps, capacity, cand.replicas_per_node, self.overload_steps)
        on_demand = self.prices.prices(plan).on_demand_usd_per_node_hour
        return floor_usd_per_month(plan, self.curves[cand.key], on_demand)


Replay = Callable[[list[tuple[Plan, Job]]], list[Screening]]


class Found:
    """The search's plans in the order it made them, replayed or deferred.

    ``replay`` replays plans as one batch; ``keep`` is how many candidates' best plans the search may show
    (the recommended one and its alternatives); ``floor`` prices a plan's floor; with ``defer`` off every
    plan is replayed when added.
    """

    def __init__(
        self, replay: Replay, keep: int, floor: Callable[[Plan, Job], float], *, defer: bool
    ) -> None:
        self.entries: list[Screening | Deferred] = []
        self._replay, self._keep, self._floor, self._defer = replay, keep, floor, defer

    def add_replayed(self, screened: Sequence[Screening]) -> None:
        self.entries.extend(screened)

    def add(self, ready: list[tuple[Plan, Job]]) -> None:
        """Replays ``ready``, but for the plans that cannot matter now, which are deferred.

        A candidate with ``ROUND_MIN_PLANS`` plans or more in ``ready`` has them replayed in up to
        ``ROUNDS`` batches, lowest floors first: a plan within budget found in one may rule out the rest.
        """
        if not ready:
            return
        if not self._defer:
            self.entries += self._replay(ready)
            return
        floors = [self._floor(plan, job) for plan, job in ready]
        slots: dict[int, Screening | Deferred] = {}
        pending = list(range(len(ready)))
        for left in range(ROUNDS, 0, -1):  # rounds left, this one included
            bar = self._bars(list(slots.values()))
            now: list[int] = []
            for i in pending:
                plan, job = ready[i]
                if floors[i] > bar(job.candidate, plan.platform):
                    slots[i] = Deferred(job, plan, floors[i])
                else:
                    now.append(i)
            now, pending = _lowest_floors_first(now, ready, floors, left)
            if now:
                now.sort()
                slots.update(zip(now, self._replay([ready[i] for i in now]), strict=True))
            if not pending:
                break
        self.entries += [slots[i] for i in range(len(ready))]

    @property
    def deferred(self) -> int:
        """The plans deferred and not replayed so far."""
        return sum(isinstance(e, Deferred) for e in self.entries)

    def replayed(self) -> list[Screening]:
        return [e for e in self.entries if not isinstance(e, Deferred)]

    def feasible(self) -> list[Screening]:
        """The replayed plans within budget, cheapest first; ties in the order they were made."""
        return sorted(
            (e for e in self.entries if not isinstance(e, Deferred) and e.within_budget),
            key=lambda e: e.usd_per_month,
        )

    def settle(self, wanted: Callable[[Deferred], bool], up_to: float = math.inf) -> bool:
        """Replays the deferred plans ``wanted`` picks whose floor is at most ``up_to``, as one batch, each in
        its place; whether there were any."""
        picked = [
            i
            for i, e in enumerate(self.entries)
            if isinstance(e, Deferred) and e.floor_usd_per_month <= up_to and wanted(e)
        ]
        if not picked:
            return False
        jobs = [self.entries[i] for i in picked]
        replayed = self._replay([(d.plan, d.job) for d in jobs if isinstance(d, Deferred)])
        for i, screened in zip(picked, replayed, strict=True):
            self.entries[i] = screened
        return True

    def ranked(self, k: int, where: Callable[[ShapeCandidate], bool] = lambda c: True) -> list[Screening]:
        """The best plan within budget of each candidate ``where`` picks, cheapest first, the first ``k``."""
        while True:
            top = [e for e in ranked_best(self.replayed()) if where(e.candidate)][:k]
            bar = top[-1].usd_per_month if len(top) == k else math.inf
            if not self.settle(lambda d: where(d.candidate), bar):
                return top

    def walk(self, wanted: Callable[[Deferred], bool]) -> Iterator[Screening]:
        """The plans within budget, cheapest first, as :meth:`feasible` lists them once every plan is
        replayed, less the deferred plans ``wanted`` no longer picks when the walk reaches their floor.

        ``wanted`` may only narrow as the walk goes on (the caller's plans seen, platforms shown): then a
        plan replayed late costs more than every plan handed out, and the order handed out stands.
        """
        feasible, i = self.feasible(), 0
        while True:
            bar = feasible[i].usd_per_month if i < len(feasible) else math.inf
            if self.settle(wanted, bar):
                feasible = self.feasible()
                continue
            if i == len(feasible):
                return
            yield feasible[i]
            i += 1

    def _bars(self, more: Sequence[Screening | Deferred] = ()) -> Callable[[ShapeCandidate, Platform], float]:
        """The cost above which a plan of a candidate on a platform cannot matter now: above the candidate's
        own best plan within budget, or above both the ``keep``-th candidate's best and its platform's
        cheapest (inf where there is none yet); ``more``: plans not in the entries yet."""
        best = ranked_best([e for e in [*self.entries, *more] if not isinstance(e, Deferred)])
        own = {e.candidate.key: e.usd_per_month for e in best}
        by_platform: dict[Platform, float] = {}
        for e in best:
            by_platform.setdefault(e.plan.platform, e.usd_per_month)
        kth = best[self._keep - 1].usd_per_month if len(best) >= self._keep else math.inf

        def bar(candidate: ShapeCandidate, platform: Platform) -> float:
            return min(own.get(candidate.key, math.inf), max(kth, by_platform.get(platform, math.inf)))

        return bar


def _lowest_floors_first(
    indices: list[int], ready: list[tuple[Plan, Job]], floors: list[float], rounds: int
) -> tuple[list[int], list[int]]:
    """The plans to replay in this round and those left for the next: of a candidate with
    ``ROUND_MIN_PLANS`` plans or more, the lowest floors' 1/``rounds`` share; of the others, every plan."""
    by_candidate: dict[tuple[str, str], list[int]] = {}
    for i in indices:
        by_candidate.setdefault(ready[i][1].candidate.key, []).append(i)
    now: list[int] = []
    later: list[int] = []
    for own in by_candidate.values():
        if rounds == 1 or len(own) < ROUND_MIN_PLANS:
            now += own
            continue
        own.sort(key=floors.__getitem__)
        cut = math.ceil(len(own) / rounds)
        now += own[:cut]
        later += own[cut:]
    return now, later


def ranked_best(evaluated: Sequence[Screening]) -> list[Screening]:
    """The cheapest plan in budget per candidate, cheapest first."""
    best: dict[tuple[str, str], Screening] = {}
    for ev in evaluated:
        if not ev.within_budget:
            continue
        cur = best.get(ev.candidate.key)
        if cur is None or ev.usd_per_month < cur.usd_per_month:
            best[ev.candidate.key] = ev
    return sorted(best.values(), key=lambda e: (e.usd_per_month, e.candidate.key))
