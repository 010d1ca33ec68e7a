"""The values that go into and come out of the multi-model bin-packer.

Input: what to place (:class:`ModelDemand`: a model's replica count and per-replica resources), where it
may go (:class:`NodeType`: an instance type's allocatable resources and $/h) and how hard to try
(:class:`PackingOptions`). Output: a :class:`PackingResult` holding the chosen :class:`PackingLayout` (pools,
concrete nodes with their replicas, Kubernetes labels/taints/tolerations), the certified lower bound, the
gap, the solver status, the shared-vs-dedicated comparison, and the models that cannot be placed at all
(a value with a reason, never an exception).

Resources are additive per node, the way the Kubernetes scheduler sees them: vCPU, memory GiB, GPU count
(``nvidia.com/gpu``; fractional for GPU slices such as g6f) and GPU/accelerator memory GiB.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from advisor.domain import Arch, InstanceType, ReplicaResources
from advisor.domain import FrozenModel as _Value
from advisor.recommendation.pools import Pool, Toleration

RESOURCE_NAMES: tuple[str, ...] = ("vcpu", "memory_gib", "gpu_count", "gpu_memory_gib")


class ModelDemand(_Value):
    """``replicas`` replicas of model ``name``, each requesting ``resources``."""

    name: str = Field(min_length=1)
    replicas: int = Field(ge=0)
    resources: ReplicaResources

    @property
    def needs_accelerator(self) -> bool:
        """True when a replica asks for a GPU or accelerator memory."""
        return self.resources.gpu_count > 0 or self.resources.gpu_memory_gib > 0


class NodeType(_Value):
    """One candidate instance type: what a node of it can allocate to replicas, and its price.

    ``gpu_memory_gib`` is the total GPU memory of the node, or the accelerator (Inferentia/Trainium) memory
    when the type has no GPU, matching :meth:`advisor.domain.ReplicaResources.fits_on`.
    """

    name: str = Field(min_length=1)
    usd_per_hour: float = Field(ge=0)
    vcpu: float = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpu_count: float = Field(default=0, ge=0)
    gpu_memory_gib: float = Field(default=0, ge=0)
    accelerator_count: int = Field(default=0, ge=0)
    arch: Arch = Arch.X86_64
    family: str = ""

    @property
    def accelerated(self) -> bool:
        """True for GPU and Inferentia/Trainium/Gaudi types: those only host accelerator replicas."""
        return self.gpu_count > 0 or self.accelerator_count > 0 or self.gpu_memory_gib > 0

    @classmethod
    def from_instance(
        cls,
        itype: InstanceType,
        usd_per_hour: float,
        *,
        overhead_vcpu: float = 0.0,
        overhead_memory_gib: float = 0.0,
    ) -> NodeType:
        """A node type from catalog specs, less a per-node reservation (kubelet, daemonsets)."""
        return cls(
            name=itype.name,
            usd_per_hour=usd_per_hour,
            vcpu=max(itype.vcpu - overhead_vcpu, 1e-6),
            memory_gib=max(itype.memory_gib - overhead_memory_gib, 1e-6),
            gpu_count=itype.gpu_count,
            gpu_memory_gib=max(itype.gpu_memory_gib, itype.accelerator_memory_gib),
            accelerator_count=itype.accelerator_count,
            arch=itype.arch,
            family=itype.family,
        )


class PackingOptions(_Value):
    """How the packer searches. Defaults keep 200 models x 300 types within a few seconds."""

    time_limit_s: float = Field(
        default=3.0, gt=0, description="Budget for the MILP and the pattern stage together, seconds."
    )
    mip_rel_gap: float = Field(
        default=0.002, ge=0, lt=1, description="HiGHS relative MIP gap at which to stop."
    )
    lp_time_limit_s: float = Field(
        default=4.0, gt=0, description="Budget for the column-generated LP bound, seconds."
    )
    exact_pairs_limit: int = Field(
        default=3000,
        ge=0,
        description="Up to this many feasible (model, type) pairs the MILP sees all of them (its bound is "
        "then global); above it, a reduced-cost-selected subset.",
    )
    milp_share: float = Field(
        default=0.4,
        gt=0,
        le=1,
        description="Share of time_limit_s for the aggregated MILP; the rest goes to the pattern stage.",
    )
    pattern_stage: bool = Field(
        default=True, description="Improve the realised MILP answer with node patterns."
    )
    columns_per_model: int = Field(default=10, ge=1, description="Types kept per model in a restricted MILP.")
    allow_cpu_replicas_on_gpu_nodes: bool = Field(
        default=False,
        description="Let CPU-only replicas fill spare CPU on GPU nodes (never keeping a GPU node alive).",
    )
    compare_dedicated: bool = Field(
        default=True, description="Also price one pool per model; keep the cheaper."
    )
    label_prefix: str = Field(
        default="advisor.io", min_length=1, description="Prefix of node labels and taints."
    )
    pool_prefix: str = Field(default="inference", min_length=1, description="Prefix of pool names.")


# ----- output -----------------------------------------------------------------------------------------


class Resources(_Value):
    """A resource vector: used or allocatable on one node."""

    vcpu: float
    memory_gib: float
    gpu_count: float = 0.0
    gpu_memory_gib: float = 0.0


class PlacedNode(_Value):
    """One concrete node: its type, its pool and the replicas it hosts (model name -> count)."""

    node_id: str
    pool: str
    instance_type: str
    usd_per_hour: float
    replicas: dict[str, int]
    used: Resources
    allocatable: Resources


class ModelPlacement(_Value):
    """Where one model's replicas go, and what its pod spec needs to land there."""

    model: str
    replicas: int
    pools: list[str]
    replicas_by_instance_type: dict[str, int]
    node_selector: dict[str, str]
    tolerations: list[Toleration]


