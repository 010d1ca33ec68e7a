"""``advisor bench``: measure capacity under a latency SLO, show/export results, estimate, plan Jobs, import.

A thin layer over :mod:`advisor.bench` and :mod:`advisor.capacity`: options come from the models that own
them (:class:`~advisor.bench.config.BenchConfig`), targets are built by :mod:`advisor.bench.targets` exactly
as ``recommend --bench`` builds them, and tables and progress live in :mod:`advisor.cli.bench_view`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import typer

from advisor.bench import results
from advisor.bench.config import BenchConfig
from advisor.bench.emulation import HOST_SHAPE, plan_emulation
from advisor.bench.k8s import DEFAULT_K8S_VERSION, read_report, write_jobs
from advisor.bench.measurements import BenchReport, CapacityResult, RunStatus
from advisor.bench.payloads import TEMPLATES, build_request
from advisor.bench.registry import REFERENCE_MODELS, get_model, parse_options
from advisor.bench.runner import resolve_shape, run_endpoint, run_target
from advisor.bench.targets import Payload, ServerTarget, command_target, reference_target
from advisor.capacity import (
    GpuWorkload,
    capacity_table,
    default_candidates,
    read_evidence,
    suggest_measurements,
)
from advisor.cli import bench_view as view
from advisor.cli.options import field_option, parse_headers, split_list
from advisor.cli.output import console, err_console, print_json
from advisor.domain import (
    DEFAULT_HEALTH_PATH,
    DEFAULT_READY_TIMEOUT_S,
    DEFAULT_REQUEST_PATH,
    PORT_PLACEHOLDER,
    SLO,
    PurchaseOption,
)
from advisor.errors import InputError
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from advisor.store import Store

app = typer.Typer(
    help="Measure model capacity under a p99 SLO with Locust, on emulated or real instance shapes."
)
EMULATIONS = ("auto", "cgroup_v2", "affinity_rlimit", "none")


@app.command("run")
def run(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None,
        "--model",
        help=f"Reference model ({', '.join(REFERENCE_MODELS)}), or a label for --server-cmd/--endpoint.",
    ),
    model_option: list[str] = typer.Option([], "--model-option", help="KEY=VALUE for a reference model."),
    server_cmd: str | None = typer.Option(
        None, "--server-cmd", help=f"Start this server; {PORT_PLACEHOLDER} is replaced by its port."
    ),
    request_path: str | None = typer.Option(
        None, "--request-path", help=f"Route to load (default {DEFAULT_REQUEST_PATH}, or the template's)."
    ),
    health_path: str = typer.Option(
        DEFAULT_HEALTH_PATH, "--health-path", help="Health route of --server-cmd."
    ),
    endpoint: str | None = typer.Option(None, "--endpoint", help="URL of a server that is already running."),
    payload: Path | None = typer.Option(
        None, "--payload", help="Body file (JSON, or any text with --template raw)."
    ),
    template: str = typer.Option("json", "--template", help=f"Payload template: {', '.join(TEMPLATES)}."),
    model_name: str | None = typer.Option(
        None, "--model-name", help="Model name for kserve-v2/openai templates."
    ),
    content_type: str = typer.Option(
        "application/octet-stream", "--content-type", help="For --template raw."
    ),
    header: list[str] = typer.Option([], "--header", help="Extra request header NAME:VALUE."),
    shapes: str = typer.Option(
        HOST_SHAPE,
        "--shapes",
        help="Instance types to emulate (comma-separated), or host; a label with --endpoint.",
    ),
    slo_p99_ms: float = typer.Option(..., "--slo-p99-ms", help="p99 latency bound (ms)."),
    max_error_rate: float = typer.Option(0.001, "--max-error-rate", help="Allowed error share (0-1)."),
    quick: bool = typer.Option(
        False, "--quick", help="Shorter windows, coarser answer (about half the time)."
    ),
    warmup_s: float | None = typer.Option(None, "--warmup-s", min=0, help="Warm-up per point (s)."),
    window_s: float | None = typer.Option(None, "--window-s", min=0.1, help="Shortest measured window (s)."),
    max_points: int | None = typer.Option(None, "--max-points", min=1, help="Open-loop point budget."),
    resolution: float | None = typer.Option(
        None, "--resolution", min=0.01, max=0.5, help="Stop when the SLO bracket is this narrow (0.05 = 5%)."
    ),
    workers: int = field_option(BenchConfig, "workers", "--workers", min=0),
    remote_workers: int = field_option(BenchConfig, "remote_workers", "--remote-workers", min=0),
    master_bind: str = field_option(BenchConfig, "master_bind", "--master-bind"),
    master_port: int = field_option(BenchConfig, "master_port", "--master-port"),
    emulation: str = field_option(BenchConfig, "emulation", "--emulation"),
    users: int = field_option(BenchConfig, "pool_users", "--users", min=1),
    probe_users: int = field_option(BenchConfig, "probe_users", "--probe-users", min=1),
    request_timeout: float = field_option(BenchConfig, "request_timeout_s", "--request-timeout"),
    ready_timeout: float | None = typer.Option(
        None, "--ready-timeout", help="Seconds to wait for the server."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the BenchReport JSON (what `bench import` reads)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
) -> None:
    """Find the capacity (req/s under the p99 SLO) of a model on each shape; points are stored as measured."""
    settings: Settings = ctx.obj
    if emulation not in EMULATIONS:
        raise InputError(
            f"unknown emulation {emulation!r}", where="--emulation", fix=f"use {', '.join(EMULATIONS)}"
        )
    if server_cmd is not None and endpoint is not None:
        raise InputError(
            "--server-cmd and --endpoint exclude each other",
            where="--server-cmd/--endpoint",
            fix="start a server (--server-cmd) or load a running one (--endpoint)",
        )
    if server_cmd is None and endpoint is None and model is None:
        raise InputError(
            "nothing to measure", where="--model", fix="pass --model NAME, --server-cmd CMD or --endpoint URL"
        )
    slo = _slo(slo_p99_ms, max_error_rate)
    config = (BenchConfig.quick if quick else BenchConfig)(
        workers=workers, remote_workers=remote_workers, master_bind=master_bind, master_port=master_port,
        emulation=emulation, pool_users=users, probe_users=probe_users, request_timeout_s=request_timeout,
    ).tuned(warmup_s=warmup_s, window_s=window_s, max_points=max_points, resolution=resolution)  # fmt: skip
    body = Payload(template, payload, None, model_name, content_type, parse_headers(header))
    catalog = Catalog.load(settings)
    shape_list = split_list(shapes, "--shapes")
    target = None
    if endpoint is None:
        target = _server_target(
            model, model_option, server_cmd, request_path, health_path, ready_timeout, body
        )
        for shape in shape_list:  # refuse impossible shapes before starting anything
            vcpu, memory = resolve_shape(catalog, shape, emulation)
            plan_emulation(shape, vcpu, memory, method="none" if shape == HOST_SHAPE else emulation)  # type: ignore[arg-type]
    # SIGTERM (kill, a deleted Kubernetes pod) ends the run like Ctrl-C: servers and generators are stopped
    # and the run is stored as interrupted, instead of orphaning the processes it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with Store(settings.db_path) as store, view.Progress(quiet or not sys.stderr.isatty()) as progress:
            if target is None:
                assert endpoint is not None
                request = build_request(
                    endpoint, template=template, body_path=payload, model_name=model_name,
                    content_type=content_type, headers=dict(body.headers),
                )  # fmt: skip
                # the machine behind an endpoint is not ours to know: --shapes only labels it (checked)
                where_it_runs = "unknown" if shapes == HOST_SHAPE else catalog.instance(shape_list[0]).name
                out = [
                    run_endpoint(
                        store,
                        request,
                        slo,
                        label=model or "custom",
                        shape=where_it_runs,
                        config=config,
                        on_event=progress.handle,
                    )
                ]
            else:
                out = [
                    run_target(
                        settings,
                        store,
                        target,
                        shape,
                        slo,
                        config=config,
                        catalog=catalog,
                        on_event=progress.handle,
                    )
                    for shape in shape_list
                ]
    except KeyboardInterrupt:
        # typer turns Ctrl-C into a silent exit 130; say what happened to the measurements
        err_console.print(
            "interrupted; every point measured so far is stored (`advisor bench show`)", markup=False
        )
        raise typer.Exit(130) from None
    label = target.label if target is not None else model or "custom"
    _report(out, label, endpoint or server_cmd or label, slo, as_json)


def _server_target(
    model: str | None,
    model_option: list[str],
    server_cmd: str | None,
    request_path: str | None,
    health_path: str,
    ready_timeout: float | None,
    body: Payload,
) -> ServerTarget:
    """The server ``bench run`` starts: ``--server-cmd``, else the reference model ``--model``."""
    if server_cmd is not None:
        return command_target(
            model or "custom", server_cmd, body, request_path=request_path, health_path=health_path,
            ready_timeout_s=ready_timeout or DEFAULT_READY_TIMEOUT_S,
        )  # fmt: skip
    assert model is not None
    return reference_target(
        model,
        body,
        options=parse_options(model_option),
        request_path=request_path,
        ready_timeout_s=ready_timeout,
    ).check()


def _report(out: list[CapacityResult], label: str, target: str, slo: SLO, as_json: bool) -> None:
    report = BenchReport(
        model=out[0].model if out else label,
        target=target,
        slo_p99_ms=slo.latency_p99_ms,
        max_error_rate=slo.max_error_rate,
        results=out,
    )
    if as_json:
        print_json(report)
    else:
        view.print_report(report)
    if any(r.status is not RunStatus.COMPLETED for r in out):
        raise typer.Exit(1)


def _slo(p99_ms: float, max_error_rate: float) -> SLO:
    if p99_ms <= 0:
        raise InputError(f"the SLO must be positive, not {p99_ms:g} ms", where="--slo-p99-ms", fix="e.g. 200")
    if not 0 <= max_error_rate <= 1:
        raise InputError(
            f"{max_error_rate:g} is not a share", where="--max-error-rate", fix="use 0..1, e.g. 0.001"
        )
    return SLO(latency_p99_ms=p99_ms, max_error_rate=max_error_rate)


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: str | None = typer.Option(None, "--run", help="One run with its points (default: list runs)."),
    model: str | None = typer.Option(None, "--model", help="Only runs of this model."),
    limit: int = typer.Option(30, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stored runs (newest first), or one run's points and capacity."""
    settings: Settings = ctx.obj
    with Store(settings.db_path) as store:
        if run_id is None:
            rows = results.list_runs(store, model=model, limit=limit)
            print_json({"runs": rows}) if as_json else view.print_runs(rows)
            return
        result = results.load_result(store, run_id)
    print_json(result) if as_json else view.print_result(result)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: str = typer.Option("csv", "--format", help="csv (one row per point) or json (runs with points)."),
    run_ids: list[str] = typer.Option(
        [], "--run", help="Runs to export (default: all, or those of --model)."
    ),
    model: str | None = typer.Option(None, "--model"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
) -> None:
    """Export runs and points for sharing."""
    if fmt not in ("csv", "json"):
        raise InputError(f"unknown format {fmt!r}", where="--format", fix="use csv or json")
    settings: Settings = ctx.obj
    with Store(settings.db_path) as store:
        ids = run_ids or [r["id"] for r in results.list_runs(store, model=model, limit=1_000_000)]
        loaded = [results.load_result(store, i) for i in ids]
    text = (
        view.points_csv(loaded)
        if fmt == "csv"
        else json.dumps([r.model_dump(mode="json") for r in loaded], indent=2)
    )
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(loaded)} runs to {output}")


