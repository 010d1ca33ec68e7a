"""Plan costing: price a deployment plan over a traffic profile, with autoscaling, spot and SLO accounting.

Pure (numpy, pandas, scipy, pydantic; no cloud SDK). Typical use::

    from advisor.cost import load_plan, resolve_prices, simulate, simulate_many
    plan = load_plan(Path("examples/plans/api-c6i-spot.yaml"))
    result = simulate(plan, profile, resolve_prices(plan, catalog), seed=0)
    result.usd_per_month, result.slo.p99_ms_estimate, result.efficiency, result.timeseries()

The Plan model is the recommendation's (:mod:`advisor.recommendation.plan`, re-exported here). Modules:
``prices`` (catalog → PlanPrices), ``simulate`` (entry points - ``screen_many`` for a search's ranking -
and the fluid bound), ``baselines``, ``loadbalancer`` (LCUs), ``billing``, ``result``, ``plan_checks``;
``replay/`` the vectorised engine (``engine``), its autoscalers (``autoscaler``, ``hpa``), ``provisioning``
(start-up delays), ``spot`` (interruptions and pool reclaims), ``schedules``, ``balancing``, ``queueing``
(the queue's tables; the formulas are :mod:`advisor.capacity.queueing`'s), ``backlog``, ``load`` (load bins)
and ``series``.
"""

from __future__ import annotations

from advisor.capacity.queueing import (
    calibrate_service_time_ms,
    erlang_c,
    max_utilisation_for_slo,
    p99_latency_ms,
)
from advisor.cost.baselines import (
    Baseline,
    evaluate_baselines,
    fargate_plan,
    sagemaker_plan,
    static_peak_plan,
)
from advisor.cost.prices import PlanPrices, SpotPool, resolve_prices
from advisor.cost.replay.queueing import QueueModel
from advisor.cost.replay.schedules import minimum_by_step
from advisor.cost.result import CostBreakdown, CostResult, Screened, SLOReport
from advisor.cost.simulate import fluid_lower_bound_usd, screen_many, simulate, simulate_many
from advisor.domain import FargateSize
from advisor.recommendation.plan import (
    AutoscalingPolicy,
    Capacity,
    CapacityProvenance,
    LoadBalancerKind,
    LoadBalancerSpec,
    Plan,
    PurchaseMix,
    SpotBehaviour,
    load_plan,
)
from advisor.recommendation.scaling import ScheduledMinimum

__all__ = [
    "AutoscalingPolicy",
    "Baseline",
    "Capacity",
    "CapacityProvenance",
    "CostBreakdown",
    "CostResult",
    "FargateSize",
    "LoadBalancerKind",
    "LoadBalancerSpec",
    "Plan",
    "PlanPrices",
    "PurchaseMix",
    "QueueModel",
    "SLOReport",
    "ScheduledMinimum",
    "Screened",
    "SpotBehaviour",
    "SpotPool",
    "calibrate_service_time_ms",
    "erlang_c",
    "evaluate_baselines",
    "fargate_plan",
    "fluid_lower_bound_usd",
    "load_plan",
    "max_utilisation_for_slo",
    "minimum_by_step",
    "p99_latency_ms",
    "resolve_prices",
    "sagemaker_plan",
    "screen_many",
    "simulate",
    "simulate_many",
    "static_peak_plan",
]
