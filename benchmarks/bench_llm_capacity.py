"""Benchmark: how close the LLM bench's capacity comes to the truth, on servers whose truth is known.

The synthetic LLM server runs :mod:`advisor.bench.llm.engine` in real time; :mod:`advisor.bench.llm.simulate`
runs the same engine without a clock (60,000 requests over three seeds), so its capacity under the SLO is the
truth. For a TTFT-bound engine (k slots) and a TPOT-bound one (continuous batching) at p99, and per
request-size bucket of a two-bucket trace, this prints the measured capacity against the truth, the rate
above it and what happened there, whether each confirming point's 95 % interval holds the engine's own
figure at that rate, the points measured and the wall time. Target (issue 21): within ±10 % of the truth.

    .venv/bin/python benchmarks/bench_llm_capacity.py [--quick] [--percentile 99] [--cases ttft,tpot,buckets]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from advisor.bench.llm import EngineConfig, EngineMode, simulate_point, true_capacity

CASES = [
    (
        "TTFT-bound, 8 slots",
        EngineConfig(mode=EngineMode.SLOTS, slots=8, tpot_ms=5, prefill_ms_per_token=0.02),
        (100, 20),
        150.0,
        100.0,
        "ttft",
    ),
    (
        "TPOT-bound, continuous batching",
        EngineConfig(
            mode=EngineMode.BATCHING,
            step_base_ms=10,
            step_per_seq_ms=0.5,
            prefill_ms_per_token=0.02,
            max_num_seqs=64,
        ),
        (200, 16),
        2000.0,
        20.0,
        "tpot",
    ),
]
SHORT = [(40 + i % 40, 16 + i % 8) for i in range(60)]  # in 25-100 x out <25
LONG = [(40 + i % 40, 50 + i % 40) for i in range(40)]  # in 25-100 x out 25-100


def _options(config: EngineConfig) -> list[str]:
    values = {
        "mode": "0" if config.mode is EngineMode.SLOTS else "1",
        "slots": config.slots,
        "tpot_ms": config.tpot_ms,
        "step_base_ms": config.step_base_ms,
        "step_per_seq_ms": config.step_per_seq_ms,
        "prefill_ms_per_token": config.prefill_ms_per_token,
        "max_num_seqs": config.max_num_seqs,
    }
    return [a for k, v in values.items() for a in ("--model-option", f"{k}={v}")]


def _run(
    home: Path, config: EngineConfig, args: list[str], quick: bool, pct: float
) -> tuple[dict[str, Any], float]:
    cmd = [
        sys.executable,
        "-m",
        "advisor.cli.entry",
        "--home",
        str(home),
        "bench",
        "run",
        "--model",
        "synthetic-llm",
        *_options(config),
        *args,
        "--slo-percentile",
        f"{pct:g}",
        "--json",
        "--quiet",
    ]
    if quick:
        cmd.append("--quick")
    start = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"bench run failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout), time.monotonic() - start


def _held(
    result: dict[str, Any], config: EngineConfig, pairs: list[tuple[int, int]], metric: str, q: float
) -> str:
    held = total = 0
    for p in result["points"]:
        if not p["confirm"] or p["verdict"] == "invalid":
            continue
        sim = simulate_point(config, p["offered_rps"], pairs, quantile=q)
        truth = sim.ttft_p99_ms if metric == "ttft" else sim.tpot_p99_ms
        ci = p[f"{metric}_ms"]
        total += 1
        held += (ci["ci_low"] is None or ci["ci_low"] <= (truth or 0) + 10) and (
            ci["ci_high"] is None or ci["ci_high"] >= (truth or 0)
        )
    return f"{held}/{total}"


def _line(name: str, result: dict[str, Any], truth: float, held: str, wall: float) -> None:
    cap = result["capacity_rps"]
    high = result["capacity_high_rps"]
    above = "-" if high is None else f"{high:.3g} {'undecided' if result['capacity_undecided'] else 'failed'}"
    err = (cap / truth - 1) * 100 if truth else float("nan")
    print(
        f"{name:<34} {truth:>8.3g} {cap:>9.3g} {err:>+7.1f}% {above:>16} {held:>9} {len(result['points']):>6}"
        f" {wall:>7.0f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="bench run --quick (shorter points)")
    parser.add_argument("--percentile", type=float, default=99.0)
    parser.add_argument("--cases", default="ttft,tpot,buckets", help="which of ttft, tpot, buckets to run")
    args = parser.parse_args()
    chosen = set(args.cases.split(","))
    if not chosen <= {"ttft", "tpot", "buckets"}:
        parser.error(f"--cases: {args.cases!r} is not a list of ttft, tpot, buckets")
    q = args.percentile / 100
    print(
        f"p{args.percentile:g} SLOs; truth: the engine simulated (60,000 requests); "
        "CI held: the confirming points whose interval holds it"
    )
    print(
        f"{'case':<34} {'truth':>8} {'measured':>9} {'error':>8} {'rate above':>16} {'CI held':>9}"
        f" {'points':>6} {'wall':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        for name, config, sizes, ttft, tpot, metric in CASES:
            if metric not in chosen:
                continue
            truth = true_capacity(config, ttft, tpot, [sizes], quantile=q).capacity_rps
            flags = [
                "--input-tokens",
                str(sizes[0]),
                "--output-tokens",
                str(sizes[1]),
                "--slo-ttft-p99-ms",
                f"{ttft:g}",
                "--slo-tpot-p99-ms",
                f"{tpot:g}",
                "--start-rps",
                f"{truth / 3:.3g}",
            ]
            report, wall = _run(home, config, flags, args.quick, args.percentile)
            result = report["results"][0]
            _line(name, result, truth, _held(result, config, [sizes], metric, q), wall)
        if "buckets" not in chosen:
            return
        slots = CASES[0][1]
        trace = Path(tmp) / "trace.csv"
        trace.write_text("ContextTokens,GeneratedTokens\n" + "".join(f"{i},{o}\n" for i, o in SHORT + LONG))
        flags = [
            "--dataset",
            str(trace),
            "--per-bucket",
            "--slo-ttft-p99-ms",
            "100",
            "--slo-tpot-p99-ms",
            "100",
            "--start-rps",
            "10",
        ]
        report, wall = _run(home, slots, flags, args.quick, args.percentile)
        pairs = {None: SHORT + LONG, "in 25-100 x out <25": SHORT, "in 25-100 x out 25-100": LONG}
        for result in report["results"]:
            truth = true_capacity(slots, 100, 100, pairs[result["bucket"]], quantile=q).capacity_rps
            name = f"slots, bucket {result['bucket'] or 'all'}"
            _line(name, result, truth, _held(result, slots, pairs[result["bucket"]], "ttft", q), wall)


if __name__ == "__main__":
    main()
