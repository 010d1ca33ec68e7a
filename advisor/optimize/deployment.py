"""What an applier needs to put a plan in place: the deployment section of a model and its node pools.

From a decided plan this module writes, without re-running anything:

- the **scaling metric** as the platform's autoscaler takes it. A replica serves ``capacity`` requests/s
  within the SLO and the plan scales at ``target_utilisation`` of that, so the target is
  ``capacity × target`` requests/s per replica: as an HPA (or KEDA) target on a requests metric, per
  replica; as ``SageMakerVariantInvocationsPerInstance`` (invocations per instance per minute, SageMaker
  Developer Guide, "Define a scaling policy"), × replicas per instance × 60; as ``ALBRequestCountPerTarget``
  (requests per target per minute, the ECS and EC2 Auto Scaling predefined metric) per task, or per
  instance for an Auto Scaling group of plain instances;
- the **node pools** of EC2 plans: instance types (the shape, then the spot pool types), architectures,
  the on-demand/spot split as an ASG's ``OnDemandBaseCapacity`` / ``OnDemandPercentageAboveBaseCapacity``
  and Karpenter's ``karpenter.sh/capacity-type``, node bounds, labels and taints (:mod:`advisor.optimize.
  packing.labels`), and per type what a node leaves allocatable (:mod:`advisor.platforms.nodes`);
- a SageMaker production variant with its instance bounds, or an ECS capacity-provider strategy
  (``FARGATE`` base and weight, ``FARGATE_SPOT`` weight) for Fargate.

A plan on another platform than its deploy target's is marked ``migration``: ``advisor apply`` writes the
new platform's configuration and a checklist instead of changing the target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from advisor.domain import Arch, Platform
from advisor.errors import AdvisorError
from advisor.optimize.packing import PackingOptions
from advisor.optimize.packing.labels import accelerator_kind, pool_labels, pool_name, pool_taints
from advisor.platforms.nodes import NodeAllocatable, allocatable
from advisor.platforms.sagemaker import PREFIX as SAGEMAKER_PREFIX
from advisor.platforms.sagemaker import ml_name
from advisor.platforms.targets import Orchestrator
from advisor.pricing.catalog import Catalog
from advisor.recommendation.deployment import (
    CapacityProviderItem,
    CapacityType,
    Deployment,
    NodePool,
    Placement,
    SageMakerVariant,
    ScalingMetric,
)
from advisor.recommendation.model import PackingSummary
from advisor.recommendation.plan import Plan
from advisor.scenario.model import ModelSpec
from advisor.scenario.policies import ClusterPolicy

SECONDS_PER_MINUTE = 60.0


def dedicated_pool_name(spec: ModelSpec) -> str:
    """The name of a model's own pool (as the packer names dedicated pools)."""
    return pool_name(PackingOptions(), accelerator_kind(spec.need), spec.name)


def deployment_for(
    spec: ModelSpec, plan: Plan, placement: Placement | None, cluster: ClusterPolicy, catalog: Catalog
) -> Deployment:
    """The deployment section of one model's plan (see the module docstring)."""
    target = spec.deploy
    orchestrator = spec.orchestrator(cluster) if plan.platform is Platform.EC2 else None
    policy = plan.autoscaling
    rpn = plan.replicas_per_node
    pools: list[str] = []
    variant = None
    strategy: list[CapacityProviderItem] = []
    if plan.platform is Platform.EC2:
        pools = list(placement.pools) if placement is not None else [dedicated_pool_name(spec)]
    elif plan.platform is Platform.SAGEMAKER:
        low, high = _nodes(max(1, policy.min_replicas), rpn), _nodes(policy.max_replicas, rpn)
        variant = SageMakerVariant(
            instance_type=plan.shape_label,
            initial_instance_count=low,
            min_instance_count=low,
            max_instance_count=max(low, high),
            vcpus_by_instance_type=_sagemaker_vcpus(spec, plan, catalog),
        )
    else:
        strategy = _fargate_strategy(plan)
    arches = [Arch(a) for a in spec.architectures]
    if plan.platform is Platform.EC2:
        arches = sorted({catalog.instance(t).arch for t in _pool_types(plan)}, key=lambda a: a.value)
    return Deployment(
        target=target,
        migration=target is not None and plan.platform not in target.platforms,
        orchestrator=orchestrator,
        replica=spec.need if plan.replica is None else plan.replica,
        architectures=arches,
        min_replicas=policy.min_replicas,
        max_replicas=policy.max_replicas,
        scaling_metric=scaling_metric(spec, plan, orchestrator),
        target_utilisation=policy.target_utilisation,
        scale_up_delay_s=policy.scale_up_delay_s,
        scale_down_stabilisation_s=policy.scale_down_stabilisation_s,
        schedules=list(policy.schedules),
        pools=pools,
        sagemaker_variant=variant,
        capacity_provider_strategy=strategy,
    )


