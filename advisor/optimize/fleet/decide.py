"""The fleet stage of ``recommend``: what to change, which models share node pools, what to commit to.

Takes the per-model outcomes (:mod:`advisor.optimize.rightsize.outcome`) and decides, for the whole scenario:

- **each model's action**: ``new`` without a current deployment; otherwise the **churn guard**, on the
  model's own terms only (never the size of unrelated models): Karpenter's balanced consolidation (v1.14+,
  aws-samples karpenter-blueprints "Balanced Consolidation") approves a change when
  ``savings_fraction / disruption_fraction >= threshold`` (0.5 there), here the saving over *this model's*
  current monthly cost and the replicas the change restarts over *its* current replicas; the saving must
  also reach the scenario's minimum ($/month), and pay back the one-off cost of the roll-out (each restarted
  replica runs beside its replacement until that one is ready: the plan's scale-up delay at today's price
  per replica) within the scenario's payback period. A change of platform or instance type restarts the
  replicas that carry the traffic - as many as the new plan runs at its peak, at most as many as run today
  (removing surplus replicas is an ordinary scale-in, which disrupts no request); adding spot on the same type
  replaces the spot share of them; autoscaling bounds alone restart none. A current deployment that misses
  the SLO budget is always changed;
- **pooling**: the changed or new EC2 models packed onto shared pools (:mod:`advisor.optimize.fleet.pooling`),
  each model's share of the saving in proportion to its compute cost;
- **the Savings Plan commitment** for the always-on on-demand base (:func:`commitment_for`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from advisor.domain import Platform
from advisor.errors import AdvisorError
from advisor.optimize.fleet.churn import assess_change
from advisor.optimize.fleet.commitments import recommend_commitment
from advisor.optimize.fleet.pooling import PoolMember, pool_models
from advisor.optimize.rightsize.candidates import CandidateTypes
from advisor.optimize.rightsize.compare import CurrentCost
from advisor.optimize.rightsize.outcome import ModelOutcome, Served
from advisor.recommendation.deployment import Placement
from advisor.recommendation.model import Action, ChurnCheck, ChurnRule, CommitmentSummary, PackingSummary
from advisor.recommendation.plan import Plan
from advisor.scenario.model import Scenario
from advisor.traffic.profile import HOURS_PER_MONTH

_COMPUTE = ("compute_on_demand", "compute_spot", "spot_interruptions")
DAYS_PER_MONTH = HOURS_PER_MONTH / 24.0
ADOPTED = (Action.CHANGE, Action.NEW)


@dataclass(frozen=True)
class Decision:
    """A model's action and, for a change of what runs today, the churn check behind it."""

    action: Action
    churn: ChurnCheck | None = None


@dataclass(frozen=True)
class FleetDecisions:
    """Everything decided across models (module docstring)."""

    decisions: Mapping[str, Decision]
    packing: PackingSummary | None
    placements: Mapping[str, Placement]
    pooling_share_usd_per_month: Mapping[str, float]
    commitment: CommitmentSummary | None
    commitment_note: str | None


def decide_fleet(
    outcomes: Sequence[ModelOutcome],
    scenario: Scenario,
    types: CandidateTypes,
    *,
    packing_time_s: float,
    processes: int = 1,
) -> FleetDecisions:
    """The fleet's decisions for ``outcomes`` (one per scenario model, in order); ``processes``: how many
    packing groups may be packed side by side (:func:`advisor.optimize.fleet.pooling.pool_models`)."""
    decisions: dict[str, Decision] = {}
    for o in outcomes:
        current = o.inputs.current
        if not isinstance(o, Served):
            decisions[o.inputs.name] = Decision(Action.CANNOT_RECOMMEND)
        elif current is None:
            decisions[o.inputs.name] = Decision(Action.NEW)
        else:
            churn = churn_check(
                current, o.best.usd_per_month, o.best.plan, threshold=scenario.churn_threshold,
                min_savings_usd_per_month=scenario.churn_min_savings_usd_per_month,
                max_payback_days=scenario.churn_max_payback_days,
            )  # fmt: skip
            decisions[o.inputs.name] = Decision(Action.CHANGE if churn.passed else Action.KEEP_CURRENT, churn)
    adopted = [o for o in outcomes if isinstance(o, Served) and decisions[o.inputs.name].action in ADOPTED]
    packing, placements, share = _pool(adopted, types, packing_time_s, processes)
    commitment, note = commitment_for(adopted)
    return FleetDecisions(decisions, packing, placements, share, commitment, note)


def disrupted_replicas(current: CurrentCost, plan: Plan) -> int:
    """Replicas the change from ``current`` to ``plan`` restarts (see module docstring)."""
    if current.platform is not plan.platform or current.shape != plan.shape_label:
        return min(current.replicas, plan.autoscaling.max_replicas)
    if plan.purchase.uses_spot and not current.spot:
        return math.ceil(current.replicas * plan.purchase.spot_pct_above_base / 100.0)
    if current.spot and not plan.purchase.uses_spot:
        return current.replicas
    return 0


