"""A Recommendation as Markdown: what to run, what it costs, what it saves, the risk, and the evidence.

Used by ``advisor recommend --format markdown`` and by anything that posts a recommendation.
Plain text in, plain text out: every figure comes from the document itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from advisor.recommendation.levers import Lever, total_saving
from advisor.recommendation.model import Action, Comparison, ModelRecommendation, Recommendation
from advisor.recommendation.scaling import ScheduledMinimum
from advisor.render.headline import headline
from advisor.render.levers import LEVER_LABELS, METHOD, lever_amount, lever_table
from advisor.render.llm import llm_markdown
from advisor.render.numbers import pct, usd
from advisor.render.words import component_label, platform_choice

BASELINE_LABELS = {
    "current": "today",
    "static_peak": "static on-demand at peak",
    "sagemaker_target_tracking": "SageMaker (target tracking)",
    "fargate_target_tracking": "Fargate (target tracking)",
}


def baseline_label(name: str) -> str:
    """A comparison's name in words (``static_peak`` → "static on-demand at peak"); others as they are."""
    return BASELINE_LABELS.get(name, name.replace("_", " "))


def plan_cells(m: ModelRecommendation) -> list[str]:
    """Platform, instance types, replicas, target, purchase mix and capacity of a model's plan."""
    p = m.plan
    if p is None:
        return ["—"] * 6
    mix = "on-demand"
    if p.spot_pct_above_base > 0:
        mix = f"{p.on_demand_base_nodes} on-demand + {p.spot_pct_above_base:g}% spot"
    cap = f"{p.capacity.rps_per_replica:.3g} rps ({p.capacity.provenance.value})"
    return [
        p.platform.value,
        ", ".join(p.instance_types),
        f"{p.replicas_min}–{p.replicas_max} (×{p.replicas_per_node}/node)"
        + "".join(f"; {schedule_window(s)}" for s in p.plan.autoscaling.schedules),
        f"{p.target_utilisation:.2f}",
        mix,
        cap,
    ]


def schedule_window(s: ScheduledMinimum) -> str:
    """``min 6 00:30–04:00 UTC`` for a daily window, else the cron expressions."""

    def clock(cron: str) -> str | None:
        minute, hour, *rest = cron.split()
        if rest != ["*", "*", "*"] or not (minute.isdigit() and hour.isdigit()):
            return None
        return f"{int(hour):02d}:{int(minute):02d}"

    start, end = clock(s.start), clock(s.end)
    if start and end:
        return f"min {s.min_replicas} {start}–{end} {s.timezone}"
    return f"min {s.min_replicas} '{s.start}'–'{s.end}' {s.timezone}"


def outcome_cells(m: ModelRecommendation) -> list[str]:
    """The model's cost under this recommendation (the document's effective cost: its plan less its pooling
    share, or today's cost when the change is held back) and its saving vs today.

    A change held back by the churn guard keeps today's deployment, so it saves nothing; the plan shown
    beside it is the change that was considered.
    """
    saving = 0.0 if m.action is Action.KEEP_CURRENT else m.savings_vs_current_pct
    return [usd(m.effective_usd_per_month), pct(saving)]


def pooling_note(rec: Recommendation) -> str | None:
    """Where the shared-pool saving went: each model's recommended cost is less its share of it."""
    share = sum(m.pooling_savings_usd_per_month for m in rec.models if m.effective_usd_per_month is not None)
    if share <= 0:
        return None
    return (
        f"Recommended costs are after each model's share of the shared node pools' saving "
        f"({usd(share)}/month in all)."
    )


ACTION_WORDS = {
    Action.CHANGE: "change",
    Action.NEW: "new",
    Action.KEEP_CURRENT: "keep as today",
    Action.CANNOT_RECOMMEND: "cannot recommend",
}


def action_words(action: Action | str) -> str:
    """A model's action in words (``keep_current`` → "keep as today")."""
    try:
        return ACTION_WORDS[Action(action)]
    except ValueError:
        return str(action).replace("_", " ")


def action_label(m: ModelRecommendation) -> str:
    if m.action is Action.KEEP_CURRENT:
        return "keep as today (plan considered, held back)"
    return action_words(m.action)


