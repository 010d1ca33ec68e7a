"""``advisor profile``: list, show, import and generate traffic profiles."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from advisor.cli.output import console, print_json
from advisor.errors import InputError
from advisor.settings import Settings
from advisor.traffic import ops
from advisor.traffic.csvfile import FillPolicy, write_profile_csv
from advisor.traffic.generators import generate, load_spec
from advisor.traffic.library import (
    check_profile_name,
    find_profile_path,
    list_profiles,
    load_profile_file,
    profile_destination,
    token_traces_dir,
)
from advisor.traffic.profile import TrafficProfile

if TYPE_CHECKING:
    from advisor.traffic.llm_prometheus import TokenTraffic

app = typer.Typer(help="Traffic profiles: requests/s over time (bundled, imported, generated).")

# TokenQueries' fields, in the order of the import command's LLM options
_TOKEN_QUERY_FIELDS = (
    "llm_model",
    "selector",
    "requests_query",
    "input_tokens_query",
    "output_tokens_query",
    "input_histogram",
    "output_histogram",
)
FILL_HELP = "Gaps and missing values: none (error), zero, ffill or interpolate."


def _summary_table(profile: TrafficProfile) -> Table:
    s = profile.summary()
    table = Table(title=f"Traffic profile {s.name}", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("source", s.source),
        ("time zone", s.timezone),
        ("start → end", f"{s.start} → {s.end}"),
        ("step / steps", f"{s.step_s} s / {s.steps:,}"),
        ("duration", f"{s.duration_hours:,.1f} h"),
        ("requests (total)", f"{s.total_requests:,.0f}"),
        ("requests per 730 h month", f"{s.requests_per_month:,.0f}"),
        ("mean / peak rps", f"{s.mean_rps:,.3f} / {s.peak_rps:,.3f}"),
        ("p50 / p90 / p99 rps", f"{s.p50_rps:,.3f} / {s.p90_rps:,.3f} / {s.p99_rps:,.3f}"),
        ("peak ÷ mean", "-" if s.peak_to_mean is None else f"{s.peak_to_mean:.2f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _spark(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    finite = [v for v in values if not math.isnan(v)]
    top = max(finite) if finite else 0.0
    if top <= 0:
        return bars[0] * len(values)
    return "".join(" " if math.isnan(v) else bars[min(7, int(v / top * 7.999))] for v in values)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str | None = typer.Argument(
        None, help="Profile name or file (.yaml spec, .csv profile or request log)."
    ),
    fill: FillPolicy = typer.Option(FillPolicy.NONE, "--fill", help=FILL_HELP),
    timezone: str | None = typer.Option(None, "--timezone", help="Zone of naive timestamps (default UTC)."),
    step_s: int | None = typer.Option(None, "--step", min=1, help="Resample to this step (seconds)."),
    peak_rps: float | None = typer.Option(None, "--peak-rps", help="Rescale to this peak rate."),
    monthly_requests: float | None = typer.Option(None, "--monthly-requests", help="Rescale to this volume."),
    repeat_to: str | None = typer.Option(None, "--repeat-to", help="Repeat to a day, week, month or year."),
    series: bool = typer.Option(False, "--series", help="With --json: include every step's rate."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Summary of one profile (rates, volume, percentiles, daily shape), or the list of named profiles."""
    settings: Settings = ctx.obj
    if ref is None:
        entries = list_profiles(settings)
        if as_json:
            print_json({"profiles": [e.model_dump() for e in entries]})
            return
        table = Table(title="Traffic profiles (use a name or a file with --profile)")
        for col in ("name", "kind", "origin", "description"):
            table.add_column(col)
        for e in entries:
            table.add_row(e.name, e.kind, e.origin, e.description)
        console.print(table)
        return
    path = find_profile_path(ref, settings, where=None)
    profile = load_profile_file(path, fill=fill, timezone=timezone)
    profile = ops.transform(
        profile, peak_rps=peak_rps, monthly_requests=monthly_requests, repeat=repeat_to, step_s=step_s
    )
    shape = ops.hourly_shape(profile)
    if as_json:
        payload: dict[str, Any] = {"summary": profile.summary().model_dump(), "hourly_mean_rps": shape}
        if series:
            payload["series"] = {
                "timestamps": [t.isoformat() for t in profile.index],
                "rps": [float(v) for v in profile.rps],
            }
        print_json(payload)
        return
    console.print(_summary_table(profile))
    for label, values in shape.items():
        console.print(
            f"{label:>8} by local hour 00-23: [cyan]{_spark(values)}[/]  (peak {np.nanmax(values):.3g} rps)"
        )


