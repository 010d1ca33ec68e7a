"""Per-model right-sizing: the cheapest autoscaling policy and purchase mix within the SLO, checked by replay.

For one model (its capacities, its traffic profile) :func:`rightsize_model` searches, with
:func:`advisor.cost.simulate_many` batches:

1. **Candidates.** Every (platform, shape) with a fitting replica and a capacity, prefiltered to the best few
   per platform (:mod:`advisor.optimize.rightsize.candidates`).
2. **Target utilisation.** Capacity is defined at the SLO (the queueing model calibrates to it), so a replica
   may run at most at utilisation 1; the autoscaler's dead band lets load run up to (1 + tolerance) × target
   before it reacts, so the highest useful target is 1 / (1 + tolerance), and never above 0.9 (the margin
   of the capacity measurement, ``MAX_TARGET_UTILISATION``). Below that ceiling the scale-up lag needs
   headroom that depends on how fast the traffic climbs, which the replay measures: per candidate, a
   bisection over a grid of targets (``STEPS``) finds the highest one that keeps the SLO budget.
3. **Bounds.** ``min`` = max(the high-availability floor, the replicas the trough needs) - or, where traffic
   jumps faster than replicas start (a nightly batch, a burst), the replicas an upper percentile of the
   demand needs, so the jump lands on replicas already running (tried for shapes no target rescues, and for
   the best shapes, where a raised floor can beat a low target); or, for traffic with a daily pattern, the
   flat minimum with scheduled minimums around the daily windows that need more (tried for the same shapes,
   :mod:`advisor.optimize.rightsize.scheduling`); ``max`` = the replicas the peak needs,
   times the traffic's climb over one scale-up delay (99th percentile), times the dead band — so the max
   never binds on the recorded traffic, yet caps a runaway.
4. **Spot** (EC2; Fargate Spot only if the scenario allows its assumed band). For the best shapes, spot
   shares of 50 % and 100 % above an on-demand base sized so that, when the largest spot pool is reclaimed,
   the nodes left still serve the demand at the SLO (:func:`on_demand_base_for_spot`), at the winning target
   and one step below it.
5. **Budget check.** A plan is within budget when its minutes with demand above ready capacity (the minutes
   its p99 exceeds the SLO: capacity is the rate at which p99 = SLO) are at most ``slo_budget_pct_minutes`` %
   of all minutes and its overall p99 meets the SLO.

Speed and certainty. Steps 2-4 replay a 3-minute envelope of the demand (each window's maximum: overload is
never averaged away, costs are slightly overstated), which makes a plan several times cheaper to replay.
The cheapest plans in budget are then **confirmed** on the profile's own step with the cost model's own
queue calibration - spot plans under two more seeds (other interruption draws), the worst counting - and
only confirmed plans are returned (:mod:`advisor.optimize.rightsize.confirm`). The search's replays are
screened (``advisor.cost.simulate.screen_many``): no p99 is solved for, as only whether it meets the SLO
decides, and a plan over the minutes budget before the backlog behind its overload is counted is not
followed further. From the rescue on, a plan whose cost floor (its minimum's nodes, and the nodes its demand
needs wherever the budget does not let it overload) is above what could still be shown waits: it is
replayed only if a later stage or the confirmation reaches its floor (the same answer with fewer replays,
:mod:`advisor.optimize.rightsize.deferral`). What comes back on an infeasible model is a value: ``best``
None with the reason and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from advisor.cost.simulate import screen_many
from advisor.domain import SLO, Platform, ReplicaResources
from advisor.optimize.rightsize.candidates import ShapeCandidate, nodes_for
from advisor.optimize.rightsize.confirm import Confirmer, to_confirm, why_none
from advisor.optimize.rightsize.deferral import Floors, Found
from advisor.optimize.rightsize.ec2_scaling import Timing, scaling_timing
from advisor.optimize.rightsize.pricecache import PriceCache, minutes_over_slo_pct
from advisor.optimize.rightsize.scheduling import daily_schedules
from advisor.optimize.rightsize.search_types import (
    Confirmed,
    Evaluated,
    Job,
    RightsizeResult,
    Screening,
    SearchOptions,
)
from advisor.optimize.rightsize.sizing import on_demand_base_for_spot, rolling_max_ahead, search_envelope
from advisor.recommendation.plan import (
    AutoscalingPolicy,
    Capacity,
    LoadBalancerSpec,
    Plan,
    PurchaseMix,
    SpotBehaviour,
)
from advisor.recommendation.scaling import ScheduledMinimum
from advisor.traffic.profile import TrafficProfile

# EC2 (EKS/ECS on EC2): the Kubernetes HPA's defaults - tolerance 0.1, scale-down stabilisation 300 s
# (kubernetes.io, "Horizontal Pod Autoscaling") - and the cost model's default 180 s from a scale-up decision
# to a serving replica on a new node (an assumption: node boot + image pull + model load).
STEPS = (1.0, 0.85, 0.7, 0.55, 0.42, 0.32, 0.25)  # target = ceiling x step, highest first
RESCUE_STEPS = (1.0, 0.6)
RESCUE_QUANTILES = (75.0, 90.0, 97.0, 100.0)  # minimum raised to these demand percentiles (stage 1b)
RAISE_QUANTILES = (50.0, 90.0)  # ... and these, for the best shapes (stage 2)
SPIKY_BELOW_STEP = 0.7  # stage 2 runs when a best shape needed a target this low (headroom for climbs)
SPOT_SHARES_PCT = (50, 100)  # whole %, as the ASG API takes it
LAG_QUANTILE = 99.0
# Never plan a replica closer than 10 % to its measured capacity: the bench's capacity search resolves the
# SLO boundary to 5-8 % (advisor.bench.search), so the last 10 % would be within measurement error.
MAX_TARGET_UTILISATION = 0.9
_ON_DEMAND = PurchaseMix()


def rightsize_model(
    model: str,
    slo: SLO,
    candidates: Sequence[ShapeCandidate],
    profile: TrafficProfile,
    prices: PriceCache,
    *,
    region: str,
    load_balancer: LoadBalancerSpec,
    replica: ReplicaResources | None = None,
    options: SearchOptions = SearchOptions(),
) -> RightsizeResult:
    """Search policies and purchase mixes for ``model`` over ``candidates`` (module docstring, steps 2-5)."""
    if not candidates:
        return RightsizeResult(model, None, reason="no candidate shape has a capacity", fix="see capacities")
    search = _Search(model, slo, profile, prices, region, load_balancer, options, replica)
    # Stage 1: per candidate, the highest target on the grid that keeps the budget (on-demand, minimum at the
    # HA floor and the trough), by a bisection that replays every candidate's next probe in one batch.
    evaluated, stuck = search.bisect(candidates)
    found = search.found(evaluated)  # from here on, a plan whose cost floor rules it out waits (deferral)
    # Candidates that never kept the budget (a step in traffic faster than the scale-up delay): raise the
    # minimum to the demand's upper quantiles, so the jump lands on replicas already running, or only
    # around the daily windows that need it (a nightly batch, business hours); one batch for both.
    found.add(
        search.ready(
            [Job(c, s, q) for c in stuck for s in RESCUE_STEPS for q in RESCUE_QUANTILES]
            + [Job(c, s, scheduled=True) for c in stuck for s in RESCUE_STEPS]
        )
    )
    # Stage 2: the best shapes with a raised minimum at their winning target and one step higher (often
    # cheaper than a low target for spiky traffic; smooth traffic keeps high targets and skips this).
    jobs: list[Job] = []
    top = found.ranked(options.refine_top)
    spiky = bool(stuck) or any(e.job.step < SPIKY_BELOW_STEP for e in top)
    for ev in top if spiky else []:
        higher = [s for s in STEPS if s > ev.job.step][-1:]
        jobs += [
            Job(ev.candidate, s, q)
            for s in (ev.job.step, *higher)
            for q in RAISE_QUANTILES
            if q != ev.job.min_quantile
        ]
        if not ev.job.scheduled:
            jobs += [Job(ev.candidate, s, scheduled=True) for s in (ev.job.step, *higher)]
    found.add(search.ready(jobs))
    # Stage 3: spot above an on-demand base for the best shapes that have spot pools.
    jobs = []
    for ev in found.ranked(options.spot_top, where=lambda c: bool(c.spot_pools)):
        # Interruptions take capacity away: every share at the winning target, all spot one step lower.
        lower = [s for s in STEPS if s < ev.job.step][:1]
        jobs += [
            Job(ev.candidate, ev.job.step, ev.job.min_quantile, share, ev.job.scheduled)
            for share in SPOT_SHARES_PCT
        ]
        jobs += [
            Job(ev.candidate, s, ev.job.min_quantile, SPOT_SHARES_PCT[-1], ev.job.scheduled) for s in lower
        ]
    found.add(search.ready(jobs))
    return search.finish(found)


# ----- the search ------------------------------------------------------------------------------------


class _Search:
    def __init__(
        self,
        model: str,
        slo: SLO,
        profile: TrafficProfile,
        prices: PriceCache,
        region: str,
        load_balancer: LoadBalancerSpec,
        options: SearchOptions,
        replica: ReplicaResources | None = None,
    ) -> None:
        self.model, self.slo, self.profile, self.prices = model, slo, profile, prices
        self.search_profile = search_envelope(profile)
        self.ascending_search_rps = np.sort(self.search_profile.rps)  # the spot base's look-ups, in order
        self.replica = replica
        self.region, self.lb, self.options = region, load_balancer, options
        self.replayed = 0
        self.demand = profile.rps
        self.peak = float(profile.rps.max())
        self.trough = float(profile.rps.min())
        self._lag: dict[int, float] = {}
        self._quantile: dict[float, float] = {}
        self._capacity: dict[tuple[str, str], Capacity] = {}
        self._schedules: dict[tuple[float, int, int, float], list[ScheduledMinimum]] = {}
        self._policies: dict[tuple[tuple[str, str], float, float | None, bool], AutoscalingPolicy] = {}
        self._timings: dict[tuple[Platform, bool], tuple[Timing, AutoscalingPolicy]] = {}
        self._plans: dict[tuple[str, str], Plan] = {}

    def lag_growth(self, delay_s: float) -> float:
        """How much the traffic climbs within one scale-up delay (the 99th percentile of the ratio)."""
        steps = max(1, math.ceil(delay_s / self.profile.step_s))
        if steps not in self._lag:
            d = self.demand
            ahead = rolling_max_ahead(d, steps)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(d > 0, ahead / np.maximum(d, 1e-12), 1.0)
            # ratio is this call's own array: partitioned in place instead of copied
            self._lag[steps] = max(1.0, float(np.percentile(ratio, LAG_QUANTILE, overwrite_input=True)))
        return self._lag[steps]

    def quantile(self, q: float) -> float:
        if q not in self._quantile:  # the search's quantiles in one partition of the demand
            wanted = sorted({q, *RESCUE_QUANTILES, *RAISE_QUANTILES})
            self._quantile.update(zip(wanted, np.percentile(self.demand, wanted).tolist(), strict=True))
        return self._quantile[q]

    def policy(
        self, cand: ShapeCandidate, step: float, min_quantile: float | None = None, scheduled: bool = False
    ) -> AutoscalingPolicy:
        key = (cand.key, step, min_quantile, scheduled)
        if key not in self._policies:
            timing, template = self._timing(cand)
            delay, tol = timing.scale_up_delay_s, timing.tolerance
            target = min(MAX_TARGET_UTILISATION, step / (1.0 + tol))
            per_replica = cand.capacity.rps_per_replica * target
            floor = self.trough if min_quantile is None else self.quantile(min_quantile)
            low = math.ceil(floor / per_replica - 1e-9)
            high = math.ceil(self.peak * self.lag_growth(delay) * (1.0 + tol) / per_replica - 1e-9)
            minimum = max(self.options.min_replicas, low)
            top = max(minimum, high, 1)
            # a copy of the platform's template with this plan's figures: the same fields, without the
            # cost of pydantic's model_construct, thousands of times per fleet
            self._policies[key] = template.model_copy(
                update={
                    "min_replicas": minimum,
                    "max_replicas": top,
                    "target_utilisation": round(target, 6),
                    "schedules": self.schedules(per_replica, minimum, top, delay) if scheduled else [],
                }
            )
        return self._policies[key]

    def _timing(self, cand: ShapeCandidate) -> tuple[Timing, AutoscalingPolicy]:
        """The candidate's scaling timing, and a policy with its fields (the figures left to fill in)."""
        accelerated = cand.instance is not None and cand.instance.has_gpu
        key = (cand.platform, accelerated)
        if key not in self._timings:
            options = self.options
            timing = scaling_timing(cand.platform, accelerated, options.image_gib, options.ec2_scaling)
            template = AutoscalingPolicy.model_construct(
                min_replicas=1,
                max_replicas=1,
                target_utilisation=1.0,
                scale_up_delay_s=timing.scale_up_delay_s,
                scale_down_stabilisation_s=timing.scale_down_stabilisation_s,
                tolerance=timing.tolerance,
                scale_in_tolerance=timing.scale_in_tolerance,
                algorithm=timing.algorithm,
                metric=timing.metric,
                node_scale_down_delay_s=timing.node_scale_down_delay_s,
                schedules=[],
            )
            self._timings[key] = (timing, template)
        return self._timings[key]

    def schedules(self, per_replica: float, minimum: int, top: int, delay: float) -> list[ScheduledMinimum]:
        key = (round(per_replica, 9), minimum, top, delay)
        if key not in self._schedules:
            self._schedules[key] = daily_schedules(self.profile, per_replica, minimum, top, delay)
        return self._schedules[key]

    def capacity(self, cand: ShapeCandidate) -> Capacity:
        """The candidate's capacity with the calibrated service time (one root search per capacity).

        The search passes it to skip a calibration per plan; the confirmation replays without it, so the
        reported queue is calibrated by the cost model itself.
        """
        if cand.key not in self._capacity:
            capacity = cand.capacity.to_capacity()
            service = self.prices.service_time_ms(capacity.rps_per_replica, self.slo.latency_p99_ms)
            self._capacity[cand.key] = capacity.model_copy(update={"service_time_ms": service})
        return self._capacity[cand.key]

    def plan(self, job: Job) -> Plan | None:
        """The plan of a job; None when spot buys nothing (the base covers every node)."""
        cand = job.candidate
        policy = self.policy(cand, job.step, job.min_quantile, job.scheduled)
        if job.scheduled and not policy.schedules:
            return None  # no daily window to lift: the flat plan is the same
        purchase = _ON_DEMAND
        if job.spot_pct > 0:
            base = on_demand_base_for_spot(
                self.ascending_search_rps, cand.capacity.rps_per_replica, cand.replicas_per_node, policy,
                job.spot_pct, len(cand.spot_pools), self.options.min_on_demand_base,
            )  # fmt: skip
            if base >= nodes_for(policy.max_replicas, cand.replicas_per_node):
                return None
            pool_names = list(cand.spot_pools) if cand.platform is Platform.EC2 else []
            purchase = PurchaseMix.model_construct(
                on_demand_base=base, spot_pct_above_base=job.spot_pct, spot_pools=pool_names
            )
        mix = (
            "on-demand"
            if job.spot_pct <= 0
            else f"{purchase.on_demand_base} on-demand + {job.spot_pct:g}% spot"
        )
        # Search plans skip pydantic validation (their parts are built here, from validated values); the
        # confirmed ones are validated in full before they leave this module.
        name = (
            f"{self.model}: {cand.platform.value} {cand.shape} @{policy.target_utilisation:.2f} "
            f"min {policy.min_replicas} {mix}"
        )
        return self._plan_template(cand).model_copy(
            update={"name": name, "purchase": purchase, "autoscaling": policy}
        )

    def _plan_template(self, cand: ShapeCandidate) -> Plan:
        """A plan on ``cand`` with every field but its name, purchase and policy (copied per job)."""
        if cand.key not in self._plans:
            lb = self.lb if cand.platform is not Platform.SAGEMAKER else self.lb.without_balancer()
            self._plans[cand.key] = Plan.model_construct(
                name="",
                model=self.model,
                platform=cand.platform,
                region=self.region,
                shape=cand.fargate if cand.fargate is not None else cand.shape,
                replicas_per_node=cand.replicas_per_node,
                replica=self.replica,
                capacity=self.capacity(cand),
                slo=self.slo,
                purchase=_ON_DEMAND,
                spot=self.spot_behaviour(cand),
                autoscaling=self._timing(cand)[1],
                load_balancer=lb,
            )
        return self._plans[cand.key]

    def spot_behaviour(self, cand: ShapeCandidate) -> SpotBehaviour:
        ec2 = self.options.ec2_scaling
        if cand.platform is not Platform.EC2 or ec2 is None:
            return SpotBehaviour()
        return SpotBehaviour(on_demand_fallback=ec2.spot_fallback)

    def bisect(self, candidates: Sequence[ShapeCandidate]) -> tuple[list[Screening], list[ShapeCandidate]]:
        """Per candidate, the first step of ``STEPS`` within budget (feasibility grows as the target falls).

        Returns every plan replayed and the candidates with no step within budget. ``len(STEPS)`` levels
        take ceil(log2(levels + 1)) batches.
        """
        lo = {c.key: 0 for c in candidates}
        hi = {c.key: len(STEPS) for c in candidates}
        evaluated: list[Screening] = []
        active = list(candidates)
        while active:
            jobs = [Job(c, STEPS[(lo[c.key] + hi[c.key]) // 2]) for c in active]
            got = self.replay(self.ready(jobs))
            evaluated += got
            verdict = {(e.candidate.key, e.job.step): e.within_budget for e in got}
            for c, job in zip(active, jobs, strict=True):
                mid = STEPS.index(job.step)
                if verdict.get((c.key, job.step), False):
                    hi[c.key] = mid
                else:
                    lo[c.key] = mid + 1
            active = [c for c in active if lo[c.key] < hi[c.key]]
        return evaluated, [c for c in candidates if hi[c.key] == len(STEPS)]

    def ready(self, jobs: Sequence[Job]) -> list[tuple[Plan, Job]]:
        """The jobs' plans (a job whose plan would repeat another's has none)."""
        return [(plan, job) for job in jobs if (plan := self.plan(job)) is not None]

    def replay(self, ready: list[tuple[Plan, Job]]) -> list[Screening]:
        """The plans screened as one batch."""
        if not ready:
            return []
        prices = [self.prices.prices(p) for p, _ in ready]
        results = screen_many(
            [p for p, _ in ready], self.search_profile, prices, seed=self.options.seed,
            budget_pct_minutes=self.options.slo_budget_pct_minutes,
        )  # fmt: skip
        self.replayed += len(ready)
        out = []
        for (plan, job), result in zip(ready, results, strict=True):
            over = minutes_over_slo_pct(result)
            ok = over <= self.options.slo_budget_pct_minutes + 1e-12 and result.meets_slo
            out.append(Evaluated(job.candidate, plan, result, over, ok, (self.options.seed,), job))
        return out

    def found(self, screened: Sequence[Screening]) -> Found:
        """The search's plans from here on, starting with ``screened``."""
        floors = Floors(self.search_profile.rps, self.options.slo_budget_pct_minutes, self.prices)
        found = Found(self.replay, self.options.alternatives + 1, floors, defer=self.options.defer)
        found.add_replayed(screened)
        return found

    def finish(self, found: Found) -> RightsizeResult:
        """Confirm the cheapest plans in budget with calibrated queues (and extra seeds for spot plans)."""
        confirmer = Confirmer(self.profile, self.prices, self.options)
        confirmer.replay_main_seed(to_confirm(found.feasible(), self.options.alternatives))
        chosen: list[Confirmed] = []
        seen: set[tuple[str, str]] = set()
        confirmed_best: Confirmed | None = None
        for ev in found.walk(lambda d: d.candidate.key not in seen):  # seen: empty until confirmed_best
            if ev.candidate.key in seen:
                continue
            final = confirmer.confirm(ev, all_seeds=confirmed_best is None)
            if final is None:
                continue
            if confirmed_best is None:
                confirmed_best = final
                seen.add(ev.candidate.key)
                continue
            seen.add(ev.candidate.key)
            chosen.append(final)
            if len(chosen) >= self.options.alternatives:
                break
        # Beyond the cheapest few, the cheapest plan of every other platform, so the choice of platform can
        # be explained with figures (SageMaker's premium and data processing against a load balancer).
        shown = {e.plan.platform for e in chosen}
        if confirmed_best is not None:
            shown.add(confirmed_best.plan.platform)
        others = found.walk(lambda d: d.plan.platform not in shown and d.candidate.key not in seen)
        for ev in others if confirmed_best is not None else []:
            if ev.plan.platform in shown or ev.candidate.key in seen:
                continue
            final = confirmer.confirm(ev, all_seeds=False)
            seen.add(ev.candidate.key)
            if final is not None:
                chosen.append(final)
                shown.add(ev.plan.platform)

        def replayed() -> int:
            return self.replayed + confirmer.replayed

        if confirmed_best is None:  # the first walk, wanting every plan, ran to its end: none is deferred
            reason, settled = why_none(found.replayed(), self.search_profile, self.prices, self.options)
            self.replayed += settled
            return RightsizeResult(
                self.model,
                None,
                plans_replayed=replayed(),
                reason=reason,
                fix="raise slo_budget_pct_minutes, relax the SLO, or measure faster shapes",
            )
        # The order above is the search envelope's estimate; on the profile's own step a runner-up can come
        # out cheaper. The recommendation is the cheapest confirmed plan (all seeds when it buys spot).
        ranked = sorted([confirmed_best, *chosen], key=lambda e: (e.usd_per_month, e.candidate.key))
        for runner_up in ranked:
            if runner_up is confirmed_best:
                break
            won: Confirmed | None = runner_up
            if runner_up.plan.purchase.uses_spot:
                won = confirmer.confirm(runner_up, all_seeds=True, first=runner_up.result)
            if won is not None:
                rest = [e for e in ranked if e is not runner_up]
                return RightsizeResult(self.model, won, rest, plans_replayed=replayed())
        return RightsizeResult(self.model, confirmed_best, chosen, plans_replayed=replayed())
