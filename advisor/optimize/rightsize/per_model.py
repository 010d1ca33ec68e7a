"""The per-model stage of ``recommend``: from a scenario model to a frozen
:mod:`~advisor.optimize.rightsize.outcome`.

For each model, in order:

1. its traffic profile (a bundled name or a file beside the scenario), rescaled as the scenario says
   (:func:`advisor.traffic.ops.transform`);
2. its capacities (:mod:`advisor.capacity`): stored bench results under its labels, the scenario's given
   figures, and flagged estimates; an SLO below the fastest latency ever measured, or a bench that found no
   passing rate at this SLO, ends here as :class:`~advisor.optimize.rightsize.outcome.Unservable`;
3. what runs today, priced and replayed (:func:`advisor.optimize.rightsize.compare.price_current`); 4. its
shape candidates and their prefilter (:mod:`advisor.optimize.rightsize.candidates`), then the policy and
   purchase-mix search by replay (:mod:`advisor.optimize.rightsize.search`);
5. the baselines for the chosen plan, and the fluid lower bounds over every candidate;
6. with a current deployment, the lever steps from it to the chosen plan
   (:mod:`advisor.optimize.rightsize.levers`).

Bad scenario content raises ConfigError naming the field path (and the inner file:line where there is one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advisor.capacity import BenchEvidence, capacities_for_model
from advisor.domain import Platform
from advisor.errors import AdvisorError, ConfigError, at_field
from advisor.optimize.fleet.commitments import hourly_spend
from advisor.optimize.rightsize.candidates import (
    CandidateTypes,
    ShapeCandidate,
    best_usd_per_rps_hour,
    prefilter,
    shape_candidates,
)
from advisor.optimize.rightsize.compare import baseline_comparisons, price_current
from advisor.optimize.rightsize.ec2_scaling import ec2_scaling
from advisor.optimize.rightsize.levers import lever_steps
from advisor.optimize.rightsize.outcome import ModelInputs, ModelOutcome, Served, Unservable, detached
from advisor.optimize.rightsize.pricecache import PriceCache
from advisor.optimize.rightsize.search import rightsize_model
from advisor.optimize.rightsize.search_types import Confirmed, SearchOptions
from advisor.platforms.targets import Orchestrator
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import LoadBalancerKind, LoadBalancerSpec
from advisor.scenario.model import ModelSpec, Scenario
from advisor.settings import Settings
from advisor.traffic.profile import HOURS_PER_MONTH, TrafficProfile
from advisor.traffic.scenario import load_model_profile

PREFILTER_STEP_S = 3600  # the prefilter ranks shapes on hourly maxima of the demand


@dataclass(frozen=True)
class ModelContext:
    """What every model of one run shares: the scenario, prices, candidates, evidence and the search knobs."""

    scenario: Scenario
    catalog: Catalog
    settings: Settings
    types: CandidateTypes
    prices: PriceCache
    load_balancer: LoadBalancerSpec
    search: SearchOptions
    evidence: BenchEvidence
    shapes_per_platform: Mapping[Platform, int]
    base_dir: Path | None = None
    profiles: dict[str, TrafficProfile] = field(default_factory=dict)  # generated once per reference

    @property
    def seed(self) -> int:
        return self.search.seed


def model_inputs(index: int, spec: ModelSpec, ctx: ModelContext) -> ModelInputs:
    """Steps 1-3: the model's traffic, capacities and current deployment."""
    where = f"models.{index}"
    profile = load_model_profile(spec, ctx.settings, ctx.base_dir, where, ctx.profiles)
    caps = capacities_for_model(spec, ctx.catalog, ctx.evidence, ctx.scenario.capacity_estimates, where)
    scenario = ctx.scenario
    try:
        current = price_current(
            spec, caps, profile, ctx.catalog, ctx.prices, region=scenario.region,
            load_balancer=ctx.load_balancer, budget_pct=scenario.slo_budget_pct_minutes, seed=ctx.seed,
            where=where, cluster=scenario.cluster, fleet_models=len(scenario.models),
        )  # fmt: skip
    except ConfigError:
        raise
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.current") from None
    return ModelInputs(index, spec, profile, caps, current)