def comparison_for(m: ModelRecommendation, name: str) -> Comparison | None:
    if name == "current":
        return m.current
    return next((b for b in m.baselines if b.name == name), None)


def recommendation_markdown(rec: Recommendation) -> str:
    """The whole recommendation as a Markdown document."""
    out = [
        f"# Recommendation for `{rec.scenario}` ({rec.region})",
        "",
        f"{headline(rec.models, rec.totals, rec.llm_models)}.",
        "",
        f"Recommendation `{rec.id}`, {rec.created_at:%Y-%m-%d %H:%M} UTC; prices as of "
        f"{rec.provenance.prices_as_of_oldest}–{rec.provenance.prices_as_of_newest}; SLO budget "
        f"{rec.provenance.slo_budget_pct_minutes:g}% of minutes.",
        "",
        "## What to run",
        "",
    ]
    rows = []
    for m in rec.models:
        cost = m.cost.usd_per_month if m.cost is not None else None
        per_m = m.cost.usd_per_million_requests if m.cost is not None else None
        risk = m.slo_risk
        p99 = "—" if risk is None or risk.p99_ms_estimate is None else f"{risk.p99_ms_estimate:.3g} ms"
        over = "—" if risk is None else f"{risk.minutes_over_slo_per_month:.3g}"
        rows.append([m.model, action_label(m), *plan_cells(m), usd(cost), usd(per_m), p99, over])
    out += _table(
        ["model", "action", "platform", "instance types", "replicas", "target", "purchase",
         "capacity/replica", "$/month", "$/1M req", "p99", "min over SLO/month"],
        rows,
    )  # fmt: skip
    out += llm_markdown(rec.llm_models)
    out += ["", "## Savings", ""]
    names = ["current", "static_peak", "sagemaker_target_tracking", "fargate_target_tracking"]
    rows = []
    for m in rec.models:
        cells = [m.model]
        for name in names:
            c = comparison_for(m, name)
            cells.append(usd(c.usd_per_month) if c is not None and c.usd_per_month is not None else "—")
        cells += outcome_cells(m)
        rows.append(cells)
    t = rec.totals
    total_row = ["**total**", usd(t.current_usd_per_month)]
    total_row += [usd(t.baselines_usd_per_month.get(n)) for n in names[1:]]
    total_row += [usd(t.recommended_usd_per_month), pct(t.savings_vs_current_pct)]
    rows.append(total_row)
    out += _table(["model", *[BASELINE_LABELS[n] for n in names], "recommended", "saving vs today"], rows)
    out += [""]
    if (pooled := pooling_note(rec)) is not None:
        out += [pooled, ""]
    out += _lever_section(rec)
    if t.efficiency is not None:
        out.append(
            f"Efficiency against the fluid lower bound ({usd(t.fluid_bound_usd_per_month)}/month): "
            f"{t.efficiency:.0%}"
            + (
                f"; against the bound that keeps the HA floor ({usd(t.floor_bound_usd_per_month)}/month): "
                f"{t.floor_efficiency:.0%}."
                if t.floor_efficiency is not None
                else "."
            )
        )
    if rec.packing is not None:
        out += ["", "## Node pools (EC2)", ""]
        rows = [
            [", ".join(g.models), g.strategy or "—", "yes" if g.adopted else "no",
             f"{g.packed_usd_per_hour:.4f}", f"{g.lower_bound_usd_per_hour:.4f}", f"{g.gap:.1%}",
             usd(g.savings_usd_per_month)]
            for g in rec.packing.groups
        ]  # fmt: skip
        out += _table(
            ["models", "strategy", "adopted", "packed $/h", "lower bound $/h", "gap", "saving/month"], rows
        )
    if rec.commitment is not None:
        sp = rec.commitment
        out += [
            "",
            "## Commitment (shown apart)",
            "",
            f"{sp.kind}: commit {usd(sp.usd_per_hour_commitment)}/hour for {sp.term_years:g} year(s) "
            f"({sp.payment_option}); saves {usd(sp.savings_usd_per_month)}/month ({sp.savings_pct:.1f}%). "
            f"Rates: {sp.rate_source}.",
        ]
    out += _platform_sections(rec)
    notes = _notes(rec.models)
    if notes:
        out += ["", "## Not changed", "", *notes]
    if rec.warnings:
        out += ["", "## Warnings", "", *[f"- {w}" for w in rec.warnings]]
    runs = rec.provenance.bench_run_ids
    counts = ", ".join(f"{v} {k}" for k, v in rec.provenance.capacities_by_provenance.items())
    out += [
        "",
        "## Evidence",
        "",
        f"- capacities: {counts or '—'}",
        f"- bench runs: {', '.join(runs) if runs else 'none'}",
        f"- prices: {rec.provenance.price_snapshot}",
        f"- replay seed {rec.provenance.seed}; advisor {rec.provenance.advisor_version}",
    ]
    return "\n".join(out) + "\n"


