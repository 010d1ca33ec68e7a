"""What the surfaces show from the store: the latest recommendation per scenario, a scenario's history,
the per-model table, applied changes and bench runs, as plain rows and pandas frames.

The dashboard (and the e-mailed reports) call these and hold no logic of their own: every figure they
show is read from a stored document or computed here, once, for all of them. Reading never creates
anything: without a store every list is empty.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from advisor.bench.measurements import CapacityResult
from advisor.bench.results import list_runs, load_result
from advisor.recommendation.migrate import read_stored
from advisor.recommendation.model import ModelRecommendation, Recommendation
from advisor.render.markdown import schedule_window
from advisor.settings import Settings, load_settings
from advisor.store import Store

MODEL_COLUMNS = (
    "model",
    "team",
    "action",
    "platform",
    "shape",
    "instance_types",
    "replicas",
    "schedules",
    "purchase",
    "capacity_rps_per_replica",
    "capacity_provenance",
    "today_usd_per_month",
    "recommended_usd_per_month",
    "saving_usd_per_month",
    "saving_pct",
    "minutes_over_slo_per_month",
    "within_slo_budget",
    "p99_ms",
)
HISTORY_COLUMNS = (
    "id",
    "created_at",
    "status",
    "models",
    "current_usd_per_month",
    "recommended_usd_per_month",
    "savings_vs_current_pct",
    "with_commitment_usd_per_month",
    "held_back_savings_usd_per_month",
)


def _store(settings: Settings | None) -> Store | None:
    settings = settings or load_settings()
    return Store.for_reading(settings.db_path) if settings.db_path.is_file() else None


def latest_recommendations(*, settings: Settings | None = None) -> list[Recommendation]:
    """The newest stored recommendation of every scenario, newest first (empty without a store)."""
    store = _store(settings)
    if store is None:
        return []
    with store:
        rows = store.query(
            "SELECT id, body_json FROM recommendations r WHERE r.id = ("
            " SELECT q.id FROM recommendations q WHERE q.scenario = r.scenario"
            " ORDER BY q.created_at DESC, q.id DESC LIMIT 1)"
            " ORDER BY r.created_at DESC, r.id DESC"
        )
    return [read_stored(r["body_json"], r["id"], str(store.path)) for r in rows]


def recommendation_history(
    scenario: str, *, limit: int = 500, settings: Settings | None = None
) -> pd.DataFrame:
    """The stored recommendations of ``scenario``, oldest first, with their totals (``HISTORY_COLUMNS``).

    Figures come from the documents' ``totals`` through SQLite's JSON functions, so a long history does not
    parse every document.
    """
    store = _store(settings)
    if store is None:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    with store:
        rows = store.query(
            "SELECT id, created_at, json_extract(body_json, '$.status') AS status,"
            " json_array_length(body_json, '$.models') AS models,"
            " json_extract(body_json, '$.totals.current_usd_per_month') AS current_usd_per_month,"
            " json_extract(body_json, '$.totals.recommended_usd_per_month') AS recommended_usd_per_month,"
            " json_extract(body_json, '$.totals.savings_vs_current_pct') AS savings_vs_current_pct,"
            " json_extract(body_json, '$.totals.with_commitment_usd_per_month')"
            " AS with_commitment_usd_per_month,"
            " json_extract(body_json, '$.totals.held_back_savings_usd_per_month')"
            " AS held_back_savings_usd_per_month"
            " FROM recommendations WHERE scenario = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (scenario, limit),
        )
    frame = pd.DataFrame(rows[::-1], columns=list(HISTORY_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    return frame


def applied_changes(
    *, recommendation_id: str | None = None, limit: int = 200, settings: Settings | None = None
) -> pd.DataFrame:
    """The audit trail of changes applied to clusters (``advisor apply``), newest first; empty when none."""
    columns = [
        "id", "created_at", "actor", "recommendation_id", "model", "target", "action", "dry_run", "status",
        "verification", "rollback_of", "detail",
    ]  # fmt: skip
    store = _store(settings)
    if store is None:
        return pd.DataFrame(columns=columns)
    sql = f"SELECT {', '.join(columns)} FROM applied_changes"
    params: tuple[Any, ...] = ()
    if recommendation_id is not None:
        sql, params = sql + " WHERE recommendation_id = ?", (recommendation_id,)
    with store:
        rows = store.query(sql + " ORDER BY created_at DESC, id DESC LIMIT ?", (*params, limit))
    frame = pd.DataFrame(rows, columns=columns)
    frame["dry_run"] = frame["dry_run"].astype(bool)
    return frame


def _replicas(m: ModelRecommendation) -> str:
    if m.plan is None:
        return ""
    text = f"{m.plan.replicas_min}–{m.plan.replicas_max}"
    return text if m.plan.replicas_per_node == 1 else f"{text} (×{m.plan.replicas_per_node}/node)"


def _purchase(m: ModelRecommendation) -> str:
    p = m.plan
    if p is None:
        return ""
    if p.spot_pct_above_base <= 0:
        return "on-demand"
    return f"{p.on_demand_base_nodes} on-demand + {p.spot_pct_above_base:g}% spot"


def _schedules(m: ModelRecommendation) -> str:
    if m.plan is None:
        return ""
    return "; ".join(schedule_window(s) for s in m.plan.plan.autoscaling.schedules)


def model_row(m: ModelRecommendation) -> dict[str, Any]:
    """One model's line of the overview table (``MODEL_COLUMNS``); None where the figure does not exist."""
    today = m.current.usd_per_month if m.current is not None else None
    cost = m.effective_usd_per_month  # what it costs under the recommendation, as the totals count it
    saving = today - cost if today is not None and cost is not None else None
    plan, risk = m.plan, m.slo_risk
    return {
        "model": m.model,
        "team": m.team,
        "action": m.action.value,
        "platform": plan.platform.value if plan else None,
        "shape": plan.shape if plan else None,
        "instance_types": ", ".join(plan.instance_types) if plan else None,
        "replicas": _replicas(m),
        "schedules": _schedules(m),
        "purchase": _purchase(m),
        "capacity_rps_per_replica": plan.capacity.rps_per_replica if plan else None,
        "capacity_provenance": plan.capacity.provenance.value if plan else None,
        "today_usd_per_month": today,
        "recommended_usd_per_month": cost,
        "saving_usd_per_month": saving,
        "saving_pct": m.savings_vs_current_pct,
        "minutes_over_slo_per_month": risk.minutes_over_slo_per_month if risk else None,
        "within_slo_budget": risk.within_budget if risk else None,
        "p99_ms": risk.p99_ms_estimate if risk else None,
    }


