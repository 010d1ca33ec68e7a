"""A Recommendation as rich tables for a terminal: what to run, what it costs and saves, the risk.

:func:`recommendation_table` renders to text for a given width. At ``WIDE_COLUMNS`` or more the plans are
one table; below, they split into "What to run" and "Cost and risk" so that every cell, model names above
all, keeps its full text (model names never wrap).
"""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from rich.table import Table

from advisor.recommendation.model import Action, ModelRecommendation, Recommendation
from advisor.render.headline import headline
from advisor.render.levers import lever_lines
from advisor.render.llm import llm_parts
from advisor.render.markdown import (
    BASELINE_LABELS,
    action_label,
    comparison_for,
    outcome_cells,
    plan_cells,
    pooling_note,
)
from advisor.render.numbers import pct, usd
from advisor.render.words import platform_choice

WIDE_COLUMNS = 200
_ACTION_STYLE = {
    Action.CHANGE: "green",
    Action.NEW: "green",
    Action.KEEP_CURRENT: "yellow",
    Action.CANNOT_RECOMMEND: "red",
}
_COMPARED = ("current", "static_peak", "sagemaker_target_tracking", "fargate_target_tracking")


def recommendation_table(rec: Recommendation, width: int = 120, color: bool = False) -> str:
    """The recommendation as a header, its tables and the notes that need a human, as text."""
    buf = io.StringIO()
    console = Console(
        file=buf, width=width, force_terminal=color, color_system="standard" if color else None,
        highlight=False, soft_wrap=False,
    )  # fmt: skip
    for part in _parts(rec, wide=width >= WIDE_COLUMNS):
        console.print(part)
    return buf.getvalue()


def _parts(rec: Recommendation, *, wide: bool) -> list[RenderableType]:
    p = rec.provenance
    out: list[RenderableType] = [
        f"[bold]{rec.scenario}[/bold] ({rec.region}): {headline(rec.models, rec.totals, rec.llm_models)}",
        f"[dim]prices as of {p.prices_as_of_oldest} to {p.prices_as_of_newest}; SLO budget "
        f"{p.slo_budget_pct_minutes:g}% of minutes over the SLO; replay seed {p.seed}[/dim]",
    ]
    if rec.models:
        out += [_plans(rec)] if wide else [_what(rec), _cost_and_risk(rec)]
    out += llm_parts(rec.llm_models) if rec.llm_models else []
    out.append(_savings(rec))
    if lines := lever_lines(rec.totals.savings_by_lever):
        how = "[dim](each lever a replayed step, in this order)[/dim]"
        out.append(f"[bold]Where the saving against today comes from[/bold] {how}")
        out += [f"  {line}" for line in lines]
    if (pooled := pooling_note(rec)) is not None:
        out.append(pooled)
    if rec.packing is not None and rec.packing.groups:
        out.append(_pools(rec))
    t = rec.totals
    if t.efficiency is not None:
        out.append(
            f"efficiency: {t.efficiency:.0%} against the fluid lower bound of "
            f"{usd(t.fluid_bound_usd_per_month)}/month (capacity following demand exactly at the best price "
            "per unit of capacity)"
            + (
                f"; {t.floor_efficiency:.0%} against the bound that keeps the HA floor "
                f"({usd(t.floor_bound_usd_per_month)}/month)"
                if t.floor_efficiency is not None
                else ""
            )
        )
    if rec.commitment is not None:
        c = rec.commitment
        out.append(
            f"commitment (not in the totals): {c.kind} of {usd(c.usd_per_hour_commitment)}/hour for "
            f"{c.term_years:g} year(s) saves a further {usd(c.savings_usd_per_month)}/month"
        )
    for m in rec.models:
        if m.action is Action.CANNOT_RECOMMEND:
            out.append(f"[red]cannot recommend[/red] {m.model}: {m.reason}; fix: {m.fix}")
        elif m.action is Action.KEEP_CURRENT:
            out.append(f"[yellow]keep current[/yellow] {m.model}: {m.reason}")
    out += [f"[dim]why {m.model}:[/dim] {why}" for m in rec.models if (why := platform_choice(m))]
    out += [f"[yellow]warning:[/yellow] {w}" for w in rec.warnings]
    return out


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        right = col.startswith(("$", "p99", "min", "target")) or col in ("recommended", "vs today")
        table.add_column(col, justify="right" if right else "left", no_wrap=col == "model", overflow="fold")
    return table


