"""The vectorised replay against step-by-step reference implementations, and its invariants."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.cost import Screened, resolve_prices, screen_many, simulate, simulate_many
from advisor.cost.billing import fargate_minimum_extra_seconds, on_demand_share
from advisor.cost.replay.autoscaler import (
    deadband,
    held_demand,
    replica_trajectory,
    reset_deadband,
    shape_digest,
    trailing_max,
    trailing_min,
)
from advisor.errors import InputError
from advisor.optimize.rightsize.sizing import on_demand_base_for_spot
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import AutoscalingPolicy, Plan
from advisor.settings import Settings
from advisor.traffic.generators import ProfileSpec, generate
from advisor.traffic.profile import TrafficProfile
from tests.traffic_cost_helpers import make_plan

rates = st.lists(st.floats(min_value=0, max_value=500, allow_nan=False), min_size=2, max_size=120)
counts = st.lists(st.integers(min_value=0, max_value=12), min_size=2, max_size=80)


def reference_deadband(d: list[float], tol: float) -> list[float]:
    """The HPA-style dead band, one step at a time, cyclic (two passes)."""
    z = d[0]
    for _ in range(2):
        out = []
        for x in d:
            z = min(max(z, x / (1 + tol)), x / (1 - tol))
            out.append(z)
    return out


@settings(max_examples=60, deadline=None)
@given(rates, st.sampled_from([0.05, 0.1, 0.3]))
def test_deadband_scan_matches_the_step_by_step_rule(d: list[float], tol: float) -> None:
    got = deadband(np.array(d), tol)
    assert got.tolist() == pytest.approx(reference_deadband(d, tol), rel=1e-12, abs=1e-12)


def reference_reset_deadband(d: list[float], tol: float, down: float) -> list[float]:
    """The HPA's rule, one step at a time: keep the size while the demand stays within the band around the
    demand last sized for, else resize to the demand itself; cyclic (a pass from d_0, then the cycle)."""
    z = d[0]
    out: list[float] = []
    for sweep in (d[1:], d):
        out = []
        for x in sweep:
            if not x / (1 + tol) <= z <= x / (1 - down):
                z = x
            out.append(z)
    return out


@settings(max_examples=60, deadline=None)
@given(rates, st.sampled_from([(0.1, 0.1), (0.05, 0.2)]), st.floats(min_value=0.01, max_value=1e4))
def test_reset_deadband_matches_the_step_by_step_rule_at_any_peak(
    d: list[float], band: tuple[float, float], scale: float
) -> None:
    """Also for the same shape at another peak, whose resize steps come from the first one's (kept)."""
    tol, down = band
    got = reset_deadband(np.array(d), tol, down)
    assert got.tolist() == reference_reset_deadband(d, tol, down)
    scaled = [x * scale for x in d]
    assert reset_deadband(np.array(scaled), tol, down).tolist() == reference_reset_deadband(scaled, tol, down)


def test_reset_deadband_kept_for_a_shape_is_checked_before_use() -> None:
    """Demand that looks the same to 12 decimals of its peak, but not to the rule: the second is computed."""
    for d in ([0.0, 1.0, 0.0], [0.0, 1.0, 4e-204], [0.0, 1.0, 0.0]):
        assert reset_deadband(np.array(d), 0.1, 0.1).tolist() == reference_reset_deadband(d, 0.1, 0.1)


@settings(max_examples=40, deadline=None)
@given(rates, rates)
def test_reset_deadband_under_a_shape_key_of_other_demand_still_follows_the_rule(
    d: list[float], other: list[float]
) -> None:
    """A caller's shape key is a look-up only: resize steps kept under another demand's key are checked."""
    key = shape_digest(np.array(other))
    reset_deadband(np.array(other), 0.1, 0.1, key)
    assert reset_deadband(np.array(d), 0.1, 0.1, key).tolist() == reference_reset_deadband(d, 0.1, 0.1)


def test_a_profiles_held_demand_is_its_reset_deadband_at_every_tolerance(week: TrafficProfile) -> None:
    """One shape key per profile serves every tolerance (the key holds no tolerance of its own)."""
    profile = week.replace(rps=week.rps.copy())  # a fresh profile: nothing memoised on it yet
    for tol, down in ((0.1, 0.1), (0.05, 0.2), (0.1, 0.3)):
        expected = reference_reset_deadband(profile.rps.tolist(), tol, down)
        assert held_demand(profile, tol, down, reset=True).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(counts, st.integers(min_value=1, max_value=9))
