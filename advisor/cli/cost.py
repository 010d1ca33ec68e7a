"""``advisor cost``: price deployment plans over a traffic profile (autoscaling, spot, SLO, baselines)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from advisor.cli.output import console, err_console, print_json, warn
from advisor.cli.profile import FILL_HELP
from advisor.cost.baselines import Baseline, evaluate_baselines
from advisor.cost.plan_checks import check_plan
from advisor.cost.prices import resolve_prices
from advisor.cost.result import CostResult
from advisor.cost.simulate import simulate_many
from advisor.errors import InputError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import Plan, load_plan
from advisor.settings import Settings
from advisor.traffic import ops
from advisor.traffic.csvfile import FillPolicy
from advisor.traffic.library import resolve_profile
from advisor.traffic.profile import TrafficProfile

app = typer.Typer(help="Price deployment plans over traffic: $/month, SLO risk, efficiency, baselines.")

PROGRESS_MIN_STEP_PLANS = 2_000_000  # show a progress bar above this many plan-steps


@app.command("simulate")
def simulate_cmd(
    ctx: typer.Context,
    plan_files: list[Path] = typer.Argument(..., help="Plan YAML file(s) (see examples/plans/)."),
    profile_ref: str = typer.Option(
        ..., "--profile", help="Profile name (see `advisor profile show`) or file."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the spot-interruption draws."),
    peak_rps: float | None = typer.Option(None, "--peak-rps", help="Rescale the profile to this peak rate."),
    monthly_requests: float | None = typer.Option(None, "--monthly-requests", help="Rescale to this volume."),
    repeat_to: str | None = typer.Option(None, "--repeat-to", help="Repeat the profile to a month or year."),
    fill: FillPolicy = typer.Option(FillPolicy.NONE, "--fill", help=FILL_HELP),
    baselines: bool = typer.Option(
        True, "--baselines/--no-baselines", help="Also price the three baselines."
    ),
    series: bool = typer.Option(True, "--series/--no-series", help="With --json: include the time series."),
    series_step_s: int | None = typer.Option(
        None, "--series-step", min=1, help="Aggregate the JSON series to this step."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Totals, breakdown, SLO figures and time series as JSON."
    ),
) -> None:
    """Price each plan over the profile: cost, breakdown, utilisation, SLO figures, bound and baselines."""
    settings: Settings = ctx.obj
    plans = [load_plan(p) for p in plan_files]
    profile = resolve_profile(profile_ref, settings, fill=fill)
    profile = ops.transform(profile, peak_rps=peak_rps, monthly_requests=monthly_requests, repeat=repeat_to)
    if series_step_s is not None and (series_step_s < profile.step_s or series_step_s % profile.step_s):
        raise InputError(
            f"--series-step must be a whole multiple of the profile's {profile.step_s} s step",
            where="--series-step",
        )
    catalog = Catalog.load(settings)
    for path, plan in zip(plan_files, plans, strict=True):
        check_plan(plan, catalog, path)
    prices = [resolve_prices(plan, catalog) for plan in plans]
    results = _run(plans, profile, prices, seed)
    extra = (
        {plan.name: evaluate_baselines(plan, profile, catalog, seed=seed) for plan in plans}
        if baselines
        else {}
    )
    for result in results:
        if result.prices_estimated:
            warn(f"{result.plan}: some prices are estimates (see price_sources in --json)")
    if as_json:
        print_json(_payload(profile, results, extra, series, series_step_s))
        return
    _print(profile, results, extra)


def _run(plans: list[Plan], profile: TrafficProfile, prices: list[Any], seed: int) -> list[CostResult]:
    if len(plans) * profile.steps < PROGRESS_MIN_STEP_PLANS:
        return simulate_many(plans, profile, prices, seed=seed)
    columns = (
        TextColumn("replaying"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} plans"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("replay", total=len(plans))
        return simulate_many(
            plans,
            profile,
            prices,
            seed=seed,
            progress=lambda done, _total: progress.update(task, completed=done),
        )


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _payload(
    profile: TrafficProfile,
    results: list[CostResult],
    extra: dict[str, list[Baseline]],
    series: bool,
    every_s: int | None,
) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for result in results:
        item: dict[str, Any] = result.model_dump(mode="json")
        if series:
            item["timeseries"] = result.series_payload(every_s)
        item["baselines"] = [
            {
                "name": b.name,
                "description": b.description,
                "unavailable": b.unavailable,
                "result": b.result.model_dump(mode="json") if b.result else None,
                "saving_usd_per_month": (b.result.usd_per_month - result.usd_per_month) if b.result else None,
            }
            for b in extra.get(result.plan, [])
        ]
        out.append(item)
    return _clean({"profile": profile.summary().model_dump(), "results": out})  # type: ignore[no-any-return]


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _print(profile: TrafficProfile, results: list[CostResult], extra: dict[str, list[Baseline]]) -> None:
    s = profile.summary()
    console.print(
        f"Profile [bold]{s.name}[/]: {s.duration_hours:,.0f} h at {s.step_s} s steps, "
        f"mean {s.mean_rps:,.2f} rps, "
        f"peak {s.peak_rps:,.2f} rps, {s.requests_per_month:,.0f} requests per 730 h month"
    )
    for r in results:
        table = Table(title=f"{r.plan} — {r.platform} {r.shape} in {r.region}", show_header=False)
        table.add_column("figure")
        table.add_column("value", justify="right")
        slo = r.slo
        p99 = "unbounded (overloaded)" if slo.p99_ms_estimate is None else f"{slo.p99_ms_estimate:,.1f} ms"
        rows = [
            ("USD per month (730 h)", _money(r.usd_per_month)),
            ("USD per million requests", _money(r.usd_per_million_requests)),
            ("fluid lower bound per month", _money(r.fluid_bound_usd_per_month)),
            ("efficiency (bound ÷ cost)", f"{r.efficiency:.1%}"),
            ("utilisation of provisioned capacity", f"{r.utilisation_mean:.1%}"),
            ("replicas mean / max", f"{r.replicas_mean:,.2f} / {r.replicas_max:,.0f}"),
            ("capacity per replica", f"{r.capacity_rps_per_replica:g} rps ({r.capacity_provenance.value})"),
            (
                f"p99 estimate (SLO {slo.slo_p99_ms:g} ms)",
                f"{p99} " + ("[green]ok[/]" if slo.meets_slo else "[red]miss[/]"),
            ),
            ("requests over the SLO", f"{slo.share_requests_over_slo:.4%}"),
            ("overload minutes per month", f"{slo.overload_minutes_per_month:,.1f}"),
            ("spot interruptions per month", f"{slo.interruptions_per_month:,.2f}"),
        ]
        for name, value in rows:
            table.add_row(name, value)
        for component, usd in r.breakdown.by_component.items():
            if usd > 0:
                table.add_row(f"  {component.replace('_', ' ')}", _money(usd))
        console.print(table)
        bases = extra.get(r.plan, [])
        if bases:
            bt = Table(title=f"Baselines for {r.plan}")
            for col in ("baseline", "USD/month", "saving vs it", "p99", "overload min/month"):
                bt.add_column(col, justify="left" if col == "baseline" else "right")
            for b in bases:
                if b.result is None:
                    bt.add_row(b.description, "-", "-", "-", f"unavailable: {b.unavailable}")
                    continue
                br = b.result
                bp99 = "-" if br.slo.p99_ms_estimate is None else f"{br.slo.p99_ms_estimate:,.1f} ms"
                bt.add_row(
                    b.description,
                    _money(br.usd_per_month),
                    _money(br.usd_per_month - r.usd_per_month),
                    bp99,
                    f"{br.slo.overload_minutes_per_month:,.1f}",
                )
            console.print(bt)
    console.print(
        f"[dim]{results[0].slo.queue_model}; months are 730 h; figures scale the profile's length.[/]"
    )