def scaling_metric(spec: ModelSpec, plan: Plan, orchestrator: Orchestrator | None) -> ScalingMetric:
    """The autoscaler's metric and target for ``plan`` on its platform (module docstring)."""
    per_replica = plan.capacity.rps_per_replica * plan.autoscaling.target_utilisation
    rpn = plan.replicas_per_node
    if plan.platform is Platform.SAGEMAKER:
        return ScalingMetric(
            name="SageMakerVariantInvocationsPerInstance",
            target_value=per_replica * rpn * SECONDS_PER_MINUTE,
            unit="invocations per instance per minute",
            per="instance",
            scaler="application-auto-scaling target tracking",
            note=f"{per_replica:.4g} req/s per replica x {rpn} per instance x 60",
        )
    if plan.platform is Platform.FARGATE or orchestrator is Orchestrator.ECS:
        return ScalingMetric(
            name="ALBRequestCountPerTarget",
            target_value=per_replica * SECONDS_PER_MINUTE,
            unit="requests per target (task) per minute",
            per="target",
            scaler="application-auto-scaling target tracking",
            note=f"{per_replica:.4g} req/s per task x 60",
        )
    if orchestrator is Orchestrator.INSTANCE:
        return ScalingMetric(
            name="ALBRequestCountPerTarget",
            target_value=per_replica * rpn * SECONDS_PER_MINUTE,
            unit="requests per target (instance) per minute",
            per="target",
            scaler="ec2-auto-scaling target tracking",
            note=f"{per_replica:.4g} req/s per replica x {rpn} per instance x 60",
        )
    scaler = "hpa"
    if spec.deploy is not None and spec.deploy.kubernetes is not None:
        scaler = spec.deploy.kubernetes.autoscaler
    return ScalingMetric(
        name="requests_per_second",
        target_value=per_replica,
        unit="requests/s per replica",
        per="replica",
        scaler=scaler,
        note="an HPA Pods/External metric averageValue, or KEDA's per-replica target",
    )