def _lever_section(rec: Recommendation) -> list[str]:
    """Where the saving against today comes from: the fleet's levers, then each model's."""
    levers = rec.totals.savings_by_lever
    if not levers:
        return []
    total = total_saving(levers)
    rows = []
    for p in levers:
        share = f"{p.usd_per_month / total:.1%}" if p.in_total and abs(total) > 0.005 else "—"
        rows.append([LEVER_LABELS[p.lever], lever_amount(p), share])
        if p.lever is Lever.INSTANCE_SHARING:
            rows.append(["**saving against today**", f"**{usd(total)}**", "100.0%"])
    out = ["## Savings by lever", "", f"Against today ({METHOD}):", ""]
    out += _table(["lever", "$/month", "share of the saving"], rows)
    header, per_model = lever_table(rec)
    out += ["", *_table(header, per_model), ""]
    return out


def _platform_sections(rec: Recommendation) -> list[str]:
    """Why each platform, where to apply each plan, and every cost component with its price sources."""
    served = [m for m in rec.models if m.plan is not None and m.cost is not None]
    if not served:
        return []
    out = ["", "## Why each platform", ""]
    out += [f"- **{m.model}**: {why}" for m in served if (why := platform_choice(m))]
    out += ["", "## Where to apply", ""]
    rows = [_apply_row(m) for m in served]
    out += _table(["model", "target", "change", "scaling metric", "pools / variant / strategy"], rows)
    out += ["", "## Cost breakdown and price sources", ""]
    for m in served:
        assert m.cost is not None
        parts = ", ".join(
            f"{component_label(k).lower()} {usd(v)}" for k, v in m.cost.by_component.items() if v > 0
        )
        flag = " Some prices are estimated." if m.cost.prices_estimated else ""
        out.append(f"- **{m.model}** ({usd(m.cost.usd_per_month)}/month): {parts}.{flag}")
        out += [f"  - {source}" for source in m.cost.price_sources]
    return out


def _apply_row(m: ModelRecommendation) -> list[str]:
    assert m.plan is not None
    d = m.plan.deployment
    if d is None:
        return [m.model, "—", "—", "—", "—"]
    target = d.target.label if d.target is not None else "not named (scenario `deploy`)"
    change = f"migrate to {m.plan.platform.value}" if d.migration else "in place"
    value = d.scaling_metric.target_value
    shown = f"{value:,.0f}" if value >= 1000 else f"{value:.4g}"
    metric = f"{d.scaling_metric.name} {shown} ({d.scaling_metric.unit})"
    if d.sagemaker_variant is not None:
        v = d.sagemaker_variant
        where = f"{v.instance_type} x {v.min_instance_count}–{v.max_instance_count}"
    elif d.capacity_provider_strategy:
        where = ", ".join(
            f"{c.capacity_provider} base {c.base} weight {c.weight}" for c in d.capacity_provider_strategy
        )
    else:
        where = ", ".join(d.pools) or "—"
    return [m.model, target, change, metric, where]


def _notes(models: Sequence[ModelRecommendation]) -> list[str]:
    out = []
    for m in models:
        if m.action is Action.CANNOT_RECOMMEND:
            out.append(f"- **{m.model}**: cannot recommend — {m.reason}. Fix: {m.fix}.")
        elif m.action is Action.KEEP_CURRENT:
            out.append(f"- **{m.model}**: keep the current deployment — {m.reason}.")
    return out


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *[line(r) for r in rows]]