def _risk_cells(m: ModelRecommendation) -> list[str]:
    risk = m.slo_risk
    p99 = "—" if risk is None or risk.p99_ms_estimate is None else f"{risk.p99_ms_estimate:.3g} ms"
    over = "—" if risk is None else f"{risk.minutes_over_slo_per_month:.3g}"
    return [
        usd(m.cost.usd_per_month if m.cost else None),
        usd(m.cost.usd_per_million_requests if m.cost else None),
        p99,
        over,
    ]


def _action(m: ModelRecommendation) -> str:
    return f"[{_ACTION_STYLE[m.action]}]{action_label(m)}[/]"


def _what(rec: Recommendation) -> Table:
    table = _table("What to run", ("model", "action", "platform", "instance types", "replicas", "purchase"))
    for m in rec.models:
        platform, types, replicas, _target, purchase, _cap = plan_cells(m)
        table.add_row(m.model, _action(m), platform, types, replicas, purchase)
    return table


def _cost_and_risk(rec: Recommendation) -> Table:
    table = _table(
        "Cost and risk",
        ("model", "target", "capacity/replica", "$/month", "$/1M req", "p99 est.", "min over SLO/month"),
    )
    for m in rec.models:
        cells = plan_cells(m)
        table.add_row(m.model, cells[3], cells[5], *_risk_cells(m))
    return table


def _plans(rec: Recommendation) -> Table:
    table = _table(
        "What to run",
        ("model", "action", "platform", "instance types", "replicas", "target", "purchase",
         "capacity/replica", "$/month", "$/1M req", "p99 est.", "min over SLO/month"),
    )  # fmt: skip
    for m in rec.models:
        table.add_row(m.model, _action(m), *plan_cells(m), *_risk_cells(m))
    return table


def _savings(rec: Recommendation) -> Table:
    table = _table(
        "What it saves ($/month)",
        ("model", *(BASELINE_LABELS[n] for n in _COMPARED), "recommended", "vs today"),
    )
    for col in table.columns[1:]:
        col.justify = "right"
    for m in rec.models:
        cells = []
        for name in _COMPARED:
            c = comparison_for(m, name)
            cells.append(usd(c.usd_per_month) if c is not None and c.usd_per_month is not None else "—")
        table.add_row(m.model, *cells, *outcome_cells(m))
    t = rec.totals
    table.add_section()
    table.add_row(
        "[bold]total[/bold]",
        usd(t.current_usd_per_month),
        *[usd(t.baselines_usd_per_month.get(n)) for n in _COMPARED[1:]],
        f"[bold]{usd(t.recommended_usd_per_month)}[/bold]",
        f"[bold]{pct(t.savings_vs_current_pct)}[/bold]",
    )
    return table


def _pools(rec: Recommendation) -> Table:
    assert rec.packing is not None
    table = _table(
        "EC2 node pools (packed at peak)",
        ("models", "strategy", "adopted", "packed $/h", "lower bound $/h", "gap", "saving/month"),
    )
    for col in table.columns[3:]:
        col.justify = "right"
    for g in rec.packing.groups:
        table.add_row(
            ", ".join(g.models),
            g.strategy or "—",
            "yes" if g.adopted else "no",
            f"{g.packed_usd_per_hour:.4f}",
            f"{g.lower_bound_usd_per_hour:.4f}",
            f"{g.gap:.1%}",
            usd(g.savings_usd_per_month),
        )
    return table
