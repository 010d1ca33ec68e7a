"""The LLM bench measuring real servers end to end: the synthetic LLM server (whose engine the tests also
simulate) and tiny-llm, a real transformer, through ``bench run`` as a user runs it.

These check that a search measures, decides, stores and reports correctly, with short searches (``--quick``,
p90, a few points). How close the capacity comes to the simulated truth, and whether the stated intervals hold
it, are quality figures: ``benchmarks/bench_llm_capacity.py`` prints them at p99 with full-length points.
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

TTFT_SLACK_MS = 10.0  # what the server adds to the engine's TTFT (HTTP, its event loop): 3-6 ms idle
QUICK = ["--quick", "--slo-percentile", "90", "--json"]

SLOTS = EngineConfig(mode=EngineMode.SLOTS, slots=8, tpot_ms=5, prefill_ms_per_token=0.02)


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


def test_a_search_on_the_synthetic_server_confirms_a_capacity_near_the_simulated_one() -> None:
    """k slots (TTFT-bound): a short search still lands near the truth, and every confirming point's 95 %
    interval, where bounded, sits near the engine's own p90 at that rate (the server adds a few ms)."""
    truth = true_capacity(SLOTS, 75, 100, [(100, 20)], quantile=0.9)
    report = _bench(
        SLOTS, "--input-tokens", "100", "--output-tokens", "20", "--slo-ttft-p99-ms", "75",
        "--slo-tpot-p99-ms", "100", "--start-rps", f"{truth.capacity_rps / 2.5:.3g}", "--max-points", "5",
        "--window-s", "3", "--resolution", "0.2",
    )  # fmt: skip
    result = report["results"][0]
    assert report["capacity_rps"] == result["capacity_rps"] > 0, result["reason"]
    assert 0.7 * truth.capacity_rps <= result["capacity_rps"] <= 1.2 * truth.capacity_rps, (result, truth)
    confirmed = [p for p in result["points"] if p["confirm"] and p["verdict"] == "pass"]
    assert any(p["offered_rps"] == result["capacity_rps"] for p in confirmed)
    for point in confirmed:
        ttft = point["ttft_ms"]
        assert ttft["ci_quantile"] == 0.9 and ttft["ci_estimate"] <= 75.0
        assert point["achieved_rps"] == pytest.approx(point["offered_rps"], rel=0.25)
        assert point["mean_input_tokens"] == pytest.approx(100, abs=3) and point["mean_output_tokens"] == 20
        lower = simulate_point(SLOTS, point["offered_rps"], [(100, 20)], quantile=0.9).ttft_p99_ms
        assert ttft["ci_low"] is None or ttft["ci_low"] <= lower + TTFT_SLACK_MS, (point, lower)
    exported = run_cli("bench", "export", "--format", "csv", "--run", result["run_id"])
    assert exported.code == 0 and exported.stdout.count("\n") == len(result["points"]) + 1


SHORT_ANSWERS = [(40 + i % 40, 8 + i % 12) for i in range(60)]  # in 25-100 x out <25
LONG_ANSWERS = [(40 + i % 40, 30 + i % 30) for i in range(40)]  # in 25-100 x out 25-100
BUCKETS = {"in 25-100 x out <25": (8, 19), "in 25-100 x out 25-100": (30, 59)}


def _trace(path: Path, *groups: list[tuple[int, int]]) -> Path:
    path.write_text("ContextTokens,GeneratedTokens\n" + "".join(f"{i},{o}\n" for g in groups for i, o in g))
    return path


def test_a_per_bucket_capacity_table_on_the_synthetic_server(tmp_path: Path) -> None:
    """--per-bucket: the whole mix, then each bucket of the trace alone, every point sized from its own
    bucket, all under one run id, shown by ``bench show``. Short searches (a screen and its confirmation, far
    below every capacity): how close each bucket's capacity comes to the engine's is a figure that
    benchmarks/bench_llm_capacity.py prints."""
    config = EngineConfig(mode=EngineMode.SLOTS, slots=16, tpot_ms=5, prefill_ms_per_token=0.02)
    assert all(
        true_capacity(config, 100, 100, sizes, quantile=0.9).capacity_rps > 50
        for sizes in (SHORT_ANSWERS, LONG_ANSWERS)
    )
    trace = _trace(tmp_path / "trace.csv", SHORT_ANSWERS, LONG_ANSWERS)
    args = ("--dataset", str(trace), "--per-bucket", "--slo-ttft-p99-ms", "100", "--slo-tpot-p99-ms", "100")
    report = _bench(
        config, *args, "--start-rps", "25", "--max-points", "2", "--window-s", "1", "--warmup-s", "0.5"
    )
    by_bucket = {r["bucket"]: r for r in report["results"]}
    assert set(by_bucket) == {None, *BUCKETS}
    assert report["capacity_rps"] == by_bucket[None]["capacity_rps"] == 25.0, by_bucket[None]["reason"]
    for bucket, (least, most) in BUCKETS.items():
        r = by_bucket[bucket]
        assert r["sizes"]["bucket"] == bucket and r["run_id"] == by_bucket[None]["run_id"]
        assert r["capacity_rps"] == 25.0, r["reason"]  # each starts at the mix's capacity
        for point in r["points"]:
            assert least <= point["mean_output_tokens"] <= most and 40 <= point["mean_input_tokens"] <= 83
    mixed = [p["mean_output_tokens"] for p in by_bucket[None]["points"]]
    assert all(16 < m < 36 for m in mixed), mixed  # 60 short answers and 40 long ones: 26 on average
    shown = run_cli("bench", "show", "--run", report["results"][0]["run_id"])
    assert shown.code == 0 and all(bucket in shown.stdout for bucket in BUCKETS)
