"""``advisor cost``: price deployment plans over a traffic profile (autoscaling, spot, SLO, baselines)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from advisor.cli.output import console, err_console, print_json, warn
from advisor.cli.profile import FILL_HELP
from advisor.cost.baselines import Baseline, evaluate_baselines
from advisor.cost.plan_checks import check_plan, check_plan_scale
from advisor.cost.prices import resolve_prices
from advisor.cost.result import CostResult
from advisor.cost.simulate import simulate_many
from advisor.errors import InputError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import Plan, load_plan
from advisor.render.cost import cost_report
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
        check_plan_scale(plan, profile.peak_rps, path)
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
    for part in cost_report(profile, results, extra):
        console.print(part)


def _run(plans: list[Plan], profile: TrafficProfile, prices: list[Any], seed: int) -> list[CostResult]:
    if len(plans) * profile.steps < PROGRESS_MIN_STEP_PLANS:
        return simulate_many(plans, profile, prices, seed=seed)
    columns = (
        TextColumn("replaying"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} plans"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=err_console, transient=True, disable=not err_console.is_terminal
    ) as progress:
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
