"""Benchmark: the replay against a per-request discrete-event simulation of the same service.

The simulation is independent of ``advisor.cost``: Poisson arrivals spread over the ready pods, each pod a
FIFO queue with one slot and a fixed service time, and the
Kubernetes HPA run every 15 s on the pods' CPU (saturating at what a pod serves; not-ready pods at 0 % on
scale-up; tolerance 0.1; +100 % or +4 pods per 15 s; scale-down stabilised over 300 s); new pods serve after
their start-up. Every request gets its latency (waiting + service).

Two balancers: a random split (kube-proxy's iptables mode; a request waits at the pod it was sent to) and
least outstanding requests (ALB, SageMaker: the next free pod takes the oldest request).

Profiles (4 hours, 15 s steps): a square wave 20 ↔ 200 rps (30 minutes each), a ramp 20 → 200 rps over 30
minutes and back, and 5-minute spikes to 200 rps each hour. The replay prices the same plan (``algorithm:
hpa``) on the same profile; printed per profile: minutes over the SLO (a minute whose requests' p99 is over
it, in the simulation; a minute the replay counts as overloaded) and the p99 of all requests, with the
difference. Stated tolerance: overload minutes within ±15 %, p99 within ±25 % (the replay's p99 mixes
per-step queue tails; the simulation's is counted). Nothing here is a test.

    .venv/bin/python benchmarks/bench_replay_des.py [--seed 1]
"""

from __future__ import annotations

import argparse
import heapq
import math

import numpy as np

from advisor import Catalog, Settings
from advisor.cost import Plan, resolve_prices, simulate
from advisor.traffic import TrafficProfile

STEP_S = 15
HOURS = 4
CAPACITY_RPS = 10.0
SERVICE_S = 0.080
TARGET = 0.7
START_S = 60.0
SLO_MS = 1000.0
MINIMUM = 3


