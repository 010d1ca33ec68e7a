"""The Recommendation: a versioned document with what to run, what it costs, what it saves, and why.

Everything ``advisor recommend`` decides is in :class:`Recommendation`, a frozen pydantic model. Its JSON
schema is committed as ``recommendation.schema.json`` beside this module (a test keeps the file equal to
the model; ``python -m advisor.recommendation.model`` rewrites it), so other tools can read stored
recommendations without importing advisor. ``schema_version`` changes whenever a field changes meaning or
goes away (adding an optional field does not).

Per model: the action (``change``, ``new``, ``keep_current`` when the churn guard holds a change back, or
``cannot_recommend`` with the reason and the fix), the plan (platform, instance types, node and replica
counts, autoscaling bounds and target, on-demand base, spot share and pools, placement, and the full
replayable cost-model plan), its projected cost with the breakdown, its SLO risk from the replay, its
efficiency against the fluid lower bound, the baselines with savings, the next alternatives, and where each
capacity came from. Fleet-wide: the packing of models onto shared pools (LP bound and gap), the Savings Plan
commitment (shown apart), totals and provenance (price snapshot dates, bench run ids, measured vs
estimated counts, seeds).

Stored in the ``recommendations`` table by :func:`advisor.recommendation.store.save_recommendation`.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from advisor.domain import FrozenModel as _Out
from advisor.domain import Platform
from advisor.errors import NotFoundError
from advisor.platforms.targets import DeployTarget
from advisor.recommendation.deployment import Deployment, NodePool, Placement
from advisor.recommendation.levers import LeverSaving
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.plan import CapacityProvenance, Plan, ScalingAlgorithm
from advisor.recommendation.pools import Pool
from advisor.recommendation.scaling import Balancing
from advisor.scenario.policies import ApplyPolicy

SCHEMA_VERSION: Literal["advisor.recommendation/3"] = "advisor.recommendation/3"
SCHEMA_V2 = "advisor.recommendation/2"
SCHEMA_V1 = "advisor.recommendation/1"
SCHEMA_PATH = Path(__file__).with_name("recommendation.schema.json")


class Action(StrEnum):
    CHANGE = "change"
    NEW = "new"
    KEEP_CURRENT = "keep_current"
    CANNOT_RECOMMEND = "cannot_recommend"


class CapacityInfo(_Out):
    """What one replica serves within the SLO on the plan's shape, and how advisor knows."""

    rps_per_replica: float
    provenance: CapacityProvenance
    basis: str = Field(description="exact, same family, vCPU scaling, SLO conversion, or estimate (band)")
    source: str
    bench_run_ids: list[str] = Field(default_factory=list)
    low_rps: float | None = None
    high_rps: float | None = None


class PlanSummary(_Out):
    """The recommended way to run one model."""

    platform: Platform
    shape: str = Field(description="instance type (ml.* on SageMaker) or Fargate task size")
    instance_types: list[str] = Field(description="the shape, then the other spot pool types")
    replicas_per_node: int
    replicas_min: int
    replicas_max: int
    replicas_mean: float
    nodes_mean: float
    nodes_max: float
    target_utilisation: float
    tolerance: float
    scale_up_delay_s: float
    scale_down_stabilisation_s: float
    on_demand_base_nodes: int
    spot_pct_above_base: float
    spot_pools: list[str]
    load_balancer: str
    balancing: Balancing | None = Field(default=None, description="how the balancer spreads requests")
    autoscaler: ScalingAlgorithm | None = Field(
        default=None, description="the autoscaler the replay followed"
    )
    capacity: CapacityInfo
    placement: Placement | None = None
    deployment: Deployment | None = Field(default=None, description="schema 2; None in upgraded v1 documents")
    plan: Plan = Field(description="the cost model's plan: replay it with advisor.cost.simulate")