def churn_check(
    current: CurrentCost,
    recommended_usd: float,
    plan: Plan,
    *,
    threshold: float,
    min_savings_usd_per_month: float = 0.0,
    max_payback_days: float = math.inf,
) -> ChurnCheck:
    """Whether this model's change is worth its disruption, on its own terms (see module docstring).

    The score is :func:`advisor.optimize.fleet.churn.assess_change` on the model: its current cost, the
    recommended cost, and the replicas the change restarts as a share of the replicas it runs today.
    """
    current_usd = current.comparison.usd_per_month or 0.0
    saving = current_usd - recommended_usd
    moved = disrupted_replicas(current, plan)
    disruption = min(1.0, moved / current.replicas) if current.replicas > 0 else 0.0
    verdict = assess_change(current_usd, max(recommended_usd, 0.0), disruption, threshold)
    score = verdict.score if math.isfinite(verdict.score) else None
    per_replica_hour = current_usd / HOURS_PER_MONTH / current.replicas if current.replicas > 0 else 0.0
    rollout_usd = moved * plan.autoscaling.scale_up_delay_s / 3600.0 * per_replica_hour
    payback = rollout_usd / (saving / DAYS_PER_MONTH) if saving > 0 else math.inf
    if current.comparison.meets_slo_budget is False:
        passed, rule = True, ChurnRule.SLO_MISSED
    elif saving <= 0:
        passed, rule = False, ChurnRule.NO_SAVING
    elif saving < min_savings_usd_per_month:
        passed, rule = False, ChurnRule.UNDER_MINIMUM
    elif payback > max_payback_days:
        passed, rule = False, ChurnRule.SLOW_PAYBACK
    else:
        passed, rule = verdict.worth, ChurnRule.NO_RESTARTS if score is None else ChurnRule.BALANCED
    return ChurnCheck(
        savings_usd_per_month=saving,
        savings_fraction=verdict.savings_fraction,
        disrupted_replicas=moved,
        disruption_fraction=disruption,
        score=score,
        threshold=threshold,
        rollout_usd=rollout_usd,
        payback_days=payback if math.isfinite(payback) else None,
        passed=passed,
        rule=rule,
        min_savings_usd_per_month=min_savings_usd_per_month,
        max_payback_days=max_payback_days if math.isfinite(max_payback_days) else None,
        note="",  # the words are the renderers' (advisor.render.churn_note), filled by advisor.recommend
    )


def commitment_for(adopted: Sequence[Served]) -> tuple[CommitmentSummary | None, str | None]:
    """A Compute Savings Plan for the always-on on-demand base of the adopted EC2 and Fargate plans.

    The on-demand part of each plan's replayed spend ($/h per step: on-demand nodes × node price, rolled
    up to billing hours by the per-model stage: ``Served.on_demand_usd_hourly``) is summed over models
    (profiles aligned by position, i.e. read as the same period), then
    :func:`advisor.optimize.fleet.commitments.recommend_commitment` sizes the commitment (``base``: the
    lowest hourly spend, used in full every hour). SageMaker plans are left out: Compute Savings Plans do not
    cover SageMaker (SageMaker Savings Plans do; no rates for them are on file). Returns the summary, or None
    with a note saying why there is none.
    """
    if not adopted:  # nothing to commit for, and nothing to say (a scenario of language models only, say)
        return None, None
    series = [o.on_demand_usd_hourly for o in adopted if o.on_demand_usd_hourly is not None]
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


def _pool(
    adopted: Sequence[Served], types: CandidateTypes, time_s: float, processes: int
) -> tuple[PackingSummary | None, dict[str, Placement], dict[str, float]]:
    members: list[PoolMember] = []
    for o in adopted:
        best = o.best
        cand = best.candidate
        if cand.platform is not Platform.EC2 or cand.instance is None:
            continue
        cap = cand.capacity.rps_per_replica
        by = best.result.breakdown.by_component
        members.append(
            PoolMember(
                model=o.inputs.name,
                resources=o.inputs.spec.need,
                orchestrator=o.inputs.spec.orchestrator(types.cluster),
                peak_replicas=max(1, round(best.result.replicas_max)),
                plan_shape=cand.shape,
                plan_family=cand.instance.family,
                plan_peak_usd_per_hour=best.result.nodes_max * cand.usd_per_node_hour,
                compute_usd_per_month=sum(by.get(k, 0.0) for k in _COMPUTE),
                allowed_types=frozenset(t for t, c in o.allowed_types.items() if c >= cap * (1 - 1e-9)),
            )
        )
    summary, placements = pool_models(members, types, time_budget_s=time_s, processes=processes)
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