@app.command("import")
def import_(
    ctx: typer.Context,
    source: Path | None = typer.Argument(None, help="A profile CSV (timestamp,rps|count) or a request log."),
    name: str | None = typer.Option(None, "--name", help="Profile name (default: the file name)."),
    output: Path | None = typer.Option(
        None, "--output", help="Where to write (default $ADVISOR_HOME/profiles)."
    ),
    step_s: int | None = typer.Option(
        None, "--step", min=1, help="Step in seconds (logs and CloudWatch: default 60)."
    ),
    timezone: str | None = typer.Option(
        None, "--timezone", help="Zone of naive timestamps and of the profile."
    ),
    fill: FillPolicy = typer.Option(FillPolicy.NONE, "--fill", help=FILL_HELP),
    sagemaker_endpoint: str | None = typer.Option(
        None, "--sagemaker-endpoint", help="CloudWatch: endpoint name."
    ),
    variant: str = typer.Option("AllTraffic", "--variant", help="CloudWatch: SageMaker production variant."),
    alb: str | None = typer.Option(None, "--alb", help="CloudWatch: ALB dimension, app/<name>/<id>."),
    target_group: str | None = typer.Option(None, "--target-group", help="CloudWatch: ALB target group."),
    start: dt.datetime | None = typer.Option(None, "--start", help="CloudWatch: start (UTC unless offset)."),
    end: dt.datetime | None = typer.Option(None, "--end", help="CloudWatch/Prometheus: end (default now)."),
    region: str | None = typer.Option(None, "--region", help="CloudWatch: AWS region (default: settings)."),
    prometheus: str | None = typer.Option(None, "--prometheus", help="Prometheus: server URL."),
    query: str | None = typer.Option(
        None, "--query", help="Prometheus: PromQL giving one series of requests/s."
    ),
    since: str = typer.Option("14d", "--since", help="Prometheus: how far back (e.g. 14d, 36h), to --end."),
    header: list[str] = typer.Option(
        [],
        "--header",
        help="Prometheus: 'Name: value' sent with each query (e.g. Authorization); repeatable.",
    ),
    llm: bool = typer.Option(False, "--llm", help="Prometheus: an LLM engine's requests and tokens."),
    llm_model: str | None = typer.Option(None, "--llm-model", help="LLM: vLLM's model_name label value."),
    llm_selector: str | None = typer.Option(None, "--llm-selector", help='LLM: more matchers, e.g. job="x".'),
    requests_query: str | None = typer.Option(None, "--requests-query", help="LLM: PromQL of requests/s."),
    input_query: str | None = typer.Option(None, "--input-tokens-query", help="LLM: PromQL, input tokens/s."),
    output_query: str | None = typer.Option(
        None, "--output-tokens-query", help="LLM: PromQL, output tokens/s."
    ),
    input_hist: str | None = typer.Option(
        None, "--input-tokens-histogram", help="LLM: histogram of input tokens per request, or none."
    ),
    output_hist: str | None = typer.Option(
        None, "--output-tokens-histogram", help="LLM: histogram of output tokens per request, or none."
    ),
    token_trace: Path | None = typer.Option(
        None, "--token-trace", help="LLM: the token trace to write (default in $ADVISOR_HOME/token-traces)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a stored profile of that name."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Import a CSV profile, a request log, CloudWatch request counts, a Prometheus query or an LLM engine's
    request and token counters into a named profile (CSV), and for an LLM a token trace (CSV)."""
    settings: Settings = ctx.obj
    check_profile_name(name)
    values = (llm_model, llm_selector, requests_query, input_query, output_query, input_hist, output_hist)
    given = {k: v for k, v in zip(_TOKEN_QUERY_FIELDS, values, strict=True) if v is not None}
    if llm or token_trace is not None or given:
        other = query is not None or source is not None or sagemaker_endpoint is not None or alb is not None
        tokens = _from_prometheus_llm(prometheus, other, given, since, end, step_s, header, timezone, name)
        path = profile_destination(settings, tokens.profile.name, output, force)
        _report_llm(tokens, path, token_trace or token_traces_dir(settings) / f"{path.stem}.csv", as_json)
        return
    cloud = sagemaker_endpoint is not None or alb is not None
    live = cloud or prometheus is not None
    if live == (source is not None) or (cloud and prometheus is not None):
        raise InputError(
            "give one source: a file, a CloudWatch metric or a Prometheus query",
            where="SOURCE/--sagemaker-endpoint/--alb/--prometheus",
            fix="e.g. `advisor profile import log.csv`, `--sagemaker-endpoint NAME --start 2024-05-01` or "
            "`--prometheus URL --query 'sum(rate(http_requests_total[1m]))'`",
        )
    if prometheus is not None:
        profile = _from_prometheus(prometheus, query, since, end, step_s, header, timezone, name)
    elif cloud:
        profile = _from_cloudwatch(
            settings,
            sagemaker_endpoint,
            variant,
            alb,
            target_group,
            start,
            end,
            step_s,
            region,
            timezone,
            name,
        )
    else:
        assert source is not None
        if source.suffix in (".yaml", ".yml"):
            raise InputError(
                "that is a generator spec", where=str(source), fix="use `advisor profile generate`"
            )
        profile = load_profile_file(source, fill=fill, timezone=timezone, step_s=step_s, name=name)
    path = write_profile_csv(profile, profile_destination(settings, profile.name, output, force))
    _report_written(profile, path, as_json)


def _from_prometheus(
    url: str,
    query: str | None,
    since: str,
    end: dt.datetime | None,
    step_s: int | None,
    header: list[str],
    timezone: str | None,
    name: str | None,
) -> TrafficProfile:
    from advisor.traffic.prometheus import import_prometheus, parse_duration

    if not query:
        raise InputError(
            "a Prometheus import needs a query",
            where="--query",
            fix="e.g. --query 'sum(rate(http_requests_total{service=\"x\"}[1m]))'",
        )
    stop = _utc(end)
    return import_prometheus(
        url,
        query,
        start=stop - parse_duration(since),
        end=stop,
        step_s=step_s or 60,
        headers=_headers(header),
        timezone=timezone or "UTC",
        name=name or "prometheus",
    )


def _headers(header: list[str]) -> dict[str, str]:
    headers = {}
    for item in header:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise InputError("a header is not 'Name: value' (its value is not shown)", where="--header")
        headers[key.strip()] = value.strip()
    return headers


def _utc(end: dt.datetime | None) -> pd.Timestamp:
    stop = pd.Timestamp(end or dt.datetime.now(dt.UTC))
    return stop.tz_localize("UTC") if stop.tzinfo is None else stop.tz_convert("UTC")


def _from_prometheus_llm(
    url: str | None,
    other: bool,
    given: dict[str, str],
    since: str,
    end: dt.datetime | None,
    step_s: int | None,
    header: list[str],
    timezone: str | None,
    name: str | None,
) -> TokenTraffic:
    from advisor.traffic.llm_prometheus import TokenQueries, import_token_traffic
    from advisor.traffic.prometheus import parse_duration

    if url is None or other:
        raise InputError(
            "an LLM import reads a Prometheus server's counters: no --query, file or CloudWatch metric",
            where="--prometheus",
            fix="e.g. `advisor profile import --prometheus URL --llm-model NAME --since 7d`",
        )
    stop = _utc(end)
    return import_token_traffic(
        url,
        TokenQueries.model_validate(given),
        start=stop - parse_duration(since),
        end=stop,
        step_s=step_s or 60,
        headers=_headers(header),
        timezone=timezone or "UTC",
        name=name or "prometheus",
    )


def _report_llm(tokens: TokenTraffic, path: Path, trace: Path, as_json: bool) -> None:
    from advisor.traffic.token_histogram import write_token_trace

    written = write_profile_csv(tokens.profile, path)
    trace_written = write_token_trace(tokens.input_tokens, tokens.output_tokens, trace)
    t = tokens.totals
    if as_json:
        print_json(
            {
                "written": str(written),
                "token_trace": str(trace_written),
                "summary": tokens.profile.summary().model_dump(),
                "tokens": t.model_dump(),
            }
        )
        return
    _report_written(tokens.profile, written, as_json)
    console.print(
        f"Imported over {tokens.profile.start.isoformat()} → {tokens.profile.end.isoformat()}: "
        f"{t.requests:,.0f} requests, {t.input_tokens:,.0f} input tokens, "
        f"{t.output_tokens:,.0f} output tokens "
        f"(per request {t.mean_input_tokens:,.1f} in, {t.mean_output_tokens:,.1f} out)"
    )
    console.print(f"Input sizes: {t.input_sizes}; output sizes: {t.output_sizes}")
    console.print(
        f"Token trace written to [bold]{trace_written}[/] (a scenario's tokens: {{trace: {trace_written}}})"
    )


def _from_cloudwatch(
    settings: Settings,
    endpoint: str | None,
    variant: str,
    alb: str | None,
    target_group: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    step_s: int | None,
    region: str | None,
    timezone: str | None,
    name: str | None,
) -> TrafficProfile:
    from advisor.traffic.cloudwatch import MetricSource, import_cloudwatch

    if endpoint is not None and alb is not None:
        raise InputError("one CloudWatch source at a time", where="--sagemaker-endpoint/--alb")
    if start is None:
        raise InputError("a CloudWatch import needs a start", where="--start", fix="e.g. --start 2024-05-01")
    source = (
        MetricSource.sagemaker_endpoint(endpoint, variant)
        if endpoint is not None
        else MetricSource.application_load_balancer(alb or "", target_group)
    )
    return import_cloudwatch(
        source,
        start=start,
        end=end or dt.datetime.now(dt.UTC),
        step_s=step_s or 60,
        region=region or settings.default_region,
        endpoint_url=settings.aws_endpoint_url,
        timezone=timezone or "UTC",
        name=name,
    )


@app.command("generate")
def generate_(
    ctx: typer.Context,
    spec: str = typer.Argument(..., help="A generator spec (.yaml) or the name of a bundled one."),
    output: Path | None = typer.Option(
        None, "--output", help="Where to write (default $ADVISOR_HOME/profiles)."
    ),
    name: str | None = typer.Option(None, "--name", help="Profile name (default: the spec's)."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Override the spec's seed."),
    step_s: int | None = typer.Option(None, "--step", min=1, help="Resample to this step (seconds)."),
    peak_rps: float | None = typer.Option(None, "--peak-rps", help="Rescale to this peak rate."),
    monthly_requests: float | None = typer.Option(None, "--monthly-requests", help="Rescale to this volume."),
    repeat_to: str | None = typer.Option(None, "--repeat-to", help="Repeat to a day, week, month or year."),
    force: bool = typer.Option(False, "--force", help="Replace a stored profile of that name."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Generate a profile from a parametric spec and write it as a CSV profile."""
    settings: Settings = ctx.obj
    check_profile_name(name)
    path = find_profile_path(spec, settings, where=None)
    if path.suffix not in (".yaml", ".yml"):
        raise InputError(
            "not a generator spec", where=str(path), fix="pass a .yaml spec (see load_profiles/)"
        )
    parsed = load_spec(path)
    if seed is not None or name is not None:
        parsed = parsed.model_copy(
            update={"seed": parsed.seed if seed is None else seed, "name": name or parsed.name}
        )
    profile = generate(parsed)
    profile = ops.transform(
        profile, peak_rps=peak_rps, monthly_requests=monthly_requests, repeat=repeat_to, step_s=step_s
    )
    written = write_profile_csv(profile, profile_destination(settings, profile.name, output, force))
    _report_written(profile, written, as_json)


def _report_written(profile: TrafficProfile, path: Path, as_json: bool) -> None:
    if as_json:
        print_json({"written": str(path), "summary": profile.summary().model_dump()})
        return
    console.print(_summary_table(profile))
    console.print(f"Written to [bold]{path}[/] (use it with --profile {profile.name} or --profile {path})")
