"""Rich display for ``advisor bench``: live progress, result tables, estimates. No logic beyond formatting."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from advisor.bench.config import BenchEvent
from advisor.bench.measurements import BenchReport, CapacityResult, PointResult
from advisor.capacity import CapacityEstimate, Suggestion, rank_by_cost
from advisor.domain import PurchaseOption
from advisor.pricing.catalog import Catalog
from advisor.render.console import console, err_console


class Progress:
    """One bar per shape on stderr, fed by the harness's events; silent when ``quiet``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._bar: RichProgress | None = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        if not self.quiet:
            self._bar = RichProgress(
                TextColumn("[bold]{task.fields[shape]}[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=err_console,
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def handle(self, event: BenchEvent) -> None:
        if self._bar is None:
            return
        if event.kind == "start":
            self._tasks[event.shape] = self._bar.add_task(
                event.message, total=event.max_points, shape=event.shape
            )
            return
        task = self._tasks.get(event.shape)
        if task is None:
            return
        if event.kind in ("probe", "point"):
            self._bar.update(task, advance=1, description=event.message[:90])
        else:
            done = self._bar.tasks[task].completed
            self._bar.update(task, total=done, completed=done, description=event.message[:120])


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _points_table(points: list[PointResult]) -> Table:
    table = Table(title="Points")
    for col in (
        "#",
        "mode",
        "target req/s",
        "achieved",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "server CPU%",
        "RSS MiB",
        "gen CPU%",
        "verdict",
    ):
        table.add_column(col, justify="left" if col in ("mode", "verdict") else "right")
    for p in points:
        verdict = (
            "probe"
            if p.passed is None and p.mode.value == "closed"
            else (
                "[red]invalid[/]"
                if not p.valid
                else ("retry" if p.passed is None else ("[green]pass[/]" if p.passed else "[yellow]fail[/]"))
            )
        )
        table.add_row(
            str(p.seq),
            p.mode.value,
            f"{p.target_rps:.3g}" if p.target_rps else f"{p.users} users",
            f"{p.achieved_rps:.3g}",
            _ms(p.p50_ms),
            _ms(p.p99_ms),
            _ms(p.max_ms),
            f"{p.error_rate:.1%}",
            "-" if p.server_cpu_pct is None else f"{p.server_cpu_pct:.0f}",
            "-" if p.server_rss_mib is None else f"{p.server_rss_mib:.0f}",
            "-" if p.generator_cpu_pct is None else f"{p.generator_cpu_pct:.0f}",
            verdict,
        )
    return table


def print_result(result: CapacityResult, *, with_points: bool = True) -> None:
    colour = {"completed": "green", "failed": "red", "interrupted": "yellow"}.get(
        result.status.value, "white"
    )
    cap = f"{result.capacity_rps:.4g} req/s" + (" (lower bound)" if result.lower_bound else "")
    console.print(
        f"[bold]{result.model}[/] on [bold]{result.shape}[/]: [{colour}]{result.status.value}[/], "
        f"capacity [bold]{cap}[/] at p99 <= {result.slo_p99_ms:g} ms  [dim](run {result.run_id})[/]"
    )
    console.print(f"  {result.reason}", markup=False, highlight=False)
    if result.emulation is not None:
        e = result.emulation
        console.print(
            f"  [dim]emulation {e.method}: {e.vcpu:g} vCPU on CPUs {e.cpus}, memory "
            f"{'-' if e.memory_gib is None else f'{e.memory_gib:g} GiB'}"
            f"{'; generator shares these CPUs' if e.shares_cpus_with_generator else ''}[/]"
        )
    if result.host is not None:
        console.print(
            f"  [dim]host {result.host.hostname}: {result.host.cpu_model}, {result.host.cores} cores[/]"
        )
    if result.error:
        console.print(f"  [red]error:[/] {result.error}", highlight=False)
    if result.log_tail:
        console.print(f"  [dim]server log: {result.log_tail}[/]", markup=False, highlight=False)
    if with_points and result.points:
        console.print(_points_table(result.points))


def print_report(report: BenchReport) -> None:
    for result in report.results:
        print_result(result)
    if len(report.results) > 1:
        table = Table(title=f"{report.model}: capacity under p99 <= {report.slo_p99_ms:g} ms")
        for col in ("shape", "status", "capacity req/s", "p99 ms at capacity", "run"):
            table.add_column(col)
        for r in report.results:
            table.add_row(
                r.shape, r.status.value, f"{r.capacity_rps:.4g}", _ms(r.p99_ms_at_capacity), r.run_id
            )
        console.print(table)


def print_runs(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(
            "No bench runs stored yet; start one with `advisor bench run --model tabular --slo-p99-ms 100`."
        )
        return
    table = Table(title="Bench runs (newest first)")
    for col in ("run", "model", "shape", "status", "SLO p99 ms", "capacity req/s", "points", "started"):
        table.add_column(col)
    for r in rows:
        cap = (
            "-"
            if r["capacity_rps"] is None
            else f"{r['capacity_rps']:.4g}" + ("+" if r["lower_bound"] else "")
        )
        table.add_row(
            r["id"],
            r["model"],
            r["shape"],
            r["status"],
            f"{r['slo_p99_ms']:g}",
            cap,
            str(r["points"]),
            r["started_at"],
        )
    console.print(table)


def print_estimates(
    table: list[CapacityEstimate],
    picks: list[Suggestion],
    catalog: Catalog,
    region: str,
    option: PurchaseOption,
    limit: int = 25,
) -> None:
    inf = float("inf")
    ranked = rank_by_cost(table, catalog, region, option)
    rows = [
        (inf if r.usd_per_rps_hour is None else r.usd_per_rps_hour, r.estimate, r.usd_per_hour)
        for r in ranked
    ]
    out = Table(title=f"Capacity per instance type, {region} {option.value} (cheapest per req/s first)")
    for col in ("instance type", "capacity req/s", "band", "kind", "USD/h", "USD per req/s-h", "basis"):
        out.add_column(col)
    estimable = [r for r in rows if r[1].capacity_rps is not None]
    shown = [
        r for r in estimable if not r[1].estimated or r in estimable[:limit]
    ]  # measured rows always show
    for per_rps, est, usd in shown:
        kind = "measured" if not est.estimated else f"[yellow]estimated[/] ({est.method})"
        band = "-" if est.low_rps is None else f"{est.low_rps:.3g}-{est.high_rps:.3g}"
        out.add_row(
            est.instance_type,
            f"{est.capacity_rps:.3g}",
            band,
            kind,
            "-" if usd is None else f"{usd:.4f}",
            "-" if per_rps == float("inf") else f"{per_rps:.5f}",
            est.reason[:70],
        )
    console.print(out)
    skipped = len(table) - len([r for r in rows if r[1].capacity_rps is not None])
    if skipped:
        console.print(
            f"[dim]{skipped} types without an estimate (GPU without --flops-per-request, burstable, ...)[/]"
        )
    if not picks:
        console.print("Nothing to measure next: no estimate could beat the best guaranteed cost per req/s.")
        return
    console.print("[bold]Worth measuring next[/] (their uncertainty could change the cheapest choice):")
    for s in picks:
        console.print(f"  {s.instance_type}: {s.reason}", highlight=False)
