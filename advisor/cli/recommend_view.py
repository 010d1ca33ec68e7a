"""Rich rendering of a Recommendation in the terminal: what to run, what it costs and saves, the risk."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from advisor.optimize.markdown import (
    BASELINE_LABELS,
    action_label,
    comparison_for,
    outcome_cells,
    pct,
    plan_cells,
    usd,
)
from advisor.optimize.recommendation import Action, Recommendation

_ACTION_STYLE = {
    Action.CHANGE: "green",
    Action.NEW: "green",
    Action.KEEP_CURRENT: "yellow",
    Action.CANNOT_RECOMMEND: "red",
}
_COMPARED = ("current", "static_peak", "sagemaker_target_tracking", "fargate_target_tracking")


def render(rec: Recommendation, console: Console, *, stored: bool) -> None:
    """Print the recommendation as a header, three tables and the notes that need a human."""
    p = rec.provenance
    console.print(
        f"[bold]{rec.scenario}[/bold] ({rec.region}): {rec.summary}", highlight=False, soft_wrap=True
    )
    console.print(
        f"prices as of {p.prices_as_of_oldest} to {p.prices_as_of_newest}; SLO budget "
        f"{p.slo_budget_pct_minutes:g}% of minutes over the SLO; replay seed {p.seed}",
        style="dim",
        highlight=False,
    )
    console.print(_plans(rec))
    console.print(_savings(rec))
    if rec.packing is not None and rec.packing.groups:
        console.print(_pools(rec))
    t = rec.totals
    if t.efficiency is not None:
        console.print(
            f"efficiency: {t.efficiency:.0%} against the fluid lower bound of "
            f"{usd(t.fluid_bound_usd_per_month)}/month (capacity following demand exactly at the best price "
            "per unit of capacity)"
            + (
                f"; {t.floor_efficiency:.0%} against the bound that keeps the HA floor "
                f"({usd(t.floor_bound_usd_per_month)}/month)"
                if t.floor_efficiency is not None
                else ""
            ),
            highlight=False,
        )
    if rec.commitment is not None:
        c = rec.commitment
        console.print(
            f"commitment (not in the totals): {c.kind} of {usd(c.usd_per_hour_commitment)}/hour for "
            f"{c.term_years:g} year(s) saves a further {usd(c.savings_usd_per_month)}/month",
            highlight=False,
        )
    for m in rec.models:
        if m.action is Action.CANNOT_RECOMMEND:
            console.print(
                f"[red]cannot recommend[/red] {m.model}: {m.reason}; fix: {m.fix}",
                highlight=False,
                soft_wrap=True,
            )
        elif m.action is Action.KEEP_CURRENT:
            console.print(
                f"[yellow]keep current[/yellow] {m.model}: {m.reason}", highlight=False, soft_wrap=True
            )
    for w in rec.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False, soft_wrap=True)
    if stored:
        console.print(f"stored as {rec.id} (advisor.db)", style="dim", highlight=False)


def _plans(rec: Recommendation) -> Table:
    table = Table(title="What to run", title_justify="left")
    for col in ("model", "action", "platform", "instance types", "replicas", "target", "purchase",
                "capacity/replica", "$/month", "$/1M req", "p99 est.", "min over SLO/month"):  # fmt: skip
        table.add_column(col, justify="right" if col.startswith(("$", "p99", "min", "target")) else "left")
    for m in rec.models:
        risk = m.slo_risk
        p99 = "—" if risk is None or risk.p99_ms_estimate is None else f"{risk.p99_ms_estimate:.3g} ms"
        over = "—" if risk is None else f"{risk.minutes_over_slo_per_month:.3g}"
        table.add_row(
            m.model,
            f"[{_ACTION_STYLE[m.action]}]{action_label(m)}[/]",
            *plan_cells(m),
            usd(m.cost.usd_per_month if m.cost else None),
            usd(m.cost.usd_per_million_requests if m.cost else None),
            p99,
            over,
        )
    return table


def _savings(rec: Recommendation) -> Table:
    table = Table(title="What it saves ($/month)", title_justify="left")
    table.add_column("model")
    for name in _COMPARED:
        table.add_column(BASELINE_LABELS[name], justify="right")
    table.add_column("recommended", justify="right")
    table.add_column("vs today", justify="right")
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
    table = Table(title="EC2 node pools (packed at peak)", title_justify="left")
    for col in ("models", "strategy", "adopted", "packed $/h", "lower bound $/h", "gap", "saving/month"):
        table.add_column(col, justify="left" if col in ("models", "strategy", "adopted") else "right")
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
