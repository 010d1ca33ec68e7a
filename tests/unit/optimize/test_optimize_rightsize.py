"""Per-model right-sizing: the spot base rule, spot pools, the prefilter, plans that keep the SLO budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.cost.prices import resolve_prices
from advisor.cost.simulate import simulate
from advisor.domain import InterruptionBand, Platform
from advisor.optimize.rightsize.candidates import CandidateTypes, prefilter, shape_candidates
from advisor.optimize.rightsize.pricecache import PriceCache, minutes_over_slo_pct
from advisor.optimize.rightsize.search import MAX_TARGET_UTILISATION, rightsize_model
from advisor.optimize.rightsize.search_types import SearchOptions
from advisor.optimize.rightsize.sizing import on_demand_base_for_spot
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import AutoscalingPolicy, LoadBalancerSpec
from advisor.settings import Settings
from advisor.traffic import TrafficProfile
from tests.optimize_helpers import caps_for, model, scenario


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog.load(Settings(home=tmp_path_factory.mktemp("home")))


def _policy(min_r: int = 1, max_r: int = 1000, target: float = 0.7) -> AutoscalingPolicy:
    return AutoscalingPolicy(min_replicas=min_r, max_replicas=max_r, target_utilisation=target)


def test_spot_base_worked_example() -> None:
    # Demand 7 rps, 1 rps per replica, target 0.7: 10 nodes, 7 needed; 2 pools, 100 % spot.
    demand = np.full(60, 7.0)
    assert on_demand_base_for_spot(demand, 1.0, 1, _policy(), 100.0, 2, 0) == 4
    # Three pools lose less at once: 10 - ceil(spot / 3) >= 7 holds from base 1 (9 spot, 3 lost).
    assert on_demand_base_for_spot(demand, 1.0, 1, _policy(), 100.0, 3, 0) == 1
    # The scenario's minimum base is respected even when not needed.
    assert on_demand_base_for_spot(demand, 1.0, 1, _policy(), 100.0, 3, 2) == 2


@settings(max_examples=60, deadline=None)
@given(
    levels=st.lists(st.floats(0.5, 200.0), min_size=1, max_size=12),
    cap=st.floats(1.0, 50.0),
    rpn=st.integers(1, 8),
    target=st.floats(0.3, 0.9),
    share=st.sampled_from([50.0, 70.0, 100.0]),
    pools=st.integers(1, 4),
)
def test_spot_base_survives_losing_the_largest_pool_and_is_minimal(
    levels: list[float], cap: float, rpn: int, target: float, share: float, pools: int
) -> None:
    demand = np.array(levels)
    policy = _policy(target=target)
    base = on_demand_base_for_spot(demand, cap, rpn, policy, share, pools, 0)

    def survives(b: int) -> bool:
        replicas = np.clip(np.ceil(demand / (cap * target) - 1e-9), policy.min_replicas, policy.max_replicas)
        nodes = np.ceil(replicas / rpn - 1e-9)
        od = np.minimum(nodes, b) + np.ceil(np.round(np.maximum(nodes - b, 0) * (100 - share) / 100, 9))
        lost = np.ceil((nodes - od) / pools)
        return bool(np.all((nodes - lost) * rpn >= np.ceil(demand / cap - 1e-9)))

    assert survives(base)
    assert base == 0 or not survives(base - 1)


def test_spot_pools_respect_the_band_and_the_diversity_minimum(catalog: Catalog) -> None:
    spec = scenario(model(), spot={"max_interruption_band": "<5%", "min_instance_types_per_pool": 2})
    types = CandidateTypes.build(spec, catalog)
    m = spec.models[0]
    caps = caps_for(m, catalog)
    cands = [
        c for c in shape_candidates(m.resources, caps, types, spec, catalog) if c.platform is Platform.EC2
    ]
    with_pools = [c for c in cands if c.spot_pools]
    assert with_pools, "some shapes have two calm spot pools"
    for c in with_pools:
        assert len(c.spot_pools) >= 2
        for pool in c.spot_pools:
            assert catalog.spot("us-east-1", pool).interruption_band is InterruptionBand.LT5
    strict = scenario(model(), spot={"min_instance_types_per_pool": 500})
    strict_types = CandidateTypes.build(strict, catalog)
    none = shape_candidates(m.resources, caps, strict_types, strict, catalog)
    assert all(not c.spot_pools for c in none)
    assert any("asks for 500" in c.spot_note for c in none if c.platform is Platform.EC2)


def test_replicas_never_land_on_types_they_do_not_fit(catalog: Catalog) -> None:
    spec = scenario(model(resources={"vcpu": 3, "memory_gib": 20}))
    types = CandidateTypes.build(spec, catalog)
    m = spec.models[0]
    cands = shape_candidates(m.resources, caps_for(m, catalog), types, spec, catalog)
    for c in cands:
        if c.instance is not None:
            assert (
                c.replicas_per_node * 3 <= c.instance.vcpu
                and c.replicas_per_node * 20 <= c.instance.memory_gib
            )
            assert not c.instance.has_gpu  # CPU replicas never keep a GPU node


def test_prefilter_prefers_a_small_node_at_low_traffic(catalog: Catalog) -> None:
    spec = scenario(
        model(capacities_rps={"c6i.large": 100}), candidates={"families": ["c6i"], "max_size_vcpu": 64}
    )
    types = CandidateTypes.build(spec, catalog)
    m = spec.models[0]
    cands = shape_candidates(m.resources, caps_for(m, catalog), types, spec, catalog)
    # Every c6i size has the same $ per unit of capacity; at 50 rps the big ones are mostly idle.
    shortlist = prefilter(cands, np.full(24, 50.0), {Platform.EC2: 2}, min_replicas=2)
    assert shortlist[0].shape == "c6i.large"
    # The two kept for their on-demand estimate are the two smallest; a big one may stay for its spot pools.
    assert {c.shape for c in shortlist if not c.spot_pools} == {"c6i.large", "c6i.xlarge"}


def _rightsize(spec_model: dict[str, object], profile: TrafficProfile, catalog: Catalog, **scen: object):  # type: ignore[no-untyped-def]
    spec = scenario(spec_model, **scen)
    m = spec.models[0]
    types = CandidateTypes.build(spec, catalog)
    caps = caps_for(m, catalog)
    cands = shape_candidates(m.resources, caps, types, spec, catalog)
    short = prefilter(cands, profile.rps, {Platform.EC2: 3, Platform.SAGEMAKER: 2, Platform.FARGATE: 1})
    return rightsize_model(
        m.name, m.slo, short, profile, PriceCache(catalog), region="us-east-1",
        load_balancer=LoadBalancerSpec(), replica=m.resources, options=SearchOptions(),
    )  # fmt: skip


def test_flat_traffic_gets_a_plan_within_budget_that_replays_the_same(catalog: Catalog) -> None:
    profile = TrafficProfile.from_array("flat", np.full(1440, 300.0))
    result = _rightsize(model(), profile, catalog)
    best = result.best
    assert best is not None and result.plans_replayed > 10
    assert best.within_budget and best.plan.autoscaling.target_utilisation <= MAX_TARGET_UTILISATION
    # Replaying the stored plan from scratch gives the same figures (the confirmation used the cost model).
    again = simulate(best.plan, profile, resolve_prices(best.plan, catalog), seed=0)
    assert again.usd_per_month == pytest.approx(best.usd_per_month)
    assert minutes_over_slo_pct(again) <= 0.1
    assert best.plan.autoscaling.min_replicas >= 2  # the HA floor
    # Alternatives are other shapes or platforms, each within budget and no cheaper than the best.
    assert len({(a.plan.platform, a.plan.shape_label) for a in result.alternatives}) == len(
        result.alternatives
    )
    assert all(a.within_budget and a.usd_per_month >= best.usd_per_month - 1e-9 for a in result.alternatives)


def test_a_traffic_jump_faster_than_scale_up_is_met_by_a_raised_minimum(catalog: Catalog) -> None:
    # 2 rps all day, 200 rps for 3 hours at night: the jump lands in one minute, replicas take 3+ minutes.
    day = np.full(1440, 2.0)
    day[60:240] = 200.0
    profile = TrafficProfile.from_array("jump", day)
    result = _rightsize(model(capacities_rps={"c6i.large": 50}), profile, catalog, platforms=["ec2"])
    best = result.best
    assert best is not None and best.minutes_over_slo_pct <= 0.1
    assert best.plan.autoscaling.min_replicas * 50 >= 200  # the floor carries the jump


def test_an_impossible_budget_is_a_reason_not_an_error(catalog: Catalog) -> None:
    day = np.full(1440, 2.0)
    day[::60] = 5000.0  # a one-minute spike every hour, far beyond any minimum the search tries
    profile = TrafficProfile.from_array("spiky", day)
    result = _rightsize(model(), profile, catalog, platforms=["ec2"])
    # Either the search kept replicas for the spikes (within budget) or it says why it could not.
    if result.best is None:
        assert result.reason and "minutes over the SLO" in result.reason and result.fix
    else:
        assert result.best.minutes_over_slo_pct <= 0.1
