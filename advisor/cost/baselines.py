"""Baselines every comparison can carry: what teams run without an advisor, priced by the same replay.

1. ``static_peak``: on-demand, the plan's platform and shape, a fixed replica count sized for the
   profile's peak at the plan's target utilisation (no autoscaling, no spot) — the most common setup.
2. ``sagemaker_target_tracking``: a SageMaker real-time endpoint on the same instance type (the cheapest
   type that fits one replica, for a Fargate plan) with target tracking on invocations per instance.
3. ``fargate_target_tracking``: ECS on Fargate, the smallest task size holding one replica, with target
   tracking (Fargate has no GPUs: unavailable for GPU replicas).

Target tracking delays (see ``advisor.cost.replay.autoscaler``): scale-out after 3 one-minute alarm datapoints
(180 s) plus the start of a new instance or task; scale-in after 15 datapoints (900 s); no tolerance.
Instance and task start times are not published by AWS: ``SAGEMAKER_INSTANCE_START_S`` and
``FARGATE_TASK_START_S`` are assumptions (typical, order-of-magnitude values) — adjust them to measured
ones. A baseline that cannot be built is a value with a reason, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from advisor.cost.prices import resolve_prices
from advisor.cost.replay.provisioning import fargate_task_start_s
from advisor.cost.result import CostResult
from advisor.cost.simulate import simulate_many
from advisor.domain import FargateSize, Platform, ReplicaResources
from advisor.errors import AdvisorError
from advisor.platforms.sagemaker import endpoint_ec2_types, is_endpoint_type
from advisor.pricing.catalog import Catalog
from advisor.pricing.fargate import smallest_fargate_size
from advisor.recommendation.plan import (
    AutoscalingPolicy,
    Capacity,
    CapacityProvenance,
    LoadBalancerKind,
    LoadBalancerSpec,
    Plan,
    PurchaseMix,
)
from advisor.traffic.profile import TrafficProfile

TARGET_TRACKING_SCALE_OUT_ALARM_S = 180.0  # 3 datapoints of 1 minute (Application Auto Scaling User Guide)
TARGET_TRACKING_SCALE_IN_ALARM_S = 900.0  # 15 datapoints of 1 minute (same source)
# The scale-in (AlarmLow) alarm target tracking creates sits 10 % below the target value, so capacity is only
# removed once the metric is 10 % under it (the alarms as Application Auto Scaling creates them).
TARGET_TRACKING_SCALE_IN_TOLERANCE = 0.1
SAGEMAKER_INSTANCE_START_S = 480.0  # assumption: launch + container + model load of a new endpoint instance
FARGATE_TASK_START_S = fargate_task_start_s()  # assumption: provisioning + image pull + model load, 90 s


class Baseline(BaseModel):
    """One baseline: its plan and priced result, or why it could not be built."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    plan: Plan | None = None
    result: CostResult | None = None
    unavailable: str | None = None


def static_peak_plan(plan: Plan, profile: TrafficProfile) -> Plan:
    """On-demand, fixed count = ceil(peak ÷ (capacity × target)), same platform and shape."""
    per_replica = plan.capacity.rps_per_replica * plan.autoscaling.target_utilisation
    replicas = max(1, plan.autoscaling.min_replicas, math.ceil(profile.peak_rps / per_replica - 1e-9))
    return plan.model_copy(
        update={
            "name": f"{plan.name} / static on-demand for peak",
            "purchase": PurchaseMix(),
            "autoscaling": AutoscalingPolicy.static(replicas).model_copy(
                update={"target_utilisation": plan.autoscaling.target_utilisation}
            ),
        }
    )


def replica_need(plan: Plan, catalog: Catalog) -> ReplicaResources:
    """One replica's resources: given in the plan, else the node's share (or the Fargate task size)."""
    if plan.replica is not None:
        return plan.replica
    if isinstance(plan.shape, FargateSize):
        return ReplicaResources(vcpu=plan.shape.vcpu, memory_gib=plan.shape.memory_gib)
    spec = catalog.instance(plan.shape)
    n = plan.replicas_per_node
    return ReplicaResources(
        vcpu=spec.vcpu / n,
        memory_gib=spec.memory_gib / n,
        gpu_count=spec.gpu_count / n,
        gpu_memory_gib=max(spec.gpu_memory_gib, spec.accelerator_memory_gib) / n,
    )


def sagemaker_plan(plan: Plan, catalog: Catalog) -> Plan:
    """The plan as a SageMaker endpoint with target tracking.

    On the same instance type when SageMaker endpoints offer it (``ml.<type>``); else on the cheapest
    endpoint type one replica fits, per replica, with the capacity assumed equal (estimated).
    """
    if isinstance(plan.shape, FargateSize) or not is_endpoint_type(plan.shape):
        need = replica_need(plan, catalog)
        offers = catalog.cheapest(need, plan.region, replicas=1, limit=1, only=endpoint_ec2_types())
        if not offers:
            raise AdvisorError("no SageMaker endpoint instance type fits one replica", where=plan.name)
        shape, rpn, provenance = offers[0].instance.name, 1, CapacityProvenance.ESTIMATED
    else:
        shape, rpn, provenance = (
            plan.shape.removeprefix("ml."),
            plan.replicas_per_node,
            plan.capacity.provenance,
        )
    return _tracking(
        plan, Platform.SAGEMAKER, f"ml.{shape}", rpn, provenance, SAGEMAKER_INSTANCE_START_S, None
    )