class PackingLayout(_Value):
    """One way of hosting every placeable replica: shared pools or one pool per model."""

    strategy: Literal["shared", "dedicated"]
    usd_per_hour: float
    pools: list[Pool]
    nodes: list[PlacedNode]
    placements: list[ModelPlacement]
    repaired_replicas: int = Field(
        default=0, description="Replicas the MILP's node counts could not hold, placed on extra nodes."
    )


class InfeasibleModel(_Value):
    """A model none of whose replicas fits any candidate type, with why and how to fix it."""

    model: str
    replicas: int
    reason: str
    fix: str


class PackingResult(_Value):
    """The packer's answer. ``plan`` is None only when nothing could be placed.

    ``lower_bound_usd_per_hour`` is a certified lower bound on the cost of *any* packing of the placeable
    replicas onto the candidate types (LP relaxation of the aggregated model with dual-feasible-function
    cuts, column-generated over every feasible pair; or the MILP's own bound when the MILP saw every
    pair). ``gap`` = (cost - bound) / cost.
    """

    status: Literal["ok", "partial", "infeasible", "empty"]
    chosen: Literal["shared", "dedicated"] | None
    usd_per_hour: float
    lower_bound_usd_per_hour: float
    lp_bound_usd_per_hour: float
    gap: float
    solver_status: Literal["optimal", "time_limit", "gap_limit", "failed", "not_run"]
    milp_usd_per_hour: float | None = Field(description="Cost of the MILP's aggregated node counts.")
    shared_usd_per_hour: float | None
    dedicated_usd_per_hour: float | None
    plan: PackingLayout | None
    alternative: PackingLayout | None = Field(description="The strategy not chosen, for comparison.")
    infeasible: list[InfeasibleModel]
    removed_pairs: int = Field(
        description="(model, type) pairs dropped before solving: one replica cannot fit."
    )
    milp_pairs: int = Field(description="(model, type) pairs the MILP saw.")
    solve_seconds: float
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _plan_matches_status(self) -> PackingResult:
        if self.status in ("ok", "partial") and self.plan is None:
            raise ValueError("a packing with status ok/partial needs a plan")
        return self
