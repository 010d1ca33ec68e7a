"""``advisor bench`` for LLMs as a user runs it, without a server: the trace's bucket grid, and bad input as
one line before anything starts. The measuring runs are in tests/integration/test_bench_llm.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import SHARED, assert_one_line_error, run_cli

CONV = SHARED / "traces" / "azure_llm_inference_2023_conv.csv"
CODE = SHARED / "traces" / "azure_llm_inference_2023_code.csv"
needs_traces = pytest.mark.skipif(not CONV.is_file(), reason="../shared/traces/ is not beside the checkout")


@needs_traces
def test_the_conversation_traces_grid_is_printed_with_its_largest_bucket() -> None:
    out = run_cli("bench", "buckets", str(CONV), "--json")
    assert out.code == 0, out.stderr
    grid = json.loads(out.stdout)
    assert grid["requests"] == 19_366
    cells = {c["bucket"]: c for c in grid["cells"]}
    # ../shared/llm/NOTES.md §6: in 1k-2k x out 250-500 holds 26 % of the conversation trace
    assert grid["cells"][0]["bucket"] == "in 1k-2k x out 250-500"
    assert cells["in 1k-2k x out 250-500"]["share"] == pytest.approx(0.264, abs=0.002)
    assert sum(c["requests"] for c in grid["cells"]) == grid["requests"]
    assert sum(c["share"] for c in grid["cells"]) == pytest.approx(1.0, abs=1e-4)
    table = run_cli("bench", "buckets", str(CONV))
    assert table.code == 0
    assert "input \\ output" in table.stdout and "26.4%" in table.stdout and "19,366 requests" in table.stdout


@needs_traces
def test_the_code_traces_short_outputs_dominate() -> None:
    grid = json.loads(run_cli("bench", "buckets", str(CODE), "--json").stdout)
    short = sum(c["share"] for c in grid["cells"] if c["bucket"].endswith("x out <25"))
    assert short > 0.5  # code completion: most answers under 25 tokens (NOTES §6: p50 13)


def test_a_burstgpt_style_trace_drops_failed_requests(tmp_path: Path) -> None:
    trace = tmp_path / "burst.csv"
    trace.write_text(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "0,ChatGPT,120,300,420,Conversation log\n"
        "1.5,ChatGPT,2000,0,2000,Conversation log\n"  # a failure: no response
        "3,GPT-4,30,40,70,API log\n"
    )
    grid = json.loads(run_cli("bench", "buckets", str(trace), "--json").stdout)
    assert grid["requests"] == 2
    assert {c["bucket"] for c in grid["cells"]} == {"in 100-250 x out 250-500", "in 25-100 x out 25-100"}


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--endpoint", "http://127.0.0.1:9/v1/chat/completions", "--input-tokens", "10"], ["latency bound"]),
        (
            ["--endpoint", "http://127.0.0.1:9/v1/x", "--api", "grpc", "--slo-ttft-p99-ms", "5"],
            ["--api", "grpc"],
        ),
        (["--model", "tiny-llm", "--slo-ttft-p99-ms", "-5"], ["--slo-ttft-p99-ms"]),
        (
            [
                "--model",
                "tiny-llm",
                "--slo-tpot-p99-ms",
                "50",
                "--input-range",
                "10-20",
                "--output-range",
                "1:2",
            ],
            ["--input-range", "MIN:MAX"],
        ),
        (["--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--output-tokens", "0"], ["--output-tokens"]),
        (["--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--slo-percentile", "100"], ["--slo-percentile"]),
        (["--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--dataset", "nowhere.csv"], ["nowhere.csv"]),
        (["--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--per-bucket"], ["--per-bucket", "--dataset"]),
        (["--model", "tabular"], ["--slo-p99-ms"]),
        (["--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--start-rps", "-1"], ["--start-rps"]),
        (["--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--burstiness", "0"], ["--burstiness"]),
        (
            ["--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--fixed-schedule"],
            ["--fixed-schedule", "--dataset"],
        ),
    ],
)
def test_bad_llm_input_is_one_line_before_anything_starts(args: list[str], needles: list[str]) -> None:
    assert_one_line_error(run_cli("bench", "run", *args), *needles)


def test_a_dataset_with_fixed_sizes_is_refused(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("ContextTokens,GeneratedTokens\n10,20\n")
    out = run_cli("bench", "run", "--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--dataset", str(trace),
                  "--input-tokens", "5")  # fmt: skip
    assert_one_line_error(out, "--dataset")


@pytest.mark.parametrize(
    ("header", "row", "extra", "needles"),
    [
        ("ContextTokens,GeneratedTokens", "10,20", [], ["--fixed-schedule", "no arrival times"]),
        ("TIMESTAMP,ContextTokens,GeneratedTokens", "2023-11-16 18:15:46.68,10,20", ["--time-scale", "0"],
         ["--time-scale"]),
    ],
)  # fmt: skip
def test_a_fixed_schedule_needs_arrival_times_and_a_speed_up(
    tmp_path: Path, header: str, row: str, extra: list[str], needles: list[str]
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(f"{header}\n{row}\n")
    out = run_cli("bench", "run", "--model", "tiny-llm", "--slo-tpot-p99-ms", "50", "--dataset", str(trace),
                  "--fixed-schedule", *extra)  # fmt: skip
    assert_one_line_error(out, *needles)


def test_a_trace_with_a_bad_count_names_its_line(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("ContextTokens,GeneratedTokens\n10,20\n10,abc\n")
    assert_one_line_error(run_cli("bench", "buckets", str(trace)), f"{trace}:3", "GeneratedTokens")
