"""Fleet-wide decisions and the assembly of the :class:`Recommendation` document.

Takes what :func:`advisor.optimize.recommend.recommend` learnt per model and decides the rest: each model's
action (the churn guard against its current deployment), the packing of changed EC2 models onto shared
pools, the Savings Plan commitment when a commitments module is installed, the baselines, the totals and the
provenance. Every figure in the document comes from a replay or a catalog price already computed upstream;
this module only adds them up and says where they came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from advisor.cost.plan import CapacityProvenance, LoadBalancerKind
from advisor.domain import Platform
from advisor.errors import AdvisorError
from advisor.optimize.candidates import CandidateTypes
from advisor.optimize.commitments import hourly_spend, recommend_commitment
from advisor.optimize.compare import baseline_comparisons, churn_check, savings_pct
from advisor.optimize.pooling import PoolMember, pool_models
from advisor.optimize.recommendation import (
    Action,
    Alternative,
    CapacityInfo,
    ChurnCheck,
    CommitmentSummary,
    CostSummary,
    Efficiency,
    ModelRecommendation,
    PackingSummary,
    Placement,
    PlanSummary,
    Provenance,
    Recommendation,
    SLORisk,
    Totals,
    new_recommendation_id,
)
from advisor.optimize.rightsize import Evaluated, PriceCache
from advisor.optimize.scenario import Scenario
from advisor.pricing.catalog import Catalog
from advisor.traffic.profile import HOURS_PER_MONTH

if TYPE_CHECKING:
    from advisor.optimize.recommend import ModelWork

_COMPUTE = ("compute_on_demand", "compute_spot", "spot_interruptions")


def build(
    scenario: Scenario,
    works: Sequence[ModelWork],
    *,
    types: CandidateTypes,
    catalog: Catalog,
    prices: PriceCache,
    scenario_file: Path | None,
    seed: int,
    packing_time_s: float,
    version: str,
    stale_after_days: int = 90,
    created_at: dt.datetime,
) -> Recommendation:
    """The Recommendation for ``works`` (one per scenario model, in order)."""
    fleet_usd = sum(w.current.comparison.usd_per_month or 0.0 for w in works if w.current is not None)
    fleet_replicas = sum(w.current.replicas for w in works if w.current is not None)
    actions: dict[str, tuple[Action, ChurnCheck | None]] = {}
    for w in works:
        best = w.rightsized.best if w.rightsized is not None else None
        if best is None:
            actions[w.spec.name] = (Action.CANNOT_RECOMMEND, None)
        elif w.current is None:
            actions[w.spec.name] = (Action.NEW, None)
        else:
            churn = churn_check(
                w.current, best.usd_per_month, best.plan, fleet_current_usd=fleet_usd,
                fleet_current_replicas=fleet_replicas, threshold=scenario.churn_threshold,
            )  # fmt: skip
            actions[w.spec.name] = (Action.CHANGE if churn.passed else Action.KEEP_CURRENT, churn)
    packing, placements, pooling_share = _pool(works, actions, types, packing_time_s)
    models = [
        _model_rec(w, actions[w.spec.name], placements.get(w.spec.name), pooling_share.get(w.spec.name, 0.0),
                   catalog, prices, scenario, seed)
        for w in works
    ]  # fmt: skip
    totals = _totals(models, packing)
    commitment, commit_note = _commitment(works, models, prices)
    if commitment is not None:
        totals = totals.model_copy(
            update={
                "with_commitment_usd_per_month": totals.recommended_usd_per_month
                - commitment.savings_usd_per_month
            }
        )
    warnings = _warnings(works, models, catalog, commit_note, stale_after_days)
    served = [m for m in models if m.action is not Action.CANNOT_RECOMMEND]
    status = "ok" if len(served) == len(models) else ("partial" if served else "cannot_recommend")
    return Recommendation(
        id=new_recommendation_id(),
        created_at=created_at,
        scenario=scenario.name,
        scenario_file=str(scenario_file) if scenario_file is not None else None,
        region=scenario.region,
        status=status,
        summary=_summary(models, totals),
        models=models,
        packing=packing,
        commitment=commitment,
        totals=totals,
        provenance=_provenance(works, models, catalog, scenario, seed, version),
        warnings=warnings,
    )


# ----- pooling ---------------------------------------------------------------------------------------


def _pool(
    works: Sequence[ModelWork],
    actions: dict[str, tuple[Action, ChurnCheck | None]],
    types: CandidateTypes,
    time_s: float,
) -> tuple[PackingSummary | None, dict[str, Placement], dict[str, float]]:
    members: list[PoolMember] = []
    for w in works:
        best = w.rightsized.best if w.rightsized is not None else None
        if best is None or actions[w.spec.name][0] not in (Action.CHANGE, Action.NEW):
            continue
        cand = best.candidate
        if cand.platform is not Platform.EC2 or cand.instance is None:
            continue
        cap = cand.capacity.rps_per_replica
        by = best.result.breakdown.by_component
        members.append(
            PoolMember(
                model=w.spec.name,
                resources=w.spec.resources,
                peak_replicas=max(1, round(best.result.replicas_max)),
                plan_shape=cand.shape,
                plan_family=cand.instance.family,
                plan_peak_usd_per_hour=best.result.nodes_max * cand.usd_per_node_hour,
                compute_usd_per_month=sum(by.get(k, 0.0) for k in _COMPUTE),
                allowed_types=frozenset(t for t, c in w.allowed_types.items() if c >= cap * (1 - 1e-9)),
            )
        )
    summary, placements = pool_models(members, types, time_budget_s=time_s)
    share: dict[str, float] = {}
    if summary is not None:
        compute = {m.model: m.compute_usd_per_month for m in members}
        for g in summary.groups:
            group_compute = sum(compute[name] for name in g.models)
            for name in g.models:
                share[name] = (
                    g.savings_usd_per_month * compute[name] / group_compute if group_compute > 0 else 0.0
                )
    return summary, placements, share


# ----- one model -------------------------------------------------------------------------------------


def _model_rec(
    w: ModelWork,
    decision: tuple[Action, ChurnCheck | None],
    placement: Placement | None,
    pooling_share: float,
    catalog: Catalog,
    prices: PriceCache,
    scenario: Scenario,
    seed: int,
) -> ModelRecommendation:
    action, churn = decision
    current = w.current.comparison if w.current is not None else None
    profile_name = w.profile.name if w.profile is not None else w.spec.traffic.profile
    floor = w.caps.latency_floor_ms if w.caps is not None else None
    best = w.rightsized.best if w.rightsized is not None else None
    common: dict[str, Any] = {
        "model": w.spec.name,
        "team": w.spec.team,
        "traffic_profile": profile_name,
        "latency_floor_ms": floor,
        "plans_replayed": w.rightsized.plans_replayed if w.rightsized is not None else 0,
    }
    if best is None or w.profile is None:
        return ModelRecommendation(
            action=Action.CANNOT_RECOMMEND, reason=w.reason, fix=w.fix, current=current, **common
        )
    rec_usd = best.usd_per_month
    baselines = baseline_comparisons(
        best.plan,
        w.profile,
        catalog,
        prices,
        budget_pct=scenario.slo_budget_pct_minutes,
        seed=seed,
        recommended_usd=rec_usd,
    )
    if current is not None:
        current = current.model_copy(update={"savings_pct": savings_pct(current.usd_per_month, rec_usd)})
    bound = w.fluid_bound_usd_per_month
    assert w.rightsized is not None
    return ModelRecommendation(
        action=action,
        reason=churn.note if action is Action.KEEP_CURRENT and churn is not None else None,
        plan=_plan_summary(best, placement),
        cost=_cost(best),
        slo_risk=_risk(best, scenario.slo_budget_pct_minutes),
        efficiency=_efficiency(bound, w.floor_bound_usd_per_month, rec_usd),
        current=current,
        baselines=baselines,
        savings_vs_current_pct=current.savings_pct if current is not None else None,
        churn=churn,
        pooling_savings_usd_per_month=pooling_share,
        alternatives=[_alternative(e) for e in w.rightsized.alternatives],
        **common,
    )


def _efficiency(bound: float | None, floor: float | None, usd: float) -> Efficiency | None:
    if bound is None:
        return None
    return Efficiency(
        fluid_bound_usd_per_month=bound,
        efficiency=bound / usd if usd > 0 else 1.0,
        floor_bound_usd_per_month=floor,
        floor_efficiency=None if floor is None else (floor / usd if usd > 0 else 1.0),
    )


def _plan_summary(ev: Evaluated, placement: Placement | None) -> PlanSummary:
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
        plan=plan,
    )


def _cost(ev: Evaluated) -> CostSummary:
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


def _risk(ev: Evaluated, budget: float) -> SLORisk:
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
        queue_model=r.slo.queue_model,
    )


def _alternative(ev: Evaluated) -> Alternative:
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
    )


# ----- fleet -----------------------------------------------------------------------------------------


def effective_usd(m: ModelRecommendation) -> float | None:
    """What the model costs under the recommendation: its plan (less its pooling share) or what runs today."""
    if m.action in (Action.CHANGE, Action.NEW) and m.cost is not None:
        return m.cost.usd_per_month - m.pooling_savings_usd_per_month
    if m.current is not None:
        return m.current.usd_per_month
    return None


def _totals(models: list[ModelRecommendation], packing: PackingSummary | None) -> Totals:
    rec = sum(v for m in models if (v := effective_usd(m)) is not None)
    with_current = [m for m in models if m.current is not None and m.current.usd_per_month is not None]
    cur = (
        sum(m.current.usd_per_month or 0.0 for m in with_current if m.current is not None)
        if with_current
        else None
    )
    rec_cur = sum(effective_usd(m) or 0.0 for m in with_current) if with_current else None
    # Baselines are alternatives to each plan: a fleet total only where every planned model has one.
    planned = [m for m in models if m.cost is not None]
    plan_usd = sum(
        m.cost.usd_per_month - m.pooling_savings_usd_per_month for m in planned if m.cost is not None
    )
    base_sum: dict[str, float] = {}
    for name in {b.name for m in planned for b in m.baselines}:
        got = [comparison_usd(m, name) for m in planned]
        if got and all(v is not None for v in got):
            base_sum[name] = sum(v for v in got if v is not None)
    served = [m for m in models if m.efficiency is not None and m.cost is not None]
    bound = sum(m.efficiency.fluid_bound_usd_per_month for m in served if m.efficiency is not None)
    cost = sum(m.cost.usd_per_month - m.pooling_savings_usd_per_month for m in served if m.cost is not None)
    floors = [m.efficiency.floor_bound_usd_per_month for m in served if m.efficiency is not None]
    all_floors = bool(floors) and all(f is not None for f in floors)
    floor = sum(f for f in floors if f is not None)
    return Totals(
        recommended_usd_per_month=rec,
        current_usd_per_month=cur,
        recommended_for_current_models_usd_per_month=rec_cur,
        savings_vs_current_pct=savings_pct(cur, rec_cur) if rec_cur is not None else None,
        pooling_savings_usd_per_month=packing.savings_usd_per_month if packing is not None else 0.0,
        baselines_usd_per_month=base_sum,
        savings_vs_baselines_pct={k: savings_pct(v, plan_usd) or 0.0 for k, v in base_sum.items()},
        fluid_bound_usd_per_month=bound,
        efficiency=bound / cost if cost > 0 else None,
        floor_bound_usd_per_month=floor if all_floors else None,
        floor_efficiency=floor / cost if all_floors and cost > 0 else None,
    )


def comparison_usd(m: ModelRecommendation, name: str) -> float | None:
    """$/month of one baseline of a model; None when it is unavailable."""
    return next((b.usd_per_month for b in m.baselines if b.name == name), None)


def _commitment(
    works: Sequence[ModelWork], models: list[ModelRecommendation], prices: PriceCache
) -> tuple[CommitmentSummary | None, str | None]:
    """A Compute Savings Plan for the always-on on-demand base of the EC2 and Fargate plans.

    The on-demand part of each adopted plan's replayed spend ($/h per step: on-demand nodes × node price) is
    rolled up to billing hours and summed over models (profiles aligned by position, i.e. read as the same
    period), then :func:`advisor.optimize.commitments.recommend_commitment` sizes the commitment (``base``:
    the lowest hourly spend, used in full every hour). SageMaker plans are left out: Compute Savings Plans
    do not cover SageMaker (SageMaker Savings Plans do; no rates for them are on file).
    """
    adopted = {m.model for m in models if m.action in (Action.CHANGE, Action.NEW)}
    series: list[np.ndarray] = []
    for w in works:
        best = w.rightsized.best if w.rightsized is not None else None
        if best is None or w.spec.name not in adopted or best.plan.platform is Platform.SAGEMAKER:
            continue
        frame = best.result.timeseries()
        node_usd = prices.prices(best.plan).on_demand_usd_per_node_hour
        spend = frame["nodes_on_demand"].to_numpy(dtype=float) * node_usd
        series.append(hourly_spend(spend, float(w.profile.step_s if w.profile is not None else 3600)))
    if not series:
        return (
            None,
            "commitments: no EC2 or Fargate plan to commit for (SageMaker needs SageMaker Savings Plans)",
        )
    hours = min(s.size for s in series)
    total = np.sum([s[:hours] for s in series], axis=0)
    try:
        got = recommend_commitment(total, step_seconds=3600.0)
    except AdvisorError as exc:
        return None, f"commitments: {exc.one_line()}"
    rate_note = " (estimated rate)" if got.discount_estimated else ""
    summary = CommitmentSummary(
        kind=f"{'Compute' if got.plan_type == 'compute' else 'EC2 Instance'} Savings Plan",
        usd_per_hour_commitment=got.commitment_usd_per_hour,
        term_years=got.term_years,
        payment_option=got.payment_option,
        covered_usd_per_month=got.covered_on_demand_usd_per_hour * HOURS_PER_MONTH,
        savings_usd_per_month=got.saving_usd_per_month,
        savings_pct=got.effective_discount_pct,
        rate_source=f"{got.discount_source}, {got.discount_pct:g}% off{rate_note}",
        note=got.reason,
        detail=got.model_dump(mode="json"),
    )
    return summary, None


def _warnings(
    works: Sequence[ModelWork],
    models: list[ModelRecommendation],
    catalog: Catalog,
    commit_note: str | None,
    stale_after_days: int,
) -> list[str]:
    out = []
    age = catalog.staleness_days()
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
    for w in works:
        for miss in w.caps.missed if w.caps is not None else []:
            if w.caps is not None and w.caps.anchors:  # decisive misses are the model's reason instead
                out.append(
                    f"{w.spec.name}: bench run {miss.run_id} on {miss.shape} found no rate within the SLO "
                    f"({miss.reason}); other capacities were used"
                )
    if commit_note:
        out.append(commit_note)
    return out


def _provenance(
    works: Sequence[ModelWork],
    models: list[ModelRecommendation],
    catalog: Catalog,
    scenario: Scenario,
    seed: int,
    version: str,
) -> Provenance:
    runs = sorted({r for w in works if w.caps is not None for r in w.caps.run_ids})
    counts: dict[str, int] = {}
    for m in models:
        if m.plan is not None:
            key = m.plan.capacity.provenance.value
            counts[key] = counts.get(key, 0) + 1
    snap = catalog.snapshot
    return Provenance(
        advisor_version=version,
        price_snapshot=f"{snap.origin} ({snap.path})",
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


def _summary(models: list[ModelRecommendation], totals: Totals) -> str:
    served = [m for m in models if m.action is not Action.CANNOT_RECOMMEND]
    cannot = len(models) - len(served)
    if not served:
        return f"cannot recommend: no plan meets the SLO for any of the {len(models)} model(s)"
    text = f"{len(served)} model(s) for ${totals.recommended_usd_per_month:,.2f}/month"
    if totals.savings_vs_current_pct is not None and totals.current_usd_per_month is not None:
        pct, today = totals.savings_vs_current_pct, totals.current_usd_per_month
        text += f", {pct:.1f}% less than today's ${today:,.2f}/month"
    if cannot:
        text += f"; {cannot} model(s) cannot be recommended"
    return text
