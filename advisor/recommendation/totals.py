"""The rules that decide the recommendation's cost figures, each in one function, stored in the document.

- :func:`effective_usd`: what one model costs under the recommendation. A model that changes (or is new)
  costs its plan less its share of the shared-pool saving; a model whose change the churn guard holds back
  (``keep_current``), or that cannot be recommended, costs what runs today. The optimiser stores it as
  ``ModelRecommendation.effective_usd_per_month``; :func:`advisor.recommendation.migrate.load_document`
  fills it in documents stored before the field existed. Surfaces read the field, never this function.
- :func:`fleet_totals`: every fleet figure is a sum of per-model figures already in the document; a
  baseline has a fleet total only where every planned model has one; the fleet's savings by lever are
  the models' summed (:func:`advisor.recommendation.levers.fleet_levers`).
"""

from __future__ import annotations

from collections.abc import Sequence

from advisor.recommendation.levers import fleet_levers
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import Action, ModelRecommendation, PackingSummary, Totals


def savings_pct(reference_usd: float | None, recommended_usd: float) -> float | None:
    """(reference − recommended) ÷ reference × 100; None without a positive reference."""
    if reference_usd is None or reference_usd <= 0:
        return None
    return (reference_usd - recommended_usd) / reference_usd * 100.0


def effective_usd(m: ModelRecommendation) -> float | None:
    """What the model costs under the recommendation: its plan (less its pooling share) or what runs today."""
    if m.action in (Action.CHANGE, Action.NEW) and m.cost is not None:
        return m.cost.usd_per_month - m.pooling_savings_usd_per_month
    if m.current is not None:
        return m.current.usd_per_month
    return None


def with_effective_costs(models: list[ModelRecommendation]) -> list[ModelRecommendation]:
    """``models`` with ``effective_usd_per_month`` set by :func:`effective_usd`."""
    return [m.model_copy(update={"effective_usd_per_month": effective_usd(m)}) for m in models]


def fleet_totals(
    models: list[ModelRecommendation],
    packing: PackingSummary | None,
    llm: Sequence[LLMModelRecommendation] = (),
) -> Totals:
    """The fleet's totals from per-model figures (``models`` carry their stored effective costs; language
    models count in the recommended and current totals and the levers, not in the classic baselines)."""
    rec = sum(v for m in models if (v := m.effective_usd_per_month) is not None)
    rec += sum(m.effective_usd_per_month for m in llm)
    with_current = [m for m in models if m.current is not None and m.current.usd_per_month is not None]
    llm_current = [m for m in llm if m.current_usd_per_month is not None]
    cur: float | None = None
    rec_cur: float | None = None
    if with_current or llm_current:
        cur = sum(m.current.usd_per_month or 0.0 for m in with_current if m.current is not None)
        cur += sum(m.current_usd_per_month or 0.0 for m in llm_current)
        rec_cur = sum(m.effective_usd_per_month or 0.0 for m in with_current)
        rec_cur += sum(m.effective_usd_per_month for m in llm_current)
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
    held = [m for m in models if m.action is Action.KEEP_CURRENT and m.churn is not None]
    levers = fleet_levers(
        [*(m.savings_by_lever for m in with_current), *(m.savings_by_lever for m in llm_current)], cur
    )
    return Totals(
        recommended_usd_per_month=rec,
        held_back_savings_usd_per_month=sum(max(m.churn.savings_usd_per_month, 0.0) for m in held if m.churn),
        held_back_models=len(held),
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
        savings_by_lever=levers,
    )


def comparison_usd(m: ModelRecommendation, name: str) -> float | None:
    """$/month of one baseline of a model; None when it is unavailable."""
    return next((b.usd_per_month for b in m.baselines if b.name == name), None)
