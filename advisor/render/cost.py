"""``advisor cost simulate`` in a terminal: the profile's summary, then per plan its cost, efficiency, SLO
figures and components, and the baselines priced by the same replay."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import RenderableType
from rich.table import Table

from advisor.cost.baselines import Baseline
from advisor.cost.result import CostResult
from advisor.render.numbers import usd
from advisor.traffic.profile import TrafficProfile


def _money(value: float | None) -> str:
    return "-" if value is None else usd(value)


def cost_report(
    profile: TrafficProfile, results: list[CostResult], extra: Mapping[str, list[Baseline]]
) -> list[RenderableType]:
    """What ``advisor cost simulate`` prints: the profile, a table per plan, its baselines, the model note."""
    s = profile.summary()
    out: list[RenderableType] = []
    out.append(
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
        for component, amount in r.breakdown.by_component.items():
            if amount > 0:
                table.add_row(f"  {component.replace('_', ' ')}", _money(amount))
        out.append(table)
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
            out.append(bt)
    out.append(f"[dim]{results[0].slo.queue_model}; months are 730 h; figures scale the profile's length.[/]")
    return out
