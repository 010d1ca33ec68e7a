"""A scenario's policies: which instance types the optimiser may choose, spot, apply's guardrails, load
balancers, how EC2 nodes run replicas, and how ``recommend --bench`` measures (the top-level keys of a
scenario besides its models)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from advisor.domain import MAX_REPLICAS, InterruptionBand
from advisor.domain import InputModel as _Strict
from advisor.platforms.nodes import DEFAULT_DAEMONSETS, Daemonset
from advisor.platforms.targets import Orchestrator

# Current-generation CPU families and the GPU/accelerator families inference teams use (the default set).
DEFAULT_CPU_FAMILIES = ("c6i", "c7i", "c6g", "c7g", "m6i", "m7i", "m6g", "m7g", "r6i", "r7i", "c6a", "m6a")
DEFAULT_GPU_FAMILIES = ("g4dn", "g5", "g6", "g6e", "inf2")
# The largest EC2 types in the bundled specs (pricing_data/ec2_instances.csv): u7i-12tb.224xlarge and
# the u7in-*.224xlarge have 896 vCPUs, u7in-32tb.224xlarge 32 TiB of memory.
MAX_VCPU = 896
MAX_MEMORY_GIB = 32_768


class Candidates(_Strict):
    """Which instance types the optimiser may choose: whole families, exact types, or both."""

    instance_types: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    families: tuple[str, ...] = Field(
        default=DEFAULT_CPU_FAMILIES + DEFAULT_GPU_FAMILIES, description="Instance families."
    )
    max_size_vcpu: int = Field(default=64, ge=1, le=MAX_VCPU, description="Leave out types bigger than this.")

    @model_validator(mode="after")
    def _some(self) -> Candidates:
        if not self.families and not self.instance_types:
            raise ValueError("families and instance_types are both empty: name at least one family or type")
        return self


class SpotPolicy(_Strict):
    allowed: bool = True
    max_interruption_band: InterruptionBand = InterruptionBand.P10_15
    min_on_demand_base: int = Field(
        default=1, ge=0, le=MAX_REPLICAS, description="On-demand nodes kept under spot."
    )
    min_instance_types_per_pool: int = Field(default=2, ge=1, description="Spot diversification.")


class ApplyPolicy(_Strict):
    """Guardrails ``advisor apply`` keeps whatever a recommendation says (flags override them)."""

    max_disruption_pct: int = Field(
        default=25,
        ge=1,
        le=100,
        description="Largest share of a model's replicas replaced at once (a Karpenter disruption budget).",
    )
    min_on_demand_base: int = Field(
        default=0, ge=0, le=MAX_REPLICAS, description="On-demand base (nodes, tasks) apply never goes below."
    )


class LoadBalancerPolicy(_Strict):
    kind: Literal["application", "network"] = "application"
    shared: bool = Field(default=True, description="One load balancer for all models (path/host routing).")
    payload_kib: float = Field(
        default=4.0, gt=0, le=1024 * 1024, description="Mean request+response size, for LCU estimates."
    )


class ClusterPolicy(_Strict):
    """How EC2 nodes run replicas, for models whose ``deploy`` target does not say (see advisor.platforms)."""

    orchestrator: Orchestrator = Field(
        default=Orchestrator.EKS, description="eks, ecs, or instance (one server per instance)."
    )
    daemonsets: tuple[Daemonset, ...] = Field(
        default=DEFAULT_DAEMONSETS, description="DaemonSets on every EKS node, with their requests."
    )
    ecs_reserved_memory_mib: float = Field(
        default=0.0, ge=0, le=65536, description="The ECS agent's ECS_RESERVED_MEMORY (default 0)."
    )


class BenchPolicy(_Strict):
    """How ``advisor recommend --bench`` measures models whose server advisor can start."""

    shapes: tuple[str, ...] = Field(
        default=("c7a.medium",),
        min_length=1,
        description="Instance types to emulate locally (each at most the size of this machine).",
    )
    quick: bool = Field(default=True, description="Short windows (about a minute per shape).")
    max_points: int | None = Field(
        default=None,
        ge=1,
        le=50,
        description="At most this many open-loop points per shape (default: the search's own budget,"
        " 10 quick, 12 otherwise); fewer is faster and coarser.",
    )
