"""AIPerf ``profile_export_aiperf.json`` (and the GenAI-Perf family's exports), read.

Learned from ai-dynamo/aiperf at db4f6397d11ee2d4cfbb41f70b2327315163dcf0:
``aiperf/common/models/export_models.py`` (``JsonExportData``: one ``JsonMetricResult`` per metric with unit,
avg, p1..p99, min, max, std; ``input_config``), ``aiperf/exporters/json_exporter.py`` (display units,
``exclude_unset``), ``aiperf/metrics/types/*.py`` (what each metric is) and
``aiperf/common/config/{loadgen_config,user_config}.py`` (request_rate, request_rate_mode poisson by
default, concurrency). GenAI-Perf's ``profile_export_genai_perf.json`` (triton-inference-server/perf_analyzer
``genai-perf/genai_perf/export_data/json_exporter.py`` at 09628cd6d6e31409c5f9adee3bbefdd2d58ef16a,
``metrics/statistics.py`` at 4cc7650c23bc80d16a27c1049950d87f399c9b7a) is the same shape but records neither
the request count nor the benchmark window: it is refused with a clear error rather than given invented ones.
"""

from __future__ import annotations

from advisor.bench.llm.import_common import (
    ImportedBench,
    JsonNode,
    figures,
)
from advisor.bench.llm.records import Api, Percentiles

AIPERF_METRICS = ("time_to_first_token", "request_latency", "request_throughput", "inter_token_latency")
"""Metrics whose presence (with a unit) beside ``input_config`` marks the AIPerf family."""
_MS_PER_UNIT = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "sec": 1000.0, "s": 1000.0}
_AIPERF_FIELDS = ("avg", "p50", "p90", "p95", "p99", "max")

_A_SEND = (
    "AIPerf times TTFT and request latency from the actual send; advisor's start at the intended send time"
)
_A_COUNTS = "AIPerf does not state how many samples each figure covers (count stored as 0)"
_AIPERF_FIGURES = (  # advisor's TTFT, TPOT, ITL, E2E in that order
    "time_to_first_token",
    "inter_token_latency",  # (latency - TTFT) / (output tokens - 1) per request: advisor's TPOT
    "inter_chunk_latency",  # every gap between chunks, pooled over requests: advisor's ITL
    "request_latency",
)


def read_aiperf(doc: JsonNode) -> tuple[list[ImportedBench], list[str]]:
    """The export's one benchmark as an :class:`ImportedBench`, and warnings naming every inexact mapping."""
    warnings = [_A_SEND, _A_COUNTS]
    config = doc.get("input_config")
    model, rate, pacing, api = _aiperf_config(config, warnings)
    window = doc.get("benchmark_duration")
    count_node = doc.get("request_count")
    if window is None or count_node is None:
        raise doc.error(
            "no benchmark_duration or request_count (a GenAI-Perf export records neither)",
            fix="import AIPerf's profile_export_aiperf.json, or vLLM or GuideLLM results",
        )
    duration = _aiperf_value(window, "avg", to_ms=True) / 1000.0
    if duration <= 0:
        raise window.error("expected a duration > 0")
    completed = _count(_aiperf_value(count_node, "avg"), count_node)
    errors_node = doc.get("error_request_count")  # exported only when some request failed
    errors = _count(_aiperf_value(errors_node, "avg"), errors_node) if errors_node is not None else 0
    bench = ImportedBench(model=model, api=api, rate_rps=rate, pacing=pacing, duration_s=duration)
    bench.requests, bench.errors = completed + errors, errors
    bench.achieved_rps = completed / duration  # AIPerf's request_throughput is the same quotient
    bench.ttft, bench.tpot, bench.itl, bench.e2e = (
        _aiperf_figures(doc.get(name)) for name in _AIPERF_FIGURES
    )
    total_in, total_out = doc.get("total_isl"), doc.get("total_osl")
    out_tps = doc.get("output_token_throughput")
    if total_in is not None:
        bench.input_tokens_per_s = _aiperf_value(total_in, "avg") / duration
    if out_tps is not None:
        bench.output_tokens_per_s = _aiperf_value(out_tps, "avg")
    elif total_out is not None:
        bench.output_tokens_per_s = _aiperf_value(total_out, "avg") / duration
    bench.mean_input_tokens = _aiperf_mean(doc.get("input_sequence_length"))
    bench.mean_output_tokens = _aiperf_mean(doc.get("output_sequence_length"))
    if doc.get("was_cancelled") is not None and doc.req("was_cancelled").value is True:
        warnings.append("the AIPerf run was cancelled before it finished")
    return [bench], warnings


def _aiperf_config(
    config: JsonNode | None, warnings: list[str]
) -> tuple[str | None, float | None, str, Api | None]:
    """Model, open-loop rate, pacing in words and route from AIPerf's ``input_config`` (GenAI-Perf: its args).

    AIPerf exports the config with ``exclude_unset``: an absent ``request_rate_mode`` is its default, poisson.
    """
    if config is None:
        return None, None, "unknown pacing", None
    endpoint = config.get("endpoint")
    loadgen = config.get("loadgen") or config  # GenAI-Perf keeps its args flat
    names = endpoint.get("model_names") if endpoint is not None else config.get("model")
    model = None
    if names is not None:
        listed = names.items() if isinstance(names.value, list) else [names]
        model = listed[0].text() if listed else None
    kind = (endpoint.opt_text("type") if endpoint is not None else config.opt_text("endpoint_type")) or ""
    api = {"chat": Api.CHAT, "completions": Api.COMPLETIONS}.get(kind.lower())
    rate = loadgen.opt_num("request_rate")
    mode = (loadgen.opt_text("request_rate_mode") or "poisson").lower()
    inputs = config.get("input")
    if inputs is not None and inputs.has("fixed_schedule") and inputs.req("fixed_schedule").value is True:
        return model, None, "fixed schedule (trace replay)", api
    concurrency = loadgen.opt_count("concurrency")
    if rate is None or mode == "concurrency_burst":
        return model, None, f"concurrency {concurrency or 1}", api
    if concurrency is not None:  # a rate with a cap on requests in flight: no longer an open loop
        return model, None, f"{mode} {rate:g} requests/s, at most {concurrency} in flight", api
    if rate <= 0:
        raise loadgen.req("request_rate").error("expected a rate > 0")
    if mode == "constant":
        warnings.append(f"{rate:g} requests/s: constant (evenly spaced) arrivals, not Poisson")
    return model, rate, f"{mode} {rate:g} requests/s", api


def _aiperf_figures(node: JsonNode | None) -> Percentiles:
    return figures(node, _AIPERF_FIELDS, scale=_unit_ms(node)) if node is not None else Percentiles(count=0)


def _aiperf_mean(node: JsonNode | None) -> float | None:
    return node.req("avg").nonneg() if node is not None and node.has("avg") else None


def _unit_ms(node: JsonNode) -> float:
    unit = node.req("unit").text()
    if unit not in _MS_PER_UNIT:
        raise node.req("unit").error(f"unknown time unit {unit!r}; expected one of {', '.join(_MS_PER_UNIT)}")
    return _MS_PER_UNIT[unit]


def _aiperf_value(node: JsonNode, key: str, *, to_ms: bool = False) -> float:
    return node.req(key).nonneg() * (_unit_ms(node) if to_ms else 1.0)


def _count(value: float, node: JsonNode) -> int:
    if value != int(value):
        raise node.error(f"expected a whole number of requests, got {value:g}")
    return int(value)