def plan_model(inputs: ModelInputs, ctx: ModelContext) -> ModelOutcome:
    """Steps 4-5, unless the evidence already rules every plan out (step 2)."""
    ruled_out = _ruled_out(inputs)
    if ruled_out is not None:
        return detached(ruled_out)
    spec, profile, scenario = inputs.spec, inputs.profile, ctx.scenario
    need = spec.need
    orchestrator = spec.orchestrator(scenario.cluster)
    cands = shape_candidates(need, inputs.caps, ctx.types, scenario, ctx.catalog, orchestrator)
    if spec.platforms is not None:
        cands = [c for c in cands if c.platform in spec.platforms]
    if not cands:
        return detached(_no_candidates(inputs, ctx.types, orchestrator))
    shortlist = prefilter(
        cands, _hourly_maxima(profile), dict(ctx.shapes_per_platform), min_replicas=scenario.min_replicas
    )
    found = rightsize_model(
        spec.name, spec.slo, shortlist, profile, ctx.prices, region=scenario.region,
        load_balancer=ctx.load_balancer, replica=need,
        options=dataclasses.replace(
            ctx.search, image_gib=spec.image_gib, ec2_scaling=ec2_scaling(spec.deploy)
        ),
    )  # fmt: skip
    if found.best is None:
        return detached(
            Unservable(inputs, found.reason or "no plan found", found.fix or "", found.plans_replayed)
        )
    best = found.best
    baselines = baseline_comparisons(
        best.plan, profile, ctx.catalog, ctx.prices, budget_pct=scenario.slo_budget_pct_minutes,
        seed=ctx.seed, recommended_usd=best.usd_per_month,
    )  # fmt: skip
    fluid, floor = _bounds(cands, profile, scenario, best.result.breakdown.by_component)
    current = inputs.current
    levers = () if current is None else lever_steps(current, best, profile, ctx.prices, seed=ctx.seed)
    outcome = Served(
        inputs=inputs,
        best=best,
        alternatives=tuple(found.alternatives),
        plans_replayed=found.plans_replayed,
        allowed_types={c.shape: c.capacity.rps_per_replica for c in cands if c.platform is Platform.EC2},
        baselines=tuple(baselines),
        fluid_bound_usd_per_month=fluid,
        floor_bound_usd_per_month=floor,
        levers=levers,
        on_demand_usd_hourly=on_demand_spend(best, ctx.prices, profile.step_s),
    )
    return detached(outcome)


def on_demand_spend(best: Confirmed, prices: PriceCache, step_s: int) -> np.ndarray | None:
    """The plan's on-demand spend per billing hour (on-demand nodes × node price, rolled up), for the
    fleet's Savings Plan; None on SageMaker (Compute Savings Plans do not cover it)."""
    if best.plan.platform is Platform.SAGEMAKER:
        return None
    nodes = best.result.column("nodes_on_demand")
    node_usd = prices.prices(best.plan).on_demand_usd_per_node_hour
    return hourly_spend(nodes * node_usd, float(step_s))


def load_balancer_for(scenario: Scenario) -> LoadBalancerSpec:
    """The load balancer in front of EC2 and Fargate plans (shared by all models if the scenario says so)."""
    policy = scenario.load_balancer
    half = policy.payload_kib / 2.0
    return LoadBalancerSpec(
        kind=LoadBalancerKind(policy.kind),
        shared_by=max(1, len(scenario.models)) if policy.shared else 1,
        request_kib=half,
        response_kib=half,
    )


