"""Queueing formulas, load balancer units, spot hazard, plan files, prices and baselines."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.capacity.queueing import RHO_BINS, wait_tail
from advisor.cost import (
    QueueModel,
    calibrate_service_time_ms,
    erlang_c,
    evaluate_baselines,
    load_plan,
    max_utilisation_for_slo,
    p99_latency_ms,
    resolve_prices,
    simulate,
    static_peak_plan,
)
from advisor.cost.loadbalancer import lcu_hours, lcu_per_rps
from advisor.cost.replay.spot import hourly_hazard
from advisor.errors import ConfigError, NotFoundError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import LoadBalancerSpec
from advisor.settings import Settings
from advisor.traffic.generators import generate_file
from tests.traffic_cost_helpers import REPO_ROOT, flat_profile, make_plan


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


def test_erlang_c_known_values() -> None:
    assert erlang_c(1, np.array([0.3, 0.8])).tolist() == pytest.approx([0.3, 0.8])  # M/M/1: P(wait) = rho
    assert float(erlang_c(2, 1.0)) == pytest.approx(1 / 3)  # M/M/2, a = 1
    # M/M/3, a = 2: textbook value 4/9
    assert float(erlang_c(3, 2.0)) == pytest.approx(4 / 9)
    assert float(erlang_c(2, 2.5)) == 1.0  # unstable


def test_mm1_tail_and_p99_closed_form() -> None:
    # M/M/1 with S = 10 ms at 60 rps (rho = 0.6): P(W > t) = rho e^{-(mu - lambda) t}
    s, lam = 10.0, 60.0
    mu_minus_lam = 1 / s - lam / 1000
    assert float(wait_tail(1, s, lam, 25.0, scv=1.0)) == pytest.approx(0.6 * math.exp(-mu_minus_lam * 25))
    # p99 = S + ln(rho / 0.01) / (mu - lambda) for scv = 1, and half the wait for deterministic service
    wait = math.log(0.6 / 0.01) / mu_minus_lam
    assert p99_latency_ms(lam, 1, s, scv=1.0) == pytest.approx(s + wait)
    assert p99_latency_ms(lam, 1, s, scv=0.0) == pytest.approx(s + wait / 2)
    assert p99_latency_ms(100.0, 1, s) == math.inf


@settings(max_examples=40, deadline=None)
@given(
    st.floats(min_value=1, max_value=2000),
    st.floats(min_value=20, max_value=5000),
    st.integers(min_value=1, max_value=16),
    st.sampled_from([0.0, 0.5, 1.0]),
)
def test_calibration_and_max_utilisation_invert_each_other(
    cap: float, slo: float, c: int, scv: float
) -> None:
    s = calibrate_service_time_ms(cap, slo, c, scv)
    assert 0 < s <= slo
    assert p99_latency_ms(cap, c, s, scv) == pytest.approx(slo, rel=1e-6)
    rho = max_utilisation_for_slo(s, slo, c, scv)
    rho_at_capacity = cap * s / (c * 1000)
    if s < slo * (1 - 1e-6):  # queueing matters at the capacity: the two are inverse
        assert rho == pytest.approx(rho_at_capacity, rel=1e-6)
    else:  # so light that nobody waits at the capacity: the SLO holds up to a higher load
        assert rho >= rho_at_capacity * (1 - 1e-9)
    assert p99_latency_ms(rho * c / s * 1000 * 0.999, c, s, scv) <= slo * (1 + 1e-9)


def test_infeasible_slo_gives_zero_utilisation() -> None:
    assert max_utilisation_for_slo(service_time_ms=120, slo_p99_ms=100) == 0.0


def test_queue_model_mixture_p99() -> None:
    q = QueueModel.for_capacity(50.0, 1, 200.0, None, 0.0)
    at_capacity = np.zeros(RHO_BINS + 1)
    at_capacity[int(50.0 / q.max_rps * RHO_BINS)] = 1000.0
    assert q.mixture_quantile_ms(at_capacity) == pytest.approx(200.0, rel=0.02)
    light = np.zeros(RHO_BINS + 1)
    light[10] = 1000.0
    assert q.mixture_quantile_ms(light) == pytest.approx(q.service_time_ms, rel=0.05)
    overloaded = light.copy()
    overloaded[-1] = 20.0  # 2% of requests in overload
    assert q.mixture_quantile_ms(overloaded) is None
    with pytest.raises(ConfigError, match="needs over 1 server"):
        QueueModel.for_capacity(50.0, 1, 200.0, 25.0, 0.0)  # 50 rps x 25 ms = 1.25 busy servers


def test_alb_lcu_estimate_by_hand() -> None:
    spec = LoadBalancerSpec(
        request_kib=4, response_kib=4, new_connections_per_request=0.1, connection_duration_s=60
    )
    per_rps, dimension = lcu_per_rps(spec)
    # per rps: new connections 0.1/25 = 0.004; active 0.1*60/3000 = 0.002; bytes 8 KiB*3600/1e9 = 0.0295 GB/h
    assert dimension == "processed_bytes"
    assert per_rps == pytest.approx(8 * 1024 * 3600 / 1e9)
    keepalive_off = LoadBalancerSpec(request_kib=0.5, response_kib=0.5, new_connections_per_request=1.0)
    assert lcu_per_rps(keepalive_off) == (pytest.approx(1 / 25), "new_connections")  # type: ignore[comparison-overlap]
    many_rules = LoadBalancerSpec(
        request_kib=0, response_kib=0, new_connections_per_request=0, rules_evaluated_per_request=40
    )
    assert lcu_per_rps(many_rules) == (pytest.approx(30 / 1000), "rule_evaluations")  # type: ignore[comparison-overlap]
    assert lcu_hours(spec, 3600 * 100) == pytest.approx(100 * per_rps)  # 100 rps for an hour


def test_load_balancer_cost_is_shared_hours_plus_own_units(catalog: Catalog) -> None:
    lb = {"kind": "application", "shared_by": 4, "request_kib": 4, "response_kib": 4}
    plan = make_plan(load_balancer=lb)
    result = simulate(plan, flat_profile(20.0, 24), resolve_prices(plan, catalog))
    alb = catalog.load_balancer("us-east-1", "application")
    parts = result.breakdown.by_component
    assert parts["load_balancer_hours"] == pytest.approx(alb.usd_per_hour * 730 / 4)
    units = 20.0 * lcu_per_rps(LoadBalancerSpec(**lb))[0]
    assert alb.usd_per_capacity_unit_hour is not None
    assert parts["load_balancer_capacity_units"] == pytest.approx(
        units * 730 * alb.usd_per_capacity_unit_hour
    )


def test_hourly_hazard_reproduces_the_band_over_a_month() -> None:
    for q in (0.025, 0.075, 0.25):
        assert 1 - math.exp(-hourly_hazard(q) * 730) == pytest.approx(q)


def test_example_plans_load_and_price(catalog: Catalog) -> None:
    for path in sorted((REPO_ROOT / "examples" / "plans").glob("*.yaml")):
        plan = load_plan(path)
        prices = resolve_prices(plan, catalog)
        assert prices.on_demand_usd_per_node_hour > 0 and prices.sources


PLAN_OK = (
    "name: x\n"
    "platform: ec2\n"
    "shape: c6i.large\n"
    "capacity:\n"
    "  rps_per_replica: 5\n"
    "  provenance: given\n"
    "slo: {latency_p99_ms: 100}\n"
    "autoscaling:\n"
    "  max_replicas: 3\n"
)


@pytest.mark.parametrize(
    ("old", "new", "line", "needle"),
    [
        ("platform: ec2", "platform: fargate", 1, "task size"),
        ("rps_per_replica: 5", "rps_per_replica: -1", 5, "capacity.rps_per_replica"),
        ("provenance: given", "provenance: guessed", 6, "capacity.provenance"),
        (
            "  max_replicas: 3\n",
            "  max_replicas: 3\n  target_utilization: 0.5\n",
            10,
            "autoscaling.target_utilization: unknown field",
        ),
        ("shape: c6i.large", "shape: {vcpu: 1}", 3, "needs vcpu and memory_gib"),
        ("shape: c6i.large", "shape: {vcpu: 2, memory_gib: 4}", 1, "instance type name"),
        ("slo: {latency_p99_ms: 100}", "slo: {latency_p99_ms: 100, extra: 1}", 7, "slo.extra: unknown field"),
    ],
)
def test_bad_plan_files_name_the_line(tmp_path: Path, old: str, new: str, line: int, needle: str) -> None:
    path = tmp_path / "plan.yaml"
    assert old in PLAN_OK
    path.write_text(PLAN_OK.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    assert err.value.where == f"{path}:{line}" and needle in err.value.one_line(), err.value.one_line()


def test_a_complete_minimal_plan_loads(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_OK)
    plan = load_plan(path)
    assert (
        plan.autoscaling.target_utilisation == 0.7
        and plan.effective_load_balancer.kind.value == "application"
    )


def _plan_yaml(**extra: str) -> str:
    body = {
        "name": "x",
        "platform": "ec2",
        "shape": "c6i.large",
        "capacity": "{rps_per_replica: 5, provenance: given}",
        "slo": "{latency_p99_ms: 100}",
        "autoscaling": "{max_replicas: 4}",
    }
    body.update(extra)
    return "".join(f"{k}: {v}\n" for k, v in body.items())


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"platform": "sagemaker", "purchase": "{spot_pct_above_base: 50}"}, "cannot use spot"),
        ({"autoscaling": "{min_replicas: 5, max_replicas: 4}"}, "exceeds max_replicas"),
        ({"purchase": "{spot_pct_above_base: 12.5}"}, "purchase.spot_pct_above_base"),
        (
            {"platform": "fargate", "shape": "{vcpu: 2, memory_gib: 4}", "replicas_per_node": "2"},
            "one replica",
        ),
    ],
)
def test_inconsistent_plans_are_config_errors(tmp_path: Path, extra: dict[str, str], needle: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(_plan_yaml(**extra))
    with pytest.raises(ConfigError, match=needle):
        load_plan(path)


def test_prices_resolve_pools_bands_and_reject_unknown_types(catalog: Catalog) -> None:
    plan = make_plan(
        purchase={"spot_pct_above_base": 80, "spot_pools": ["c6i.xlarge", "c5.xlarge", "m6i.xlarge"]}
    )
    prices = resolve_prices(plan, catalog)
    assert [p.shape for p in prices.spot_pools] == ["c6i.xlarge", "c5.xlarge", "m6i.xlarge"]
    for pool in prices.spot_pools:
        assert pool.monthly_interruption_rate == pool.interruption_band.monthly_rate_midpoint
        assert 0 < pool.usd_per_node_hour < prices.on_demand_usd_per_node_hour * 1.5
    with pytest.raises(NotFoundError, match="did you mean"):
        resolve_prices(make_plan(shape="c6i.xlarg"), catalog)
    fargate_spot = make_plan(
        platform="fargate", shape={"vcpu": 1, "memory_gib": 2}, purchase={"spot_pct_above_base": 50}
    )
    assert resolve_prices(fargate_spot, catalog).spot_pools[0].estimated  # band assumed, not published


def test_static_peak_baseline_sizes_for_the_peak(catalog: Catalog) -> None:
    profile = generate_file(REPO_ROOT / "load_profiles" / "diurnal-business-api.yaml")
    plan = make_plan(autoscaling={"target_utilisation": 0.7})
    static = static_peak_plan(plan, profile)
    expected = math.ceil(profile.peak_rps / (10.0 * 0.7))
    assert static.autoscaling.min_replicas == static.autoscaling.max_replicas == expected
    result = simulate(static, profile, resolve_prices(static, catalog))
    assert result.usd_per_month == pytest.approx(
        expected * 730 * catalog.on_demand("us-east-1", "c6i.xlarge").usd_per_hour
    )


def test_baselines_for_cpu_and_gpu_plans(catalog: Catalog) -> None:
    profile = flat_profile(30.0, 24)
    cpu = {
        b.name: b
        for b in evaluate_baselines(make_plan(autoscaling={"target_utilisation": 0.7}), profile, catalog)
    }
    assert set(cpu) == {"static_peak", "sagemaker_target_tracking", "fargate_target_tracking"}
    assert all(b.result is not None and b.result.usd_per_month > 0 for b in cpu.values())
    sm = cpu["sagemaker_target_tracking"]
    assert (
        sm.plan is not None
        and sm.plan.shape == "ml.c6i.xlarge"
        and sm.plan.autoscaling.scale_up_delay_s > 180
    )
    fg = cpu["fargate_target_tracking"]
    assert fg.plan is not None and fg.plan.capacity.provenance.value == "estimated"
    gpu = {b.name: b for b in evaluate_baselines(make_plan(shape="g5.xlarge"), profile, catalog)}
    assert gpu["fargate_target_tracking"].result is None
    assert "no GPUs" in (gpu["fargate_target_tracking"].unavailable or "")
