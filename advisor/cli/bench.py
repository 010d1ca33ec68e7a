"""``advisor bench``: measure capacity under a latency SLO, show/export results, estimate, plan Jobs, import.

A thin layer over :mod:`advisor.bench` and :mod:`advisor.capacity`: options come from the models that own them
(:class:`~advisor.bench.config.BenchConfig`), targets are built by :mod:`advisor.bench.servers.spec` exactly
as ``recommend --bench`` builds them, and tables and progress live in :mod:`advisor.render.bench`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import typer

from advisor.bench.config import BenchConfig, EventSink
from advisor.bench.measurements import HOST_SHAPE, BenchReport, CapacityResult, RunStatus
from advisor.bench.servers.payloads import TEMPLATES, build_request, split_endpoint
from advisor.bench.servers.registry import REFERENCE_MODELS, parse_options
from advisor.bench.servers.spec import BenchServer, Payload, command_server, reference_server
from advisor.cli import bench_estimate, bench_results
from advisor.cli import bench_llm as llm
from advisor.cli.options import field_option, from_flags, parse_headers, positive, split_list
from advisor.cli.output import console, print_json
from advisor.domain import (
    DEFAULT_HEALTH_PATH,
    DEFAULT_READY_TIMEOUT_S,
    DEFAULT_REQUEST_PATH,
    PORT_PLACEHOLDER,
    SLO,
)
from advisor.errors import ConfigError, InputError
from advisor.pricing.catalog import Catalog
from advisor.render import bench as view
from advisor.settings import Settings
from advisor.store import Store

app = typer.Typer(
    help="Measure model capacity under a p99 SLO with Locust, on emulated or real instance shapes."
)
EMULATIONS = ("auto", "cgroup_v2", "affinity_rlimit", "none")
CONFIG_FLAGS = {
    "workers": "--workers", "remote_workers": "--remote-workers", "master_bind": "--master-bind",
    "master_port": "--master-port", "emulation": "--emulation", "pool_users": "--users",
    "probe_users": "--probe-users", "request_timeout_s": "--request-timeout",
}  # fmt: skip


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
    slo_p99_ms: float | None = typer.Option(
        None, "--slo-p99-ms", help="p99 latency bound (ms); LLMs take --slo-ttft/tpot-p99-ms instead."
    ),
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
    api: llm.ApiOpt = None, input_tokens: llm.InTok = None, output_tokens: llm.OutTok = None,
    input_stddev: llm.InSd = None, output_stddev: llm.OutSd = None, input_range: llm.InRange = None,
    output_range: llm.OutRange = None, dataset: llm.Dataset = None, slo_ttft_p99_ms: llm.Ttft = None,
    slo_tpot_p99_ms: llm.Tpot = None, slo_e2e_p99_ms: llm.E2e = None, slo_attainment: llm.Attain = None,
    slo_percentile: llm.Pct = 99.0, burstiness: llm.Burst = 1.0, per_bucket: llm.PerBucket = False,
    min_bucket_share: llm.MinShare = 0.02, max_buckets: llm.MaxBuckets = 8, start_rps: llm.StartRps = None,
    fixed_schedule: llm.FixedSchedule = False, time_scale: llm.TimeScale = 1.0,
) -> None:  # fmt: skip
    """Capacity on each shape under the SLO (p99 latency; an LLM's TTFT/TPOT); points stored as measured."""
    settings: Settings = ctx.obj
    _check_run_args(emulation, server_cmd, endpoint, model)
    args = llm.LLMArgs(
        api, input_tokens, output_tokens, input_stddev, output_stddev, input_range, output_range, dataset,
        slo_ttft_p99_ms, slo_tpot_p99_ms, slo_e2e_p99_ms, slo_attainment, slo_percentile, burstiness,
        per_bucket, min_bucket_share, max_buckets, start_rps, max_points, resolution, warmup_s, window_s,
        workers, fixed_schedule, time_scale,
    )  # fmt: skip
    if args.given or (endpoint is None and server_cmd is None and _is_llm(model)):
        opts = dict(max_error_rate=max_error_rate, model_option=model_option, request_path=request_path,
                    health_path=health_path, ready_timeout=ready_timeout)  # fmt: skip
        return _run_llm(settings, args, model, server_cmd, endpoint, shapes, quick, model_name, header,
                        as_json, quiet, opts)  # fmt: skip
    slo = bench_results.slo_from(_required(slo_p99_ms), max_error_rate)
    config = from_flags(
        BenchConfig, CONFIG_FLAGS, BenchConfig.quick if quick else BenchConfig, workers=workers,
        remote_workers=remote_workers, master_bind=master_bind, master_port=master_port, emulation=emulation,
        pool_users=users, probe_users=probe_users, request_timeout_s=request_timeout,
    ).tuned(warmup_s=warmup_s, window_s=window_s, max_points=max_points, resolution=resolution)  # fmt: skip
    positive(ready_timeout, "--ready-timeout", maximum=3600)
    body = Payload(template, payload, None, model_name, content_type, parse_headers(header))
    target = None if endpoint else _server_target(
        model, model_option, server_cmd, request_path, health_path, ready_timeout, body
    )  # fmt: skip
    shape_list, run_one = _runner(settings, target, endpoint, shapes, emulation, body, model, config)
    out = _measure_each(settings, shape_list, slo, run_one, quiet)
    label = target.label if target is not None else model or "custom"
    _report(out, label, endpoint or server_cmd or label, slo, as_json)


def _runner(
    settings: Settings, target: BenchServer | None, endpoint: str | None, shapes: str, emulation: str,
    body: Payload, model: str | None, config: BenchConfig,
) -> tuple[list[str], Callable[..., CapacityResult]]:  # fmt: skip
    """The shapes to measure and how to measure one: a server started here, or an endpoint."""
    catalog = Catalog.load(settings)
    shape_list = split_list(shapes, "--shapes")
    if target is not None:
        _require_harness("bench run")
        from advisor.bench.runner import check_shapes, run_server

        check_shapes(catalog, shape_list, emulation)  # refuse impossible shapes before anything starts
        return shape_list, partial(run_server, settings, target=target, config=config, catalog=catalog)
    assert endpoint is not None
    # the machine behind an endpoint is not ours to know: --shapes only labels it (checked)
    where_it_runs = "unknown" if shapes == HOST_SHAPE else catalog.instance(shape_list[0]).name
    run_one = partial(_run_endpoint, endpoint=endpoint, body=body, label=model or "custom", config=config)
    return [where_it_runs], run_one


def _required(slo_p99_ms: float | None) -> float:
    if slo_p99_ms is None:
        raise InputError(
            "no SLO given", where="--slo-p99-ms", fix="pass --slo-p99-ms MS (or the LLM bounds for an LLM)"
        )
    return slo_p99_ms


def _is_llm(model: str | None) -> bool:
    return model is not None and model in REFERENCE_MODELS and REFERENCE_MODELS[model].kind == "llm"


def _run_llm(
    settings: Settings, args: llm.LLMArgs, model: str | None, server_cmd: str | None, endpoint: str | None,
    shapes: str, quick: bool, model_name: str | None, header: list[str], as_json: bool, quiet: bool,
    opts: dict[str, Any],
) -> None:  # fmt: skip
    """``bench run`` for an LLM: a running endpoint, a --server-cmd, or a reference LLM."""
    slo = llm.slo_of(args, opts["max_error_rate"])
    llm.sizes_of(args)  # checked before any server starts
    llm.config_of(args, quick)
    shape = HOST_SHAPE if shapes == HOST_SHAPE else split_list(shapes, "--shapes")[0]
    if endpoint is None:
        shape = Catalog.load(settings).instance(shape).name if shape != HOST_SHAPE else shape
    common: dict[str, Any] = dict(args=args, shape=shape, slo=slo, quick=quick, model_name=model_name,
                  headers=parse_headers(header), quiet=quiet)  # fmt: skip
    if endpoint is not None:
        split_endpoint(endpoint)  # a URL, or one clear line
        label = model or "custom"
        out = llm.measure_all(settings, target_url=endpoint, label=label, **common)
        target = endpoint
    else:
        body = Payload("json", None, None, model_name, "application/json", parse_headers(header))
        server = _server_target(
            model, opts["model_option"], server_cmd, opts["request_path"] or "/v1/chat/completions",
            opts["health_path"], opts["ready_timeout"], body,
        )  # fmt: skip
        label = server.label
        out = llm.run_server_llm(settings, server, label=label, **common)
        target = server_cmd or label
    llm.emit(out, label=label, target=target, slo=slo, as_json=as_json)
    if any(r.status != "completed" for r in out):
        raise typer.Exit(1)


def _require_harness(command: str) -> None:
    """One line, not a traceback, when the measuring side of advisor.bench lacks the bench extra."""
    try:
        import advisor.bench.runner  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"`advisor {command}` needs the bench extra ({exc.name} is missing)",
            where=command,
            fix="pip install 'advisor[bench]'",
        ) from None


