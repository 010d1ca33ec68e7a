"""What the recommendation is compared with: the current deployment and the usual baselines.

- **Current deployment** (the scenario's ``current``): a static plan of ``count`` instances (or tasks) of the
  given type and purchase option, holding as many replicas as fit, replayed like any plan when a capacity is
  known for its shape, else priced only (its SLO risk then unknown).
- **Baselines** (the plan builders of :mod:`advisor.cost.baselines`, applied to the recommended plan): static
  on-demand sized for the peak, a SageMaker endpoint and ECS on Fargate with target tracking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from advisor.capacity import CapacityEntry, ModelCapacities
from advisor.cost.baselines import BASELINES, build_baselines
from advisor.cost.result import CostResult
from advisor.cost.simulate import screen_many, simulate_many
from advisor.domain import FargateSize, InstanceType, Platform, PurchaseOption, ReplicaResources
from advisor.errors import AdvisorError, ConfigError, at_field
from advisor.optimize.rightsize.pricecache import PriceCache, minutes_over_slo_pct
from advisor.platforms.nodes import allocatable, replicas_fitting
from advisor.pricing.catalog import Catalog
from advisor.pricing.fargate import validate_fargate_size
from advisor.recommendation.model import Comparison
from advisor.recommendation.plan import (
    AutoscalingPolicy,
    LoadBalancerKind,
    LoadBalancerSpec,
    Plan,
    PurchaseMix,
)
from advisor.recommendation.totals import savings_pct
from advisor.scenario.model import CurrentDeployment, ModelSpec
from advisor.scenario.policies import ClusterPolicy
from advisor.traffic.profile import HOURS_PER_MONTH, TrafficProfile


@dataclass(frozen=True)
class CurrentCost:
    """The current deployment priced: a comparison row, its replicas, and its plan if it was replayed."""

    comparison: Comparison
    replicas: int
    platform: Platform
    shape: str
    spot: bool
    plan: Plan | None = None
    result: CostResult | None = None
    load_balancer_shared_by: int = 0  # models sharing today's load balancer; 0 = none (SageMaker)


def replicas_per_node(itype: InstanceType, need: ReplicaResources) -> int:
    """Replicas of ``need`` that fit one node of ``itype`` (0 when none fits)."""
    if not need.fits_on(itype):
        return 0
    limits = [itype.vcpu / need.vcpu, itype.memory_gib / need.memory_gib]
    if need.gpu_count > 0:
        limits.append(itype.gpu_count / need.gpu_count)
    if need.gpu_memory_gib > 0:
        limits.append(max(itype.gpu_memory_gib, itype.accelerator_memory_gib) / need.gpu_memory_gib)
    return math.floor(min(limits) + 1e-9)


def price_current(
    spec: ModelSpec,
    caps: ModelCapacities,
    profile: TrafficProfile,
    catalog: Catalog,
    prices: PriceCache,
    *,
    region: str,
    load_balancer: LoadBalancerSpec,
    budget_pct: float,
    seed: int,
    where: str,
    cluster: ClusterPolicy | None = None,
    fleet_models: int = 1,
) -> CurrentCost | None:
    """The current deployment's cost and SLO risk; None without one. ConfigError for an unknown type.

    It is replayed behind the scenario's ``load_balancer``, shared as ``current.load_balancer`` says: its
    own, or shared by all ``fleet_models`` models (by default as the scenario's policy says), none on
    SageMaker. A deployment priced only (no capacity known for its shape) is its instances' list price.
    """
    cur = spec.current
    if cur is None:
        return None
    lb = today_load_balancer(cur, load_balancer, fleet_models)
    shared_by = 0 if lb.kind is LoadBalancerKind.NONE else lb.shared_by
    cluster = cluster or ClusterPolicy()
    shape, rpn, entry, fargate = _current_shape(cur, spec, caps, catalog, where, cluster)
    replicas = cur.count * rpn
    spot = cur.purchase_option is PurchaseOption.SPOT
    label = shape if fargate is None else fargate.label
    desc = f"{cur.count} x {label} ({cur.platform.value}, {cur.purchase_option.value}) as today"
    if replicas == 0:
        need = spec.resources
        field = "fargate_vcpu" if fargate is not None else "instance_type"
        raise ConfigError(
            f"one replica ({need.vcpu:g} vCPU, {need.memory_gib:g} GiB, {need.gpu_count:g} GPU, "
            f"{need.gpu_memory_gib:g} GiB GPU memory) does not fit the current {label}",
            where=f"{where}.current.{field}",
            fix="name what runs today, or correct the model's resources",
        )
    if entry is None:
        usd = _price_only(cur, shape, fargate, catalog, region) * HOURS_PER_MONTH
        why = "no capacity known for it"
        return CurrentCost(
            Comparison(
                name="current",
                count=cur.count,
                description=f"{desc}; priced only ({why})",
                platform=cur.platform.value,
                shape=label,
                usd_per_month=usd,
            ),
            replicas,
            cur.platform,
            label,
            spot,
            load_balancer_shared_by=shared_by,
        )
    plan = Plan(
        name=f"{spec.name}: current",
        model=spec.name,
        platform=cur.platform,
        region=region,
        shape=fargate if fargate is not None else shape,
        replicas_per_node=rpn,
        replica=spec.resources,
        capacity=entry.to_capacity(),
        slo=spec.slo,
        purchase=PurchaseMix(spot_pct_above_base=100.0, spot_pools=[shape]) if spot else PurchaseMix(),
        autoscaling=AutoscalingPolicy.static(replicas),
        load_balancer=lb,
    )
    try:
        plan_prices = prices.prices(plan)
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.current") from None
    result = simulate_many([plan], profile, [plan_prices], seed=seed)[0]
    over = minutes_over_slo_pct(result)
    return CurrentCost(
        Comparison(
            name="current",
            count=cur.count,
            description=desc,
            platform=cur.platform.value,
            shape=label,
            usd_per_month=result.usd_per_month,
            minutes_over_slo_pct=over,
            meets_slo_budget=over <= budget_pct + 1e-12 and result.slo.meets_slo,
        ),
        replicas,
        cur.platform,
        label,
        spot,
        plan,
        result,
        shared_by,
    )


def today_load_balancer(
    cur: CurrentDeployment, scenario_lb: LoadBalancerSpec, fleet_models: int
) -> LoadBalancerSpec:
    """The load balancer in front of today's deployment (see :func:`price_current`)."""
    if cur.platform is Platform.SAGEMAKER:
        return scenario_lb.without_balancer()
    if cur.load_balancer == "own":
        return scenario_lb.model_copy(update={"shared_by": 1})
    if cur.load_balancer == "shared":
        return scenario_lb.model_copy(update={"shared_by": max(1, fleet_models)})
    return scenario_lb


def baseline_comparisons(
    plan: Plan,
    profile: TrafficProfile,
    catalog: Catalog,
    prices: PriceCache,
    *,
    budget_pct: float,
    seed: int,
    recommended_usd: float,
) -> list[Comparison]:
    """Static on-demand for the peak, SageMaker and Fargate target tracking, with savings vs each.

    Built with :mod:`advisor.cost.baselines`' plan builders (what ``evaluate_baselines`` does), priced
    through ``prices`` so that catalog look-ups are shared across models, and replayed in one batch.
    """
    built: list[tuple[str, Plan | str]] = []
    for name, candidate in build_baselines(plan, profile, catalog):
        try:
            if isinstance(candidate, Plan):
                prices.prices(candidate)
            built.append((name, candidate))
        except AdvisorError as exc:
            built.append((name, exc.one_line()))
    ready = [(name, p) for name, p in built if isinstance(p, Plan)]
    # only their cost, minutes over the SLO and verdict are shown: screened, as the search's plans are
    results = screen_many(
        [p for _, p in ready], profile, [prices.prices(p) for _, p in ready], seed=seed
    ) if ready else []  # fmt: skip
    priced = {name: (p, r) for (name, p), r in zip(ready, results, strict=True)}
    out = []
    for name, item in built:
        if isinstance(item, str):
            out.append(Comparison(name=name, description=BASELINES[name], unavailable=item))
            continue
        baseline, r = priced[name]
        over = minutes_over_slo_pct(r)
        out.append(
            Comparison(
                name=name,
                description=BASELINES[name],
                platform=baseline.platform.value,
                shape=prices.prices(baseline).shape,
                usd_per_month=r.usd_per_month,
                minutes_over_slo_pct=over,
                meets_slo_budget=over <= budget_pct + 1e-12 and r.meets_slo,
                savings_pct=savings_pct(r.usd_per_month, recommended_usd),
            )
        )
    return out


# ----- helpers ---------------------------------------------------------------------------------------


def _current_shape(
    cur: CurrentDeployment,
    spec: ModelSpec,
    caps: ModelCapacities,
    catalog: Catalog,
    where: str,
    cluster: ClusterPolicy,
) -> tuple[str, int, CapacityEntry | None, FargateSize | None]:
    if cur.platform is Platform.FARGATE:
        if cur.fargate_vcpu is None or cur.fargate_memory_gib is None:
            raise ConfigError(
                "a Fargate deployment needs its task size",
                where=f"{where}.current",
                fix="set fargate_vcpu and fargate_memory_gib",
            )
        try:
            size = validate_fargate_size(cur.fargate_vcpu, cur.fargate_memory_gib)
        except AdvisorError as exc:
            raise at_field(exc, f"{where}.current.fargate_vcpu") from None
        fits = spec.resources.vcpu <= size.vcpu and spec.resources.memory_gib <= size.memory_gib
        return "fargate", 1 if fits else 0, caps.fargate_entry(), size
    if not cur.instance_type:
        raise ConfigError(
            f"a current {cur.platform.value} deployment needs its instance type",
            where=f"{where}.current.instance_type",
            fix="name the instance type that runs today",
        )
    try:
        itype = catalog.instance(cur.instance_type)
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.current.instance_type") from None
    if cur.platform is Platform.SAGEMAKER:
        return f"ml.{itype.name}", replicas_per_node(itype, spec.resources), caps.entry(itype), None
    return itype.name, current_replicas_per_node(itype, spec, cluster), caps.entry(itype), None


def current_replicas_per_node(itype: InstanceType, spec: ModelSpec, cluster: ClusterPolicy) -> int:
    """Replicas per node of what runs today on EC2: on the node's allocatable resources, as a plan's are.

    A deployment that fits the instance but not its allocatable share runs today with smaller requests than
    the scenario's, so it keeps the count the whole instance holds.
    """
    need = spec.resources
    alloc = allocatable(
        itype,
        spec.orchestrator(cluster),
        cluster.daemonsets,
        ecs_reserved_memory_mib=cluster.ecs_reserved_memory_mib,
    )
    fits = replicas_fitting(alloc, need.vcpu, need.memory_gib, need.gpu_count, need.gpu_memory_gib)
    return fits if fits >= 1 or not need.fits_on(itype) else replicas_per_node(itype, need)


def _price_only(
    cur: CurrentDeployment, shape: str, fargate: FargateSize | None, catalog: Catalog, region: str
) -> float:
    """$/h of the current deployment from list prices alone."""
    if fargate is not None:
        option = (
            PurchaseOption.FARGATE_SPOT
            if cur.purchase_option is PurchaseOption.SPOT
            else PurchaseOption.FARGATE
        )
        return cur.count * catalog.fargate_task(region, fargate.vcpu, fargate.memory_gib, option).usd_per_hour
    if cur.platform is Platform.SAGEMAKER:
        return cur.count * catalog.sagemaker(region, shape).usd_per_hour
    option = PurchaseOption.SPOT if cur.purchase_option is PurchaseOption.SPOT else PurchaseOption.ON_DEMAND
    return cur.count * catalog.price(region, shape, option).usd_per_hour
