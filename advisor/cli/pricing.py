"""``advisor pricing``: show, compare, find the cheapest shape, and refresh the price snapshot."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from advisor.cli.options import from_flags, split_list
from advisor.cli.output import console, print_json, warn
from advisor.domain import Price, PurchaseOption, ReplicaResources
from advisor.errors import InputError
from advisor.pricing.catalog import Catalog
from advisor.pricing.compare import compare_rows, try_price
from advisor.settings import Settings


class Ec2Option(StrEnum):
    """The purchase options ``pricing cheapest`` ranks EC2 types under."""

    ON_DEMAND = PurchaseOption.ON_DEMAND.value
    SPOT = PurchaseOption.SPOT.value


_STALE = "advisor.pricing.stale"  # the stale-price warning, in the command's meta until it has succeeded

app = typer.Typer(help="Instance specs and prices (EC2, spot, SageMaker, Fargate, load balancers).")


def _stale_warned_after(command: Callable[..., None]) -> Callable[..., None]:
    """The command, then the stale-price warning its catalog left, if any: a command that fails prints its
    one error line alone."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        command(*args, **kwargs)
        ctx: typer.Context = kwargs["ctx"]
        message = ctx.meta.pop(_STALE, None)
        if message:
            warn(message)

    return run


def _catalog(ctx: typer.Context) -> Catalog:
    settings: Settings = ctx.obj
    catalog = Catalog.load(settings)
    age = catalog.staleness_days()
    if age > settings.price_staleness_days:
        ctx.meta[_STALE] = (
            f"the price snapshot's oldest prices are {age} days old (as of "
            f"{catalog.snapshot.oldest_price_as_of}); `advisor pricing refresh --region R` fetches current"
        )
    return catalog


def _price_dict(price: Price) -> dict[str, Any]:
    return price.model_dump(mode="json", exclude_none=True)


