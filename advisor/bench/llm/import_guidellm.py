"""GuideLLM ``benchmarks.json`` reports, read.

Learned from vllm-project/guidellm at ee7a77457ba668b4b5ccb40f110518829893b36a:
``src/guidellm/benchmark/schemas/report.py`` (metadata version 2 with ``config``; version 1 of v0.5/v0.6 has
``args`` and the same benchmark paths), ``benchmark.py`` and ``base.py`` (config.strategy, config.backend,
scheduler_metrics, metrics, requests by status, the computed start_time/end_time/duration), ``metrics.py``
(``GenerativeMetrics``), ``src/guidellm/schemas/statistics.py`` (``DistributionSummary``: nearest-rank
percentiles, optionally weighted), ``request_stats.py`` and ``info.py`` (per-request timings and computed
fields), ``src/guidellm/scheduler/strategies.py`` (synchronous, concurrent, throughput, constant, poisson).

GuideLLM's ``inter_token_latency_ms`` is advisor's TPOT per request, but its summary weights each request by
its output tokens - 1; its ``time_per_output_token_ms`` includes the first token and is never advisor's TPOT.
When the file keeps every request, the point is rebuilt from the per-request timings instead.
"""

from __future__ import annotations

from advisor.bench.llm.import_common import (
    ImportedBench,
    JsonNode,
    figures,
    opt_items,
)
from advisor.bench.llm.records import Api, StreamRecord

_GL_FIELDS = ("mean", "percentiles.p50", "percentiles.p90", "percentiles.p95", "percentiles.p99", "max")

_GL_TPOT = (
    "TPOT percentiles are GuideLLM's inter_token_latency_ms, which weights each request by its output "
    "tokens - 1; advisor's TPOT counts each request once"
)
_GL_NOT_TPOT = (
    "GuideLLM's time_per_output_token_ms includes the first token (latency / output tokens): "
    "never used as TPOT"
)
_GL_ITL = "GuideLLM records no per-chunk times: ITL left empty"
_GL_SEND = (
    "GuideLLM times TTFT and request latency from the actual send (request_start); advisor's start at the "
    "intended send time"
)
_GL_RANK = "GuideLLM's percentiles are nearest-rank; advisor's interpolate linearly"
_GL_COUNTS = "GuideLLM's TPOT sample count is in tokens, not requests (count stored as 0)"
_GL_STATUSES = ("successful", "incomplete", "errored")
_GL_SUMMARIES = (
    "time_to_first_token_ms",
    "inter_token_latency_ms",  # per request (last - first token) / (output tokens - 1): advisor's TPOT
    "request_latency",  # seconds
    "prompt_token_count",
    "output_token_count",
)


def read_guidellm(doc: JsonNode) -> tuple[list[ImportedBench], list[str]]:
    """Each benchmark as an :class:`ImportedBench`, and warnings naming every inexact mapping."""
    default_model = None
    for path in ("config.spec.backend.model", "args.backend_kwargs.model", "args.model"):
        node: JsonNode | None = doc
        for part in path.split("."):
            node = node.get(part) if node is not None and isinstance(node.value, dict) else None
        if node is not None and isinstance(node.value, str) and node.value:
            default_model = node.value
            break
    benches: list[ImportedBench] = []
    warnings: list[str] = [_GL_ITL]
    for b in doc.req("benchmarks").items():
        bench, notes = _guidellm_one(b, default_model)
        benches.append(bench)
        warnings += notes
    if not benches:
        raise doc.req("benchmarks").error("holds no benchmark", fix="import a run that finished a benchmark")
    return benches, warnings