@app.command("suggest")
def suggest(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="Model label as stored by `bench run`."),
    slo_p99_ms: float = typer.Option(..., "--slo-p99-ms"),
    instance_types: str | None = typer.Option(
        None, "--instance-types", help="Candidates (default: common families)."
    ),
    region: str | None = typer.Option(None, "--region"),
    option: PurchaseOption = typer.Option(PurchaseOption.ON_DEMAND, "--option", help="on_demand or spot."),
    flops_per_request: float | None = typer.Option(
        None, "--flops-per-request", help="For GPU roofline estimates."
    ),
    bytes_per_request: float | None = typer.Option(
        None, "--bytes-per-request", help="For GPU roofline estimates."
    ),
    limit: int = typer.Option(5, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Capacity per instance type (measured, else estimated with a band) and what to measure next."""
    settings: Settings = ctx.obj
    catalog = Catalog.load(settings)
    region = catalog.check_region(region or settings.default_region)
    slo = _slo(slo_p99_ms, 0.001)
    workload = None
    if (flops_per_request is None) != (bytes_per_request is None):
        raise InputError(
            "a roofline estimate needs both",
            where="--flops-per-request/--bytes-per-request",
            fix="pass both, or neither",
        )
    if flops_per_request is not None and bytes_per_request is not None:
        workload = GpuWorkload(flops_per_request=flops_per_request, bytes_per_request=bytes_per_request)
    types = (
        split_list(instance_types, "--instance-types")
        if instance_types
        else default_candidates(catalog, region, workload is not None)
    )
    with Store(settings.db_path) as store:
        evidence = read_evidence(store, [model])
    table = capacity_table(evidence, catalog, model, types, slo, workload=workload)
    if not any(not e.estimated for e in table) and not any(e.capacity_rps for e in table):
        raise InputError(
            f"no capacity of {model!r} measured under a {slo_p99_ms:g} ms SLO",
            where="--model",
            fix=f"run `advisor bench run --model {model} --slo-p99-ms {slo_p99_ms:g}` first",
        )
    picks = suggest_measurements(table, catalog, region, option, limit=limit)
    if as_json:
        print_json(
            {
                "model": model,
                "region": region,
                "option": option.value,
                "capacities": table,
                "suggestions": picks,
            }
        )
        return
    view.print_estimates(table, picks, catalog, region, option)


@app.command("plan")
def plan(
    ctx: typer.Context,
    emit: str = typer.Option(..., "--emit", help="Target format: k8s."),
    directory: Path = typer.Argument(..., help="Folder to write the manifests into."),
    models: str = typer.Option(..., "--models", help="Reference models, comma-separated."),
    instance_types: str = typer.Option(..., "--instance-types", help="Comma-separated instance types."),
    slo_p99_ms: float = typer.Option(..., "--slo-p99-ms"),
    max_error_rate: float = typer.Option(0.001, "--max-error-rate"),
    image: str = typer.Option(..., "--image", help="Container image with advisor installed."),
    namespace: str = typer.Option("default", "--namespace"),
    quick: bool = typer.Option(False, "--quick"),
    k8s_version: str = typer.Option(
        DEFAULT_K8S_VERSION, "--k8s-version", help="Schema version to validate against."
    ),
) -> None:
    """Write one validated Kubernetes Job per (model, instance type) to measure on real instances."""
    if emit != "k8s":
        raise InputError(f"unknown target {emit!r}", where="--emit", fix="use --emit k8s")
    settings: Settings = ctx.obj
    catalog = Catalog.load(settings)
    model_list = [get_model(m).name for m in split_list(models, "--models")]
    itypes = [catalog.instance(t) for t in split_list(instance_types, "--instance-types")]
    paths = write_jobs(
        directory,
        model_list,
        itypes,
        _slo(slo_p99_ms, max_error_rate),
        image=image,
        namespace=namespace,
        quick=quick,
        k8s_version=k8s_version,
    )
    console.print(
        f"wrote {len(paths)} Job manifests to {directory} (validated against Kubernetes {k8s_version})"
    )
    console.print(
        "run:  kubectl apply -f DIR;  then for each job:  kubectl logs job/NAME > NAME.json && "
        "advisor bench import NAME.json",
        markup=False,
        highlight=False,
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Files holding `bench run --json` output."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Store results measured elsewhere (Kubernetes Jobs); the same run is never imported twice."""
    settings: Settings = ctx.obj
    reports = [(f, read_report(f)) for f in files]  # validate every file before storing any
    summary = []
    with Store(settings.db_path) as store:
        for path, report in reports:
            for result in report.results:
                added = results.import_result(
                    store, result, target=f"imported from {path.name}: {report.target}"
                )
                summary.append(
                    {
                        "file": str(path),
                        "run_id": result.run_id,
                        "model": result.model,
                        "shape": result.shape,
                        "capacity_rps": result.capacity_rps,
                        "imported": added,
                    }
                )
    if as_json:
        print_json({"imported": summary})
        return
    for row in summary:
        state = "imported" if row["imported"] else "already stored"
        console.print(
            f"{row['run_id']}: {row['model']} on {row['shape']}: {row['capacity_rps']:.3g} req/s ({state})"
        )


@app.command("worker")
def worker(
    master: str = typer.Option(..., "--master", help="HOST:PORT of the `bench run` master."),
    users: int = typer.Option(256, "--users", min=1, help="Connection pool size of this worker."),
    request_timeout: float = typer.Option(10.0, "--request-timeout"),
) -> None:
    """Run a Locust load-generation worker for a `bench run --remote-workers N` on another machine."""
    host, sep, port = master.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"not HOST:PORT: {master!r}", where="--master", fix="e.g. --master 10.0.0.5:5557")
    args = [
        sys.executable,
        "-m",
        "advisor.bench.generator_process",
        "worker",
        "--master-host",
        host,
        "--master-port",
        port,
        "--pool",
        str(users),
        "--request-timeout",
        str(request_timeout),
    ]
    os.execv(sys.executable, args)  # a fresh process: Locust patches it with gevent on import


@app.command("models")
def models_(as_json: bool = typer.Option(False, "--json")) -> None:
    """The reference models `bench run --model` knows."""
    models = list(REFERENCE_MODELS.values())
    if as_json:
        print_json(
            {
                "models": [
                    {"name": m.name, "description": m.description, "path": m.path, "options": m.options}
                    for m in models
                ]
            }
        )
        return
    for m in models:
        opts = ", ".join(f"{k}={v}" for k, v in m.options.items())
        console.print(
            f"[bold]{m.name}[/]: {m.description} (POST {m.path}{'; options ' + opts if opts else ''})"
        )
