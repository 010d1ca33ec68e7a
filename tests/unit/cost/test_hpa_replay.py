"""The replay's HPA model against a step-by-step simulation of the HorizontalPodAutoscaler written here.

The reference follows the Kubernetes documentation ("Horizontal Pod Autoscaling": algorithm details,
default behavior) and ``replica_calculator.go``: every 15 s sync, the ready pods report CPU (saturating at
what a pod can serve), not-ready pods count as 0 % when the HPA would scale up, the recommendation is
stabilised over 300 s for scale-down and limited to +100 % or +4 pods per 15 s for scale-up. Pods serve
once started; arrivals above what the ready pods serve queue up and drain afterwards. It loops over every
pod and every sync, and shares no code with ``advisor.cost``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from advisor import Catalog, Settings
from advisor.cost import resolve_prices, simulate
from advisor.cost.replay.autoscaler import desired_replicas, trailing_max, trailing_min
from advisor.cost.replay.hpa import _rate_columns, _Rule, _solve_row, growth_limits, hpa_trajectory
from advisor.traffic.profile import TrafficProfile
from tests.traffic_cost_helpers import make_plan

SYNC_S = 15
CAPACITY_RPS = 10.0  # per pod within the SLO
SERVICE_MS = 80.0  # one request at a time: a pod saturates at 12.5 rps
TARGET = 0.7
TOLERANCE = 0.1
SLO_MS = 1000.0


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


@dataclass
class Reference:
    """The HPA and its pods, one sync at a time."""

    start_s: float
    minimum: int
    maximum: int = 100
    pods: list[float] = field(default_factory=list)  # start time of each pod
    recommendations: list[tuple[float, int]] = field(default_factory=list)

    def ready(self, now: float) -> int:
        return sum(1 for started in self.pods if now >= started + self.start_s)

    def sync(self, now: float, demand_rps: float) -> None:
        current = len(self.pods)
        ready = self.ready(now)
        target_rps = CAPACITY_RPS * TARGET
        saturation_rps = 1000.0 / SERVICE_MS
        proposal = current
        if ready > 0:
            per_pod = min(demand_rps / ready, saturation_rps)  # CPU of a ready pod cannot exceed 100 %
            ratio = per_pod / target_rps
            unready = current - ready
            if unready > 0 and ratio > 1.0:  # scale-up with not-ready pods: they count as 0 %
                new_ratio = ready * per_pod / (current * target_rps)
                if abs(1.0 - new_ratio) > TOLERANCE and new_ratio > 1.0:
                    proposal = max(current, math.ceil(new_ratio * current))
            elif abs(1.0 - ratio) > TOLERANCE:
                proposal = math.ceil(ratio * ready)
        self.recommendations = [(t, r) for t, r in self.recommendations if t > now - 300] + [(now, proposal)]
        down = max(r for _, r in self.recommendations)  # scale-down stabilisation: 300 s
        desired = proposal if proposal > current else min(current, down)
        desired = min(desired, max(2 * current, current + 4))  # default scaleUp policies, selectPolicy Max
        desired = max(self.minimum, min(self.maximum, desired))
        if desired > current:
            self.pods += [now] * (desired - current)
        elif desired < current:
            self.pods.sort()  # newest (and not yet ready) pods go first
            del self.pods[desired:]


def reference_overload_s(demand: np.ndarray, tick_s: int, start_s: float, minimum: int) -> float:
    """Seconds over the SLO: demand above what the ready pods serve within it, or a backlog too long."""
    hpa = Reference(start_s=start_s, minimum=minimum, pods=[-1e9] * minimum)
    backlog = 0.0
    late = 0.0
    mu = 1000.0 / SERVICE_MS
    for day in range(2):  # the first pass settles the state; the second is measured (a repeating profile)
        for i, rps in enumerate(demand):
            now = (day * demand.size + i) * tick_s
            if i % (SYNC_S // tick_s) == 0:
                hpa.sync(now, float(rps))
            ready = hpa.ready(now)
            served = ready * mu
            over = rps > ready * CAPACITY_RPS or (
                backlog > 0.5 and backlog / max(served, 1e-9) > SLO_MS / 1000
            )
            backlog = max(0.0, backlog + (rps - served) * tick_s)
            if day == 1 and over:
                late += tick_s
    return late


def square_wave(low: float, high: float, step_s: int, hours: int = 4) -> np.ndarray:
    """``high`` rps for 30 minutes of every hour, ``low`` otherwise."""
    t = np.arange(hours * 3600 // step_s) * step_s
    return np.where((t % 3600) < 1800, low, high).astype(float)


def replay_overload_s(
    catalog: Catalog, demand: np.ndarray, step_s: int, algorithm: str, start_s: float
) -> float:
    plan = make_plan(
        capacity={"rps_per_replica": CAPACITY_RPS, "provenance": "given", "service_time_ms": SERVICE_MS},
        slo={"latency_p99_ms": SLO_MS},
        autoscaling={
            "min_replicas": 3,
            "max_replicas": 100,
            "target_utilisation": TARGET,
            "tolerance": TOLERANCE,
            "scale_up_delay_s": start_s,
            "scale_down_stabilisation_s": 300,
            "algorithm": algorithm,
        },
        load_balancer={"kind": "none", "algorithm": "least_outstanding_requests"},  # one queue, as below
    )
    profile = TrafficProfile.from_array("square", demand, step_s=step_s)
    result = simulate(plan, profile, resolve_prices(plan, catalog))
    return result.slo.overload_minutes * 60


@pytest.mark.parametrize(("step_s", "start_s"), [(15, 60), (15, 120), (60, 120)])
def test_square_wave_overload_per_jump_matches_the_hpa_within_15_percent(
    catalog: Catalog, step_s: int, start_s: float
) -> None:
    jumps = 4
    reference = reference_overload_s(square_wave(20, 200, 15), 15, start_s, minimum=3) / jumps
    hpa = replay_overload_s(catalog, square_wave(20, 200, step_s), step_s, "hpa", start_s) / jumps
    simple = replay_overload_s(catalog, square_wave(20, 200, step_s), step_s, "simple", start_s) / jumps
    # several waves of start-ups: the jump is 10x, a wave multiplies the ready pods by at most 12.5 / 7
    assert reference > 2.5 * start_s
    assert hpa == pytest.approx(reference, rel=0.15)
    assert simple < 0.7 * reference  # the simple model grants the whole jump after one start-up


def test_the_windowed_fixed_point_equals_the_whole_row_iteration() -> None:
    # Spiky demand over a day at 15 s: the passes on windows around the jumps give the very trajectory the
    # passes over the whole row give.
    rng = np.random.default_rng(3)
    demand = 20 + 180 * (rng.random(5760) < 0.004).astype(float)
    demand = np.maximum.accumulate(
        np.lib.stride_tricks.sliding_window_view(np.r_[np.zeros(39), demand], 40), axis=1
    )[:, -1]
    want = np.clip(np.ceil(demand / 7.0), 3, 100).astype(np.float32)[None, :]
    floor = np.full((1, 1), 3, dtype=np.float32)
    growth = (growth_limits([("Percent", 100, 15), ("Pods", 4, 15)], 15, 15.0),)
    provisioned, ready = hpa_trajectory(want, floor, 20, 4, [12.5 / 7.0], growth)
    rule = _Rule(np.asarray([[12.5 / 7.0]], dtype=np.float32), _rate_columns(growth), floor)
    whole = _solve_row(trailing_max(want, 21)[0], want[0], rule, (20, 4))
    assert (provisioned[0] == whole).all()
    assert (ready[0] == trailing_min(whole[None], 5)[0]).all()
    assert (provisioned[0] < trailing_max(want, 21)[0]).sum() > 50  # the rules did bind


def test_rows_solved_side_by_side_equal_each_row_solved_alone_and_the_whole_row_iteration() -> None:
    # The windows of many plans are iterated in one array: each plan's trajectory is the one it gets on its
    # own and the one the passes over its whole row give. Plans differ in saturation, policies (none, pods,
    # percent, a period of four steps) and floors (per plan, per step); one jumps at its first step.
    rng = np.random.default_rng(11)
    n, plans = 4000, 6
    jumps = 20 + 180 * (rng.random((plans, n)) < 0.004)
    jumps[3, :3] = 200.0
    demand = np.maximum.accumulate(
        np.lib.stride_tricks.sliding_window_view(np.c_[np.zeros((plans, 39)), jumps], 40, axis=1), axis=2
    )[:, :, -1]
    want = np.clip(np.ceil(demand / 7.0), 3, 100).astype(np.float32)
    floor = np.full((plans, n), 3, dtype=np.float32)
    floor[1, 1000:1500] = 9.0
    want = np.maximum(want, floor)
    saturation = [12.5 / 7.0, 2.0, math.inf, 1.5, 3.0, 12.5 / 7.0]
    growth = (
        growth_limits([("Percent", 100, 15), ("Pods", 4, 15)], 15, 15.0),
        growth_limits([("Pods", 2, 60)], 15, 15.0),
        growth_limits([("Percent", 50, 15)], 15, 15.0),
        (),
        growth_limits([("Percent", 100, 60), ("Pods", 1, 15)], 15, 15.0),
        growth_limits([("Pods", 4, 15)], 15, 15.0),
    )
    together = hpa_trajectory(want, floor, 20, 4, saturation, growth)
    assert (together[0] < trailing_max(want, 21)).sum(axis=1).min() > 20  # the rules bound every plan
    for j in range(plans):
        alone = hpa_trajectory(
            want[j : j + 1], floor[j : j + 1], 20, 4, saturation[j : j + 1], growth[j : j + 1]
        )
        assert (together[0][j] == alone[0][0]).all() and (together[1][j] == alone[1][0]).all(), j
        rule = _Rule(
            np.asarray([[saturation[j]]], dtype=np.float32),
            _rate_columns(growth[j : j + 1]),
            floor[j : j + 1],
        )
        whole = _solve_row(trailing_max(want[j : j + 1], 21)[0], want[j], rule, (20, 4))
        assert (together[0][j] == whole).all(), j


def test_replicas_of_the_held_demands_trailing_window_equal_the_trailing_window_of_the_replicas() -> None:
    # The replay scales every plan of a group on the group's memoised trailing max (stabilisation) and min
    # (start-up delay) of the held demand: exact only because replicas are a non-decreasing function of it.
    rng = np.random.default_rng(3)
    held = (rng.gamma(2.0, 30.0, 5000) * (1 + (np.arange(5000) % 700 < 40) * 4)).astype(np.float32)
    per_replica = np.asarray([[7.5], [30.0], [40.0]], dtype=np.float32)
    lo, hi = (
        np.asarray([[1.0], [3.0], [2.0]], dtype=np.float32),
        np.asarray([[200.0], [200.0], [6.0]], dtype=np.float32),
    )
    desired = desired_replicas(held[None, :], per_replica, lo, hi)
    stabilised, started = trailing_max(held, 11), trailing_min(trailing_max(held, 11), 4)
    by_held = (
        desired_replicas(stabilised[None, :], per_replica, lo, hi),
        desired_replicas(started[None, :], per_replica, lo, hi),
    )
    by_replicas = (trailing_max(desired, 11), trailing_min(trailing_max(desired, 11), 4))
    assert np.array_equal(by_held[0], by_replicas[0]) and np.array_equal(by_held[1], by_replicas[1])
    limits = [growth_limits([("Percent", 100, 15), ("Pods", 4, 15)], 60, 15.0)] * 3
    given = hpa_trajectory(desired, lo, 10, 3, [math.inf, 2.0, math.inf], limits, start=by_held)
    computed = hpa_trajectory(desired, lo, 10, 3, [math.inf, 2.0, math.inf], limits)
    assert np.array_equal(given[0], computed[0]) and np.array_equal(given[1], computed[1])
    assert not np.array_equal(given[0], by_replicas[0])  # the rules did bind somewhere