def profiles() -> dict[str, np.ndarray]:
    t = np.arange(HOURS * 3600 // STEP_S) * STEP_S
    phase = t % 3600
    square = np.where(phase < 1800, 20.0, 200.0)
    ramp = 20.0 + 180.0 * np.clip(np.minimum(phase, 3600 - phase) / 1800.0, 0.0, 1.0)
    spike = np.where((phase >= 1800) & (phase < 2100), 200.0, 20.0)
    return {"square": square, "ramp": ramp, "spike": spike}


class Hpa:
    """The HPA's decision each sync (kubernetes.io "Horizontal Pod Autoscaling"; replica_calculator.go)."""

    def __init__(self) -> None:
        self.pods: list[list[float]] = [[-1e9, -1e9] for _ in range(MINIMUM)]  # [started, free from]
        self.history: list[tuple[float, int]] = []

    def ready(self, now: float) -> list[list[float]]:
        return [pod for pod in self.pods if now >= pod[0] + START_S]

    def sync(self, now: float, demand: float) -> None:
        current, ready = len(self.pods), len(self.ready(now))
        target = CAPACITY_RPS * TARGET
        proposal = current
        if ready:
            per_pod = min(demand / ready, 1.0 / SERVICE_S)
            ratio = per_pod / target
            if current > ready and ratio > 1.0:
                ratio = ready * per_pod / (current * target)
                if ratio > 1.1:
                    proposal = max(current, math.ceil(ratio * current))
            elif abs(ratio - 1.0) > 0.1:
                proposal = math.ceil(ratio * ready)
        self.history = [(t, r) for t, r in self.history if t > now - 300] + [(now, proposal)]
        desired = proposal if proposal > current else min(current, max(r for _, r in self.history))
        desired = max(MINIMUM, min(100, desired, max(2 * current, current + 4)))
        if desired > current:
            self.pods += [[now, now] for _ in range(desired - current)]
        else:
            self.pods = sorted(self.pods)[:desired]  # the newest (not yet ready) pods go first


def des(demand: np.ndarray, balancing: str, rng: np.random.Generator) -> tuple[float, float]:
    """(minutes over the SLO, p99 ms) of a per-request simulation of ``demand`` (rps per step)."""
    hpa = Hpa()
    latencies: list[np.ndarray] = []
    minute_of: list[np.ndarray] = []
    for day in range(2):  # the first pass settles the autoscaler; the second is measured
        for i, rps in enumerate(demand):
            now = (day * demand.size + i) * STEP_S
            hpa.sync(now, float(rps))
            pods = hpa.ready(now)
            arrivals = np.sort(now + rng.random(rng.poisson(rps * STEP_S)) * STEP_S)
            if not pods or arrivals.size == 0:
                continue
            done = (
                _least_outstanding(arrivals, pods) if balancing != "random" else _random(arrivals, pods, rng)
            )
            if day == 1:
                latencies.append((done - arrivals) * 1000.0)
                minute_of.append(((arrivals - demand.size * STEP_S) // 60).astype(np.int64))
    lat = np.concatenate(latencies)
    minute = np.concatenate(minute_of)
    order = np.argsort(minute, kind="stable")
    bounds = np.flatnonzero(np.diff(minute[order])) + 1
    over = sum(np.percentile(chunk, 99) > SLO_MS for chunk in np.split(lat[order], bounds))
    return float(over), float(np.percentile(lat, 99))


def _random(arrivals: np.ndarray, pods: list[list[float]], rng: np.random.Generator) -> np.ndarray:
    """Each request to a pod drawn at random; each pod a FIFO queue of one slot."""
    done = np.empty(arrivals.size)
    choice = rng.integers(0, len(pods), arrivals.size)
    for k, pod in enumerate(pods):
        mine = choice == k
        a = arrivals[mine]
        if a.size == 0:
            continue
        n = np.arange(1, a.size + 1)
        # FIFO, fixed service: departure_i = max(free + i S, max_k (a_k + (i - k + 1) S))
        out = np.maximum(
            pod[1] + n * SERVICE_S, np.maximum.accumulate(a - (n - 1) * SERVICE_S) + n * SERVICE_S
        )
        pod[1] = float(out[-1])
        done[mine] = out
    return done


def _least_outstanding(arrivals: np.ndarray, pods: list[list[float]]) -> np.ndarray:
    """Each request, in order, to the pod free first (a central FIFO queue over the ready pods)."""
    free = [(pod[1], k) for k, pod in enumerate(pods)]
    heapq.heapify(free)
    done = np.empty(arrivals.size)
    for i, a in enumerate(arrivals):
        t, k = heapq.heappop(free)
        done[i] = max(a, t) + SERVICE_S
        heapq.heappush(free, (done[i], k))
    for t, k in free:
        pods[k][1] = t
    return done


def replay(demand: np.ndarray, balancing: str, catalog: Catalog) -> tuple[float, float | None]:
    plan = Plan.model_validate(
        {
            "name": "des-check",
            "platform": "ec2",
            "shape": "c6i.xlarge",
            "capacity": {
                "rps_per_replica": CAPACITY_RPS,
                "provenance": "given",
                "service_time_ms": SERVICE_S * 1000,
            },
            "slo": {"latency_p99_ms": SLO_MS},
            "autoscaling": {
                "min_replicas": MINIMUM,
                "max_replicas": 100,
                "target_utilisation": TARGET,
                "tolerance": 0.1,
                "scale_up_delay_s": START_S,
                "scale_down_stabilisation_s": 300,
                "algorithm": "hpa",
            },
            "load_balancer": {"kind": "none", "algorithm": balancing},
        }
    )
    profile = TrafficProfile.from_array("des", demand, step_s=STEP_S)
    result = simulate(plan, profile, resolve_prices(plan, catalog))
    return result.slo.overload_minutes, result.slo.p99_ms_estimate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    catalog = Catalog.load(Settings())
    rng = np.random.default_rng(args.seed)
    head = ("profile", "balancing", "DES min", "replay min", "diff", "DES p99", "replay p99", "diff")
    line = "{:<7} {:<26} {:>8} {:>10} {:>6} {:>10} {:>10} {:>6}"
    print(line.format(*head))
    for name, demand in profiles().items():
        for balancing in ("random", "least_outstanding_requests"):
            sim_minutes, sim_p99 = des(demand, balancing, rng)
            minutes, p99 = replay(demand, balancing, catalog)
            d_min = f"{(minutes - sim_minutes) / sim_minutes * 100:+.0f}%" if sim_minutes else "—"
            p99_text = "unbounded" if p99 is None else f"{p99:.0f} ms"
            d_p99 = "—" if p99 is None else f"{(p99 - sim_p99) / sim_p99 * 100:+.0f}%"
            row = (
                name,
                balancing,
                f"{sim_minutes:.0f}",
                f"{minutes:.1f}",
                d_min,
                f"{sim_p99:.0f} ms",
                p99_text,
                d_p99,
            )
            print(line.format(*row))
    print("tolerance: overload minutes ±15 %, p99 ±25 %")


if __name__ == "__main__":
    main()