class CostSummary(_Out):
    """Projected cost over a 730-hour month."""

    usd_per_month: float
    usd_per_million_requests: float | None
    requests_per_month: float
    by_component: dict[str, float]
    by_purchase_option: dict[str, float]
    prices_estimated: bool
    price_sources: list[str]


class SLORisk(_Out):
    """How the plan holds the SLO in the replay (worst over the seeds it was replayed with)."""

    slo_p99_ms: float
    p99_ms_estimate: float | None
    minutes_over_slo_per_month: float
    minutes_over_slo_pct: float
    budget_pct: float
    within_budget: bool
    share_requests_over_slo: float
    interruptions_per_month: float
    seeds: list[int] = Field(description="the interruption draws replayed; a spot plan holds under every one")
    pool_reclaims: int = Field(default=0, description="whole-pool spot reclaims over all those replays")
    queue_model: str


class Efficiency(_Out):
    fluid_bound_usd_per_month: float = Field(
        description="capacity following demand exactly at the best $/capacity over every candidate"
    )
    efficiency: float = Field(description="fluid bound ÷ plan cost (1 = nothing left to save)")
    floor_bound_usd_per_month: float | None = Field(
        default=None, description="the same bound keeping at least min_replicas replicas at all times"
    )
    floor_efficiency: float | None = Field(
        default=None, description="floor bound ÷ plan cost: the part of the gap not owed to the HA floor"
    )


class Comparison(_Out):
    """A baseline (or what runs today), priced by the same replay."""

    name: str
    description: str
    platform: str | None = None
    shape: str | None = None
    count: int | None = Field(
        default=None, description="instances or tasks running today (the current deployment only)"
    )
    usd_per_month: float | None = None
    minutes_over_slo_pct: float | None = None
    meets_slo_budget: bool | None = Field(default=None, description="None when priced without a capacity")
    savings_pct: float | None = Field(default=None, description="(this − recommended) ÷ this × 100")
    unavailable: str | None = None


class ChurnRule(StrEnum):
    """Which rule of the churn guard decided (in the order they are tried)."""

    SLO_MISSED = "slo_missed"  # today's deployment misses the SLO budget: change regardless
    NO_SAVING = "no_saving"  # today's deployment is already at least as cheap
    UNDER_MINIMUM = "under_minimum"  # the saving is under the scenario's minimum for a change
    SLOW_PAYBACK = "slow_payback"  # the roll-out does not pay back within the scenario's limit
    NO_RESTARTS = "no_restarts"  # autoscaling settings only: nothing restarts
    BALANCED = "balanced"  # Karpenter's balanced rule: savings fraction ÷ disruption fraction


class ChurnCheck(_Out):
    """Karpenter's balanced rule on one model: savings fraction ÷ disruption fraction must reach the
    threshold, the saving the scenario's minimum, and the roll-out's cost must pay back in time."""

    savings_usd_per_month: float
    savings_fraction: float = Field(description="saving ÷ this model's current monthly cost")
    disrupted_replicas: int
    disruption_fraction: float = Field(description="replicas restarted ÷ this model's current replicas")
    score: float | None = Field(description="savings fraction ÷ disruption fraction; None = no disruption")
    threshold: float
    rollout_usd: float = Field(default=0.0, description="restarted replicas running twice until replaced")
    payback_days: float | None = Field(default=None, description="roll-out cost ÷ daily saving")
    passed: bool
    rule: ChurnRule | None = Field(default=None, description="the rule that decided; None in older documents")
    min_savings_usd_per_month: float | None = Field(default=None, description="the scenario's minimum")
    max_payback_days: float | None = Field(default=None, description="the scenario's payback limit")
    note: str = Field(description="the decision in words (advisor.render.churn_note)")


class Alternative(_Out):
    """A runner-up plan on another (platform, shape)."""

    platform: Platform
    shape: str
    instance_types: list[str]
    replicas_min: int
    replicas_max: int
    target_utilisation: float
    on_demand_base_nodes: int
    spot_pct_above_base: float
    usd_per_month: float
    minutes_over_slo_pct: float
    capacity_provenance: CapacityProvenance
    by_component: dict[str, float] = Field(default_factory=dict, description="$/month by cost component")


