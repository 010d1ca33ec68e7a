"""The deployment plan: what runs where, how it scales, how it is bought, and what one replica can serve.

A :class:`Plan` is the unit the cost model prices and the optimiser searches over. Units are in field
names; counts of ``*_replicas`` are model-server replicas, ``on_demand_base`` counts nodes (EC2
instances, SageMaker instances or Fargate tasks). Plans are frozen pydantic models; ``Plan.model_copy
(update=...)`` derives variants. Plan files are YAML (``examples/plans/``) loaded with :func:`load_plan`,
whose errors name the file, line and field.

Purchase mix. As in an EC2 Auto Scaling group's MixedInstancesPolicy (``OnDemandBaseCapacity`` and
``OnDemandPercentageAboveBaseCapacity``) and Cortex's ``spot_config`` (``on_demand_base_capacity``,
``on_demand_percentage_above_base_capacity``): the first ``on_demand_base`` nodes are on-demand; of the
nodes above the base, ``spot_pct_above_base`` % are spot and the rest on-demand, with the on-demand share
rounded up ("rounds to the next integer in favor of On-Demand", EC2 Auto Scaling User Guide, "Auto Scaling
groups with multiple instance types and purchase options"). On Fargate the same split maps onto an ECS
capacity-provider strategy (FARGATE base, FARGATE_SPOT weight). SageMaker real-time endpoints have no
spot option.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from advisor.domain import (
    MAX_REPLICAS,
    MAX_RPS,
    MIN_CAPACITY_RPS,
    SLO,
    FargateSize,
    InterruptionBand,
    Platform,
    ReplicaResources,
)
from advisor.domain import InputModel as _Model
from advisor.recommendation.scaling import Balancing, ScheduledMinimum
from advisor.yamlio import field_error, load_yaml_model, register_union_tags

register_union_tags("str", "FargateSize")  # union members pydantic names in error locations

# EC2 User Guide, "Spot Instance interruption notices": a two-minute warning before EC2 reclaims a Spot
# Instance; ECS delivers the same two-minute warning (SIGTERM) to Fargate Spot tasks.
SPOT_NOTICE_S = 120.0


class CapacityProvenance(StrEnum):
    MEASURED = "measured"
    ESTIMATED = "estimated"
    GIVEN = "given"


class Capacity(_Model):
    """What one replica serves: the highest arrival rate meeting the SLO, and how we know it."""

    rps_per_replica: float = Field(
        ge=MIN_CAPACITY_RPS, le=MAX_RPS, description="requests/s one replica serves within the SLO"
    )
    provenance: CapacityProvenance
    source: str = Field(default="", description="bench run id, estimation method, or who gave it")
    low_rps: float | None = Field(default=None, gt=0, description="lower end of the uncertainty band")
    high_rps: float | None = Field(default=None, gt=0, description="upper end of the uncertainty band")
    concurrency: int = Field(default=1, ge=1, le=1024, description="requests one replica serves at once")
    service_time_ms: float | None = Field(
        default=None,
        gt=0,
        description="mean service time per request; calibrated from capacity and SLO if None",
    )
    service_time_scv: float = Field(
        default=0.0,
        ge=0,
        le=4,
        description="squared coefficient of variation: 0 fixed (M/D/c), 1 exponential",
    )


class PurchaseMix(_Model):
    """On-demand base nodes, then a spot share of the nodes above the base."""

    on_demand_base: int = Field(default=0, ge=0, description="nodes always bought on-demand")
    spot_pct_above_base: int = Field(default=0, ge=0, le=100, description="whole %, as in the ASG API")
    spot_pools: list[str] = Field(
        default_factory=list,
        description="EC2 types the spot nodes spread over (each assumed to host replicas_per_node replicas "
        "at the plan's capacity); empty = the plan's shape",
    )

    @property
    def uses_spot(self) -> bool:
        return self.spot_pct_above_base > 0


class SpotBehaviour(_Model):
    """How interruptions play out: notice, replacement, and on-demand fallback."""

    notice_s: float = Field(default=SPOT_NOTICE_S, ge=0)
    replacement_delay_s: float | None = Field(
        default=None, ge=0, description="notice to replacement serving; None = autoscaling.scale_up_delay_s"
    )
    on_demand_fallback: bool | None = Field(
        default=None,
        description="replace an interrupted node on-demand (the spot pool is short right then); None = what "
        "the platform does: yes on EC2 (Karpenter launches on-demand when a NodePool allowing both finds no "
        "spot), no on Fargate (a capacity-provider strategy never moves tasks from FARGATE_SPOT to FARGATE)",
    )
    fallback_hold_s: float = Field(
        default=3600.0, ge=0, description="how long a fallback node stays on-demand"
    )
    interruption_band: InterruptionBand | None = Field(
        default=None, description="override the catalog's band (Fargate Spot publishes none)"
    )
    pool_reclaims_per_month: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="reclaims of a whole pool at once, per pool and month; None = the pool's band midpoint",
    )
    pool_reclaim_share: float = Field(
        default=1.0, gt=0, le=1, description="share of the pool's spot nodes one such reclaim takes"
    )
    pool_outage_s: float = Field(
        default=3600.0,
        ge=0,
        le=7 * 86400,
        description="how long a reclaimed pool stays short; replacements wait for it only when nothing else "
        "can host them (one pool, no on-demand fallback)",
    )


class ScalingAlgorithm(StrEnum):
    """Which autoscaler the replay follows (``advisor.cost.replay.autoscaler`` documents each)."""

    SIMPLE = "simple"  # dead band, stabilisation window and one delay: the first model, for comparison
    HPA = "hpa"  # Kubernetes HorizontalPodAutoscaler (autoscaling/v2)
    TARGET_TRACKING = "target_tracking"  # Application Auto Scaling / EC2 Auto Scaling target tracking


class AutoscalerMetric(StrEnum):
    """What the autoscaler measures: a metric the pods report (``cpu``: CPU or the requests/s they serve,
    which saturates at what a ready pod can do) or the requests sent to them, counted at the balancer or
    ingress (``requests``: an external metric, which does not)."""

    CPU = "cpu"
    REQUESTS = "requests"


class ScaleUpPolicy(_Model):
    """One autoscaling/v2 ``behavior.scaleUp.policies`` entry: at most ``value`` pods or % per period."""

    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)
    period_s: int = Field(default=15, gt=0, le=1800)


# autoscaling/v2 defaults (kubernetes.io, "Horizontal Pod Autoscaling", default behavior): scale up by
# 100 % or 4 pods per 15 s, whichever is more; no scale-up stabilisation; scale-down window 300 s.
HPA_DEFAULT_SCALE_UP = (ScaleUpPolicy(type="Percent", value=100), ScaleUpPolicy(type="Pods", value=4))
HPA_SYNC_PERIOD_S = 15.0  # kube-controller-manager --horizontal-pod-autoscaler-sync-period default
HPA_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance default
HPA_SCALE_DOWN_S = 300.0  # autoscaling/v2 default scaleDown.stabilizationWindowSeconds
# cluster-autoscaler FAQ: a node is removed after --scale-down-unneeded-time (default 10 minutes) unneeded
CLUSTER_AUTOSCALER_SCALE_DOWN_S = 600.0


class AutoscalingPolicy(_Model):
    """Replica autoscaling; the model behind each field is in ``advisor.cost.replay.autoscaler``."""

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(ge=1)
    target_utilisation: float = Field(default=0.7, gt=0, le=1, description="demand ÷ (replicas × capacity)")
    scale_up_delay_s: float = Field(
        default=180.0, ge=0, le=86400, description="autoscaler reaction + node/replica start until serving"
    )
    scale_down_stabilisation_s: float = Field(default=HPA_SCALE_DOWN_S, ge=0, le=86400)
    tolerance: float = Field(default=HPA_TOLERANCE, ge=0, lt=0.5, description="dead band around the target")
    scale_in_tolerance: float | None = Field(
        default=None,
        ge=0,
        lt=0.5,
        description="dead band below the target when it differs (target tracking's scale-in alarm: 0.1)",
    )
    algorithm: ScalingAlgorithm | None = Field(
        default=None, description="None = the platform's: hpa on ec2, target_tracking on sagemaker/fargate"
    )
    metric: AutoscalerMetric | None = Field(
        default=None, description="None = cpu for hpa, requests for target tracking"
    )
    sync_period_s: float = Field(default=HPA_SYNC_PERIOD_S, gt=0, le=600, description="HPA sync period")
    scale_up_policies: list[ScaleUpPolicy] = Field(
        default_factory=lambda: list(HPA_DEFAULT_SCALE_UP),
        description="HPA behavior.scaleUp.policies (selectPolicy Max); [] = no rate limit",
    )
    node_scale_down_delay_s: float | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="how long an unneeded node keeps billing; None = 600 s (cluster autoscaler) under hpa, "
        "0 otherwise",
    )
    schedules: list[ScheduledMinimum] = Field(
        default_factory=list,
        description="minimums raised ahead of known peaks (cron windows); see advisor.cost.replay.schedules",
    )

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingPolicy:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})")
        for i, s in enumerate(self.schedules):
            if s.min_replicas > self.max_replicas:
                raise ValueError(
                    f"schedules[{i}].min_replicas ({s.min_replicas}) exceeds max_replicas "
                    f"({self.max_replicas})"
                )
        return self

    @classmethod
    def static(cls, replicas: int) -> AutoscalingPolicy:
        """A fixed replica count (no autoscaling)."""
        return cls(
            min_replicas=replicas,
            max_replicas=replicas,
            tolerance=0.0,
            scale_up_delay_s=0.0,
            algorithm=ScalingAlgorithm.SIMPLE,
            node_scale_down_delay_s=0.0,
        )

    def algorithm_on(self, platform: Platform) -> ScalingAlgorithm:
        """The algorithm the replay follows for a plan on ``platform``."""
        if self.algorithm is not None:
            return self.algorithm
        return ScalingAlgorithm.HPA if platform is Platform.EC2 else ScalingAlgorithm.TARGET_TRACKING

    def metric_on(self, platform: Platform) -> AutoscalerMetric:
        if self.metric is not None:
            return self.metric
        hpa = self.algorithm_on(platform) is ScalingAlgorithm.HPA
        return AutoscalerMetric.CPU if hpa else AutoscalerMetric.REQUESTS

    def node_scale_down_delay_on(self, platform: Platform) -> float:
        if self.node_scale_down_delay_s is not None:
            return self.node_scale_down_delay_s
        hpa = self.algorithm_on(platform) is ScalingAlgorithm.HPA
        return CLUSTER_AUTOSCALER_SCALE_DOWN_S if hpa else 0.0

    @property
    def down_tolerance(self) -> float:
        return self.tolerance if self.scale_in_tolerance is None else self.scale_in_tolerance


class LoadBalancerKind(StrEnum):
    NONE = "none"
    APPLICATION = "application"
    NETWORK = "network"


class LoadBalancerSpec(_Model):
    """The load balancer in front of the replicas and the traffic facts its capacity units depend on.

    The payload sizes also price a SageMaker endpoint's data processing (kind ``none``: no balancer).
    """

    kind: LoadBalancerKind = LoadBalancerKind.APPLICATION
    shared_by: int = Field(
        default=1, ge=1, description="models sharing it; each pays 1/shared_by of its hours"
    )
    request_kib: float = Field(default=4.0, ge=0)
    response_kib: float = Field(default=4.0, ge=0)
    new_connections_per_request: float = Field(
        default=0.1, ge=0, le=1, description="1 = no keep-alive; 0.1 = a connection carries 10 requests"
    )
    connection_duration_s: float = Field(
        default=60.0, gt=0, description="how long a client connection stays open"
    )
    rules_evaluated_per_request: int = Field(
        default=1, ge=0, description="listener rules an ALB request runs"
    )
    algorithm: Balancing | None = Field(
        default=None,
        description="how requests are spread (advisor.cost.replay.balancing); None = the balancer's default: "
        "round_robin for an ALB, random for an NLB (flow hash), a SageMaker endpoint or a Service",
    )

    @model_validator(mode="after")
    def _algorithm_offered(self) -> LoadBalancerSpec:
        if self.kind is LoadBalancerKind.NETWORK and self.algorithm not in (None, Balancing.RANDOM):
            raise ValueError("a network load balancer hashes flows (random): it offers no other algorithm")
        return self

    @property
    def balancing(self) -> Balancing:
        if self.algorithm is not None:
            return self.algorithm
        return Balancing.ROUND_ROBIN if self.kind is LoadBalancerKind.APPLICATION else Balancing.RANDOM

    def without_balancer(self) -> LoadBalancerSpec:
        """The same traffic facts (payload sizes) with no load balancer: a SageMaker endpoint's."""
        return self.model_copy(update={"kind": LoadBalancerKind.NONE, "shared_by": 1, "algorithm": None})


