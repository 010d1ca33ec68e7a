"""The LLM bench measuring real servers: capacities against the simulated truth, intervals that contain it,
the per-bucket table, and tiny-llm end to end.

The synthetic LLM server runs :mod:`advisor.bench.llm.engine` in real time; :mod:`advisor.bench.llm.simulate`
runs the same engine without a clock, so its capacity is the truth. The SLOs here judge p90
(``--slo-percentile 90``): a p90 is decided in tens of requests where a p99 needs hundreds, which keeps each
search near a minute; the method is the same (the p99 runs are in the issue's closing note). The server adds
a few milliseconds the engine does not model (HTTP, its event loop: 3-6 ms to an idle TTFT), allowed for as
``*_SLACK_MS``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from advisor.bench.llm.engine import EngineConfig, EngineMode
from advisor.bench.llm.simulate import simulate_point, true_capacity
from tests.helpers import run_cli

pytestmark = pytest.mark.load  # capacities and latencies: nothing else may use the CPUs

TTFT_SLACK_MS = 10.0
TPOT_SLACK_MS = 1.0
QUICK = ["--quick", "--slo-percentile", "90", "--resolution", "0.05", "--json"]

SLOTS = EngineConfig(mode=EngineMode.SLOTS, slots=8, tpot_ms=10, prefill_ms_per_token=0.02)
BATCHING = EngineConfig(
    mode=EngineMode.BATCHING, step_base_ms=20, step_per_seq_ms=1, prefill_ms_per_token=0.02, max_num_seqs=64
)


def _options(config: EngineConfig) -> list[str]:
    values = {
        "mode": "0" if config.mode is EngineMode.SLOTS else "1",
        "slots": str(config.slots),
        "tpot_ms": str(config.tpot_ms),
        "step_base_ms": str(config.step_base_ms),
        "step_per_seq_ms": str(config.step_per_seq_ms),
        "prefill_ms_per_token": str(config.prefill_ms_per_token),
        "max_num_seqs": str(config.max_num_seqs),
    }
    return [arg for key, value in values.items() for arg in ("--model-option", f"{key}={value}")]


def _bench(config: EngineConfig, *args: str) -> dict[str, Any]:
    out = run_cli("bench", "run", "--model", "synthetic-llm", *_options(config), *args, *QUICK, timeout=600)
    assert out.code == 0, out.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.stdout)
    return report


@pytest.mark.parametrize(
    ("case", "config", "sizes", "ttft_ms", "tpot_ms", "metric", "slack"),
    [
        ("TTFT-bound: k slots", SLOTS, (100, 20), 150.0, 100.0, "ttft", TTFT_SLACK_MS),
        ("TPOT-bound: continuous batching", BATCHING, (200, 16), 2000.0, 40.0, "tpot", TPOT_SLACK_MS),
    ],
)
def test_capacity_is_within_10_percent_of_the_simulated_engine_and_intervals_contain_the_truth(
    case: str,
    config: EngineConfig,
    sizes: tuple[int, int],
    ttft_ms: float,
    tpot_ms: float,
    metric: str,
    slack: float,
) -> None:
    truth = true_capacity(config, ttft_ms, tpot_ms, [sizes], quantile=0.9)
    report = _bench(
        config,
        *("--input-tokens", str(sizes[0]), "--output-tokens", str(sizes[1])),
        *("--slo-ttft-p99-ms", f"{ttft_ms:g}", "--slo-tpot-p99-ms", f"{tpot_ms:g}"),
        *("--start-rps", f"{truth.capacity_rps / 3:.3g}"),
    )
    result = report["results"][0]
    trace = [
        (p["offered_rps"], p["verdict"], p["confirm"], p[f"{metric}_ms"]["ci_estimate"])
        for p in result["points"]
    ]
    assert report["capacity_rps"] == result["capacity_rps"]
    assert 0.9 * truth.capacity_rps <= result["capacity_rps"] <= 1.1 * truth.capacity_rps, (
        case,
        truth,
        trace,
    )
    confirmed = [p for p in result["points"] if p["confirm"] and p["verdict"] != "invalid"]
    assert confirmed, trace
    for point in confirmed:  # each stated 95 % interval holds the engine's own figure at that rate
        simulated = simulate_point(config, point["offered_rps"], [sizes], requests=20_000, quantile=0.9)
        true_value = simulated.ttft_p99_ms if metric == "ttft" else simulated.tpot_p99_ms
        assert true_value is not None  # (the simulator's p99 fields hold the 0.9 quantile asked for)
        ci = point[f"{metric}_ms"]
        assert ci["ci_quantile"] == 0.9
        assert ci["ci_low"] is None or ci["ci_low"] <= true_value + slack, (
            point["offered_rps"],
            ci,
            true_value,
        )
        assert ci["ci_high"] is None or ci["ci_high"] >= true_value, (point["offered_rps"], ci, true_value)
        assert point["requests"] > 0 and point["send_lag_p99_ms"] <= 10.0


SHORT_ANSWERS = [(40 + i % 40, 16 + i % 8) for i in range(60)]  # in 25-100 x out <25
LONG_ANSWERS = [(40 + i % 40, 50 + i % 40) for i in range(40)]  # in 25-100 x out 25-100
LONG_PROMPTS = [(300 + i * 4, 16 + i % 8) for i in range(40)]  # in 250-500 x out <25


def _trace(path: Path, *groups: list[tuple[int, int]]) -> Path:
    path.write_text("ContextTokens,GeneratedTokens\n" + "".join(f"{i},{o}\n" for g in groups for i, o in g))
    return path


def test_a_per_bucket_capacity_table_on_the_synthetic_server(tmp_path: Path) -> None:
    """k slots: a request holds its slot for its whole answer, so the bucket of longer answers serves less."""
    config = EngineConfig(mode=EngineMode.SLOTS, slots=8, tpot_ms=5, prefill_ms_per_token=0.02)
    trace = _trace(tmp_path / "trace.csv", SHORT_ANSWERS, LONG_ANSWERS)
    args = ("--dataset", str(trace), "--per-bucket", "--slo-ttft-p99-ms", "100", "--slo-tpot-p99-ms", "100")
    report = _bench(config, *args, "--start-rps", "8")
    by_bucket = {r["bucket"]: r for r in report["results"]}
    assert set(by_bucket) == {None, "in 25-100 x out <25", "in 25-100 x out 25-100"}
    for bucket, pairs in (("in 25-100 x out <25", SHORT_ANSWERS), ("in 25-100 x out 25-100", LONG_ANSWERS)):
        r = by_bucket[bucket]
        assert r["sizes"]["bucket"] == bucket and r["run_id"] == by_bucket[None]["run_id"]
        truth = true_capacity(config, 100, 100, pairs, quantile=0.9).capacity_rps
        assert 0.8 * truth <= r["capacity_rps"] <= 1.2 * truth, (bucket, r["capacity_rps"], truth)
    assert (
        by_bucket["in 25-100 x out 25-100"]["capacity_rps"] < by_bucket["in 25-100 x out <25"]["capacity_rps"]
    )
    shown = run_cli("bench", "show", "--run", report["results"][0]["run_id"])
    assert shown.code == 0 and "in 25-100 x out 25-100" in shown.stdout


@pytest.mark.skipif(pytest.importorskip("torch") is None, reason="tiny-llm needs torch")
def test_tiny_llm_end_to_end_with_both_slos(tmp_path: Path) -> None:
    """A real transformer: TTFT grows with the prompt (prefill), TPOT with the offered rate (batch size)."""
    trace = _trace(tmp_path / "trace.csv", SHORT_ANSWERS, LONG_PROMPTS)
    out = run_cli(
        "bench", "run", "--model", "tiny-llm", "--dataset", str(trace), "--per-bucket",
        "--slo-ttft-p99-ms", "2000", "--slo-tpot-p99-ms", "100", "--start-rps", "1", "--max-points", "7",
        *QUICK, timeout=900,
    )  # fmt: skip
    assert out.code == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["capacity_rps"] > 0 and report["model"] == "tiny-llm"
    by_bucket = {r["bucket"]: r for r in report["results"]}
    short, long = by_bucket["in 25-100 x out <25"], by_bucket["in 250-500 x out <25"]
    assert short["capacity_rps"] > 0 and long["capacity_rps"] > 0
    assert short["input_tokens_per_s"] > 0 and short["output_tokens_per_s"] > 0

    def lowest(r: dict[str, Any]) -> dict[str, Any]:
        return min(r["points"], key=lambda p: p["offered_rps"])

    # TTFT rises with the input length: the long-prompt bucket's first token comes later at a low rate
    assert lowest(long)["ttft_ms"]["p50"] > 1.5 * lowest(short)["ttft_ms"]["p50"]
    # TPOT rises with concurrency: within one bucket, at the highest rate measured against the lowest
    valid = [p for p in short["points"] if p["verdict"] != "invalid" and p["tpot_ms"]["p50"] is not None]
    low, high = min(valid, key=lambda p: p["offered_rps"]), max(valid, key=lambda p: p["offered_rps"])
    assert high["offered_rps"] >= 2 * low["offered_rps"]
    assert high["tpot_ms"]["p50"] > 1.2 * low["tpot_ms"]["p50"]
    for p in short["points"]:  # the server reports usage: token counts are the server's, output as asked
        assert p["mean_output_tokens"] is None or p["mean_output_tokens"] >= 16