def test_trailing_windows_match_brute_force(values: list[int], window: int) -> None:
    x = np.array(values, dtype=np.float32)
    n = len(values)
    for fn, op in ((trailing_max, max), (trailing_min, min)):
        expected = [op(values[(t - k) % n] for k in range(window)) for t in range(n)]
        assert fn(x[None, :], window)[0].tolist() == expected


def reference_ready(provisioned: list[int], delay: int) -> list[int]:
    """Launch the missing (ready ``delay`` steps later); cancel pending newest first, then stop ready ones.

    Runs two cycles from a fully ready start and returns the second (the cyclic steady state).
    """
    seq = provisioned * 2
    ready = provisioned[-1]  # cyclic: the state entering the cycle is the one leaving it
    pending: list[int] = []  # ready times, oldest first
    out = []
    for t, target in enumerate(seq):
        ready += sum(1 for when in pending if when <= t)
        pending = [when for when in pending if when > t]
        total = ready + len(pending)
        if target > total:
            pending += [t + delay] * (target - total)
            if delay == 0:
                ready += len(pending)
                pending = []
        while target < ready + len(pending):
            if pending:
                pending.pop()
            else:
                ready -= 1
        out.append(ready)
    return out[len(provisioned) :]


@settings(max_examples=80, deadline=None)
@given(counts, st.integers(min_value=0, max_value=6))
def test_ready_replicas_match_the_launch_and_cancel_simulation(values: list[int], delay: int) -> None:
    desired = np.array(values, dtype=np.float32)[None, :]
    provisioned, ready = replica_trajectory(desired, 0, delay)
    assert provisioned[0].tolist() == values
    if delay < len(values):
        assert ready[0].tolist() == reference_ready(values, delay)


def reference_fargate_extra(tasks: list[int], step_s: int) -> float:
    """Per-task lifetimes on a stack of levels (newest stopped first); a task under 60 s bills 60 s."""
    started: list[int] = []
    extra = 0.0
    for t, target in enumerate(tasks):
        while len(started) > target:
            lifetime = (t - started.pop()) * step_s
            extra += max(0, 60 - lifetime)
        while len(started) < target:
            started.append(t if t > 0 else -(10**6))  # tasks running at the start are old
    return extra


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=6), min_size=3, max_size=60), st.sampled_from([5, 10, 15, 30])
)
def test_fargate_minimum_billing_matches_task_lifetimes(middle: list[int], step_s: int) -> None:
    tasks = [1, *middle, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]  # starts and ends at the floor
    got = fargate_minimum_extra_seconds(np.array(tasks, dtype=np.float32), step_s)
    assert got == pytest.approx(reference_fargate_extra(tasks, step_s))


@pytest.mark.parametrize(
    ("nodes", "base", "spot_pct", "on_demand"),
    [
        (10, 2, 70, 5),
        (2, 2, 70, 2),
        (1, 2, 70, 1),
        (12, 0, 100, 0),
        (12, 0, 0, 12),
        (11, 1, 50, 6),
        (3, 0, 67, 1),
    ],
)
def test_on_demand_base_then_share_rounded_up_in_favour_of_on_demand(
    nodes: int, base: int, spot_pct: int, on_demand: int
) -> None:
    got = on_demand_share(
        np.array([[nodes]], dtype=np.float32),
        np.array([[base]], dtype=np.float32),
        np.array([[100 - spot_pct]], dtype=np.float32),
    )
    assert got[0, 0] == on_demand


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


@pytest.fixture(scope="module")
def week() -> TrafficProfile:
    spec = ProfileSpec.model_validate(
        {
            "name": "mix",
            "days": 7,
            "seed": 5,
            "noise_pct": 5,
            "components": [
                {"kind": "diurnal", "trough_rps": 5, "peak_rps": 80, "weekend_factor": 0.5},
                {"kind": "spikes", "spikes_per_day": 3, "spike_rps": 60, "duration_minutes": 15},
            ],
        }
    )
    return generate(spec)