# the balancer a plan without one gets (frozen, so shared: every replay asks)
_NO_BALANCER = LoadBalancerSpec(kind=LoadBalancerKind.NONE)
_DEFAULT_BALANCER = LoadBalancerSpec()


class Plan(_Model):
    """One way to serve one model: platform, shape, capacity, purchase mix, autoscaling, load balancer."""

    name: str = Field(min_length=1)
    model: str = ""
    platform: Platform
    region: str = "us-east-1"
    shape: str | FargateSize = Field(description="EC2/ml.* instance type, or a Fargate {vcpu, memory_gib}")
    replicas_per_node: int = Field(default=1, ge=1, le=1024)
    replica: ReplicaResources | None = Field(default=None, description="one replica's request (baselines)")
    capacity: Capacity
    slo: SLO
    purchase: PurchaseMix = Field(default_factory=PurchaseMix)
    spot: SpotBehaviour = Field(default_factory=SpotBehaviour)
    autoscaling: AutoscalingPolicy
    load_balancer: LoadBalancerSpec | None = Field(
        default=None, description="None = the platform's usual one (ALB for ec2/fargate, none for sagemaker)"
    )

    @field_validator("shape", mode="before")
    @classmethod
    def _shape_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("shape must name an instance type")
            return value.strip()
        if isinstance(value, FargateSize):
            return value
        if isinstance(value, dict):
            try:
                return FargateSize.model_validate(value)
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"])
                raise ValueError(
                    f"a Fargate task size needs vcpu and memory_gib ({field}: {err['msg']})"
                ) from None
        raise ValueError("shape must be an instance type name or a Fargate task size {vcpu, memory_gib}")

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if self.platform is Platform.FARGATE:
            if not isinstance(self.shape, FargateSize):
                raise ValueError("a fargate plan's shape is a task size: shape: {vcpu: 2, memory_gib: 4}")
            if self.replicas_per_node != 1:
                raise ValueError("a Fargate task runs one replica: replicas_per_node must be 1")
        elif isinstance(self.shape, FargateSize):
            raise ValueError(f"a {self.platform.value} plan's shape is an instance type name")
        if self.platform is Platform.SAGEMAKER:
            if self.purchase.uses_spot:
                raise ValueError(
                    "SageMaker real-time endpoints cannot use spot: set spot_pct_above_base to 0"
                )
            lb = self.load_balancer
            if lb is not None and lb.kind is not LoadBalancerKind.NONE:
                raise ValueError("SageMaker endpoints are reached without a load balancer: use kind: none")
            if lb is not None and lb.algorithm is Balancing.ROUND_ROBIN:
                raise ValueError(
                    "a SageMaker endpoint routes random or least_outstanding_requests (RoutingStrategy)"
                )
        if self.purchase.spot_pools and self.platform is not Platform.EC2:
            raise ValueError("spot_pools only apply to ec2 plans")
        return self

    @property
    def spot_fallback(self) -> bool:
        """Whether an interrupted spot node is replaced on-demand (``spot.on_demand_fallback`` resolved)."""
        if self.spot.on_demand_fallback is not None:
            return self.spot.on_demand_fallback
        return self.platform is Platform.EC2

    @property
    def effective_load_balancer(self) -> LoadBalancerSpec:
        if self.load_balancer is not None:
            return self.load_balancer
        return _NO_BALANCER if self.platform is Platform.SAGEMAKER else _DEFAULT_BALANCER

    @property
    def shape_label(self) -> str:
        """``c6i.xlarge``, ``ml.g5.xlarge`` or ``fargate-2vcpu-4gb``."""
        if isinstance(self.shape, FargateSize):
            return self.shape.label
        if self.platform is Platform.SAGEMAKER and not self.shape.startswith("ml."):
            return f"ml.{self.shape}"
        return self.shape

    @property
    def capacity_rps_per_node(self) -> float:
        return self.capacity.rps_per_replica * self.replicas_per_node


def load_plan(path: Path) -> Plan:
    """Read a plan YAML file; any problem is one ConfigError naming the file, line and field.

    A written plan is also held to :data:`advisor.domain.MAX_REPLICAS` (a replica count above it is a typo);
    plans the optimiser builds are not, as a search may try wide bounds before it discards them.
    """
    plan = load_yaml_model(path, Plan, what="plan", fix="see examples/plans/ for complete plans")
    for key in ("min_replicas", "max_replicas"):
        if getattr(plan.autoscaling, key) > MAX_REPLICAS:
            raise field_error(
                path, ("autoscaling", key), f"more than {MAX_REPLICAS:,} replicas", fix="check the number"
            )
    return plan