def node_pools(
    specs: Mapping[str, ModelSpec],
    plans: Mapping[str, Plan],
    packing: PackingSummary | None,
    cluster: ClusterPolicy,
    catalog: Catalog,
    held: frozenset[str] = frozenset(),
) -> list[NodePool]:
    """Every pool a placement names: each EC2 model's own pool, and the shared pools packing adopted.

    A model's own pool is adopted unless its replicas go to a shared pool or its change is ``held``
    (kept as it runs today by the churn guard).
    """
    shared_models = {m for g in (packing.groups if packing else []) if g.adopted for m in g.models}
    out: list[NodePool] = []
    for name, plan in plans.items():
        if plan.platform is not Platform.EC2:
            continue
        spec = specs[name]
        orchestrator = spec.orchestrator(cluster)
        pool = dedicated_pool_name(spec)
        types = _pool_types(plan)
        spot = plan.purchase.uses_spot
        capacity_types: list[CapacityType] = ["on-demand", "spot"] if spot else ["on-demand"]
        out.append(
            NodePool(
                name=pool,
                models=[name],
                shared=False,
                adopted=name not in shared_models and name not in held,
                orchestrator=orchestrator,
                instance_types=types,
                architectures=_arches(types, catalog),
                architecture_by_instance_type=_arch_by_type(types, catalog),
                capacity_types=capacity_types,
                on_demand_base_capacity=plan.purchase.on_demand_base if spot else 0,
                on_demand_percentage_above_base_capacity=100 - plan.purchase.spot_pct_above_base,
                min_nodes=_nodes(plan.autoscaling.min_replicas, plan.replicas_per_node),
                max_nodes=_nodes(plan.autoscaling.max_replicas, plan.replicas_per_node),
                labels=pool_labels(PackingOptions(), pool, accelerator_kind(spec.need), spec.name),
                taints=pool_taints(PackingOptions(), accelerator_kind(spec.need), spec.name),
                allocatable=_allocatable(types, orchestrator, cluster, catalog),
            )
        )
    for group in packing.groups if packing else []:
        if not group.adopted:
            continue
        orchestrator = specs[group.models[0]].orchestrator(cluster)
        for p in group.pools:
            types = sorted(p.node_counts)
            nodes = sum(p.node_counts.values())
            out.append(
                NodePool(
                    name=p.name,
                    models=list(p.models),
                    shared=True,
                    adopted=True,
                    orchestrator=orchestrator,
                    instance_types=types,
                    architectures=_arches(types, catalog),
                    capacity_types=["on-demand"],
                    on_demand_base_capacity=0,
                    on_demand_percentage_above_base_capacity=100,
                    min_nodes=min(nodes, len(p.models)),
                    max_nodes=nodes,
                    labels=dict(p.node_labels),
                    taints=list(p.taints),
                    allocatable=_allocatable(types, orchestrator, cluster, catalog),
                )
            )
    return out


def _pool_types(plan: Plan) -> list[str]:
    shape = plan.shape_label
    return [shape, *[p for p in plan.purchase.spot_pools if p != shape]]


def _arches(types: Sequence[str], catalog: Catalog) -> list[Arch]:
    return sorted({catalog.instance(t).arch for t in types}, key=lambda a: a.value)


def _arch_by_type(types: Sequence[str], catalog: Catalog) -> dict[str, Arch]:
    return {t: catalog.instance(t).arch for t in types}


def _sagemaker_vcpus(spec: ModelSpec, plan: Plan, catalog: Catalog) -> dict[str, float]:
    """vCPUs of the plan's ``ml.*`` type and of today's SageMaker type (when the catalog knows them), so that
    the SageMaker applier sizes a change of type without a catalog."""
    names = [plan.shape_label]
    current = spec.current
    if current is not None and current.platform is Platform.SAGEMAKER and current.instance_type:
        names.append(ml_name(current.instance_type))
    out: dict[str, float] = {}
    for name in names:
        try:
            out[name] = float(catalog.instance(name.removeprefix(SAGEMAKER_PREFIX)).vcpu)
        except AdvisorError:  # a type the catalog has no specs for keeps its instance count
            continue
    return out


def _allocatable(
    types: Sequence[str], orchestrator: Orchestrator, cluster: ClusterPolicy, catalog: Catalog
) -> dict[str, NodeAllocatable]:
    return {
        t: allocatable(
            catalog.instance(t),
            orchestrator,
            cluster.daemonsets,
            ecs_reserved_memory_mib=cluster.ecs_reserved_memory_mib,
        )
        for t in types
    }


def _nodes(replicas: int, per_node: int) -> int:
    return math.ceil(replicas / per_node - 1e-9)


def _fargate_strategy(plan: Plan) -> list[CapacityProviderItem]:
    """FARGATE keeps the on-demand base; above it the weights split tasks as the plan's spot share."""
    spot = plan.purchase.spot_pct_above_base
    if spot <= 0:
        return [CapacityProviderItem(capacity_provider="FARGATE", base=0, weight=1)]
    base = plan.purchase.on_demand_base
    return [
        CapacityProviderItem(capacity_provider="FARGATE", base=base, weight=100 - spot),
        CapacityProviderItem(capacity_provider="FARGATE_SPOT", base=0, weight=spot),
    ]