plan_params = st.fixed_dictionaries(
    {
        "target": st.sampled_from([0.4, 0.6, 0.8, 1.0]),
        "delay": st.sampled_from([0, 60, 200, 600]),
        "stab": st.sampled_from([0, 300, 900]),
        "tol": st.sampled_from([0.0, 0.1]),
        "rpn": st.sampled_from([1, 2, 4]),
        "spot": st.sampled_from([0, 50, 100]),
        "base": st.integers(min_value=0, max_value=3),
        "min": st.integers(min_value=0, max_value=4),
    }
)


def _plan_from(i: int, p: dict[str, float]) -> object:
    return make_plan(
        name=f"p{i}",
        replicas_per_node=p["rpn"],
        purchase={"on_demand_base": p["base"], "spot_pct_above_base": p["spot"]},
        autoscaling={
            "min_replicas": p["min"],
            "max_replicas": 200,
            "target_utilisation": p["target"],
            "scale_up_delay_s": p["delay"],
            "scale_down_stabilisation_s": p["stab"],
            "tolerance": p["tol"],
        },
        load_balancer={"kind": "application"},
    )


@settings(max_examples=15, deadline=None)
@given(st.lists(plan_params, min_size=1, max_size=6), st.integers(min_value=0, max_value=3))
def test_batch_equals_one_by_one_and_cost_is_at_least_the_bound(
    catalog: Catalog, week: TrafficProfile, params: list[dict[str, float]], seed: int
) -> None:
    plans = [_plan_from(i, p) for i, p in enumerate(params)]
    prices = [resolve_prices(p, catalog) for p in plans]  # type: ignore[arg-type]
    batch = simulate_many(plans, week, prices, seed=seed)  # type: ignore[arg-type]
    for plan, price, result in zip(plans, prices, batch, strict=True):
        alone = simulate(plan, week, price, seed=seed)  # type: ignore[arg-type]
        assert alone.model_dump() == result.model_dump()
        if result.slo.overload_minutes == 0:
            assert result.usd_per_month >= result.fluid_bound_usd_per_month * (1 - 1e-9)
            assert result.efficiency <= 1 + 1e-9
        parts = result.breakdown
        assert sum(parts.by_component.values()) == pytest.approx(result.usd_per_month)
        assert sum(parts.by_purchase_option.values()) == pytest.approx(result.usd_per_month)


def test_time_series_adds_up_to_the_totals(catalog: Catalog, week: TrafficProfile) -> None:
    plan = make_plan(
        replicas_per_node=2,
        purchase={"on_demand_base": 1, "spot_pct_above_base": 60},
        spot={"on_demand_fallback": False},
        autoscaling={
            "min_replicas": 1,
            "max_replicas": 40,
            "target_utilisation": 0.7,
            "scale_up_delay_s": 180,
            "scale_down_stabilisation_s": 300,
            "tolerance": 0.1,
        },
        load_balancer={"kind": "application", "shared_by": 2},
    )
    result = simulate(plan, week, resolve_prices(plan, catalog), seed=1)
    ts = result.timeseries()
    assert len(ts) == week.steps
    step_h = week.step_s / 3600
    overhead = result.breakdown.by_component["spot_interruptions"] * result.horizon_hours / 730
    assert (ts["usd_per_hour"].sum() * step_h + overhead) == pytest.approx(result.usd_total, rel=1e-9)
    assert ts["overloaded"].sum() * week.step_s / 60 == result.slo.overload_minutes
    assert ts["provisioned_replicas"].mean() == pytest.approx(result.replicas_mean)
    assert (ts["ready_replicas"] <= ts["provisioned_replicas"]).all()
    # nodes the replicas need, kept 10 minutes after they are no longer needed (cluster autoscaler's
    # scale-down-unneeded-time under the HPA); the week repeats, so its start looks back into its end
    needed = np.ceil(ts["provisioned_replicas"].to_numpy() / 2)
    kept = np.lib.stride_tricks.sliding_window_view(np.concatenate([needed[-10:], needed]), 11).max(axis=1)
    assert (ts["nodes"].to_numpy() == kept).all()
    assert (kept > needed).any()
    assert (ts["nodes_on_demand"] + ts["nodes_spot"] == ts["nodes"]).all()
    # one column without the frame: the same values, raw (a replica count) or from the frame (a $ rate)
    for name in ("nodes_on_demand", "ready_replicas", "usd_per_hour"):
        assert np.array_equal(result.column(name), ts[name].to_numpy(dtype=np.float64))
    served = np.minimum(ts["demand_rps"], ts["capacity_rps"]).sum()
    assert result.utilisation_mean == pytest.approx(
        served / (ts["provisioned_replicas"].sum() * 10.0), rel=1e-6
    )


