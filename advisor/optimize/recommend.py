"""``recommend``: from a scenario, stored measurements and prices to a :class:`Recommendation`.

The pipeline, per model and then for the fleet:

1. the model's traffic profile (bundled name or file, relative to the scenario file), rescaled as asked;
2. its capacities (:mod:`advisor.optimize.capacities`): stored bench results, the scenario's figures, and
   flagged estimates; an SLO below the fastest latency ever measured, or a bench that found no passing rate
   at this SLO, ends here with "cannot recommend";
3. its shape candidates and their prefilter (:mod:`advisor.optimize.candidates`), then the policy and
   purchase-mix search by replay (:mod:`advisor.optimize.rightsize`);
4. what it is compared with: the current deployment, the baselines, and the fluid lower bound over every
   candidate (:mod:`advisor.optimize.compare`);
5. fleet-wide: the churn guard against the current deployments, the packing of the EC2 models onto shared
   pools (:mod:`advisor.optimize.pooling`), the Savings Plan commitment when ``advisor.optimize.commitments``
   offers one, totals and provenance.

Pure (no cloud SDK, no load generator): ``advisor recommend --bench`` measures first, in the CLI, and this
function then finds the results in the store. Bad scenario content raises ConfigError naming the field path;
a model that cannot be served is a value (``action: cannot_recommend``) with the reason and the fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advisor import __version__
from advisor.cost.plan import LoadBalancerKind, LoadBalancerSpec
from advisor.domain import Platform
from advisor.errors import AdvisorError, ConfigError
from advisor.optimize import assemble
from advisor.optimize.candidates import (
    CandidateTypes,
    ShapeCandidate,
    best_usd_per_rps_hour,
    prefilter,
    shape_candidates,
)
from advisor.optimize.capacities import (
    ModelCapacities,
    SpeedLookup,
    build_capacities,
    measured_latency_floor,
    model_labels,
    stored_measurements,
)
from advisor.optimize.compare import CurrentCost, price_current
from advisor.optimize.recommendation import Recommendation
from advisor.optimize.rightsize import PriceCache, RightsizeResult, SearchOptions, rightsize_model
from advisor.optimize.scenario import ModelSpec, Scenario
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from advisor.store import Store
from advisor.traffic import ops
from advisor.traffic.library import resolve_profile
from advisor.traffic.profile import HOURS_PER_MONTH, TrafficProfile

Progress = Callable[[str, int, int], None]  # (what is being done, done, total)
DEFAULT_PER_PLATFORM = {Platform.EC2: 3, Platform.SAGEMAKER: 1, Platform.FARGATE: 1}
PREFILTER_STEP_S = 3600  # the prefilter ranks shapes on hourly maxima of the demand


@dataclass(frozen=True)
class RecommendOptions:
    """Knobs of one run (the scenario holds the policy; these hold the method)."""

    seed: int = 0
    shapes_per_platform: dict[Platform, int] = field(default_factory=lambda: dict(DEFAULT_PER_PLATFORM))
    packing_time_s: float = 2.0
    # Per-vCPU speed of processor families for capacity estimates (the CLI passes the bench's table).
    family_speed: SpeedLookup | None = None


@dataclass
class ModelWork:
    """Everything learnt about one model on the way to its recommendation."""

    index: int
    spec: ModelSpec
    profile: TrafficProfile | None = None
    caps: ModelCapacities | None = None
    candidates: list[ShapeCandidate] = field(default_factory=list)
    allowed_types: dict[str, float] = field(default_factory=dict)  # EC2 type -> capacity per replica
    rightsized: RightsizeResult | None = None
    current: CurrentCost | None = None
    fluid_bound_usd_per_month: float | None = None
    floor_bound_usd_per_month: float | None = None
    reason: str | None = None
    fix: str | None = None

    @property
    def where(self) -> str:
        return f"models.{self.index}"


def recommend(
    scenario: Scenario,
    catalog: Catalog,
    settings: Settings,
    *,
    store: Store | None = None,
    scenario_file: Path | None = None,
    options: RecommendOptions = RecommendOptions(),
    progress: Progress | None = None,
) -> Recommendation:
    """Recommend how to serve every model of ``scenario`` (module docstring). Nothing is stored here."""
    types = CandidateTypes.build(scenario, catalog)
    prices = PriceCache(catalog)
    lb = load_balancer_for(scenario)
    base_dir = scenario_file.parent if scenario_file is not None else None
    search = SearchOptions(
        slo_budget_pct_minutes=scenario.slo_budget_pct_minutes,
        min_replicas=scenario.min_replicas,
        min_on_demand_base=scenario.spot.min_on_demand_base,
        seed=options.seed,
    )
    works: list[ModelWork] = []
    profiles: dict[str, TrafficProfile] = {}  # generated once per profile reference, rescaled per model
    total = len(scenario.models)
    for i, spec in enumerate(scenario.models):
        if progress is not None:
            progress(f"right-sizing {spec.name}", i, total)
        work = ModelWork(i, spec)
        works.append(work)
        work.profile = load_model_profile(spec, settings, base_dir, work.where, profiles)
        work.caps = _capacities(work, catalog, store, scenario, options.family_speed)
        work.current = _current(work, catalog, prices, scenario, lb, options.seed)
        if _cannot_serve(work):
            continue
        _rightsize(work, types, scenario, catalog, prices, lb, search, options)
    if progress is not None:
        progress("packing shared pools", total, total)
    return assemble.build(
        scenario,
        works,
        types=types,
        catalog=catalog,
        prices=prices,
        scenario_file=scenario_file,
        seed=options.seed,
        packing_time_s=options.packing_time_s,
        version=__version__,
        stale_after_days=settings.price_staleness_days,
        created_at=dt.datetime.now(dt.UTC),
    )


def load_balancer_for(scenario: Scenario) -> LoadBalancerSpec:
    """The load balancer in front of EC2 and Fargate plans (shared by all models if the scenario says so)."""
    policy = scenario.load_balancer
    half = policy.payload_kib / 2.0
    return LoadBalancerSpec(
        kind=LoadBalancerKind(policy.kind),
        shared_by=len(scenario.models) if policy.shared else 1,
        request_kib=half,
        response_kib=half,
    )


def load_model_profile(
    spec: ModelSpec,
    settings: Settings,
    base_dir: Path | None,
    where: str,
    cache: dict[str, TrafficProfile] | None = None,
) -> TrafficProfile:
    """The model's traffic: a file beside the scenario or a profile by name, rescaled as the scenario says."""
    ref = spec.traffic.profile
    candidate = base_dir / ref if base_dir is not None else None
    key = str(candidate) if candidate is not None and candidate.is_file() else ref
    try:
        if cache is not None and key in cache:
            profile = cache[key]
        else:
            profile = resolve_profile(key, settings)
            if cache is not None:
                cache[key] = profile
        if spec.traffic.peak_rps is not None:
            profile = ops.rescale_to_peak(profile, spec.traffic.peak_rps)
        elif spec.traffic.monthly_requests is not None:
            profile = ops.rescale_to_monthly_volume(profile, spec.traffic.monthly_requests)
    except ConfigError:
        raise
    except AdvisorError as exc:
        raise ConfigError(exc.what, where=f"{where}.traffic.profile", fix=exc.fix) from None
    if profile.peak_rps <= 0:
        raise ConfigError(
            "the traffic profile carries no requests",
            where=f"{where}.traffic",
            fix="use a profile with traffic",
        )
    return profile


