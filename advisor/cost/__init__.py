"""Plan costing: price a deployment plan over a traffic profile, with autoscaling, spot and SLO accounting.

Pure (numpy, pandas, scipy, pydantic; no cloud SDK). Typical use::

    from advisor.cost import load_plan, resolve_prices, simulate, simulate_many
    plan = load_plan(Path("examples/plans/api-c6i-spot.yaml"))
    result = simulate(plan, profile, resolve_prices(plan, catalog), seed=0)
    result.usd_per_month, result.slo.p99_ms_estimate, result.efficiency, result.timeseries()

Modules: ``plan`` (the Plan model), ``prices`` (catalog → PlanPrices), ``autoscaler`` (dead bands and
windows), ``hpa`` (the HPA's scale-up), ``provisioning`` (start-up delays), ``spot`` (interruptions and
pool reclaims), ``queueing`` (p99 and SLO share), ``balancing`` (random, round robin, least outstanding),
``backlog`` (requests carried over), ``load`` (load bins), ``loadbalancer`` (LCUs), ``billing``, ``replay``
(the vectorised engine), ``series`` (time series), ``simulate`` (entry points, fluid bound), ``baselines``.
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
from advisor.cost.result import CostBreakdown, CostResult, SLOReport
from advisor.cost.simulate import fluid_lower_bound_usd, simulate, simulate_many
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
    "simulate",
    "simulate_many",
    "static_peak_plan",
]
