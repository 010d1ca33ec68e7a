"""``advisor bench run`` for LLM servers, and ``advisor bench buckets``: flags, checks, dispatch.

``bench run`` is one command for both kinds of model; it hands over here when the model is an LLM (a reference
model of kind ``llm``, or any of the LLM flags below). The flags are declared once as ``Annotated`` aliases so
that ``bench run`` lists them beside its own. The harness is :mod:`advisor.bench.llm.runner`.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from advisor.bench.llm.records import LLMSLO, Api, LLMBenchReport, LLMCapacity, SizeSpec
from advisor.bench.servers.spec import BenchServer
from advisor.cli.options import from_flags
from advisor.cli.output import print_json
from advisor.errors import InputError
from advisor.render import bench_llm as view
from advisor.settings import Settings
from advisor.store import Store
from advisor.traffic.tokens import SizeSampler, TokenTrace, bucket_grid, read_token_trace

if TYPE_CHECKING:
    from advisor.bench.llm.runner import LLMBenchConfig

_P = "LLM (token streaming)"
ApiOpt = Annotated[
    str | None, typer.Option("--api", help="openai-chat or openai-completions.", rich_help_panel=_P)
]
InTok = Annotated[
    float | None, typer.Option("--input-tokens", help="Prompt tokens (mean).", rich_help_panel=_P)
]
OutTok = Annotated[
    float | None, typer.Option("--output-tokens", help="Output tokens (mean).", rich_help_panel=_P)
]
InSd = Annotated[
    float | None, typer.Option("--input-stddev", help="Normal sizes: stddev.", rich_help_panel=_P)
]
OutSd = Annotated[
    float | None, typer.Option("--output-stddev", help="Normal sizes: stddev.", rich_help_panel=_P)
]
InRange = Annotated[
    str | None, typer.Option("--input-range", help="Uniform sizes MIN:MAX.", rich_help_panel=_P)
]
OutRange = Annotated[
    str | None, typer.Option("--output-range", help="Uniform sizes MIN:MAX.", rich_help_panel=_P)
]
Dataset = Annotated[
    Path | None,
    typer.Option(
        "--dataset", help="Token trace (Azure or BurstGPT CSV): sizes sampled from it.", rich_help_panel=_P
    ),
]
Ttft = Annotated[float | None, typer.Option("--slo-ttft-p99-ms", help="TTFT bound (ms).", rich_help_panel=_P)]
Tpot = Annotated[float | None, typer.Option("--slo-tpot-p99-ms", help="TPOT bound (ms).", rich_help_panel=_P)]
E2e = Annotated[float | None, typer.Option("--slo-e2e-p99-ms", help="E2E bound (ms).", rich_help_panel=_P)]
Attain = Annotated[
    float | None,
    typer.Option("--slo-attainment", help="Least share of requests meeting every bound.", rich_help_panel=_P),
]
Pct = Annotated[
    float,
    typer.Option("--slo-percentile", help="Percentile the bounds apply to (99 = p99).", rich_help_panel=_P),
]
Burst = Annotated[
    float,
    typer.Option(
        "--burstiness", help="Gamma arrivals' shape (1 = Poisson, < 1 burstier).", rich_help_panel=_P
    ),
]
PerBucket = Annotated[
    bool,
    typer.Option("--per-bucket", help="Also measure each bucket of --dataset alone.", rich_help_panel=_P),
]
MinShare = Annotated[
    float,
    typer.Option("--min-bucket-share", help="Buckets below this share are skipped.", rich_help_panel=_P),
]
MaxBuckets = Annotated[
    int, typer.Option("--max-buckets", help="At most this many buckets.", rich_help_panel=_P)
]
StartRps = Annotated[float | None, typer.Option("--start-rps", help="First rate to try.", rich_help_panel=_P)]
FixedSchedule = Annotated[
    bool,
    typer.Option(
        "--fixed-schedule", help="Send --dataset's requests at their own times.", rich_help_panel=_P
    ),
]
TimeScale = Annotated[
    float, typer.Option("--time-scale", help="--fixed-schedule this many times faster.", rich_help_panel=_P)
]

LLM_FLAGS = (
    "--api",
    "--input-tokens",
    "--output-tokens",
    "--dataset",
    "--slo-ttft-p99-ms",
    "--slo-tpot-p99-ms",
)


@dataclass
class LLMArgs:
    """The LLM flags of ``bench run`` as given (None: not given)."""

    api: str | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    input_stddev: float | None = None
    output_stddev: float | None = None
    input_range: str | None = None
    output_range: str | None = None
    dataset: Path | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None
    attainment: float | None = None
    percentile: float = 99.0
    burstiness: float = 1.0
    per_bucket: bool = False
    min_bucket_share: float = 0.02
    max_buckets: int = 8
    start_rps: float | None = None
    max_points: int | None = None
    resolution: float | None = None
    warmup_s: float | None = None
    window_s: float | None = None
    workers: int = 0  # generator processes (bench run --workers; 0 and 1: this process)
    fixed_schedule: bool = False
    time_scale: float = 1.0

    @property
    def given(self) -> bool:
        """Whether any flag that only an LLM run takes was given."""
        return any(
            v is not None
            for v in (
                self.api,
                self.input_tokens,
                self.output_tokens,
                self.dataset,
                self.ttft_ms,
                self.tpot_ms,
            )
        )


def _ms(value: float | None, flag: str) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 < value <= 3_600_000):
        raise InputError(f"{value:g} is not a positive number of ms", where=flag, fix="e.g. 500")
    return value


def slo_of(args: LLMArgs, max_error_rate: float) -> LLMSLO:
    if args.ttft_ms is None and args.tpot_ms is None and args.e2e_ms is None:
        raise InputError(
            "an LLM run needs a latency bound",
            where="--slo-ttft-p99-ms/--slo-tpot-p99-ms",
            fix="pass e.g. --slo-ttft-p99-ms 2000 --slo-tpot-p99-ms 100",
        )
    if not 50 <= args.percentile < 100:
        raise InputError(f"{args.percentile:g} is not a percentile", where="--slo-percentile", fix="e.g. 99")
    if args.attainment is not None and not 0 < args.attainment <= 1:
        raise InputError(f"{args.attainment:g} is not a share", where="--slo-attainment", fix="e.g. 0.99")
    return LLMSLO(
        ttft_p99_ms=_ms(args.ttft_ms, "--slo-ttft-p99-ms"),
        tpot_p99_ms=_ms(args.tpot_ms, "--slo-tpot-p99-ms"),
        e2e_p99_ms=_ms(args.e2e_ms, "--slo-e2e-p99-ms"),
        min_attainment=args.attainment,
        quantile=args.percentile / 100,
        max_error_rate=max_error_rate,
    )


SEARCH_FLAGS = {"start_rps": "--start-rps", "max_points": "--max-points", "resolution": "--resolution"}
CONFIG_FLAGS = {
    "warmup_s": "--warmup-s",
    "screen_min_s": "--window-s",
    "confirm_min_s": "--window-s",
    "burstiness": "--burstiness",
    "generator_processes": "--workers",
}


def config_of(args: LLMArgs, quick: bool) -> LLMBenchConfig:
    """The bench's knobs from the flags (``--quick``'s or the defaults, then what was given), each value
    checked at its flag: ``bench run`` calls it before any server starts."""
    from advisor.bench.llm.runner import LLMBenchConfig
    from advisor.bench.llm.search import LLMSearchConfig

    def given(**values: Any) -> dict[str, Any]:
        return {k: v for k, v in values.items() if v is not None}

    search = from_flags(
        LLMSearchConfig,
        SEARCH_FLAGS,
        **given(start_rps=args.start_rps, max_points=args.max_points, resolution=args.resolution),
    )
    base = LLMBenchConfig.quick() if quick else LLMBenchConfig()
    windows = given(warmup_s=args.warmup_s, screen_min_s=args.window_s, confirm_min_s=args.window_s)
    values = {**base.model_dump(), **windows, "burstiness": args.burstiness, "search": search,
              "generator_processes": max(1, args.workers)}  # fmt: skip
    return from_flags(LLMBenchConfig, CONFIG_FLAGS, **values)


def _range(text: str, flag: str) -> tuple[int, int]:
    lo, sep, hi = text.partition(":")
    if not sep or not lo.strip().isdigit() or not hi.strip().isdigit() or not 1 <= int(lo) <= int(hi):
        raise InputError(f"not MIN:MAX tokens: {text!r}", where=flag, fix="e.g. 100:400")
    return int(lo), int(hi)


def sizes_of(args: LLMArgs) -> tuple[SizeSpec, SizeSampler, TokenTrace | None]:
    """The request-size distribution the flags describe (checked), its sampler, and the trace if any."""
    if args.fixed_schedule and (args.dataset is None or args.per_bucket):
        raise InputError(
            "--fixed-schedule sends one trace's requests at their own times",
            where="--fixed-schedule",
            fix="give --dataset TRACE, without --per-bucket",
        )
    if not (math.isfinite(args.time_scale) and 0 < args.time_scale <= 10_000):
        raise InputError(
            f"{args.time_scale:g} is not a speed-up", where="--time-scale", fix="use 0 < X <= 10000"
        )
    if args.dataset is not None:
        if any(
            v is not None
            for v in (args.input_tokens, args.output_tokens, args.input_range, args.output_range)
        ):
            raise InputError(
                "--dataset gives the sizes", where="--dataset", fix="drop --input-*/--output-* or --dataset"
            )
        trace = read_token_trace(args.dataset)
        if args.fixed_schedule and trace.arrival_s is None:
            raise InputError(
                f"{args.dataset.name} has no arrival times to send on",
                where="--fixed-schedule",
                fix="give a trace with a TIMESTAMP (Azure) or Timestamp (BurstGPT) column",
            )
        spec = SizeSpec(kind="trace", trace=args.dataset.name)
        return spec, SizeSampler(kind="trace", trace=trace), trace
    if args.input_range is not None or args.output_range is not None:
        if args.input_range is None or args.output_range is None:
            raise InputError("uniform sizes need both ranges", where="--input-range/--output-range")
        ri, ro = _range(args.input_range, "--input-range"), _range(args.output_range, "--output-range")
        spec = SizeSpec(kind="uniform", input_range=ri, output_range=ro)
        return spec, SizeSampler(kind="uniform", input_range=ri, output_range=ro), None
    tin = args.input_tokens if args.input_tokens is not None else 256.0
    tout = args.output_tokens if args.output_tokens is not None else 128.0
    for value, flag in ((tin, "--input-tokens"), (tout, "--output-tokens")):
        if not (math.isfinite(value) and 1 <= value <= 1_000_000):
            raise InputError(f"{value:g} tokens is out of range", where=flag, fix="use 1..1000000")
    sd_in, sd_out = args.input_stddev or 0.0, args.output_stddev or 0.0
    if sd_in < 0 or sd_out < 0:
        raise InputError("a standard deviation is >= 0", where="--input-stddev/--output-stddev")
    kind = "normal" if sd_in or sd_out else "fixed"
    spec = SizeSpec(kind=kind, input_tokens=tin, output_tokens=tout, input_stddev=sd_in or None,
                    output_stddev=sd_out or None)  # fmt: skip
    sampler = SizeSampler(
        kind=kind, input_tokens=tin, output_tokens=tout, input_stddev=sd_in, output_stddev=sd_out
    )
    return spec, sampler, None


def api_of(args: LLMArgs, url_path: str) -> Api:
    if args.api is None:
        return Api.COMPLETIONS if url_path.rstrip("/").endswith("/v1/completions") else Api.CHAT
    try:
        return Api(args.api)
    except ValueError:
        raise InputError(
            f"unknown API {args.api!r}", where="--api", fix="use openai-chat or openai-completions"
        ) from None


def emit(results: list[LLMCapacity], *, label: str, target: str, slo: LLMSLO, as_json: bool) -> None:
    whole = [r for r in results if r.bucket is None]
    report = LLMBenchReport(
        model=results[0].model if results else label, target=target, slo=slo,
        capacity_rps=whole[0].capacity_rps if whole else 0.0, results=results,
    )  # fmt: skip
    if as_json:
        print_json(report)
    else:
        view.print_report(report)


def progress(quiet: bool):  # type: ignore[no-untyped-def]
    """The per-point listener: lines on a terminal's stderr, nothing elsewhere."""
    return None if quiet or not sys.stderr.isatty() else view.progress_line