# ----- per-model steps -------------------------------------------------------------------------------


def _capacities(
    work: ModelWork, catalog: Catalog, store: Store | None, scenario: Scenario, speed: SpeedLookup | None
) -> ModelCapacities:
    labels = model_labels(work.spec)
    measurements = stored_measurements(store, labels) if store is not None else []
    floor = measured_latency_floor(store, labels) if store is not None else None
    return build_capacities(
        work.spec,
        catalog,
        measurements=measurements,
        latency_floor=floor,
        policy=scenario.capacity_estimates,
        where=work.where,
        speed=speed,
    )


def _current(
    work: ModelWork, catalog: Catalog, prices: PriceCache, scenario: Scenario, lb: LoadBalancerSpec, seed: int
) -> CurrentCost | None:
    assert work.caps is not None and work.profile is not None
    try:
        return price_current(
            work.spec, work.caps, work.profile, catalog, prices, region=scenario.region, load_balancer=lb,
            budget_pct=scenario.slo_budget_pct_minutes, seed=seed, where=work.where,
        )  # fmt: skip
    except ConfigError:
        raise
    except AdvisorError as exc:
        raise ConfigError(exc.what, where=f"{work.where}.current", fix=exc.fix) from None


def _cannot_serve(work: ModelWork) -> bool:
    """Set the reason and fix when the evidence already rules every plan out (module docstring, step 2)."""
    caps, slo = work.caps, work.spec.slo.latency_p99_ms
    assert caps is not None
    if caps.latency_floor_ms is not None and slo < caps.latency_floor_ms:
        work.reason = (
            f"the SLO p99 of {slo:g} ms is below the fastest p99 ever measured for this model, "
            f"{caps.latency_floor_ms:g} ms ({caps.latency_floor_source})"
        )
        work.fix = (
            f"set slo.latency_p99_ms to at least {caps.latency_floor_ms:g} ms, or measure faster hardware"
        )
        return True
    if not caps.anchors and caps.missed:
        m = caps.missed[0]
        work.reason = (
            f"no request rate met the SLO of {slo:g} ms on {m.shape} (bench run {m.run_id}: {m.reason})"
        )
        work.fix = "relax slo.latency_p99_ms, or measure a faster shape"
        return True
    if not caps.anchors:
        work.reason = "no capacity is measured or given for this model"
        work.fix = (
            "run `advisor recommend SCENARIO --bench` (reference or command servers), or give "
            f"{work.where}.capacities_rps"
        )
        return True
    return False