def fargate_plan(plan: Plan, catalog: Catalog) -> Plan:
    """The plan on Fargate with target tracking; AdvisorError when a replica needs a GPU or is too big."""
    need = replica_need(plan, catalog)
    if need.gpu_count > 0 or need.gpu_memory_gib > 0:
        raise AdvisorError("Fargate offers no GPUs", where=plan.name)
    shape = smallest_fargate_size(need.vcpu, need.memory_gib)
    same = plan.platform is Platform.FARGATE
    provenance = plan.capacity.provenance if same else CapacityProvenance.ESTIMATED
    lb = (
        plan.load_balancer
        if plan.load_balancer and plan.load_balancer.kind is not LoadBalancerKind.NONE
        else None
    )
    return _tracking(
        plan, Platform.FARGATE, shape, 1, provenance, FARGATE_TASK_START_S, lb or LoadBalancerSpec()
    )


def _tracking(
    plan: Plan,
    platform: Platform,
    shape: str | FargateSize,
    rpn: int,
    provenance: CapacityProvenance,
    start_s: float,
    lb: LoadBalancerSpec | None,
) -> Plan:
    capacity: Capacity = plan.capacity
    if provenance is not capacity.provenance:
        capacity = capacity.model_copy(
            update={
                "provenance": provenance,
                "source": f"assumed equal to {plan.shape_label} ({capacity.source})",
            }
        )
    policy = plan.autoscaling
    return Plan(
        name=f"{plan.name} / {platform.value} target tracking",
        model=plan.model,
        platform=platform,
        region=plan.region,
        shape=shape,
        replicas_per_node=rpn,
        replica=plan.replica,
        capacity=capacity,
        slo=plan.slo,
        autoscaling=AutoscalingPolicy(
            min_replicas=max(1, policy.min_replicas),
            max_replicas=max(1, policy.max_replicas),
            target_utilisation=policy.target_utilisation,
            scale_up_delay_s=TARGET_TRACKING_SCALE_OUT_ALARM_S + start_s,
            scale_down_stabilisation_s=TARGET_TRACKING_SCALE_IN_ALARM_S,
            tolerance=0.0,
            scale_in_tolerance=TARGET_TRACKING_SCALE_IN_TOLERANCE,
        ),
        load_balancer=lb
        if platform is not Platform.SAGEMAKER
        else plan.effective_load_balancer.without_balancer(),
    )


BASELINES = {
    "static_peak": "static on-demand sized for the peak (no autoscaling, no spot)",
    "sagemaker_target_tracking": "SageMaker real-time endpoint with target tracking",
    "fargate_target_tracking": "ECS on Fargate with target tracking",
}


def build_baselines(plan: Plan, profile: TrafficProfile, catalog: Catalog) -> list[tuple[str, Plan | str]]:
    """The three baseline plans for ``plan``, by name; one that cannot be built is its one-line reason."""
    builders: list[tuple[str, Callable[[], Plan]]] = [
        ("static_peak", lambda: static_peak_plan(plan, profile)),
        ("sagemaker_target_tracking", lambda: sagemaker_plan(plan, catalog)),
        ("fargate_target_tracking", lambda: fargate_plan(plan, catalog)),
    ]
    built: list[tuple[str, Plan | str]] = []
    for name, build in builders:
        try:
            built.append((name, build()))
        except AdvisorError as exc:
            built.append((name, exc.one_line()))
    return built


def evaluate_baselines(
    plan: Plan, profile: TrafficProfile, catalog: Catalog, *, seed: int = 0
) -> list[Baseline]:
    """Build and price the three baselines for ``plan`` over ``profile``; unavailable ones carry a reason."""
    built = build_baselines(plan, profile, catalog)
    priced: dict[str, CostResult | str] = {}
    ready: list[tuple[str, Plan]] = []
    prices = []
    for name, item in built:
        if isinstance(item, str):
            priced[name] = item
            continue
        try:
            prices.append(resolve_prices(item, catalog))
            ready.append((name, item))
        except AdvisorError as exc:
            priced[name] = exc.one_line()
    results = simulate_many([p for _, p in ready], profile, prices, seed=seed) if ready else []
    for (name, _), result in zip(ready, results, strict=True):
        priced[name] = result
    out = []
    for name, item in built:
        got = priced[name]
        out.append(
            Baseline(
                name=name,
                description=BASELINES[name],
                plan=item if isinstance(item, Plan) else None,
                result=got if isinstance(got, CostResult) else None,
                unavailable=got if isinstance(got, str) else None,
            )
        )
    return out