class PlatformCost(_Out):
    """What the best plan on one platform costs, by component: why the recommended platform won."""

    platform: Platform
    shape: str = Field(description="instance type (ml.* on SageMaker) or Fargate task size")
    usd_per_month: float
    by_component: dict[str, float] = Field(description="$/month by cost component")
    within_budget: bool = Field(description="holds the SLO budget in the replay")
    minutes_over_slo_pct: float
    instance_premium_vs_ec2: float | None = Field(
        default=None, description="SageMaker: its instance price ÷ the same EC2 type's on-demand price"
    )
    premium_estimated: bool = Field(
        default=False, description="the SageMaker price is estimated from the median premium, not listed"
    )


class ModelRecommendation(_Out):
    model: str
    team: str
    deploy: DeployTarget | None = Field(default=None, description="where the recommendation is applied")
    action: Action
    reason: str | None = Field(default=None, description="why: for cannot_recommend and keep_current")
    fix: str | None = Field(default=None, description="what would make a recommendation possible")
    plan: PlanSummary | None = None
    cost: CostSummary | None = None
    slo_risk: SLORisk | None = None
    efficiency: Efficiency | None = None
    current: Comparison | None = None
    baselines: list[Comparison] = Field(default_factory=list)
    savings_vs_current_pct: float | None = None
    churn: ChurnCheck | None = None
    pooling_savings_usd_per_month: float = Field(
        default=0.0, description="this model's share of the shared-pool saving (not in cost)"
    )
    effective_usd_per_month: float | None = Field(
        default=None,
        description="what the model costs under the recommendation: its plan less its pooling share when it "
        "changes (or is new), what runs today when the change is held back or cannot be recommended; None "
        "when neither is known. The totals are the sum of these; every surface shows this figure",
    )
    savings_by_lever: list[LeverSaving] = Field(
        default_factory=list,
        description="the saving against today split by lever, in the order of advisor.recommendation.levers; "
        "sums to current − effective cost; empty when the model keeps what runs today or has nothing today",
    )
    alternatives: list[Alternative] = Field(default_factory=list)
    platform_costs: list[PlatformCost] = Field(
        default_factory=list,
        description="the recommended plan, then the cheapest runner-up on each other platform, by component",
    )
    platform_choice: str | None = Field(
        default=None,
        description="why this platform: its cost by component against the best plan on each other platform",
    )
    traffic_profile: str = ""
    latency_floor_ms: float | None = None
    plans_replayed: int = 0


class PackingGroup(_Out):
    """One packing problem: models that may share nodes (same capacity on every type offered to them)."""

    models: list[str]
    instance_types_offered: int
    strategy: Literal["shared", "dedicated"] | None
    adopted: bool = Field(description="shared pools replace the per-model pools in the totals")
    peak_usd_per_hour_per_model_plans: float = Field(description="the per-model plans' nodes at their peaks")
    packed_usd_per_hour: float
    shared_usd_per_hour: float | None
    dedicated_usd_per_hour: float | None
    lp_bound_usd_per_hour: float
    lower_bound_usd_per_hour: float
    gap: float
    solver_status: str
    savings_usd_per_month: float
    pools: list[Pool]
    notes: list[str] = Field(default_factory=list)


class PackingSummary(_Out):
    """Multi-model bin-packing of the EC2 models' peak replicas (estimate applied to their monthly cost)."""

    groups: list[PackingGroup]
    savings_usd_per_month: float
    packed_usd_per_hour: float
    lower_bound_usd_per_hour: float
    ratio_to_lower_bound: float | None
    note: str