def _rightsize(
    work: ModelWork,
    types: CandidateTypes,
    scenario: Scenario,
    catalog: Catalog,
    prices: PriceCache,
    lb: LoadBalancerSpec,
    search: SearchOptions,
    options: RecommendOptions,
) -> None:
    assert work.caps is not None and work.profile is not None
    need = work.spec.resources
    cands = shape_candidates(need, work.caps, types, scenario, catalog)
    work.candidates = cands
    work.allowed_types = {c.shape: c.capacity.rps_per_replica for c in cands if c.platform is Platform.EC2}
    if not cands:
        fits = types.replicas_per_node(need) >= 1
        if not fits.any():
            work.reason = (
                f"one replica ({need.vcpu:g} vCPU, {need.memory_gib:g} GiB, {need.gpu_count:g} GPU) fits "
                f"none of the {len(types.types)} candidate types"
            )
            work.fix = "add larger families or types to candidates, or raise candidates.max_size_vcpu"
        else:
            work.reason = "no candidate type has a measured, given or estimated capacity for this model"
            work.fix = (
                "measure or give a capacity on a candidate family (GPU models need one per GPU family), "
                "or set capacity_estimates to point"
            )
        return
    hourly = _hourly_maxima(work.profile)
    shortlist = prefilter(cands, hourly, options.shapes_per_platform, min_replicas=scenario.min_replicas)
    work.rightsized = rightsize_model(
        work.spec.name, work.spec.slo, shortlist, work.profile, prices,
        region=scenario.region, load_balancer=lb, replica=need, options=search,
    )  # fmt: skip
    if work.rightsized.best is None:
        work.reason, work.fix = work.rightsized.reason, work.rightsized.fix
        return
    best = best_usd_per_rps_hour(cands)
    if best is not None:
        compute = work.profile.requests_per_month / 3600.0 * best
        lb_floor = 0.0
        if Platform.SAGEMAKER not in scenario.platforms:
            by = work.rightsized.best.result.breakdown.by_component
            lb_floor = by.get("load_balancer_hours", 0.0) + by.get("load_balancer_capacity_units", 0.0)
        work.fluid_bound_usd_per_month = compute + lb_floor
        work.floor_bound_usd_per_month = floor_bound_usd_per_month(cands, work.profile, scenario.min_replicas)
        if work.floor_bound_usd_per_month is not None:
            work.floor_bound_usd_per_month += lb_floor


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


def _hourly_maxima(profile: TrafficProfile) -> np.ndarray:
    k = max(1, PREFILTER_STEP_S // profile.step_s)
    rps = profile.rps
    whole = (rps.size // k) * k
    if whole == 0:
        return np.asarray(rps, dtype=np.float64)
    out: np.ndarray = rps[:whole].reshape(-1, k).max(axis=1)
    return out