def _check_run_args(emulation: str, server_cmd: str | None, endpoint: str | None, model: str | None) -> None:
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


def _measure_each(
    settings: Settings, shapes: list[str], slo: SLO, run_one: Callable[..., CapacityResult], quiet: bool
) -> list[CapacityResult]:
    """``run_one`` per shape, with the progress display (an interrupt ends it as any command: one line)."""
    with Store(settings.db_path) as store, view.Progress(quiet or not sys.stderr.isatty()) as progress:
        return [run_one(store=store, shape=shape, slo=slo, on_event=progress.handle) for shape in shapes]


def _run_endpoint(
    *, store: Store, shape: str, slo: SLO, on_event: EventSink, endpoint: str, body: Payload, label: str,
    config: BenchConfig,
) -> CapacityResult:  # fmt: skip
    request = build_request(
        endpoint, template=body.template, body_path=body.body_path, model_name=body.model_name,
        content_type=body.content_type, headers=dict(body.headers),
    )  # fmt: skip
    _require_harness("bench run --endpoint")
    from advisor.bench.runner import run_endpoint

    return run_endpoint(store, request, slo, label=label, shape=shape, config=config, on_event=on_event)


def _server_target(
    model: str | None,
    model_option: list[str],
    server_cmd: str | None,
    request_path: str | None,
    health_path: str,
    ready_timeout: float | None,
    body: Payload,
) -> BenchServer:
    """The server ``bench run`` starts: ``--server-cmd``, else the reference model ``--model``."""
    if server_cmd is not None:
        return command_server(
            model or "custom", server_cmd, body, request_path=request_path, health_path=health_path,
            ready_timeout_s=ready_timeout or DEFAULT_READY_TIMEOUT_S,
        )  # fmt: skip
    assert model is not None
    return reference_server(
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


@app.command("worker")
def worker(
    master: str = typer.Option(..., "--master", help="HOST:PORT of the `bench run` master."),
    users: int = field_option(BenchConfig, "pool_users", "--users", min=1),
    request_timeout: float = field_option(BenchConfig, "request_timeout_s", "--request-timeout"),
) -> None:
    """Run a Locust load-generation worker for a `bench run --remote-workers N` on another machine."""
    host, sep, port = master.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"not HOST:PORT: {master!r}", where="--master", fix="e.g. --master 10.0.0.5:5557")
    args = [
        sys.executable,
        "-m",
        "advisor.bench.loadgen.process",
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
    if importlib.util.find_spec("locust") is None:
        raise ConfigError(
            "`advisor bench worker` needs the bench extra (locust is missing)",
            where="bench worker",
            fix="pip install 'advisor[bench]'",
        )
    os.execv(sys.executable, args)  # a fresh process: Locust patches it with gevent on import


@app.command("models")
def models_(as_json: bool = typer.Option(False, "--json")) -> None:
    """The reference models `bench run --model` knows."""
    models = list(REFERENCE_MODELS.values())
    if as_json:
        print_json(
            {
                "models": [
                    {
                        "name": m.name,
                        "kind": m.kind,
                        "description": m.description,
                        "path": m.path,
                        "options": m.options,
                    }
                    for m in models
                ]
            }
        )
        return
    for m in models:
        opts = ", ".join(f"{k}={v}" for k, v in m.options.items())
        console.print(
            f"[bold]{m.name}[/]{' (LLM)' if m.kind == 'llm' else ''}: {m.description} "
            f"(POST {m.path}{'; options ' + opts if opts else ''})"
        )


app.command("show")(bench_results.show)
app.command("export")(bench_results.export)
app.command("suggest")(bench_results.suggest)
app.command("jobs")(bench_results.jobs)
# The command's name until 0.1: "plan" now only means a way to serve a model (docs/glossary.md).
app.command("plan", hidden=True, deprecated=True)(bench_results.jobs)
app.command("import")(bench_results.import_)
app.command("buckets")(llm.buckets)
app.command("estimate")(bench_estimate.estimate)