@app.command("show")
@_stale_warned_after
def show(
    ctx: typer.Context,
    region: str | None = typer.Option(None, "--region", help="AWS region code (default: settings)."),
    instance_type: str | None = typer.Option(None, "--instance-type", help="EC2 or ml.* instance type."),
    fargate_vcpu: float | None = typer.Option(
        None, "--fargate-vcpu", help="Price a Fargate task of this size."
    ),
    fargate_memory_gib: float | None = typer.Option(
        None, "--fargate-memory-gib", help="Fargate task memory."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Specs and every price of one instance type (or a Fargate task size) in a region."""
    catalog = _catalog(ctx)
    settings: Settings = ctx.obj
    if region is not None and not region.strip():
        raise InputError("an empty region", where="--region", fix="e.g. --region us-east-1, or leave it out")
    region = catalog.check_region(region or settings.default_region)
    if (fargate_vcpu is None) != (fargate_memory_gib is None):
        raise InputError(
            "a Fargate size needs both", where="--fargate-vcpu/--fargate-memory-gib", fix="pass both"
        )
    if instance_type is None and fargate_vcpu is None:
        _show_snapshot(catalog, as_json)
        return
    out: dict[str, Any] = {"region": region, "snapshot": str(catalog.snapshot.path)}
    if instance_type is not None:
        spec = catalog.instance(instance_type)
        on_demand = catalog.on_demand(region, spec.name)
        out["instance_type"] = spec.model_dump(mode="json")
        out["prices"] = {"on_demand": _price_dict(on_demand)}
        for option, fn in (("spot", catalog.spot), ("sagemaker", catalog.sagemaker)):
            got = try_price(fn, region, spec.name)
            out["prices"][option] = _price_dict(got) if isinstance(got, Price) else {"unavailable": got}
    if fargate_vcpu is not None and fargate_memory_gib is not None:
        fargate = {"fargate": catalog.fargate_task(region, fargate_vcpu, fargate_memory_gib)}
        spot = try_price(
            catalog.fargate_task, region, fargate_vcpu, fargate_memory_gib, PurchaseOption.FARGATE_SPOT
        )
        out["fargate"] = {k: _price_dict(v) for k, v in fargate.items()}
        out["fargate"]["fargate_spot"] = (
            _price_dict(spot) if isinstance(spot, Price) else {"unavailable": spot}
        )
    if as_json:
        print_json(out)
        return
    if "instance_type" in out:
        s = out["instance_type"]
        gpu = (
            f", {s['gpu_count']:g} x {s['gpu_model']} ({s['gpu_memory_gib']:g} GiB)" if s["gpu_count"] else ""
        )
        console.print(
            f"[bold]{s['name']}[/]: {s['vcpu']} vCPU, {s['memory_gib']:g} GiB, {s['arch']}{gpu}  "
            f"[dim](specs: {s['source']})[/]"
        )
    table = Table(title=f"Prices in {region}")
    for col in ("option", "USD/hour", "USD/month (730 h)", "detail", "as of", "source"):
        table.add_column(col, justify="right" if "USD" in col else "left")
    for section in ("prices", "fargate"):
        for option, p in out.get(section, {}).items():
            if "unavailable" in p:
                table.add_row(option, "-", "-", p["unavailable"], "", "")
                continue
            detail = []
            if p.get("savings_pct_vs_on_demand") is not None:
                detail.append(f"-{p['savings_pct_vs_on_demand']:g}%")
            if p.get("interruption_band"):
                detail.append(f"interruptions {p['interruption_band']}/month")
            if p.get("estimated"):
                detail.append("[yellow]estimated[/]")
            table.add_row(
                option,
                f"{p['usd_per_hour']:.5f}",
                f"{p['usd_per_hour'] * 730:,.2f}",
                ", ".join(detail) or p.get("shape", ""),
                p["as_of"],
                p["source"],
            )
    console.print(table)


def _show_snapshot(catalog: Catalog, as_json: bool) -> None:
    snap = catalog.snapshot
    files: dict[str, dict[str, Any]] = {
        name: {
            "rows": len(frame),
            "as_of": sorted({str(d) for d in frame["as_of"].dropna().unique()}) if "as_of" in frame else [],
        }
        for name, frame in snap.tables.items()
    }
    info = {
        "snapshot": str(snap.path),
        "origin": snap.origin,
        "created_at": snap.created_at.isoformat(),
        "regions": len(catalog.regions),
        "instance_types": len(catalog.instance_type_names),
        "oldest_price_as_of": str(snap.oldest_price_as_of),
        "files": files,
    }
    if as_json:
        print_json(info)
        return
    console.print(
        f"Price snapshot [bold]{snap.path}[/] ({snap.origin}, created {snap.created_at:%Y-%m-%d}): "
        f"{info['instance_types']} instance types, {info['regions']} regions"
    )
    table = Table()
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("as of")
    for name, f in files.items():
        table.add_row(name, str(f["rows"]), ", ".join(f["as_of"]))
    console.print(table)


@app.command("compare")
@_stale_warned_after
def compare(
    ctx: typer.Context,
    instance_types: str = typer.Option(
        ..., "--instance-types", help="Comma-separated, e.g. m5.xlarge,c6i.xlarge"
    ),
    regions: str = typer.Option(
        "us-east-1,us-west-2,eu-west-1", "--regions", help="Comma-separated regions."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """On-demand, spot and SageMaker prices of several instance types across regions."""
    catalog = _catalog(ctx)
    types = [catalog.instance(t).name for t in split_list(instance_types, "--instance-types")]
    region_list = [catalog.check_region(r) for r in split_list(regions, "--regions")]
    rows = compare_rows(catalog, types, region_list)
    if as_json:
        print_json({"rows": rows})
        return
    table = Table(title="Hourly prices (USD)")
    for col in ("instance type", "vCPU", "GiB", "region", "on-demand", "spot", "spot saving", "interruptions",
                "SageMaker", "cheapest"):  # fmt: skip
        table.add_column(
            col, justify="left" if col in ("instance type", "region", "interruptions") else "right"
        )
    for r in rows:
        sm = r["sagemaker"]
        table.add_row(
            r["instance_type"],
            str(r["vcpu"]),
            f"{r['memory_gib']:g}",
            r["region"],
            _fmt(r["on_demand"]),
            _fmt(r["spot"]),
            f"{r['spot_savings_pct']:g}%" if r["spot_savings_pct"] is not None else "-",
            r["interruption_band"] or "-",
            (_fmt(sm) + ("*" if r["sagemaker_estimated"] else "")) if sm is not None else "-",
            "[green]yes[/]" if r["cheapest_in_region"] else "",
        )
    console.print(table)
    console.print(
        "[dim]* estimated: EC2 price x the median SageMaker/EC2 ratio. Sources and dates: "
        "`advisor pricing show --instance-type T --region R`.[/]"
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@app.command("cheapest")
@_stale_warned_after
def cheapest(
    ctx: typer.Context,
    vcpu: float = typer.Option(..., "--vcpu", help="vCPU one replica needs."),
    memory_gib: float = typer.Option(..., "--memory-gib", help="Memory one replica needs (GiB)."),
    gpus: float = typer.Option(0, "--gpus", help="GPUs one replica needs."),
    gpu_memory_gib: float = typer.Option(0, "--gpu-memory-gib", help="GPU memory one replica needs (GiB)."),
    replicas: int = typer.Option(1, "--replicas", min=1, help="How many replicas to host."),
    region: str | None = typer.Option(None, "--region"),
    option: Ec2Option = typer.Option(Ec2Option.ON_DEMAND, "--option", help="How the instances are bought."),
    limit: int = typer.Option(5, "--limit", min=1),
    include_burstable: bool = typer.Option(False, "--include-burstable", help="Also consider t* types."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The cheapest instance types that host N replicas of a given resource need."""
    catalog = _catalog(ctx)
    settings: Settings = ctx.obj
    flags = {
        "vcpu": "--vcpu",
        "memory_gib": "--memory-gib",
        "gpu_count": "--gpus",
        "gpu_memory_gib": "--gpu-memory-gib",
    }
    need = from_flags(
        ReplicaResources,
        flags,
        vcpu=vcpu,
        memory_gib=memory_gib,
        gpu_count=gpus,
        gpu_memory_gib=gpu_memory_gib,
    )
    offers = catalog.cheapest(
        need, region or settings.default_region, PurchaseOption(option.value), replicas=replicas, limit=limit,
        include_burstable=include_burstable,
    )  # fmt: skip
    rows: list[dict[str, Any]] = [
        {
            "instance_type": o.instance.name,
            "nodes": o.count_needed,
            "usd_per_hour_each": o.price.usd_per_hour,
            "usd_per_hour_total": o.count_needed * o.price.usd_per_hour,
            "source": o.price.source,
            "as_of": str(o.price.as_of),
        }
        for o in offers
    ]
    if as_json:
        print_json({"need": need, "replicas": replicas, "offers": rows})
        return
    if not rows:
        console.print("No instance type in this region fits one replica of that size.")
        return
    table = Table(title=f"Cheapest hosts for {replicas} x ({vcpu:g} vCPU, {memory_gib:g} GiB)")
    for col in ("instance type", "nodes", "USD/h each", "USD/h total", "source"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["instance_type"], str(r["nodes"]), f"{r['usd_per_hour_each']:.4f}",
                      f"{r['usd_per_hour_total']:.4f}", f"{r['source']} {r['as_of']}")  # fmt: skip
    console.print(table)


@app.command("refresh")
def refresh(
    ctx: typer.Context,
    region: list[str] = typer.Option(..., "--region", help="Region(s) to refresh; repeat the flag for more."),
    services: str = typer.Option(
        "ec2,spot,sagemaker,fargate,elb",
        "--services",
        help="Comma-separated subset of ec2,spot,sagemaker,fargate,elb.",
    ),
) -> None:
    """Fetch current prices through the AWS APIs and write them as a new snapshot (atomically)."""
    from advisor.pricing.refresh import refresh_snapshot

    settings: Settings = ctx.obj
    path = refresh_snapshot(
        settings, regions=region, services=split_list(services, "--services"), console=console
    )
    console.print(f"New price snapshot in force: {path}")
