"""What an applier needs to put a plan in place, as the recommendation stores it: the deployment (replica
requests, bounds, scaling metric, schedules), the node pools to run, where replicas land, and the
platform-specific pieces (ECS capacity-provider strategy, SageMaker variant), with the shape facts (vCPUs,
architectures) taken from the catalog when the recommendation was made, so that applying it needs no catalog.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from advisor.domain import Arch, ReplicaResources
from advisor.domain import FrozenModel as _Out
from advisor.platforms.nodes import NodeAllocatable
from advisor.platforms.targets import DeployTarget, Orchestrator
from advisor.recommendation.pools import Taint, Toleration
from advisor.recommendation.scaling import ScheduledMinimum


class Placement(_Out):
    """Where the replicas land in a cluster: the pools (names in ``Recommendation.pools``) and what a pod
    spec needs to get there."""

    pools: list[str] = Field(min_length=1)
    shared: bool
    node_selector: dict[str, str]
    tolerations: list[Toleration]
    replicas_at_peak_by_instance_type: dict[str, int]


CapacityType = Literal["on-demand", "spot"]


class NodePool(_Out):
    """A pool of EC2 nodes to run, as an ASG MixedInstancesPolicy, a Karpenter NodePool or a Cortex node
    group needs it: instance types, architectures, purchase split, node bounds, labels and taints."""

    name: str
    models: list[str]
    shared: bool = Field(description="several models' replicas share its nodes")
    adopted: bool = Field(
        description="part of the recommendation; a model's own pool is not when its replicas go to a shared "
        "pool or its change is held back (keep_current)"
    )
    orchestrator: Orchestrator
    instance_types: list[str] = Field(min_length=1, description="the plan's shape first, then the spot pools")
    architectures: list[Arch] = Field(min_length=1)
    architecture_by_instance_type: dict[str, Arch] = Field(
        default_factory=dict, description="each instance type's architecture (from the catalog's specs)"
    )
    capacity_types: list[CapacityType] = Field(
        min_length=1, description="Karpenter's karpenter.sh/capacity-type values"
    )
    on_demand_base_capacity: int = Field(ge=0, description="ASG OnDemandBaseCapacity (nodes)")
    on_demand_percentage_above_base_capacity: int = Field(
        ge=0, le=100, description="ASG OnDemandPercentageAboveBaseCapacity"
    )
    min_nodes: int = Field(ge=0)
    max_nodes: int = Field(ge=0)
    labels: dict[str, str]
    taints: list[Taint]
    allocatable: dict[str, NodeAllocatable] = Field(
        description="per instance type: what a node leaves for replicas, and how that was computed"
    )


class ScalingMetric(_Out):
    """The autoscaler's metric and target as the platform needs it."""

    name: str = Field(
        description="requests_per_second (HPA/KEDA), SageMakerVariantInvocationsPerInstance, or "
        "ALBRequestCountPerTarget"
    )
    target_value: float = Field(gt=0)
    unit: str
    per: Literal["replica", "instance", "target"]
    scaler: str = Field(description="hpa, keda, or application-auto-scaling / target tracking")
    note: str = ""


class CapacityProviderItem(_Out):
    """One entry of an ECS capacity-provider strategy."""

    capacity_provider: str
    base: int = Field(ge=0)
    weight: int = Field(ge=0)


class SageMakerVariant(_Out):
    """A SageMaker production variant and its scaling bounds."""

    instance_type: str
    initial_instance_count: int = Field(ge=1)
    min_instance_count: int = Field(ge=1)
    max_instance_count: int = Field(ge=1)
    vcpus_by_instance_type: dict[str, float] = Field(
        default_factory=dict,
        description="vCPUs of the recommended type and of today's (from the catalog when the recommendation "
        "was made): a switch of type keeps the same vCPUs; a type not listed keeps its instance count",
    )


class Deployment(_Out):
    """Everything an applier needs to put the plan in place, without re-running the optimiser."""

    target: DeployTarget | None = Field(description="where to apply it, from the scenario's deploy block")
    migration: bool = Field(description="the plan's platform is not the target's: a migration, not a change")
    orchestrator: Orchestrator | None = Field(description="how EC2 nodes run the replicas; None off EC2")
    replica: ReplicaResources = Field(description="one replica's requests (a container's resources.requests)")
    architectures: list[Arch]
    min_replicas: int = Field(ge=0)
    max_replicas: int = Field(ge=1)
    scaling_metric: ScalingMetric
    target_utilisation: float
    scale_up_delay_s: float
    scale_down_stabilisation_s: float
    schedules: list[ScheduledMinimum] = Field(
        default_factory=list,
        description="minimums raised on a schedule: KEDA cron triggers, ASG or Application Auto Scaling "
        "scheduled actions",
    )
    pools: list[str] = Field(default_factory=list, description="names in Recommendation.pools (EC2)")
    sagemaker_variant: SageMakerVariant | None = None
    capacity_provider_strategy: list[CapacityProviderItem] = Field(
        default_factory=list, description="ECS services (Fargate: FARGATE and FARGATE_SPOT)"
    )