def _guidellm_one(b: JsonNode, default_model: str | None) -> tuple[ImportedBench, list[str]]:
    warnings: list[str] = []
    config = b.req("config")
    strategy = config.req("strategy")
    kind = strategy.req("type_").text()
    rate: float | None = None
    if kind in ("poisson", "constant"):
        rate = strategy.req("rate").num()
        if rate <= 0:
            raise strategy.req("rate").error("expected a rate > 0")
        pacing = f"{kind} {rate:g} requests/s"
        if kind == "constant":
            warnings.append(f"{rate:g} requests/s: constant (evenly spaced) arrivals, not Poisson")
    elif kind == "concurrent":
        pacing = f"concurrent, {strategy.opt_count('streams')} streams"
    else:
        pacing = kind
    cap = strategy.opt_count("max_concurrency")
    if cap is not None:
        rate = None  # requests wait for a free slot: no longer an open loop
        pacing += f", at most {cap} in flight"
    backend = config.get("backend")
    model = backend.opt_text("model") if backend is not None else None
    route = backend.opt_text("request_format") if backend is not None else None
    api = {"/v1/chat/completions": Api.CHAT, "/v1/completions": Api.COMPLETIONS}.get(route or "")
    metrics = b.req("metrics")
    totals = metrics.req("request_totals")
    counts = {s: totals.req(s).count() for s in _GL_STATUSES}
    duration = b.opt_num("duration")
    scheduler = b.get("scheduler_metrics")
    if duration is None and scheduler is not None:
        duration = scheduler.req("measure_end_time").num() - scheduler.req("measure_start_time").num()
    if duration is None or duration <= 0:
        raise b.error("no benchmark duration > 0 (duration or scheduler_metrics.measure_*_time)")
    bench = ImportedBench(
        model=model or default_model, api=api, rate_rps=rate, pacing=pacing, duration_s=duration
    )
    if metrics.has("time_per_output_token_ms"):
        warnings.append(_GL_NOT_TPOT)
    records, from_send = _guidellm_records(b, counts)
    if records is not None:
        bench.records, bench.drop_itl = records, True
        end = b.opt_num("end_time")
        if end is None and scheduler is not None:
            end = scheduler.opt_num("measure_end_time")
        bench.cutoff_s = end if end is not None else max((x.end_s or x.sent_s for x in records), default=0.0)
        return bench, warnings + ([_GL_SEND] if from_send else [])
    bench.requests = sum(counts.values())
    bench.errors, bench.unfinished = counts["errored"], counts["incomplete"]
    bench.achieved_rps = counts["successful"] / duration

    ok = {name: _successful(metrics, name) for name in _GL_SUMMARIES}
    ttft, e2e = ok["time_to_first_token_ms"], ok["request_latency"]
    bench.ttft = figures(ttft, _GL_FIELDS, count=(ttft.opt_count("count") or 0) if ttft else 0)
    bench.tpot = figures(ok["inter_token_latency_ms"], _GL_FIELDS)  # its count is in tokens: not stated
    bench.e2e = figures(e2e, _GL_FIELDS, scale=1000.0, count=(e2e.opt_count("count") or 0) if e2e else 0)
    prompt, output = ok["prompt_token_count"], ok["output_token_count"]
    if prompt is not None:
        bench.input_tokens_per_s = (prompt.opt_num("total_sum") or 0.0) / duration
        bench.mean_input_tokens = prompt.opt_num("mean") if counts["successful"] else None
    if output is not None:
        bench.output_tokens_per_s = (output.opt_num("total_sum") or 0.0) / duration
        bench.mean_output_tokens = output.opt_num("mean") if counts["successful"] else None
    warnings += [_GL_SEND, _GL_TPOT, _GL_COUNTS, _GL_RANK]
    return bench, warnings


def _successful(metrics: JsonNode, name: str) -> JsonNode | None:
    """The ``successful`` part of one of GuideLLM's StatusDistributionSummary metrics."""
    node = metrics.get(name)
    return node.get("successful") if node is not None else None


def _guidellm_records(b: JsonNode, counts: dict[str, int]) -> tuple[list[StreamRecord] | None, bool]:
    """The benchmark's requests as StreamRecords when the file holds every one of them (else None), and
    whether some request had no ``targeted_start`` (then its TTFT starts at the actual send).

    GuideLLM keeps a sample (``sample_size``) and may keep warm-up requests; a list whose length differs from
    ``request_totals`` is not the measured population, so its summary figures are used instead.
    """
    requests = b.get("requests")
    if requests is None:
        return None, False
    groups = {s: (opt_items(requests, s) or []) for s in _GL_STATUSES}
    if any(len(groups[s]) != counts[s] for s in _GL_STATUSES) or not groups["successful"]:
        return None, False
    records: list[StreamRecord] = []
    from_send = False
    for status, items in groups.items():
        for item in items:
            timings = item.req("info").req("timings")
            sent = timings.opt_num("request_start")
            sent = sent if sent is not None else timings.opt_num("resolve_start")
            first = timings.opt_num("first_token_iteration")
            last = timings.opt_num("last_token_iteration")
            end = timings.opt_num("request_end")
            end = end if end is not None else timings.opt_num("resolve_end")
            outputs = item.opt_count("output_tokens")
            if status == "successful" and (sent is None or first is None or end is None or outputs is None):
                return None, False  # not streamed, or the timings needed for TTFT and TPOT are missing
            intended = timings.opt_num("targeted_start")
            sent = sent if sent is not None else (intended or 0.0)
            from_send = from_send or intended is None
            chunks = [first] if first is not None else []
            if first is not None and last is not None and last > first:
                chunks.append(last)
            error = (item.req("info").opt_text("error") or "errored") if status == "errored" else None
            records.append(
                StreamRecord(
                    intended_s=intended if intended is not None else sent,
                    sent_s=sent,
                    chunk_s=chunks if status != "errored" else [],
                    end_s=end if status == "successful" else None,
                    input_tokens=item.opt_count("prompt_tokens"),
                    output_tokens=outputs,
                    error=error,
                )
            )
    return records, from_send