def test_the_on_demand_nodes_come_from_the_replay_that_priced_the_plan(
    catalog: Catalog, week: TrafficProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a Savings Plan covers is read off the batch's own replay, not replayed again; it goes with the
    series when a result is detached (to travel to another process)."""
    plan = make_plan(
        replicas_per_node=2,
        purchase={"on_demand_base": 1, "spot_pct_above_base": 60},
        autoscaling={"min_replicas": 1, "max_replicas": 40, "target_utilisation": 0.7},
    )
    price = resolve_prices(plan, catalog)
    result = simulate_many([plan], week, [price], seed=3, keep_on_demand=True)[0]
    plain = simulate_many([plan], week, [price], seed=3)[0]
    expected = result.timeseries()["nodes_on_demand"].to_numpy(dtype=np.float64)
    assert 0 < expected.sum() < result.timeseries()["nodes"].sum()  # spot above an on-demand base

    def no_replay(*args: object, **kwargs: object) -> None:
        raise AssertionError("replayed again")

    monkeypatch.setattr(importlib.import_module("advisor.cost.simulate"), "replay", no_replay)
    got = result.column("nodes_on_demand")
    assert np.array_equal(got, expected)
    got[:] = -1  # the caller's own copy: the kept column is unchanged
    assert np.array_equal(result.column("nodes_on_demand"), expected)
    with pytest.raises(AssertionError, match="replayed again"):
        result.column("ready_replicas")  # any other column is the series' (replayed on demand)
    result.detach_series()
    with pytest.raises(RuntimeError, match="no replay inputs"):
        result.column("nodes_on_demand")
    with pytest.raises(AssertionError, match="replayed again"):
        plain.column("nodes_on_demand")  # a batch not asked to keep them replays the plan for them


def test_more_headroom_costs_more_and_overloads_less(catalog: Catalog, week: TrafficProfile) -> None:
    tight, loose = (
        make_plan(name=n, autoscaling={"target_utilisation": u, "scale_up_delay_s": 300, "max_replicas": 100})
        for n, u in (("tight", 0.95), ("loose", 0.5))
    )
    a, b = simulate_many(
        [tight, loose], week, [resolve_prices(tight, catalog), resolve_prices(loose, catalog)]
    )
    assert a.usd_per_month < b.usd_per_month
    assert a.slo.overload_minutes > b.slo.overload_minutes
    assert a.slo.share_requests_over_slo > b.slo.share_requests_over_slo
    assert b.slo.meets_slo and b.slo.p99_ms_estimate is not None
    assert a.efficiency > b.efficiency


def test_spot_interruptions_expected_count(catalog: Catalog) -> None:
    """Over many seeds the mean count matches hazard × spot node-hours (band >20% -> 25% a month)."""
    plan = make_plan(
        shape="g5.xlarge",
        purchase={"spot_pct_above_base": 100},
        autoscaling={"min_replicas": 10, "max_replicas": 10},
    )
    profile = TrafficProfile.from_array("flat", np.full(730, 50.0), step_s=3600)  # one month
    prices = resolve_prices(plan, catalog)
    seen = [simulate(plan, profile, prices, seed=s).slo.interruptions for s in range(200)]
    expected = -math.log(1 - 0.25) * 10  # 10 nodes for 730 h
    assert np.mean(seen) == pytest.approx(expected, rel=0.1)


@pytest.mark.parametrize("short_by", [0, 2])
def test_an_on_demand_base_sized_for_losing_the_pool_holds_the_slo(catalog: Catalog, short_by: int) -> None:
    # 10 nodes for 55 rps (6 replicas at the SLO), all spot above the base, one pool, no on-demand fallback:
    # when the pool is reclaimed nothing replaces its nodes for an hour, and only the base serves.
    demand = np.full(3 * 24 * 60, 55.0)
    policy = AutoscalingPolicy(min_replicas=10, max_replicas=10, scale_up_delay_s=120)
    base = on_demand_base_for_spot(demand, 10.0, 1, policy, 100, pools=1, min_base=0)
    assert base == 6
    plan = make_plan(
        purchase={
            "on_demand_base": base - short_by,
            "spot_pct_above_base": 100,
            "spot_pools": ["c6i.xlarge"],
        },
        spot={"on_demand_fallback": False, "pool_reclaims_per_month": 60.0, "pool_outage_s": 3600},
        autoscaling=policy.model_dump(),
    )
    result = simulate(
        plan, TrafficProfile.from_array("flat", demand, step_s=60), resolve_prices(plan, catalog)
    )
    assert result.slo.pool_reclaims >= 2
    series = result.timeseries()
    lost = series["lost_replicas"].to_numpy()
    assert lost.max() == 10 - (base - short_by)  # every spot node at once
    if short_by == 0:
        assert result.slo.overload_minutes == 0 and result.slo.meets_slo
    else:
        # each reclaim: an hour on 4 replicas (40 rps) for 55 rps
        assert result.slo.overload_minutes >= 60 * result.slo.pool_reclaims * 0.5
        assert result.minutes_over_slo_pct > 1.0  # far above any SLO budget; the p99 of the week may hide it
        assert (
            series["overloaded"].to_numpy() <= (lost > 0) | (series["backlog_requests"].to_numpy() > 0)
        ).all()


def test_replacements_fall_back_on_demand_only_where_the_platform_does(catalog: Catalog) -> None:
    # The same spot share and whole-pool reclaims on EC2 (Karpenter falls back to on-demand: the lost
    # nodes are back after the replacement delay) and on Fargate (FARGATE_SPOT tasks wait for spot
    # capacity: back after the pool's outage).
    demand = np.full(3 * 24 * 60, 30.0)
    common = {
        "purchase": {"on_demand_base": 2, "spot_pct_above_base": 100},
        "spot": {"pool_reclaims_per_month": 60.0, "pool_outage_s": 3600, "interruption_band": "<5%"},
        "autoscaling": {"min_replicas": 6, "max_replicas": 6, "scale_up_delay_s": 300},
    }
    ec2 = make_plan(**common)
    fargate = make_plan(platform="fargate", shape={"vcpu": 2, "memory_gib": 4}, **common)
    assert ec2.spot_fallback and not fargate.spot_fallback
    profile = TrafficProfile.from_array("flat", demand, step_s=60)
    for plan, outage_minutes in ((ec2, 3), (fargate, 58)):  # from the reclaim, 2 minutes after the notice
        result = simulate(plan, profile, resolve_prices(plan, catalog))
        assert result.slo.pool_reclaims >= 1
        lost = result.timeseries()["lost_replicas"].to_numpy() > 0
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, lost.astype(int), 0])))[::2]
        assert runs.min() >= outage_minutes  # overlapping reclaims merge into longer runs
        assert np.bincount(runs).argmax() == outage_minutes


def _spot_plan(*, spot_pct: int, reclaims_per_month: float) -> Plan:
    """A plan buying spot above one on-demand node, in two pools reclaimed at the given rate."""
    return make_plan(
        purchase={
            "on_demand_base": 1,
            "spot_pct_above_base": spot_pct,
            "spot_pools": ["c6i.xlarge", "c5.xlarge"],
        },
        spot={"pool_reclaims_per_month": reclaims_per_month},
        autoscaling={
            "min_replicas": 2,
            "max_replicas": 40,
            "target_utilisation": 0.7,
            "scale_up_delay_s": 180,
        },
    )


def test_a_plan_under_several_seeds_in_one_batch_equals_a_call_per_seed(
    catalog: Catalog, week: TrafficProfile
) -> None:
    plan = _spot_plan(spot_pct=100, reclaims_per_month=20.0)
    prices = resolve_prices(plan, catalog)
    batch = simulate_many([plan] * 4, week, [prices] * 4, seed=[3, 4, 5, 6])
    one_by_one = [simulate(plan, week, prices, seed=s) for s in (3, 4, 5, 6)]
    assert [r.model_dump() for r in batch] == [r.model_dump() for r in one_by_one]
    assert len({r.slo.lost_replica_hours for r in batch}) > 1  # the seeds drew different events
    with pytest.raises(InputError, match="4 plans but 3 seeds"):
        simulate_many([plan] * 4, week, [prices] * 4, seed=[1, 2, 3])


def test_seeds_that_lose_nothing_share_one_replay_and_equal_a_call_per_seed(
    catalog: Catalog, week: TrafficProfile
) -> None:
    """Rows of one plan that draw no interruption are priced once (the replay shares their outcome): each
    result is still what a call for its seed alone gives, with its own seed."""
    plan = _spot_plan(spot_pct=50, reclaims_per_month=0.5)
    prices = resolve_prices(plan, catalog)
    seeds = list(range(20, 44))
    batch = simulate_many([plan] * len(seeds), week, [prices] * len(seeds), seed=seeds)
    alone = [simulate_many([plan], week, [prices], seed=s)[0] for s in seeds]
    assert [r.model_dump() for r in batch] == [r.model_dump() for r in alone]
    assert [r.seed for r in batch] == seeds
    quiet = [r for r in batch if r.slo.interruptions == 0 and r.slo.pool_reclaims == 0]
    assert len(quiet) >= 2 and len(quiet) < len(batch)  # both kinds of row are in the batch
    screened = screen_many([plan] * len(seeds), week, [prices] * len(seeds), seed=seeds)
    screened_alone = [screen_many([plan], week, [prices], seed=s)[0] for s in seeds]
    assert [r.figures() for r in screened] == [r.figures() for r in screened_alone]
    assert [r.seed for r in screened] == seeds


@settings(max_examples=10, deadline=None)
@given(st.lists(plan_params, min_size=1, max_size=4), st.integers(min_value=0, max_value=3))
def test_a_screened_result_decides_as_the_full_one(
    catalog: Catalog, week: TrafficProfile, params: list[dict[str, float]], seed: int
) -> None:
    """Screening skips the p99 root search and validation, nothing the search decides on: the cost, the
    minutes over the SLO, the spot events and whether the p99 meets it are the full result's."""
    plans = [_plan_from(i, p) for i, p in enumerate(params)]
    prices = [resolve_prices(p, catalog) for p in plans]  # type: ignore[arg-type]
    full = simulate_many(plans, week, prices, seed=seed)  # type: ignore[arg-type]
    screened = screen_many(plans, week, prices, seed=seed)  # type: ignore[arg-type]
    for f, s in zip(full, screened, strict=True):
        assert (s.plan, s.seed) == (f.plan, f.seed)
        assert s.usd_per_month == f.usd_per_month
        assert s.minutes_over_slo_pct == f.minutes_over_slo_pct
        assert (s.interruptions, s.pool_reclaims) == (f.slo.interruptions, f.slo.pool_reclaims)
        assert s.meets_slo == f.meets_slo == f.slo.meets_slo


@settings(max_examples=15, deadline=None)
@given(
    st.lists(plan_params, min_size=1, max_size=4),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([0.0, 0.1, 2.0]),
)
def test_screening_against_a_budget_decides_as_without_one(
    catalog: Catalog, week: TrafficProfile, params: list[dict[str, float]], seed: int, budget: float
) -> None:
    """A plan over the budget before its backlog is counted is left unsettled (its minutes a lower bound,
    still over the budget); every other figure, and every verdict against the budget, is as without one."""
    plans = [_plan_from(i, p) for i, p in enumerate(params)]
    prices = [resolve_prices(p, catalog) for p in plans]  # type: ignore[arg-type]
    free = screen_many(plans, week, prices, seed=seed)  # type: ignore[arg-type]
    held = screen_many(plans, week, prices, seed=seed, budget_pct_minutes=budget)  # type: ignore[arg-type]

    def keeps(r: Screened) -> bool:
        return r.minutes_over_slo_pct <= budget + 1e-12 and r.meets_slo

    for f, h in zip(free, held, strict=True):
        assert keeps(h) == keeps(f)
        assert h.usd_per_month == f.usd_per_month
        if h.settled:
            assert h.figures() == f.figures()
        else:
            assert budget < h.minutes_over_slo_pct <= f.minutes_over_slo_pct
