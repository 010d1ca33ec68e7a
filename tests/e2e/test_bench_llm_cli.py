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


def test_bench_estimate_prints_the_prior_per_shape_and_concurrency(tmp_path: Path) -> None:
    args = ("bench", "estimate", "--llm", "llama-3.1-8b", "--shapes", "g5.2xlarge,p5.4xlarge,c6i.large",
            "--input-tokens", "550", "--output-tokens", "150", "--concurrency", "1,16,64")  # fmt: skip
    out = run_cli(*args, "--json")
    assert out.code == 0, out.stderr
    doc = json.loads(out.stdout)
    rows = doc["estimates"]
    assert [(r["shape"], r["concurrency"]) for r in rows] == [
        (s, c) for s in ("g5.2xlarge", "p5.4xlarge") for c in (1, 16, 64)
    ]
    for r in rows:  # the contract's fields
        assert (
            r["ttft_ms"] > 0 and r["tpot_ms"] > 0 and r["output_tokens_per_s"] > 0 and r["method"] == "prior"
        )
    a10g = [r for r in rows if r["shape"] == "g5.2xlarge"]
    h100 = [r for r in rows if r["shape"] == "p5.4xlarge"]
    assert all(a["tpot_ms"] > h["tpot_ms"] for a, h in zip(a10g, h100, strict=True))  # 600 vs 3,350 GB/s
    assert a10g[0]["tpot_ms"] < a10g[1]["tpot_ms"] < a10g[2]["tpot_ms"]
    shapes = {s["shape"]: s for s in doc["shapes"]}
    assert not shapes["c6i.large"]["fits"] and shapes["c6i.large"]["reason"]
    assert shapes["p5.4xlarge"]["capacity_rps"] is None  # no SLO, no capacity
    with_slo = json.loads(
        run_cli(*args, "--json", "--slo-ttft-p99-ms", "2000", "--slo-tpot-p99-ms", "100").stdout
    )
    cap = {s["shape"]: s for s in with_slo["shapes"]}
    assert cap["p5.4xlarge"]["capacity_rps"] > cap["g5.2xlarge"]["capacity_rps"] > 0
    table = run_cli(*args, "--slo-tpot-p99-ms", "100")
    assert table.code == 0
    assert "not measured" in table.stdout and "g5.2xlarge: does not fit" not in table.stdout
    assert "c6i.large: does not fit" in table.stdout and "requests/s a replica" in table.stdout
    cfg = tmp_path / "config.json"
    cfg.write_text(
        json.dumps(
            {
                "num_hidden_layers": 32,
                "hidden_size": 4096,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "intermediate_size": 14336,
                "vocab_size": 128256,
            }
        )
    )
    from_config = json.loads(run_cli("bench", "estimate", "--llm", str(cfg), "--shapes", "g5.2xlarge",
                                     "--input-tokens", "550", "--output-tokens", "150", "--concurrency", "1",
                                     "--json").stdout)  # fmt: skip
    assert from_config["estimates"][0]["tpot_ms"] == pytest.approx(a10g[0]["tpot_ms"], rel=1e-6)
