"""Imports of vLLM, GuideLLM, AIPerf and advisor results onto advisor's definitions (advisor/1).

The sample files in ``tests/data/llm_imports/`` are hand-built, field for field, from each tool's source:

* ``vllm_summary.json``, ``vllm_detailed.json``, ``vllm_appended.json``: vllm-project/vllm
  ``vllm/benchmarks/serve.py`` at 009e6d4a1cd6ba3fb2a9fc00f4ec06f5297232a1 (``benchmark()``'s result dict,
  ``process_one_metric()``'s ``mean_/median_/std_/p{X}_{metric}_ms`` keys, ``main_async()``'s header keys and
  its removal of the per-request lists without ``--save-detailed``; ``--append-result`` adds a line) and
  ``vllm/benchmarks/lib/endpoint_request_func.py`` at 02cfb534df5674737558730b10f23d1b7aef9b7c
  (``RequestFuncOutput``: a failure keeps ttft 0.0 and an error text). The summary figures in the files are
  computed from their per-request values the way ``calculate_metrics()`` does (np.percentile).
* ``guidellm_benchmarks.json``: vllm-project/guidellm at ee7a77457ba668b4b5ccb40f110518829893b36a,
  ``src/guidellm/benchmark/schemas/report.py`` (metadata version 2, config, benchmarks),
  ``benchmark.py``/``base.py`` (config.strategy, scheduler_metrics, metrics, requests, the computed
  start_time/end_time/duration), ``metrics.py`` (``GenerativeMetrics``: inter_token_latency_ms weighted by
  output tokens - 1, time_per_output_token_ms weighted by output tokens),
  ``src/guidellm/schemas/statistics.py`` (``DistributionSummary``, nearest-rank percentiles),
  ``request_stats.py`` and ``info.py`` (per-request timings and computed fields). Fields the importer does
  not read are left out of the sample.
* ``profile_export_aiperf.json``: ai-dynamo/aiperf at db4f6397d11ee2d4cfbb41f70b2327315163dcf0,
  ``aiperf/common/models/export_models.py`` (``JsonExportData``, ``JsonMetricResult``: unit, avg, p1..p99,
  min, max, std), ``aiperf/exporters/json_exporter.py`` (display units, ``exclude_unset``),
  ``aiperf/metrics/types/*.py`` (ms, sec, requests/sec, tokens/sec).
* ``profile_export_genai_perf.json``: triton-inference-server/perf_analyzer
  ``genai-perf/genai_perf/export_data/json_exporter.py`` at 09628cd6d6e31409c5f9adee3bbefdd2d58ef16a and
  ``genai_perf/metrics/statistics.py`` at 4cc7650c23bc80d16a27c1049950d87f399c9b7a (its unit bug included:
  every non-time metric says "requests/sec").

Expected values are read from the sample files (or recomputed from their per-request lists here), never
typed in, so a test fails if a figure lands in the wrong field.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from advisor.bench.llm import store as llm_store
from advisor.bench.llm.imports import detect, read_file
from advisor.bench.llm.records import (
    DEFINITIONS_ID,
    LLMSLO,
    Api,
    LLMBenchReport,
    LLMCapacity,
    LLMPoint,
    PointVerdict,
)
from advisor.errors import InputError
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import TESTS_DIR

DATA = TESTS_DIR / "data" / "llm_imports"
SLO = LLMSLO(ttft_p99_ms=500, tpot_p99_ms=50)
FIXTURES = {
    "vllm_summary.json": "vllm",
    "vllm_detailed.json": "vllm",
    "vllm_appended.json": "vllm",
    "guidellm_benchmarks.json": "guidellm",
    "profile_export_aiperf.json": "aiperf",
    "profile_export_genai_perf.json": "aiperf",
}


def _raw(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _write(tmp_path: Path, data: object, name: str = "result.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def _one(caps: list[LLMCapacity]) -> LLMPoint:
    assert len(caps) == 1 and len(caps[0].points) == 1
    return caps[0].points[0]


def _ok_ms(raw: dict[str, Any], values: list[float]) -> list[float]:
    """Values (s) of the successful requests of a vLLM detailed result, in ms."""
    return [v * 1000 for v, err in zip(values, raw["errors"], strict=True) if not err]


# ------------------------------------------------------------------------------------------------ vLLM


def test_vllm_summary_lands_in_our_fields() -> None:
    """vllm/benchmarks/serve.py @ 009e6d4a: default --percentile-metrics (ttft,tpot,itl) and
    --metric-percentiles (99); vLLM's TPOT and ITL are advisor's, its median is our p50; what it did not
    report stays None."""
    raw = _raw("vllm_summary.json")
    caps = read_file(DATA / "vllm_summary.json")
    cap, point = caps[0], _one(caps)
    assert (cap.tool, cap.definitions, cap.model, cap.api) == (
        "vllm",
        DEFINITIONS_ID,
        raw["model_id"],
        Api.COMPLETIONS,
    )
    assert point.offered_rps == raw["request_rate"]
    assert point.achieved_rps == raw["request_throughput"]
    assert (point.requests, point.errors) == (raw["completed"] + raw["failed"], raw["failed"])
    assert point.duration_s == raw["duration"]
    assert point.output_tokens_per_s == raw["output_throughput"]
    assert point.input_tokens_per_s == pytest.approx(raw["total_input_tokens"] / raw["duration"])
    for ours, theirs in (("ttft_ms", "ttft"), ("tpot_ms", "tpot"), ("itl_ms", "itl")):
        figures = getattr(point, ours)
        assert figures.p99 == raw[f"p99_{theirs}_ms"]
        assert figures.p50 == raw[f"median_{theirs}_ms"]
        assert figures.mean == raw[f"mean_{theirs}_ms"]
        assert figures.p90 is None and figures.p95 is None and figures.max is None  # not reported
    assert point.ttft_ms.count == raw["completed"]
    assert point.e2e_ms.p99 is None and point.e2e_ms.mean is None  # e2el is not a default metric
    assert point.verdict is PointVerdict.UNDECIDED
    assert (cap.capacity_rps, cap.reason) == (0.0, "no SLO given")
    assert any("actual send" in w for w in cap.warnings)


def test_vllm_detailed_per_request_lists_give_our_exact_percentiles() -> None:
    """vllm/benchmarks/serve.py @ 009e6d4a with --save-detailed (ttfts, itls, latencies, queue_times, errors;
    endpoint_request_func.py @ 02cfb534: times from the actual send). Our TTFT and E2E start when the request
    was due (vLLM's ttft/latency plus its queue time); TPOT and ITL are vLLM's exactly."""
    raw = _raw("vllm_detailed.json")
    point = _one(read_file(DATA / "vllm_detailed.json"))
    ttft_due = _ok_ms(raw, [t + q for t, q in zip(raw["ttfts"], raw["queue_times"], strict=True)])
    e2e_due = _ok_ms(raw, [t + q for t, q in zip(raw["latencies"], raw["queue_times"], strict=True)])
    assert point.ttft_ms.p50 == pytest.approx(statistics.median(ttft_due), rel=1e-9)
    assert point.ttft_ms.p50 != pytest.approx(raw["median_ttft_ms"], rel=1e-9)  # vLLM's starts at the send
    assert point.ttft_ms.max == pytest.approx(max(ttft_due), rel=1e-9)
    assert point.e2e_ms.p50 == pytest.approx(statistics.median(e2e_due), rel=1e-9)
    for ours, theirs in (("tpot_ms", "tpot"), ("itl_ms", "itl")):
        for q in ("50", "90", "99"):
            key = "median" if q == "50" else f"p{q}"
            assert getattr(getattr(point, ours), f"p{q}") == pytest.approx(
                raw[f"{key}_{theirs}_ms"], rel=1e-9
            )
    assert point.itl_ms.count == sum(len(gaps) for gaps in raw["itls"])
    assert (point.requests, point.errors) == (len(raw["ttfts"]), raw["failed"])
    assert point.ttft_ms.count == raw["completed"]
    assert point.send_lag_p99_ms > 0  # queue_times are the lag between due and sent


def test_vllm_appended_results_are_points_and_capacity_follows_the_slo() -> None:
    """vllm/benchmarks/serve.py @ 009e6d4a, --append-result: one JSON object a line (here 2 and 8 requests/s,
    backend openai-chat). Judged on the reported p99s: 2 passes, 8 misses TTFT."""
    lines = [json.loads(line) for line in (DATA / "vllm_appended.json").read_text().splitlines()]
    cap = read_file(DATA / "vllm_appended.json", slo=SLO)[0]
    assert [p.offered_rps for p in cap.points] == [line["request_rate"] for line in lines]
    assert [p.seq for p in cap.points] == [0, 1]
    assert [p.verdict for p in cap.points] == [PointVerdict.PASS, PointVerdict.FAIL]
    assert lines[1]["p99_ttft_ms"] > SLO.ttft_p99_ms >= lines[0]["p99_ttft_ms"]
    assert (cap.capacity_rps, cap.capacity_high_rps) == (lines[0]["request_rate"], lines[1]["request_rate"])
    assert cap.output_tokens_per_s == lines[0]["output_throughput"]
    assert cap.api is Api.CHAT
    assert any("role chunk" in w for w in cap.warnings)


@pytest.mark.parametrize(
    "change", [{"request_rate": "inf"}, {"max_concurrency": 4}, {"ramp_up_strategy": "linear"}]
)
def test_vllm_runs_that_are_not_open_loop_are_kept_but_not_judged(
    tmp_path: Path, change: dict[str, Any]
) -> None:
    """serve.py @ 009e6d4a writes request_rate "inf" (all at t = 0), max_concurrency and ramp-up keys: such a
    point has no open-loop rate, so it never sets a capacity."""
    raw = _raw("vllm_summary.json") | change
    cap = read_file(_write(tmp_path, raw), slo=SLO)[0]
    point = cap.points[0]
    assert point.verdict is PointVerdict.UNDECIDED
    assert point.offered_rps == raw["request_throughput"]  # offered = achieved, and the note says so
    assert "not an open-loop rate" in point.note
    assert (cap.capacity_rps, cap.reason) == (0.0, "no open-loop rate in the file to judge")


# -------------------------------------------------------------------------------------------- GuideLLM


def test_guidellm_inter_token_latency_is_our_tpot_and_its_tpot_never_is() -> None:
    """guidellm @ ee7a7745 metrics.py: inter_token_latency_ms (per request (last - first) / (tokens - 1)) is
    our TPOT (weighted by tokens - 1 in its summary: warned); time_per_output_token_ms includes the first
    token and must never become our TPOT. benchmarks[1] kept no request (sample_size 0): its summaries are
    mapped."""
    bench = _raw("guidellm_benchmarks.json")["benchmarks"][1]
    metrics = bench["metrics"]
    cap = read_file(DATA / "guidellm_benchmarks.json")[0]
    point = cap.points[1]
    itl = metrics["inter_token_latency_ms"]["successful"]
    tpot_theirs = metrics["time_per_output_token_ms"]["successful"]
    assert point.tpot_ms.p99 == itl["percentiles"]["p99"]
    assert point.tpot_ms.p50 == itl["percentiles"]["p50"]
    assert point.tpot_ms.mean == itl["mean"]
    theirs = {tpot_theirs["mean"], tpot_theirs["max"], *tpot_theirs["percentiles"].values()}
    ours = {point.tpot_ms.mean, point.tpot_ms.p50, point.tpot_ms.p90, point.tpot_ms.p95, point.tpot_ms.p99}
    assert not ours & theirs
    ttft = metrics["time_to_first_token_ms"]["successful"]
    assert (point.ttft_ms.p99, point.ttft_ms.count) == (ttft["percentiles"]["p99"], ttft["count"])
    latency = metrics["request_latency"]["successful"]
    assert point.e2e_ms.p95 == pytest.approx(latency["percentiles"]["p95"] * 1000)  # seconds in GuideLLM
    assert point.itl_ms.p50 is None and point.itl_ms.count == 0  # GuideLLM has no per-chunk gaps
    totals = metrics["request_totals"]
    assert (point.requests, point.errors, point.unfinished) == (
        totals["total"],
        totals["errored"],
        totals["incomplete"],
    )
    assert point.offered_rps == bench["config"]["strategy"]["rate"]
    assert point.achieved_rps == pytest.approx(totals["successful"] / bench["duration"])
    assert cap.model == bench["config"]["backend"]["model"] and cap.api is Api.CHAT
    text = " ".join(cap.warnings)
    assert "weights each request" in text and "time_per_output_token_ms" in text and "nearest-rank" in text


def test_guidellm_complete_requests_are_rebuilt_from_the_intended_send_time() -> None:
    """guidellm @ ee7a7745 request_stats.py/info.py: benchmarks[0] kept every request, with
    timings.targeted_start (when the scheduler meant to send it), request_start, first/last_token_iteration
    and request_end; our TTFT starts at targeted_start, GuideLLM's at request_start."""
    bench = _raw("guidellm_benchmarks.json")["benchmarks"][0]
    point = read_file(DATA / "guidellm_benchmarks.json")[0].points[0]
    ok = [r["info"]["timings"] for r in bench["requests"]["successful"]]
    outs = [r["output_tokens"] for r in bench["requests"]["successful"]]
    ttft = [(t["first_token_iteration"] - t["targeted_start"]) * 1000 for t in ok]
    tpot = [
        (t["request_end"] - t["first_token_iteration"]) * 1000 / (n - 1)
        for t, n in zip(ok, outs, strict=True)
    ]
    assert point.ttft_ms.p50 == pytest.approx(statistics.median(ttft))
    assert point.ttft_ms.p50 != pytest.approx(
        bench["metrics"]["time_to_first_token_ms"]["successful"]["median"]
    )
    assert point.tpot_ms.p50 == pytest.approx(statistics.median(tpot))
    assert point.tpot_ms.count == len(ok)  # over requests, not tokens
    assert point.errors == len(bench["requests"]["errored"])
    assert point.itl_ms.count == 0


def test_guidellm_sampled_requests_fall_back_to_its_summaries(tmp_path: Path) -> None:
    """guidellm @ ee7a7745 base.py: sample_size keeps a subset of requests; a list shorter than request_totals
    is not the measured population, so the summary is used (never percentiles of a sample)."""
    raw = _raw("guidellm_benchmarks.json")
    raw["benchmarks"][0]["requests"]["successful"].pop()
    point = read_file(_write(tmp_path, raw))[0].points[0]
    ttft = raw["benchmarks"][0]["metrics"]["time_to_first_token_ms"]["successful"]
    assert point.ttft_ms.p50 == ttft["percentiles"]["p50"]


# ----------------------------------------------------------------------------------------------- AIPerf


def test_aiperf_metrics_land_in_our_fields() -> None:
    """aiperf @ db4f6397 metrics/types: time_to_first_token, inter_token_latency ((latency - TTFT) /
    (OSL - 1): our TPOT), inter_chunk_latency (pooled chunk gaps: our ITL), request_latency (our E2E);
    request_count and error_request_count; benchmark_duration in sec; input_config.loadgen.request_rate
    (poisson by default)."""
    raw = _raw("profile_export_aiperf.json")
    slo = LLMSLO(ttft_p99_ms=500, tpot_p99_ms=50, max_error_rate=0.05)  # 2 errors in 102 requests
    cap = read_file(DATA / "profile_export_aiperf.json", slo=slo)[0]
    point = cap.points[0]
    for ours, theirs in (
        ("ttft_ms", "time_to_first_token"),
        ("tpot_ms", "inter_token_latency"),
        ("itl_ms", "inter_chunk_latency"),
        ("e2e_ms", "request_latency"),
    ):
        figures = getattr(point, ours)
        for q in ("p50", "p90", "p95", "p99", "max"):
            assert getattr(figures, q) == raw[theirs][q]
        assert figures.mean == raw[theirs]["avg"]
    count, errors = raw["request_count"]["avg"], raw["error_request_count"]["avg"]
    assert (point.requests, point.errors) == (count + errors, errors)
    assert point.duration_s == raw["benchmark_duration"]["avg"]
    assert point.achieved_rps == pytest.approx(raw["request_throughput"]["avg"], rel=1e-3)
    assert point.offered_rps == raw["input_config"]["loadgen"]["request_rate"]
    assert point.output_tokens_per_s == raw["output_token_throughput"]["avg"]
    assert point.mean_input_tokens == raw["input_sequence_length"]["avg"]
    assert point.verdict is PointVerdict.PASS
    assert cap.capacity_rps == point.offered_rps
    assert cap.model == raw["input_config"]["endpoint"]["model_names"][0]
    assert read_file(DATA / "profile_export_aiperf.json", slo=SLO)[0].points[0].verdict is PointVerdict.FAIL


def test_aiperf_units_are_converted_to_ms(tmp_path: Path) -> None:
    """aiperf @ db4f6397 enums/metric_enums.py: time units ns, us, ms, sec."""
    raw = _raw("profile_export_aiperf.json")
    ttft = raw["time_to_first_token"]
    raw["time_to_first_token"] = {k: (v * 1e6 if k != "unit" else "ns") for k, v in ttft.items()}
    raw["benchmark_duration"] = {"unit": "ms", "avg": raw["benchmark_duration"]["avg"] * 1000}
    point = _one(read_file(_write(tmp_path, raw)))
    assert point.ttft_ms.p99 == pytest.approx(ttft["p99"])
    assert point.duration_s == pytest.approx(_raw("profile_export_aiperf.json")["benchmark_duration"]["avg"])


@pytest.mark.parametrize(
    ("loadgen", "pacing"),
    [({"concurrency": 8}, "concurrency 8"), ({"request_rate": 3.0, "concurrency": 8}, "at most 8 in flight")],
)
def test_aiperf_concurrency_runs_are_not_judged(tmp_path: Path, loadgen: dict[str, Any], pacing: str) -> None:
    """aiperf @ db4f6397 user_config.py: without request_rate the run is concurrency-burst (closed loop); a
    rate with a concurrency cap makes requests wait for a slot. Neither is an open-loop rate."""
    raw = _raw("profile_export_aiperf.json")
    raw["input_config"]["loadgen"] = loadgen | {"request_count": 100}
    cap = read_file(_write(tmp_path, raw), slo=SLO)[0]
    assert cap.points[0].verdict is PointVerdict.UNDECIDED and pacing in cap.points[0].note
    assert cap.capacity_rps == 0.0


def test_genai_perf_export_is_refused_rather_than_given_invented_counts() -> None:
    """genai-perf json_exporter.py @ 09628cd6: statistics and args only, no request count or window."""
    with pytest.raises(InputError) as err:
        read_file(DATA / "profile_export_genai_perf.json")
    assert "benchmark_duration" in str(err.value) and "profile_export_aiperf.json" in str(err.value)


# -------------------------------------------------------------------------------------- detection, advisor


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_detect_names_the_tool_of_each_sample(name: str) -> None:
    """Each sample file (built from the sources named in the module docstring) is recognised."""
    text = (DATA / name).read_text()
    data = (
        [json.loads(line) for line in text.splitlines()] if name == "vllm_appended.json" else json.loads(text)
    )
    assert detect(data) == FIXTURES[name]


@pytest.mark.parametrize(
    "data", [None, 3, "text", [], [1, 2], {}, {"benchmarks": []}, {"input_config": {}}, {"completed": 3}]
)
def test_detect_refuses_what_no_tool_writes(data: object) -> None:
    assert detect(data) is None


def test_advisor_report_reads_back_unchanged(tmp_path: Path) -> None:
    """advisor's own `bench run --json` (records.LLMBenchReport, schema advisor.llm-bench/1)."""
    caps = read_file(DATA / "vllm_appended.json", slo=SLO)
    report = LLMBenchReport(
        model=caps[0].model, target="http://server", slo=SLO, capacity_rps=2.0, results=caps
    )
    path = tmp_path / "report.json"
    path.write_text(report.model_dump_json())
    assert detect(json.loads(path.read_text())) == "advisor"
    assert read_file(path) == caps


def test_model_comes_from_the_caller_when_the_file_lacks_it(tmp_path: Path) -> None:
    raw = _raw("vllm_summary.json")
    del raw["model_id"]
    with pytest.raises(InputError, match="--model"):
        read_file(_write(tmp_path, raw))
    assert read_file(_write(tmp_path, raw), model="my-model")[0].model == "my-model"
    named = read_file(DATA / "vllm_summary.json", model="other")[0]
    assert named.model == "other" and any(_raw("vllm_summary.json")["model_id"] in w for w in named.warnings)


def test_guidellm_report_version_1_names_the_model_in_args(tmp_path: Path) -> None:
    """guidellm v0.6.1 (e82b62ae) report.py: version 1 reports keep the arguments under ``args``
    (backend_kwargs.model); the benchmarks have the same paths as version 2."""
    raw = _raw("guidellm_benchmarks.json")
    raw["metadata"]["version"] = 1
    raw["args"] = {"backend": "openai_http", "backend_kwargs": {"model": "Qwen/Qwen3-8B"}}
    del raw["config"]
    for bench in raw["benchmarks"]:
        bench["config"]["backend"] = {"target": "http://localhost:8000", "model": None}
    assert {c.model for c in read_file(_write(tmp_path, raw))} == {"Qwen/Qwen3-8B"}


# ------------------------------------------------------------------------------------------ run ids


def test_run_id_is_a_hash_of_the_content_and_the_store_sees_a_repeat(
    tmp_path: Path, settings: Settings
) -> None:
    first = read_file(DATA / "vllm_summary.json")[0]
    copy = tmp_path / "renamed.json"
    copy.write_bytes((DATA / "vllm_summary.json").read_bytes())
    assert read_file(copy, shape="g6.xlarge")[0].run_id == first.run_id
    assert first.run_id.startswith("vllm-")
    copy.write_bytes(copy.read_bytes().replace(b'"completed": 8', b'"completed": 7'))
    assert read_file(copy)[0].run_id != first.run_id
    store = Store(settings.db_path)
    assert not llm_store.exists(store, first)
    llm_store.save(store, first, target="imported")
    assert llm_store.exists(store, read_file(DATA / "vllm_summary.json")[0])


def test_a_file_with_two_models_gives_two_runs(tmp_path: Path) -> None:
    lines = (DATA / "vllm_appended.json").read_text().splitlines()
    second = json.loads(lines[1]) | {"model_id": "Qwen/Qwen3-0.6B"}
    path = tmp_path / "two.json"
    path.write_text(lines[0] + "\n" + json.dumps(second))
    caps = read_file(path)
    assert [c.model for c in caps] == [json.loads(lines[0])["model_id"], "Qwen/Qwen3-0.6B"]
    assert len({c.run_id for c in caps}) == 2 and all(len(c.points) == 1 for c in caps)


# ------------------------------------------------------------------------------------------- bad input


def _vllm_with(**change: Any) -> dict[str, Any]:
    return dict(_raw("vllm_summary.json"), **change)


def _guidellm_without_metrics() -> dict[str, Any]:
    raw = _raw("guidellm_benchmarks.json")
    del raw["benchmarks"][0]["metrics"]
    return dict(raw)


def _detailed_short() -> dict[str, Any]:
    raw = _raw("vllm_detailed.json")
    raw["itls"] = raw["itls"][:-1]
    return dict(raw)


def _aiperf_unit() -> dict[str, Any]:
    raw = _raw("profile_export_aiperf.json")
    raw["time_to_first_token"]["unit"] = "fortnights"
    return dict(raw)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not JSON"),
        (b"", "empty"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b'{"hello": "world"}', "not a benchmark result"),
        (json.dumps(_vllm_with(duration="abc")).encode(), "duration: expected a finite number"),
        (json.dumps(_vllm_with(request_rate=-1)).encode(), "request_rate: expected a rate > 0"),
        (json.dumps(_vllm_with(completed=2.5)).encode(), "completed: expected a whole number"),
        (json.dumps(_vllm_with(p99_ttft_ms=-3)).encode(), "p99_ttft_ms: expected a number >= 0"),
        (json.dumps(_guidellm_without_metrics()).encode(), "benchmarks[0].metrics: missing"),
        (json.dumps(_detailed_short()).encode(), "itls: has 4 entries, ttfts has 5"),
        (json.dumps(_aiperf_unit()).encode(), "time_to_first_token.unit: unknown time unit"),
        (
            b'{"request_throughput": 1, "completed": 1, "duration": 1, "backend": "x", "request_rate": NaN}',
            "finite",
        ),
    ],
)
def test_malformed_files_fail_with_one_clear_line(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_file(path)
    text = str(err.value)
    assert needle in text and text.startswith(str(path)) and "\n" not in text
    assert err.value.fix


def test_missing_file_and_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_file(tmp_path / "nope.json")
    with pytest.raises(InputError, match="folder"):
        read_file(tmp_path)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a JSON value (lists: the first 3 items)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:3]):
            out += _paths(child, (*prefix, i))
    return out


SAMPLES = {name: _raw(name) for name in FIXTURES if name != "vllm_appended.json"}
SAMPLE_PATHS = {name: _paths(data) for name, data in SAMPLES.items()}


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    pick=st.integers(min_value=0),
    value=JSON,
    delete=st.booleans(),
)
def test_any_damage_to_a_sample_is_imported_or_refused_cleanly(
    tmp_path: Path, name: str, pick: int, value: Any, delete: bool
) -> None:
    """Property: one field of a real sample replaced by arbitrary JSON (or removed) is either imported or
    refused with an InputError; no other exception, no warning (filterwarnings = error)."""
    data = json.loads(json.dumps(SAMPLES[name]))
    path = SAMPLE_PATHS[name][pick % len(SAMPLE_PATHS[name])]
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    try:
        caps = read_file(_write(tmp_path, data, "damaged.json"))
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert all(isinstance(c, LLMCapacity) for c in caps)


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON)
def test_any_json_is_imported_or_refused_cleanly(tmp_path: Path, value: Any) -> None:
    """Property: arbitrary JSON is imported or refused with an InputError, never another exception."""
    with contextlib.suppress(InputError):
        read_file(_write(tmp_path, value, "any.json"))
