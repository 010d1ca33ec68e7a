"""Benchmark: wall time of one capacity search per (model, shape), with the default (non-quick) settings.

Target (issue 3): <= 90 s per (model, shape) on a server with stable latency. Measured on the synthetic
M/D/k server (16 slots x 50 ms, SLO p99 100 ms), whose true capacity is known, on each local shape this host
can emulate, and on the tabular reference model. Prints, per shape: wall time (server start to answer),
points measured, capacity and, for the synthetic server, the M/D/k truth. Uses a throwaway ADVISOR_HOME.

    .venv/bin/python benchmarks/bench_capacity_search.py [--shapes c7a.medium,c6i.large] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from advisor import SLO, Settings
from advisor.bench import BenchConfig, mdk_capacity_rps, run_capacity

SLOTS, SERVICE_MS, SLO_MS = 16, 50, 100.0


def main() -> None:
    parser = argparse.ArgumentParser()
    cores = len(os.sched_getaffinity(0))
    default_shapes = "c7a.medium,c6i.large" if cores >= 2 else "c7a.medium"
    parser.add_argument("--shapes", default=default_shapes)
    parser.add_argument("--quick", action="store_true", help="BenchConfig.quick() instead of the defaults")
    parser.add_argument("--skip-tabular", action="store_true")
    args = parser.parse_args()
    config = BenchConfig.quick() if args.quick else BenchConfig()
    truth = mdk_capacity_rps(SLOTS, SERVICE_MS / 1000, SLO_MS)
    print(
        f"capacity search wall time per shape ({'quick' if args.quick else 'default'} settings, "
        f"{cores} cores)"
    )
    print(
        f"{'model':<24} {'shape':<11} {'wall s':>7} {'points':>6} {'capacity':>9} {'truth':>7} {'ratio':>6}"
    )
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        jobs = [("synthetic", {"slots": str(SLOTS), "service_ms": str(SERVICE_MS)}, SLO_MS, truth)]
        if not args.skip_tabular:
            jobs.append(("tabular", {}, 50.0, None))
        for model, options, slo_ms, expected in jobs:
            for shape in args.shapes.split(","):
                started = time.monotonic()
                r = run_capacity(
                    settings, model, shape, SLO(latency_p99_ms=slo_ms), options=options, config=config
                )
                wall = time.monotonic() - started
                label = f"{model}" + (f" {SLOTS}x{SERVICE_MS}ms" if options else "")
                ratio = f"{r.capacity_rps / expected:.3f}" if expected else "-"
                exp = f"{expected:.1f}" if expected else "-"
                print(
                    f"{label:<24} {shape:<11} {wall:7.1f} {len(r.points):6d} {r.capacity_rps:9.1f} {exp:>7} "
                    f"{ratio:>6}  ({r.status.value}; search {r.wall_s:.1f} s)",
                    flush=True,
                )
                trace = ", ".join(
                    f"{p.target_rps:.0f}{'+' if p.passed else ('-' if p.passed is False else '?')}"
                    for p in r.points
                    if p.target_rps
                )
                print(f"{'':<24} points (req/s, + pass, - fail, ? retry): {trace}", flush=True)


if __name__ == "__main__":
    main()
