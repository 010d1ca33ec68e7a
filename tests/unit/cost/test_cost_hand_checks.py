"""The issue's hand-checkable figures: each expected value is computed here from the catalog's prices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advisor.cost import resolve_prices, simulate, simulate_many
from advisor.cost.replay.backlog import carried_backlog, late_requests
from advisor.domain import PurchaseOption
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from advisor.traffic.generators import ProfileSpec, generate
from advisor.traffic.profile import TrafficProfile
from tests.traffic_cost_helpers import flat_profile, make_plan


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


@pytest.mark.parametrize(("k", "hours"), [(1, 24), (3, 24), (7, 168)])
def test_flat_profile_at_k_capacities_costs_k_instances_for_730_hours(
    catalog: Catalog, k: int, hours: int
) -> None:
    plan = make_plan()  # 10 rps per replica, target utilisation 1, one replica per c6i.xlarge node
    result = simulate(plan, flat_profile(10.0 * k, hours), resolve_prices(plan, catalog))
    price = catalog.on_demand("us-east-1", "c6i.xlarge").usd_per_hour
    assert result.usd_per_month == pytest.approx(k * 730 * price, rel=1e-12)
    assert result.usd_total == pytest.approx(k * hours * price, rel=1e-12)
    assert result.replicas_min == result.replicas_max == k
    assert result.slo.overload_minutes == 0
    assert result.utilisation_mean == pytest.approx(1.0)


def test_flat_profile_packs_replicas_onto_nodes(catalog: Catalog) -> None:
    plan = make_plan(shape="m5.2xlarge", replicas_per_node=3)
    result = simulate(
        plan, flat_profile(10.0 * 7, 24), resolve_prices(plan, catalog)
    )  # 7 replicas -> 3 nodes
    price = catalog.on_demand("us-east-1", "m5.2xlarge").usd_per_hour
    assert result.nodes_max == 3
    assert result.usd_per_month == pytest.approx(3 * 730 * price, rel=1e-12)


def test_sagemaker_plan_costs_its_hourly_price_times_hours(catalog: Catalog) -> None:
    plan = make_plan(
        platform="sagemaker", shape="ml.g5.xlarge", autoscaling={"min_replicas": 2, "max_replicas": 2}
    )
    hours = 10
    result = simulate(plan, flat_profile(5.0, hours), resolve_prices(plan, catalog))
    hourly = catalog.sagemaker("us-east-1", "ml.g5.xlarge").usd_per_hour
    # Data processed in and out: 4 KiB each way per request (the plan's defaults) at $0.016/GB (decimal).
    per_gb = catalog.sagemaker_data_processing("us-east-1")
    assert (per_gb.usd_per_gb_in, per_gb.usd_per_gb_out) == (0.016, 0.016)
    data_per_hour = 5.0 * 3600 * (4 * 1024 + 4 * 1024) / 1e9 * 0.016
    assert result.usd_total == pytest.approx(2 * hourly * hours + data_per_hour * hours, rel=1e-12)
    assert result.usd_per_month == pytest.approx((2 * hourly + data_per_hour) * 730, rel=1e-12)
    assert result.breakdown.by_purchase_option == {
        "sagemaker": pytest.approx(2 * hourly * 730),
        "data_processing": pytest.approx(data_per_hour * 730),
    }
    assert result.breakdown.by_component["data_processing"] == pytest.approx(data_per_hour * 730)


def test_fargate_task_of_2_vcpu_4_gb_for_30_days(catalog: Catalog) -> None:
    plan = make_plan(
        platform="fargate",
        shape={"vcpu": 2, "memory_gib": 4},
        autoscaling={"min_replicas": 1, "max_replicas": 1},
    )
    rate = catalog.fargate_rate("us-east-1", PurchaseOption.FARGATE)
    result = simulate(plan, flat_profile(1.0, 30 * 24), resolve_prices(plan, catalog))
    expected = (2 * rate.usd_per_vcpu_hour + 4 * rate.usd_per_gb_hour) * 720
    assert result.usd_total == pytest.approx(expected, rel=1e-12)
    assert result.horizon_hours == 720


def test_fargate_one_minute_minimum_at_ten_second_steps(catalog: Catalog) -> None:
    # One task always, plus three extra tasks for 20 s every hour: each extra task bills 60 s, not 20 s.
    plan = make_plan(
        platform="fargate",
        shape={"vcpu": 1, "memory_gib": 2},
        autoscaling={"min_replicas": 1, "max_replicas": 10},
    )
    rates = np.full(360, 10.0)  # one hour at 10 s steps; capacity 10 rps per task
    rates[100:102] = 40.0
    from advisor.traffic.profile import TrafficProfile

    profile = TrafficProfile.from_array("blip", rates, step_s=10)
    result = simulate(plan, profile, resolve_prices(plan, catalog))
    task_hour = catalog.fargate_task("us-east-1", 1, 2).usd_per_hour
    billed_task_seconds = 3600 + 3 * 60
    assert result.usd_total == pytest.approx(task_hour * billed_task_seconds / 3600, rel=1e-12)


def test_interruption_draws_with_a_fixed_seed_are_reproducible(catalog: Catalog) -> None:
    plan = make_plan(
        shape="g5.xlarge",  # a pool in the >20% band in us-east-1
        purchase={"on_demand_base": 0, "spot_pct_above_base": 100},
        autoscaling={"min_replicas": 20, "max_replicas": 20, "scale_up_delay_s": 600},
    )
    prices = resolve_prices(plan, catalog)
    profile = flat_profile(100.0, 30 * 24)
    first = simulate(plan, profile, prices, seed=42)
    again = simulate(plan, profile, prices, seed=42)
    other = simulate(plan, profile, prices, seed=43)
    assert first.slo.interruptions > 0
    assert first.model_dump() == again.model_dump()
    assert first.timeseries()["lost_replicas"].tolist() == again.timeseries()["lost_replicas"].tolist()
    assert other.timeseries()["lost_replicas"].tolist() != first.timeseries()["lost_replicas"].tolist()
    # the same plan in a batch with others draws the same events
    batch = simulate_many(
        [make_plan(name="neighbour"), plan], profile, [resolve_prices(make_plan(), catalog), prices], seed=42
    )
    assert batch[1].model_dump() == first.model_dump()


@pytest.mark.parametrize("delay_minutes", [0, 1, 4, 3])
def test_square_wave_overload_minutes_follow_the_scale_up_delay(catalog: Catalog, delay_minutes: int) -> None:
    # 1 day of a square wave: 20 rps, and 80 rps for 20 minutes of every hour -> 24 rising edges.
    spec = ProfileSpec.model_validate(
        {
            "name": "square",
            "days": 1,
            "components": [
                {"kind": "square", "low_rps": 20, "high_rps": 80, "period_minutes": 60, "high_minutes": 20}
            ],
        }
    )
    # the simple model: the whole jump is served one delay after it (the HPA's waves are tested below)
    autoscaling = {
        "scale_up_delay_s": 60 * delay_minutes,
        "scale_down_stabilisation_s": 300,
        "algorithm": "simple",
    }
    plan = make_plan(
        autoscaling=autoscaling, load_balancer={"kind": "none", "algorithm": "least_outstanding_requests"}
    )
    result = simulate(plan, generate(spec), resolve_prices(plan, catalog))
    # By hand (least outstanding requests: the backlog waits for whichever replica is free): 2 replicas
    # serve 20 rps within the SLO and at most mu = 1000 / service time each; for the
    # delay, 80 rps meet 2 of them and (80 - 2 mu) rps queue up; then 8 replicas drain that backlog at
    # 8 mu - 80 rps, and every minute that starts with a backlog is late too.
    mu = 1000.0 / result.slo.service_time_ms
    backlog = (80 - 2 * mu) * 60 * delay_minutes
    draining = math.ceil(backlog / ((8 * mu - 80) * 60))
    per_edge = delay_minutes + draining
    assert result.slo.overload_minutes == 24 * per_edge
    assert result.slo.backlog_max_requests == pytest.approx(backlog, rel=1e-5)
    series = result.timeseries()
    first_edge = series.iloc[:20]
    assert first_edge["overloaded"].sum() == per_edge
    assert (first_edge["ready_replicas"].iloc[delay_minutes:] == 8).all()
    assert (first_edge["backlog_requests"].iloc[per_edge:] == 0).all()


def test_a_backlog_drains_in_the_time_a_hand_calculation_gives(catalog: Catalog) -> None:
    # Two fixed replicas of one slot at 100 ms serve at most 2 x 10 = 20 rps. 40 rps for 5 minutes leave
    # (40 - 20) x 300 = 6,000 requests waiting; at 10 rps afterwards they drain at 20 - 10 = 10 rps, in
    # 600 s. Every minute that starts with requests waiting longer than the 1 s SLO is late: the 5 of the
    # burst and the 10 of the drain.
    plan = make_plan(
        capacity={"rps_per_replica": 8.0, "provenance": "given", "service_time_ms": 100.0},
        slo={"latency_p99_ms": 1000.0},
        autoscaling={"min_replicas": 2, "max_replicas": 2, "algorithm": "simple"},
        load_balancer={"kind": "none", "algorithm": "least_outstanding_requests"},
    )
    demand = np.full(60, 10.0)
    demand[10:15] = 40.0
    result = simulate(
        plan, TrafficProfile.from_array("burst", demand, step_s=60), resolve_prices(plan, catalog)
    )
    backlog = result.timeseries()["backlog_requests"].to_numpy()
    assert backlog[14] == pytest.approx(6000.0)
    assert backlog[15:25] == pytest.approx(6000.0 - 600.0 * np.arange(1, 11))
    assert (backlog[24:] == 0).all() and (backlog[:10] == 0).all()
    assert result.slo.backlog_max_requests == pytest.approx(6000.0)
    assert result.slo.overload_minutes == 15
    assert not result.slo.meets_slo


def test_behind_a_random_split_only_the_overloaded_replicas_drain_their_backlog() -> None:
    # Two replicas (10 rps each at most) meet 60 rps for 5 minutes: (60 - 20) x 300 = 12,000 requests wait
    # at them. Then 4 are ready and 20 rps arrive, 5 rps to each: the two holding the backlog drain it at
    # 2 x (10 - 5) = 10 rps, in 1,200 s, and the requests sent to them (half) are late. Behind least
    # outstanding requests all four drain it at 40 - 20 = 20 rps, in 600 s, and every request waits.
    demand = np.full(90, 20.0, dtype=np.float32)
    demand[10:15] = 60.0
    ready = np.where(np.arange(90) < 15, 2.0, 4.0).astype(np.float32)[None, :]
    excess = demand[None, :] > ready * 10.0
    random, pooled = carried_backlog(
        demand, np.vstack([ready, ready]), [10.0, 10.0], [False, True], np.vstack([excess, excess]), 60
    )
    for backlog, minutes, share in ((random, 20, 0.5), (pooled, 10, 1.0)):
        assert backlog.requests[14] == pytest.approx(12000.0)
        drain = 12000.0 / minutes
        assert backlog.requests[15 : 15 + minutes] == pytest.approx(
            12000.0 - drain * np.arange(1, minutes + 1)
        )
        assert (backlog.requests[15 + minutes :] == 0).all()
        steps, late = late_requests(backlog, ready[0], 1.0)
        assert steps.tolist() == list(range(11, 15 + minutes))
        assert late[steps >= 16] == pytest.approx(share)
