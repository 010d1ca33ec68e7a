"""The entry points: price one plan, or many, over a traffic profile.

::

    prices = resolve_prices(plan, catalog)            # once per plan (catalog lookups)
    result = simulate(plan, profile, prices, seed=7)  # CostResult; result.timeseries() for the steps
    results = simulate_many(plans, profile, [resolve_prices(p, catalog) for p in plans], seed=7)

``simulate_many`` is what the optimiser calls: plans that share a dead band, stabilisation and delay are
replayed together as 2-D arrays, and each plan's spot draws depend only on the seed and the plan itself,
so a plan's result is the same alone or in any batch. Results are values: the time series is computed
only when asked for. ``screen_many`` is the same replay for a search's ranking: of each plan only the
figures a search decides on (:class:`~advisor.cost.result.Screened`).

Fluid lower bound: the cost if serving capacity followed demand exactly, in fractional replicas, at the
lowest $ per replica-hour among the purchase options the plan may use, plus the plan's load balancer
(which does not depend on how replicas scale). ``efficiency`` = bound ÷ plan cost: at most 1 for a plan that
provisions for all demand; above 1 only when the plan under-provisions (its overload figures say so).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from advisor.capacity.queueing import P99_TAIL
from advisor.cost.prices import PlanPrices
from advisor.cost.replay.engine import Outcome, PlanSetup, prepare, replay
from advisor.cost.replay.series import series_frame
from advisor.cost.result import CostBreakdown, CostResult, Screened, SLOReport, minutes_over_pct
from advisor.domain import PurchaseOption
from advisor.errors import InputError
from advisor.recommendation.plan import LoadBalancerKind, Plan
from advisor.traffic.profile import HOURS_PER_MONTH, TrafficProfile


def queue_model_name(scv: float) -> str:
    kind = "M/D/c" if scv == 0 else ("M/M/c" if scv == 1 else "M/G/c")
    return f"{kind} per replica via Erlang C with the Allen-Cunneen correction (service SCV {scv:g})"


def fluid_lower_bound_usd(profile: TrafficProfile, capacity_rps: float, usd_per_replica_hour: float) -> float:
    """Compute cost (USD over the profile) of exactly demand ÷ capacity replicas, fractional, at a price.

    The optimiser can call it with the best $/replica-hour across all shapes for a global bound.
    """
    if capacity_rps <= 0:
        raise InputError("capacity must be positive", where="capacity.rps_per_replica")
    replica_hours = profile.total_requests / capacity_rps / 3600.0
    return replica_hours * usd_per_replica_hour


def simulate(plan: Plan, profile: TrafficProfile, prices: PlanPrices, *, seed: int = 0) -> CostResult:
    """Price ``plan`` over ``profile`` (see ``simulate_many``)."""
    return simulate_many([plan], profile, [prices], seed=seed)[0]


def simulate_many(
    plans: Sequence[Plan],
    profile: TrafficProfile,
    prices: Sequence[PlanPrices],
    *,
    seed: int | Sequence[int] = 0,
    progress: Callable[[int, int], None] | None = None,
    keep_on_demand: bool = False,
) -> list[CostResult]:
    """Price every plan over ``profile``; ``prices[i]`` belongs to ``plans[i]``.

    ``seed`` fixes the spot draws: one for every plan, or one per plan (a plan listed several times with
    several seeds is replayed under each in one batch). Raises ConfigError when a plan and its prices
    disagree (platform, spot without pools) or a given service time contradicts the capacity. A plan that
    cannot keep up (overload, SLO missed) is not an error: its result says so. ``keep_on_demand``: each
    result keeps its on-demand nodes per step (4 bytes a step), so its ``column("nodes_on_demand")`` needs no
    replay again; every other column replays the plan when asked for.
    """
    setups, seeds = _prepared(plans, profile, prices, seed)
    outcomes = replay(setups, profile, seeds, progress=progress, keep_on_demand=keep_on_demand)
    results = []
    made: dict[int, CostResult] = {}  # rows the replay found identical (one plan, no spot loss)
    for setup, outcome, s in zip(setups, outcomes, seeds, strict=True):
        twin = made.get(id(outcome))
        if twin is None:
            result = made[id(outcome)] = _result(setup, profile, outcome, s)
        else:
            result = twin.model_copy(update={"seed": s})
        result.attach_series(*_series_thunks(setup, profile, s))
        if outcome.on_demand_nodes is not None:  # the Savings Plan's input, without replaying the series
            result.keep_column("nodes_on_demand", outcome.on_demand_nodes)
        results.append(result)
    return results


def screen_many(
    plans: Sequence[Plan],
    profile: TrafficProfile,
    prices: Sequence[PlanPrices],
    *,
    seed: int | Sequence[int] = 0,
    budget_pct_minutes: float | None = None,
) -> list[Screened]:
    """``simulate_many`` for a search that ranks plans and discards most: the same replay, and of each plan
    only its cost, minutes over the SLO, spot events and - when asked - whether its p99 meets the SLO
    (:class:`~advisor.cost.result.Screened`: the share of requests over the SLO at most the p99's tail, the
    same test as the p99's, with no p99 solved for and nothing validated again).

    ``budget_pct_minutes``: the budget the search holds plans to. A plan over it before the backlog behind
    its overloaded steps is counted is over it in any case: its backlog is not worked out, and its result
    says ``settled`` False (its minutes over the SLO a lower bound, over the budget; no SLO verdict).
    """
    setups, seeds = _prepared(plans, profile, prices, seed)
    cap = None if budget_pct_minutes is None else _overload_cap(profile, budget_pct_minutes)
    outcomes = replay(setups, profile, seeds, overload_cap=cap)
    out = []
    made: dict[int, Screened] = {}
    for setup, outcome, s in zip(setups, outcomes, seeds, strict=True):
        twin = made.get(id(outcome))
        if twin is None:
            made[id(outcome)] = twin = _screened(setup, profile, outcome, s)
        out.append(twin if twin.seed == s else twin.with_seed(s))
    return out


def _overload_cap(profile: TrafficProfile, budget_pct: float) -> int:
    """The most overloaded steps whose minutes are within ``budget_pct`` (as a search tests them)."""

    def within(steps: int) -> bool:
        return minutes_over_pct(steps * profile.step_s / 60.0, profile.duration_hours) <= budget_pct + 1e-12

    cap = max(0, math.floor(budget_pct / 100.0 * profile.steps))
    while cap < profile.steps and within(cap + 1):
        cap += 1
    while cap > 0 and not within(cap):
        cap -= 1
    return cap


def _prepared(
    plans: Sequence[Plan], profile: TrafficProfile, prices: Sequence[PlanPrices], seed: int | Sequence[int]
) -> tuple[list[PlanSetup], list[int]]:
    if len(plans) != len(prices):
        raise InputError(f"{len(plans)} plans but {len(prices)} price sets", where="simulate_many")
    prepared: dict[tuple[int, int], PlanSetup] = {}  # a plan listed under several seeds: one setup
    setups = []
    for plan, price in zip(plans, prices, strict=True):
        key = (id(plan), id(price))
        if key not in prepared:
            prepared[key] = prepare(plan, price, profile.step_s)
        setups.append(prepared[key])
    seeds = [seed] * len(setups) if isinstance(seed, int) else list(seed)
    if len(seeds) != len(setups):
        raise InputError(f"{len(setups)} plans but {len(seeds)} seeds", where="simulate_many")
    return setups, seeds


def _series_thunks(
    setup: PlanSetup, profile: TrafficProfile, seed: int
) -> tuple[Callable[[], pd.DataFrame], Callable[[], dict[str, npt.NDArray[np.generic]]]]:
    """The replay behind a result's time series: as the frame, and as the raw per-step arrays."""

    def columns() -> dict[str, npt.NDArray[np.generic]]:
        series = replay([setup], profile, seed, keep_series=True)[0].series
        assert series is not None
        return series

    def frame() -> pd.DataFrame:
        outcome = replay([setup], profile, seed, keep_series=True)[0]
        return series_frame(setup, profile, outcome)

    return frame, columns


@dataclass(frozen=True)
class _Charges:
    """A replayed plan's charges over the horizon, USD."""

    compute_od: float
    compute_spot: float
    interruptions: float
    lb_hours: float
    lb_units: float
    data: float

    @property
    def total(self) -> float:
        return (
            self.compute_od
            + self.compute_spot
            + self.interruptions
            + self.lb_hours
            + self.lb_units
            + self.data
        )


def _charges(setup: PlanSetup, profile: TrafficProfile, o: Outcome) -> _Charges:
    plan, prices = setup.plan, setup.prices
    step_h = profile.step_s / 3600.0
    od_price = prices.on_demand_usd_per_node_hour
    lb = plan.effective_load_balancer
    requests = profile.total_requests
    has_lb = lb.kind is not LoadBalancerKind.NONE
    return _Charges(
        compute_od=o.on_demand_node_steps * step_h * od_price + o.fargate_minimum_extra_s / 3600.0 * od_price,
        compute_spot=o.spot_node_steps * step_h * prices.spot_usd_per_node_hour,
        interruptions=o.notice_overlap_usd + o.fallback_premium_usd,
        lb_hours=profile.duration_hours * prices.load_balancer_usd_per_hour / lb.shared_by if has_lb else 0.0,
        lb_units=(
            setup.lcu_per_rps * requests / 3600.0 * prices.load_balancer_usd_per_lcu_hour if has_lb else 0.0
        ),
        data=requests * prices.data_usd_per_request(lb),
    )


def _screened(setup: PlanSetup, profile: TrafficProfile, o: Outcome, seed: int) -> Screened:
    per_month = HOURS_PER_MONTH / profile.duration_hours
    queue, slo_ms = setup.queue, setup.plan.slo.latency_p99_ms
    requests = profile.total_requests
    overload_minutes = o.overloaded_steps * profile.step_s / 60.0

    def meets() -> bool:  # p99 <= SLO exactly when at most the p99's tail of the requests is over the SLO
        return bool(queue.requests_over(o.load_histogram(), slo_ms) <= P99_TAIL * requests * (1 + 1e-9))

    return Screened(
        plan=setup.plan.name,
        seed=seed,
        usd_per_month=_charges(setup, profile, o).total * per_month,
        minutes_over_slo_pct=minutes_over_pct(overload_minutes, profile.duration_hours),
        interruptions=o.interruptions,
        pool_reclaims=o.pool_reclaims,
        meets=meets if o.overload_settled else False,
        settled=o.overload_settled,
    )


def _result(setup: PlanSetup, profile: TrafficProfile, o: Outcome, seed: int) -> CostResult:
    plan, prices = setup.plan, setup.prices
    horizon_h = profile.duration_hours
    per_month = HOURS_PER_MONTH / horizon_h
    c = _charges(setup, profile, o)
    compute_od, compute_spot, interruptions = c.compute_od, c.compute_spot, c.interruptions
    lb_hours, lb_units, data, total = c.lb_hours, c.lb_units, c.data, c.total
    requests = profile.total_requests
    components = {
        "compute_on_demand": compute_od,
        "compute_spot": compute_spot,
        "spot_interruptions": interruptions,
        "load_balancer_hours": lb_hours,
        "load_balancer_capacity_units": lb_units,
    }
    if prices.data_usd_per_gb_in > 0 or prices.data_usd_per_gb_out > 0:
        components["data_processing"] = data
    spot_option = (prices.spot_option or PurchaseOption.SPOT).value
    replacement_on_demand = plan.spot_fallback
    by_option = {
        prices.on_demand_option.value: compute_od
        + o.fallback_premium_usd
        + (o.notice_overlap_usd if replacement_on_demand else 0.0),
        spot_option: compute_spot + (0.0 if replacement_on_demand else o.notice_overlap_usd),
        "load_balancer": lb_hours + lb_units,
    }
    if "data_processing" in components:
        by_option["data_processing"] = data
    cap = plan.capacity.rps_per_replica
    bound_compute = fluid_lower_bound_usd(
        profile, cap, prices.cheapest_usd_per_replica_hour(plan.replicas_per_node, plan.purchase.uses_spot)
    )
    bound = bound_compute + lb_hours + lb_units + data
    slo = _slo_report(setup, profile, o)
    steps = profile.steps
    return CostResult(
        plan=plan.name,
        model=plan.model,
        platform=plan.platform.value,
        region=prices.region,
        shape=prices.shape,
        capacity_rps_per_replica=cap,
        capacity_provenance=plan.capacity.provenance,
        seed=seed,
        horizon_hours=horizon_h,
        step_s=profile.step_s,
        requests_total=requests,
        requests_per_month=requests * per_month,
        usd_total=total,
        usd_per_month=total * per_month,
        usd_per_million_requests=total / requests * 1e6 if requests > 0 else None,
        breakdown=CostBreakdown(
            by_component={k: v * per_month for k, v in components.items()},
            by_purchase_option={
                k: v * per_month for k, v in by_option.items() if v > 0 or k == prices.on_demand_option.value
            },
        ),
        utilisation_mean=o.served_rps_steps / (o.replica_steps * cap) if o.replica_steps > 0 else 0.0,
        replicas_mean=o.replica_steps / steps,
        replicas_min=o.replicas_min,
        replicas_max=o.replicas_max,
        nodes_mean=o.node_steps / steps,
        nodes_max=o.nodes_max,
        slo=slo,
        fluid_bound_usd_per_month=bound * per_month,
        efficiency=bound / total if total > 0 else 1.0,
        load_balancer_unit_dimension=setup.lcu_dimension,
        prices_estimated=prices.estimated,
        price_sources=prices.sources,
    )


def _slo_report(setup: PlanSetup, profile: TrafficProfile, o: Outcome) -> SLOReport:
    plan, queue = setup.plan, setup.queue
    requests = profile.total_requests
    per_month = HOURS_PER_MONTH / profile.duration_hours
    step_h = profile.step_s / 3600.0
    hist = o.load_histogram()
    over_slo = queue.requests_over(hist, plan.slo.latency_p99_ms)
    p99 = queue.mixture_quantile_ms(hist)
    meets = p99 is not None and p99 <= plan.slo.latency_p99_ms * (1 + 1e-9)
    return SLOReport(
        slo_p99_ms=plan.slo.latency_p99_ms,
        p99_ms_estimate=p99,
        meets_slo=meets,
        share_requests_over_slo=min(1.0, over_slo / requests) if requests > 0 else 0.0,
        overload_minutes=o.overloaded_steps * profile.step_s / 60.0,
        overload_minutes_per_month=o.overloaded_steps * profile.step_s / 60.0 * per_month,
        interruptions=o.interruptions,
        interruptions_per_month=o.interruptions * per_month,
        pool_reclaims=o.pool_reclaims,
        lost_replica_hours=o.lost_replica_steps * step_h,
        backlog_max_requests=o.backlog_max_requests,
        queue_model=queue_model_name(queue.scv),
        service_time_ms=queue.service_time_ms,
        service_time_calibrated=queue.calibrated,
    )