def buckets(
    dataset: Path = typer.Argument(
        ..., help="Token trace: Azure (ContextTokens, GeneratedTokens) or BurstGPT."
    ),
    min_share: float = typer.Option(0.0, "--min-share", help="Hide cells below this share in --json."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The request-size grid of a trace: share of requests per input x output bucket (Mélange's edges)."""
    trace = read_token_trace(dataset)
    grid = bucket_grid(trace)
    if as_json:
        doc = view.grid_json(grid)
        doc["cells"] = [c for c in doc["cells"] if c["share"] >= min_share]
        print_json({"dataset": dataset.name, **doc})
        return
    view.print_grid(grid, title=dataset.name)


def measure_all(
    settings: Settings,
    *,
    target_url: str,
    args: LLMArgs,
    label: str,
    shape: str,
    slo: LLMSLO,
    quick: bool,
    model_name: str | None,
    headers: dict[str, str],
    quiet: bool,
) -> list[LLMCapacity]:
    """Measure a running server: the whole distribution, then (with --per-bucket) each bucket alone."""
    from advisor.bench.llm.client import Target, calibrate, run_loop
    from advisor.bench.llm.runner import bucket_runs, measure_llm
    from advisor.bench.results import new_run_id

    spec, sampler, trace = sizes_of(args)
    if args.fixed_schedule and trace is not None:
        at = (target_url, args, trace, spec, label, shape, slo, quick, model_name, headers)
        return [_fixed_schedule(settings, *at)]
    if args.per_bucket and trace is None:
        raise InputError("--per-bucket needs --dataset", where="--per-bucket", fix="pass a token trace")
    api = api_of(args, target_url)
    config = config_of(args, quick)
    search = config.search
    target = Target(url=target_url, api=api, model_name=model_name, headers=headers)
    builder, warnings = run_loop(calibrate(target))
    listener = progress(quiet)
    run_id = new_run_id()
    out = []
    with Store(settings.db_path) as store:
        out.append(measure_llm(store, target, model=label, shape=shape, run_id=run_id, slo=slo, sizes=spec,
                               sampler=sampler, config=config, builder=builder, warnings=warnings,
                               on_point=listener))  # fmt: skip
        if args.per_bucket and trace is not None:
            start = max(out[0].capacity_rps, search.min_rps * 4)  # the mix's capacity: a bucket's is near it
            config = config.model_copy(update={"search": search.model_copy(update={"start_rps": start})})
            for bucket, _share, bucket_sampler in bucket_runs(trace, args.min_bucket_share, args.max_buckets):
                bucket_spec = spec.model_copy(update={"bucket": bucket})
                one = measure_llm(
                    store, target, model=label, shape=shape, run_id=run_id, slo=slo, sizes=bucket_spec,
                    sampler=bucket_sampler, config=config, bucket=bucket, builder=builder, warnings=warnings,
                    on_point=listener,
                )  # fmt: skip
                out.append(one)
    return out


def _fixed_schedule(
    settings: Settings, url: str, args: LLMArgs, trace: TokenTrace, spec: SizeSpec, label: str, shape: str,
    slo: LLMSLO, quick: bool, model_name: str | None, headers: dict[str, str],
) -> LLMCapacity:  # fmt: skip
    """``bench run --fixed-schedule``: the trace at its own times against the server, one point, stored."""
    from advisor.bench.llm.client import Target, calibrate, run_loop
    from advisor.bench.llm.schedule import send_schedule
    from advisor.bench.results import new_run_id

    target = Target(url=url, api=api_of(args, url), model_name=model_name, headers=headers)
    builder, warnings = run_loop(calibrate(target))
    with Store(settings.db_path) as store:
        return send_schedule(
            store, target, trace, model=label, shape=shape, run_id=new_run_id(), slo=slo, sizes=spec,
            builder=builder, config=config_of(args, quick), time_scale=args.time_scale,
            window_s=args.window_s, warnings=warnings,
        )  # fmt: skip


def run_server_llm(settings: Settings, server: BenchServer, **kwargs: Any) -> list[LLMCapacity]:
    """Start ``server`` (a reference LLM or --server-cmd) on a free port, measure it, stop it."""
    from advisor.bench.llm.scenario import serving

    with serving(settings, server, generator_cpus=max(1, kwargs["args"].workers)) as url:
        return measure_all(settings, target_url=url, **kwargs)