class CommitmentSummary(_Out):
    """A Savings Plan for the always-on base load, shown apart from the plan (not in its totals)."""

    kind: str
    usd_per_hour_commitment: float
    term_years: float
    payment_option: str
    covered_usd_per_month: float
    savings_usd_per_month: float
    savings_pct: float
    rate_source: str
    note: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class Totals(_Out):
    recommended_usd_per_month: float = Field(
        description="per-model costs (current where kept) − pooling, language models included"
    )
    current_usd_per_month: float | None = Field(
        description="models with a current deployment only, language models included"
    )
    recommended_for_current_models_usd_per_month: float | None
    savings_vs_current_pct: float | None
    pooling_savings_usd_per_month: float
    held_back_savings_usd_per_month: float = Field(
        default=0.0, description="what the changes the churn guard held back would save (not in the totals)"
    )
    held_back_models: int = 0
    baselines_usd_per_month: dict[str, float] = Field(
        description="per baseline, the sum over planned models; only baselines every planned model has"
        " (language models have their own baselines, not summed here)"
    )
    savings_vs_baselines_pct: dict[str, float] = Field(description="the plans' total against each of them")
    fluid_bound_usd_per_month: float = Field(
        description="sum of the models' fluid bounds (models with a plan)"
    )
    efficiency: float | None = Field(description="that bound ÷ the recommended plans' cost")
    floor_bound_usd_per_month: float | None = Field(
        default=None, description="sum of the models' floor bounds"
    )
    floor_efficiency: float | None = Field(
        default=None, description="that bound ÷ the recommended plans' cost"
    )
    with_commitment_usd_per_month: float | None = None
    savings_by_lever: list[LeverSaving] = Field(
        default_factory=list,
        description="the models' levers summed: the in-total parts sum to current − recommended for the "
        "models with a current deployment; the Savings Plan follows, apart (in_total false)",
    )


class Provenance(_Out):
    advisor_version: str
    price_snapshot: str
    prices_as_of_oldest: dt.date
    prices_as_of_newest: dt.date
    prices_estimated: bool
    bench_run_ids: list[str]
    capacities_by_provenance: dict[str, int]
    seed: int
    slo_budget_pct_minutes: float
    churn_threshold: float
    capacity_estimates: str


class Recommendation(_Out):
    schema_version: Literal["advisor.recommendation/3"] = SCHEMA_VERSION
    upgraded_from: str | None = Field(default=None, description="the schema a stored document was read from")
    id: str
    created_at: dt.datetime
    scenario: str
    scenario_file: str | None = None
    region: str
    status: Literal["ok", "partial", "cannot_recommend"]
    summary: str
    models: list[ModelRecommendation]
    llm_models: list[LLMModelRecommendation] = Field(
        default_factory=list, description="language models: their GPU mix over the day and $/M tokens"
    )
    packing: PackingSummary | None = None
    pools: list[NodePool] = Field(default_factory=list, description="every EC2 node pool placements name")
    commitment: CommitmentSummary | None = None
    totals: Totals
    guardrails: ApplyPolicy = Field(
        default_factory=ApplyPolicy,
        description="the scenario's apply guardrails when the recommendation was made (flags override them)",
    )
    provenance: Provenance
    warnings: list[str] = Field(default_factory=list)

    def model(self, name: str) -> ModelRecommendation:
        """The recommendation of one model; NotFoundError with close names otherwise."""
        for m in self.models:
            if m.model == name:
                return m
        raise NotFoundError("model", name, known=[m.model for m in self.models])


def new_recommendation_id(created_at: dt.datetime) -> str:
    """Sortable and unique: ``rec-20250101T120000-1a2b3c`` (the creation time, then a random suffix)."""
    return f"rec-{created_at:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


# ----- schema ----------------------------------------------------------------------------------------


def schema_text() -> str:
    """The JSON schema of :class:`Recommendation`, as committed in ``recommendation.schema.json``."""
    schema = Recommendation.model_json_schema()
    schema["$id"] = SCHEMA_VERSION
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_schema())
