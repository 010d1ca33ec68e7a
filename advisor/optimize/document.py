"""The Recommendation document: per-model entries, totals, warnings and provenance, from decided outcomes.

:func:`build_document` maps what the per-model and fleet stages decided
(:mod:`advisor.optimize.rightsize.outcome`,
:mod:`advisor.optimize.fleet.decide`) onto the :class:`~advisor.recommendation.model.Recommendation` model. It
computes nothing new: every figure comes from a replay or a catalog price upstream; this module only says
where it came from. The id and the creation time are given by the caller, so the same inputs always give
the same document (golden files).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from advisor.domain import Platform
from advisor.errors import AdvisorError
from advisor.optimize.deployment import deployment_for, node_pools
from advisor.optimize.fleet.decide import FleetDecisions
from advisor.optimize.rightsize.outcome import ModelOutcome, Served
from advisor.optimize.rightsize.search_types import Confirmed
from advisor.pricing.catalog import Catalog
from advisor.recommendation.deployment import Placement
from advisor.recommendation.levers import Lever, LeverSaving, with_commitment
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import (
    Action,
    Alternative,
    CapacityInfo,
    CostSummary,
    Efficiency,
    ModelRecommendation,
    PlanSummary,
    PlatformCost,
    Provenance,
    Recommendation,
    SLORisk,
)
from advisor.recommendation.plan import CapacityProvenance, LoadBalancerKind
from advisor.recommendation.totals import fleet_totals, savings_pct, with_effective_costs
from advisor.scenario.model import ModelSpec, Scenario
from advisor.traffic.profile import HOURS_PER_MONTH


def build_document(
    scenario: Scenario,
    outcomes: Sequence[ModelOutcome],
    fleet: FleetDecisions,
    catalog: Catalog,
    *,
    rec_id: str,
    created_at: dt.datetime,
    scenario_file: Path | None,
    seed: int,
    version: str,
    stale_after_days: int = 90,
    notes: Sequence[str] = (),
    llm_models: Sequence[LLMModelRecommendation] = (),
) -> Recommendation:
    """The Recommendation for ``outcomes`` (one per scenario model, in order)."""
    models = with_effective_costs([_model_rec(o, fleet, scenario, catalog) for o in outcomes])
    plans = {m.model: m.plan.plan for m in models if m.plan is not None}
    specs = {m.name: m for m in scenario.models}
    held = frozenset(m.model for m in models if m.action is Action.KEEP_CURRENT)
    pools = node_pools(specs, plans, fleet.packing, scenario.cluster, catalog, held)
    totals = fleet_totals(models, fleet.packing, llm_models)
    if fleet.commitment is not None:
        saving = fleet.commitment.savings_usd_per_month
        totals = totals.model_copy(
            update={
                "with_commitment_usd_per_month": totals.recommended_usd_per_month - saving,
                "savings_by_lever": with_commitment(totals.savings_by_lever, saving),
            }
        )
    served = [m for m in models if m.action is not Action.CANNOT_RECOMMEND]
    status = "ok" if len(served) == len(models) else ("partial" if served else "cannot_recommend")
    return Recommendation(
        id=rec_id,
        created_at=created_at,
        scenario=scenario.name,
        scenario_file=str(scenario_file) if scenario_file is not None else None,
        region=scenario.region,
        status=status,
        summary="",  # words are the renderers': advisor.recommend fills it (advisor.render.headline)
        guardrails=scenario.apply,
        models=models,
        llm_models=list(llm_models),
        packing=fleet.packing,
        pools=pools,
        commitment=fleet.commitment,
        totals=totals,
        provenance=_provenance(outcomes, models, catalog, scenario, seed, version),
        warnings=_warnings(
            outcomes, models, catalog, fleet.commitment_note, stale_after_days, created_at.date()
        )
        + list(notes),
    )


# ----- one model -------------------------------------------------------------------------------------


def _model_rec(
    o: ModelOutcome, fleet: FleetDecisions, scenario: Scenario, catalog: Catalog
) -> ModelRecommendation:
    budget_pct = scenario.slo_budget_pct_minutes
    inputs = o.inputs
    decision = fleet.decisions[inputs.name]
    current = inputs.current.comparison if inputs.current is not None else None
    common = {
        "model": inputs.name,
        "team": inputs.spec.team,
        "deploy": inputs.spec.deploy,
        "traffic_profile": inputs.profile.name,
        "latency_floor_ms": inputs.caps.latency_floor_ms,
        "plans_replayed": o.plans_replayed,
    }
    if not isinstance(o, Served):
        return ModelRecommendation(
            action=Action.CANNOT_RECOMMEND, reason=o.reason, fix=o.fix, current=current, **common
        )
    best, churn = o.best, decision.churn
    rec_usd = best.usd_per_month
    pooling = fleet.pooling_share_usd_per_month.get(inputs.name, 0.0)
    levers = []
    if decision.action in (Action.CHANGE, Action.NEW) and o.levers:
        pooled = LeverSaving(
            lever=Lever.INSTANCE_SHARING, usd_per_month=pooling, usd_per_month_after=rec_usd - pooling
        )
        levers = [*o.levers, pooled]
    if current is not None:
        current = current.model_copy(update={"savings_pct": savings_pct(current.usd_per_month, rec_usd)})
    return ModelRecommendation(
        action=decision.action,
        reason=None,  # a held-back change's reason is its churn decision, in words (advisor.render.words)
        plan=_plan_summary(best, fleet.placements.get(inputs.name), inputs.spec, scenario, catalog),
        cost=_cost(best),
        slo_risk=_risk(best, budget_pct),
        efficiency=_efficiency(o.fluid_bound_usd_per_month, o.floor_bound_usd_per_month, rec_usd),
        current=current,
        baselines=list(o.baselines),
        savings_vs_current_pct=current.savings_pct if current is not None else None,
        churn=churn,
        pooling_savings_usd_per_month=pooling,
        savings_by_lever=levers,
        alternatives=[_alternative(e) for e in o.alternatives],
        platform_costs=platform_costs(best, o.alternatives, catalog),
        **common,
    )


def platform_costs(
    best: Confirmed, alternatives: Sequence[Confirmed], catalog: Catalog
) -> list[PlatformCost]:
    """The plan's cost by component, then the cheapest runner-up on each other platform (SageMaker's data
    processing and instance premium, EC2's and Fargate's load balancer included); empty when no other
    platform was a candidate. :func:`advisor.render.platform_choice` says it in words."""
    chosen = best.plan.platform
    others: dict[Platform, Confirmed] = {}
    for ev in alternatives:
        p = ev.plan.platform
        if p is not chosen and (p not in others or ev.usd_per_month < others[p].usd_per_month):
            others[p] = ev
    if not others:
        return []
    ranked = [best, *sorted(others.values(), key=lambda ev: ev.usd_per_month)]
    return [_platform_cost(ev, catalog) for ev in ranked]


def _platform_cost(ev: Confirmed, catalog: Catalog) -> PlatformCost:
    premium, estimated = None, False
    if ev.plan.platform is Platform.SAGEMAKER:
        premium, estimated = _premium(catalog, ev.plan.region, ev.plan.shape_label)
    return PlatformCost(
        platform=ev.plan.platform, shape=ev.plan.shape_label, usd_per_month=ev.usd_per_month,
        by_component=dict(ev.result.breakdown.by_component), within_budget=ev.within_budget,
        minutes_over_slo_pct=ev.minutes_over_slo_pct, instance_premium_vs_ec2=premium,
        premium_estimated=estimated,
    )  # fmt: skip


def _premium(catalog: Catalog, region: str, ml_type: str) -> tuple[float | None, bool]:
    """(SageMaker instance price ÷ EC2 on-demand, estimated?); (None, False) without an EC2 price."""
    try:
        price = catalog.sagemaker(region, ml_type)
        ec2 = catalog.on_demand(region, ml_type.removeprefix("ml."))
    except AdvisorError:
        return None, False
    if ec2.usd_per_hour <= 0:
        return None, False
    return price.usd_per_hour / ec2.usd_per_hour, bool(price.estimated)


def _efficiency(bound: float | None, floor: float | None, usd: float) -> Efficiency | None:
    if bound is None:
        return None
    return Efficiency(
        fluid_bound_usd_per_month=bound,
        efficiency=bound / usd if usd > 0 else 1.0,
        floor_bound_usd_per_month=floor,
        floor_efficiency=None if floor is None else (floor / usd if usd > 0 else 1.0),
    )


def _plan_summary(
    ev: Confirmed, placement: Placement | None, spec: ModelSpec, scenario: Scenario, catalog: Catalog
) -> PlanSummary:
    plan, result, cand = ev.plan, ev.result, ev.candidate
    pools = list(plan.purchase.spot_pools)
    lb = plan.effective_load_balancer
    lb_text = "none" if lb.kind is LoadBalancerKind.NONE else f"{lb.kind.value} (shared by {lb.shared_by})"
    entry = cand.capacity
    return PlanSummary(
        platform=plan.platform,
        shape=plan.shape_label,
        instance_types=[plan.shape_label, *[p for p in pools if p != plan.shape_label]],
        replicas_per_node=plan.replicas_per_node,
        replicas_min=plan.autoscaling.min_replicas,
        replicas_max=plan.autoscaling.max_replicas,
        replicas_mean=result.replicas_mean,
        nodes_mean=result.nodes_mean,
        nodes_max=result.nodes_max,
        target_utilisation=plan.autoscaling.target_utilisation,
        tolerance=plan.autoscaling.tolerance,
        scale_up_delay_s=plan.autoscaling.scale_up_delay_s,
        scale_down_stabilisation_s=plan.autoscaling.scale_down_stabilisation_s,
        on_demand_base_nodes=plan.purchase.on_demand_base,
        spot_pct_above_base=plan.purchase.spot_pct_above_base,
        spot_pools=pools,
        load_balancer=lb_text,
        balancing=plan.effective_load_balancer.balancing,
        autoscaler=plan.autoscaling.algorithm_on(plan.platform),
        capacity=CapacityInfo(
            rps_per_replica=entry.rps_per_replica,
            provenance=entry.provenance,
            basis=entry.basis,
            source=entry.source,
            bench_run_ids=list(entry.run_ids),
            low_rps=entry.low_rps,
            high_rps=entry.high_rps,
        ),
        placement=placement,
        deployment=deployment_for(spec, plan, placement, scenario.cluster, catalog),
        plan=plan,
    )


def _cost(ev: Confirmed) -> CostSummary:
    r = ev.result
    return CostSummary(
        usd_per_month=r.usd_per_month,
        usd_per_million_requests=r.usd_per_million_requests,
        requests_per_month=r.requests_per_month,
        by_component=dict(r.breakdown.by_component),
        by_purchase_option=dict(r.breakdown.by_purchase_option),
        prices_estimated=r.prices_estimated or ev.candidate.price_estimated,
        price_sources=list(r.price_sources),
    )


def _risk(ev: Confirmed, budget: float) -> SLORisk:
    r = ev.result
    return SLORisk(
        slo_p99_ms=r.slo.slo_p99_ms,
        p99_ms_estimate=r.slo.p99_ms_estimate,
        minutes_over_slo_per_month=ev.minutes_over_slo_pct / 100.0 * HOURS_PER_MONTH * 60.0,
        minutes_over_slo_pct=ev.minutes_over_slo_pct,
        budget_pct=budget,
        within_budget=ev.within_budget,
        share_requests_over_slo=r.slo.share_requests_over_slo,
        interruptions_per_month=r.slo.interruptions_per_month,
        seeds=list(ev.seeds),
        pool_reclaims=ev.pool_reclaims,
        queue_model=r.slo.queue_model,
    )


def _alternative(ev: Confirmed) -> Alternative:
    plan = ev.plan
    return Alternative(
        platform=plan.platform,
        shape=plan.shape_label,
        instance_types=[plan.shape_label, *[p for p in plan.purchase.spot_pools if p != plan.shape_label]],
        replicas_min=plan.autoscaling.min_replicas,
        replicas_max=plan.autoscaling.max_replicas,
        target_utilisation=plan.autoscaling.target_utilisation,
        on_demand_base_nodes=plan.purchase.on_demand_base,
        spot_pct_above_base=plan.purchase.spot_pct_above_base,
        usd_per_month=ev.usd_per_month,
        minutes_over_slo_pct=ev.minutes_over_slo_pct,
        capacity_provenance=ev.candidate.capacity.provenance,
        by_component=dict(ev.result.breakdown.by_component),
    )


# ----- fleet -----------------------------------------------------------------------------------------


def _warnings(
    outcomes: Sequence[ModelOutcome],
    models: list[ModelRecommendation],
    catalog: Catalog,
    commit_note: str | None,
    stale_after_days: int,
    today: dt.date,
) -> list[str]:
    out = []
    age = catalog.staleness_days(today)
    if age > stale_after_days:
        out.append(f"prices are {age} days old; `advisor pricing refresh` fetches current ones")
    estimated = [
        f"{m.model} on {m.plan.shape}"
        for m in models
        if m.plan is not None and m.plan.capacity.provenance is CapacityProvenance.ESTIMATED
    ]
    if estimated:
        out.append(
            f"capacity estimated, not measured: {'; '.join(estimated)}. Measure those shapes (bench_shapes, "
            "`advisor bench`), or set capacity_estimates: off to choose only among measured or given families"
        )
    for o in outcomes:
        caps = o.inputs.caps
        if caps.anchors:  # decisive misses are the model's reason instead
            out += [
                f"{o.inputs.name}: bench run {miss.run_id} on {miss.shape} found no rate within the SLO "
                f"({miss.reason}); other capacities were used"
                for miss in caps.missed
            ]
    if commit_note:
        out.append(commit_note)
    return out


def _provenance(
    outcomes: Sequence[ModelOutcome],
    models: list[ModelRecommendation],
    catalog: Catalog,
    scenario: Scenario,
    seed: int,
    version: str,
) -> Provenance:
    runs = sorted({r for o in outcomes for r in o.inputs.caps.run_ids})
    counts: dict[str, int] = {}
    for m in models:
        if m.plan is not None:
            key = m.plan.capacity.provenance.value
            counts[key] = counts.get(key, 0) + 1
    snap = catalog.snapshot
    return Provenance(
        advisor_version=version,
        price_snapshot=f"{snap.origin} ({snap.path.name}, created {snap.created_at:%Y-%m-%d %H:%M} UTC)",
        prices_as_of_oldest=snap.oldest_price_as_of,
        prices_as_of_newest=snap.newest_as_of,
        prices_estimated=any(m.cost.prices_estimated for m in models if m.cost is not None),
        bench_run_ids=runs,
        capacities_by_provenance=counts,
        seed=seed,
        slo_budget_pct_minutes=scenario.slo_budget_pct_minutes,
        churn_threshold=scenario.churn_threshold,
        capacity_estimates=scenario.capacity_estimates,
    )