def floor_bound_usd_per_month(
    candidates: list[ShapeCandidate], profile: TrafficProfile, min_replicas: int
) -> float | None:
    """A lower bound that also keeps the high-availability floor: $/month, compute only.

    Any plan runs one shape (spot pools at no lower capacity) with at least ``min_replicas`` replicas, so
    in every hour it pays at least min over shapes of max(demand / capacity, min_replicas) replicas at that
    shape's cheapest $ per replica-hour (on-demand or the mean spot price). Hourly mean demand is used: the
    replicas needed are convex in demand, so the bound stays a bound (Jensen). None without candidates.
    """
    if not candidates:
        return None
    k = max(1, PREFILTER_STEP_S // profile.step_s)
    whole = (profile.steps // k) * k
    hourly = profile.rps[:whole].reshape(-1, k).mean(axis=1) if whole else profile.rps
    cap = np.array([c.capacity.rps_per_replica for c in candidates])[:, None]
    per_replica = np.array(
        [
            min(c.usd_per_node_hour, c.spot_usd_per_node_hour or np.inf) / c.replicas_per_node
            for c in candidates
        ]
    )[:, None]
    cost = np.maximum(hourly[None, :] / cap, float(min_replicas)) * per_replica
    return float(cost.min(axis=0).mean()) * HOURS_PER_MONTH


# ----- helpers ---------------------------------------------------------------------------------------


def _ruled_out(inputs: ModelInputs) -> Unservable | None:
    """Unservable when the evidence already rules every plan out (module docstring, step 2)."""
    caps, slo = inputs.caps, inputs.spec.slo.latency_p99_ms
    if caps.latency_floor_ms is not None and slo < caps.latency_floor_ms:
        return Unservable(
            inputs,
            f"the SLO p99 of {slo:g} ms is below the fastest p99 ever measured for this model, "
            f"{caps.latency_floor_ms:g} ms ({caps.latency_floor_source})",
            f"set slo.latency_p99_ms to at least {caps.latency_floor_ms:g} ms, or measure faster hardware",
        )
    if not caps.anchors and caps.missed:
        m = caps.missed[0]
        return Unservable(
            inputs,
            f"no request rate met the SLO of {slo:g} ms on {m.shape} (bench run {m.run_id}: {m.reason})",
            "relax slo.latency_p99_ms, or measure a faster shape",
        )
    if not caps.anchors:
        return Unservable(
            inputs,
            "no capacity is measured or given for this model",
            "run `advisor recommend SCENARIO --bench` (reference or command servers), or give "
            f"{inputs.where}.capacities_rps",
        )
    return None


def inputs_platforms(types: CandidateTypes) -> set[Platform]:
    """Platforms the candidate table priced (SageMaker only where its prices were looked up)."""
    out = {Platform.EC2}
    if np.isfinite(types.sagemaker).any():
        out.add(Platform.SAGEMAKER)
    return out


def _no_candidates(inputs: ModelInputs, types: CandidateTypes, orchestrator: Orchestrator) -> Unservable:
    spec = inputs.spec
    need = spec.need
    on_nodes = (types.replicas_per_node(need, orchestrator) >= 1).any()
    whole = (types.replicas_per_node(need) >= 1).any() and Platform.SAGEMAKER in inputs_platforms(types)
    if not on_nodes and not whole:
        arches = ", ".join(a.value for a in spec.architectures)
        return Unservable(
            inputs,
            f"one replica ({need.vcpu:g} vCPU, {need.memory_gib:g} GiB, {need.gpu_count:g} GPU) fits "
            f"none of the {len(types.types)} candidate types with the image's architectures ({arches}), "
            f"on {orchestrator.value} nodes (allocatable, after the kubelet/agent reserve and daemonsets) or "
            "as a whole instance",
            "add larger families or types to candidates, raise candidates.max_size_vcpu, or list more "
            "architectures if the image has them",
        )
    return Unservable(
        inputs,
        "no candidate type has a measured, given or estimated capacity for this model",
        "measure or give a capacity on a candidate family (GPU models need one per GPU family), "
        "or set capacity_estimates to point",
    )


def _bounds(
    cands: list[ShapeCandidate],
    profile: TrafficProfile,
    scenario: Scenario,
    by_component: Mapping[str, float],
) -> tuple[float | None, float | None]:
    """The fluid bound and the HA-floor bound ($/month), each with the plan's load-balancer floor."""
    best = best_usd_per_rps_hour(cands)
    if best is None:
        return None, None
    lb_floor = 0.0
    if Platform.SAGEMAKER not in scenario.platforms:
        lb_floor = by_component.get("load_balancer_hours", 0.0) + by_component.get(
            "load_balancer_capacity_units", 0.0
        )
    fluid = profile.requests_per_month / 3600.0 * best + lb_floor
    floor = floor_bound_usd_per_month(cands, profile, scenario.min_replicas)
    return fluid, None if floor is None else floor + lb_floor


def _hourly_maxima(profile: TrafficProfile) -> np.ndarray:
    k = max(1, PREFILTER_STEP_S // profile.step_s)
    rps = profile.rps
    whole = (rps.size // k) * k
    if whole == 0:
        return np.asarray(rps, dtype=np.float64)
    out: np.ndarray = rps[:whole].reshape(-1, k).max(axis=1)
    return out
