"""Benchmark: the cost replay, one year at one-minute steps (525,600 steps) × 100 plans.

The profile is the bundled ``bursty-spikes`` week (diurnal base, random bursts, 8 % noise) repeated to a
year. The 100 plans vary what the optimiser varies: capacity per replica, replicas per node, target
utilisation, scale-up delay, scale-down stabilisation, tolerance, on-demand base and spot share (two thirds
buy spot, spread over one to three pools, so interruptions are drawn), on two EC2 shapes. Prices are
resolved once before timing, as the optimiser does. Prints the wall time of ``simulate_many`` (best of
``--repeat`` runs, after one warm-up that also computes the profile's dead band) and the plan-steps per
second. The plans replay with the platform's own autoscaler (the HPA on EC2: saturation, not-ready pods,
rate limits), node scale-down billing, backlogs, the ALB's round robin and whole-pool spot reclaims. Target:
≤ 1 s on the project's 2-core machine. Nothing here is a test.

    .venv/bin/python benchmarks/bench_replay.py [--plans 100] [--repeat 3] [--horizon year]
"""

from __future__ import annotations

import argparse
import time

from advisor import Catalog, Settings
from advisor.cost import Plan, resolve_prices, simulate_many
from advisor.traffic import ops, resolve_profile


def plans(n: int) -> list[Plan]:
    shapes = [("c6i.xlarge", ["c6i.xlarge", "c5.xlarge", "m6i.xlarge"]), ("m5.2xlarge", ["m5.2xlarge"])]
    out = []
    for i in range(n):
        shape, pools = shapes[i % 2]
        spot = (i % 3) * 40
        out.append(
            Plan.model_validate(
                {
                    "name": f"plan-{i}",
                    "platform": "ec2",
                    "shape": shape,
                    "replicas_per_node": 1 + i % 3,
                    "capacity": {"rps_per_replica": 4 + i % 9, "provenance": "given"},
                    "slo": {"latency_p99_ms": 250},
                    "purchase": {
                        "on_demand_base": i % 4,
                        "spot_pct_above_base": spot,
                        "spot_pools": pools[: 1 + i % len(pools)] if spot else [],
                    },
                    "autoscaling": {
                        "min_replicas": 1 + i % 3,
                        "max_replicas": 200,
                        "target_utilisation": 0.45 + 0.05 * (i % 10),
                        "scale_up_delay_s": 60 * (1 + i % 5),
                        "scale_down_stabilisation_s": 300 * (1 + i % 3),
                        "tolerance": (0.0, 0.1)[i % 2],
                    },
                    "load_balancer": {"kind": "application", "shared_by": 1 + i % 4},
                }
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--horizon", choices=["week", "month", "year"], default="year")
    args = parser.parse_args()
    settings = Settings()
    profile = ops.repeat_to(resolve_profile("bursty-spikes", settings), args.horizon)
    catalog = Catalog.load(settings)
    batch = plans(args.plans)
    prices = [resolve_prices(p, catalog) for p in batch]
    start = time.perf_counter()
    simulate_many(batch[:2], profile, prices[:2], seed=1)  # computes and memoises the dead bands
    cold = time.perf_counter() - start
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        results = simulate_many(batch, profile, prices, seed=1)
        times.append(time.perf_counter() - start)
    best = min(times)
    interruptions = sum(r.slo.interruptions for r in results)
    print(f"profile: {profile.name} x {args.horizon}, {profile.steps:,} steps of {profile.step_s} s")
    print(
        f"plans: {len(batch)} ({sum(p.purchase.uses_spot for p in batch)} with spot; "
        f"{interruptions} interruptions drawn)"
    )
    print(f"first call, 2 plans (dead band scan for the profile, memoised): {cold:.3f} s")
    print(f"simulate_many wall time: best {best:.3f} s, runs {', '.join(f'{t:.3f}' for t in times)}")
    print(f"throughput: {len(batch) * profile.steps / best / 1e6:.1f} million plan-steps per second")
    print(f"target <= 1 s: {'met' if best <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