def model_table(rec: Recommendation) -> pd.DataFrame:
    """Every model of ``rec``, one row each (``MODEL_COLUMNS``), in the document's order."""
    return pd.DataFrame([model_row(m) for m in rec.models], columns=list(MODEL_COLUMNS))


def comparison_table(m: ModelRecommendation) -> pd.DataFrame:
    """The recommended plan, today's deployment, the baselines and the alternatives of one model, priced by
    the same replay: name, kind, platform, shape, $/month, minutes over the SLO (%), meets the budget."""
    rows: list[dict[str, Any]] = []
    if m.cost is not None and m.plan is not None:
        risk = m.slo_risk
        rows.append(
            {
                "name": "recommended",
                "kind": "recommended",
                "platform": m.plan.platform.value,
                "shape": m.plan.shape,
                "usd_per_month": m.cost.usd_per_month,
                "minutes_over_slo_pct": risk.minutes_over_slo_pct if risk else None,
                "meets_slo_budget": risk.within_budget if risk else None,
            }
        )
    for kind, comp in [("today", m.current), *(("baseline", b) for b in m.baselines)]:
        if comp is None or comp.usd_per_month is None:
            continue
        rows.append(
            {
                "name": comp.name,
                "kind": kind,
                "platform": comp.platform,
                "shape": comp.shape,
                "usd_per_month": comp.usd_per_month,
                "minutes_over_slo_pct": comp.minutes_over_slo_pct,
                "meets_slo_budget": comp.meets_slo_budget,
            }
        )
    budget = m.slo_risk.budget_pct if m.slo_risk is not None else None
    for alt in m.alternatives:
        rows.append(
            {
                "name": f"{alt.platform.value} {alt.shape}",
                "kind": "alternative",
                "platform": alt.platform.value,
                "shape": alt.shape,
                "usd_per_month": alt.usd_per_month,
                "minutes_over_slo_pct": alt.minutes_over_slo_pct,
                "meets_slo_budget": None if budget is None else alt.minutes_over_slo_pct <= budget,
            }
        )
    columns = [
        "name",
        "kind",
        "platform",
        "shape",
        "usd_per_month",
        "minutes_over_slo_pct",
        "meets_slo_budget",
    ]
    return pd.DataFrame(rows, columns=columns)


def bench_runs(
    *, model: str | None = None, limit: int = 200, settings: Settings | None = None
) -> pd.DataFrame:
    """Stored bench runs, newest first, with the capacity each found (empty without a store)."""
    columns = [
        "id",
        "model",
        "shape",
        "target",
        "status",
        "slo_p99_ms",
        "started_at",
        "finished_at",
        "error",
        "capacity_rps",
        "p99_ms_at_capacity",
        "lower_bound",
        "points",
    ]
    store = _store(settings)
    if store is None:
        return pd.DataFrame(columns=columns)
    with store:
        rows = list_runs(store, model=model, limit=limit)
    return pd.DataFrame(rows, columns=columns)


def bench_results(run_ids: list[str], *, settings: Settings | None = None) -> list[CapacityResult]:
    """Runs with their points, in the order asked; NotFoundError for an unknown id."""
    store = _store(settings)
    if store is None or not run_ids:
        return []
    with store:
        return [load_result(store, run_id) for run_id in run_ids]


def bench_points(results: list[CapacityResult]) -> pd.DataFrame:
    """One row per measured point of ``results``: the run's model, shape, SLO and capacity beside the
    point's offered and achieved rate, latency percentiles, errors and both processes' CPU."""
    rows = [
        {
            "run_id": r.run_id,
            "model": r.model,
            "shape": r.shape,
            "status": r.status.value,
            "slo_p99_ms": r.slo_p99_ms,
            "capacity_rps": r.capacity_rps,
            "seq": p.seq,
            "mode": p.mode.value,
            "target_rps": p.target_rps,
            "achieved_rps": p.achieved_rps,
            "p50_ms": p.p50_ms,
            "p90_ms": p.p90_ms,
            "p95_ms": p.p95_ms,
            "p99_ms": p.p99_ms,
            "error_rate": p.error_rate,
            "server_cpu_pct": p.server_cpu_pct,
            "generator_cpu_pct": p.generator_cpu_pct,
            "passed": p.passed,
            "valid": p.valid,
        }
        for r in results
        for p in r.points
    ]
    return pd.DataFrame(rows)
