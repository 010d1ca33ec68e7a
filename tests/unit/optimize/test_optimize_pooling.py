"""Shared pools through the packer, and the churn guard against what runs today."""

from __future__ import annotations

import pytest

from advisor.domain import SLO, Platform, ReplicaResources
from advisor.optimize.fleet.decide import churn_check, disrupted_replicas
from advisor.optimize.fleet.pooling import MIN_POOLING_GAIN, PoolMember, pool_models
from advisor.optimize.rightsize.candidates import CandidateTypes
from advisor.optimize.rightsize.compare import CurrentCost, replicas_per_node
from advisor.platforms.targets import Orchestrator
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import ChurnCheck, Comparison
from advisor.recommendation.plan import AutoscalingPolicy, Capacity, CapacityProvenance, Plan
from advisor.render import churn_note
from advisor.settings import Settings
from tests.optimize_helpers import model, scenario


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog.load(Settings(home=tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="module")
def c6i(catalog: Catalog) -> CandidateTypes:
    return CandidateTypes.build(
        scenario(model(), candidates={"families": ["c6i"], "max_size_vcpu": 16}), catalog
    )


def _member(
    name: str, vcpu: float, mem: float, peak: int, shape: str, rpn: int, types: CandidateTypes
) -> PoolMember:
    price = float(types.on_demand[[t.name for t in types.types].index(shape)])
    nodes = -(-peak // rpn)
    return PoolMember(
        model=name, resources=ReplicaResources(vcpu=vcpu, memory_gib=mem), orchestrator=Orchestrator.EKS,
        peak_replicas=peak,
        plan_shape=shape, plan_family="c6i", plan_peak_usd_per_hour=nodes * price,
        compute_usd_per_month=nodes * price * 730, allowed_types=frozenset(t.name for t in types.types),
    )  # fmt: skip


def test_fragmented_pools_are_shared_and_labelled(c6i: CandidateTypes) -> None:
    # On EKS a c6i.xlarge leaves 3.77 vCPU / 7.03 GiB allocatable, a c6i.large 1.78 vCPU / 3.34 GiB
    # (kubelet reserve, eviction threshold, aws-node and kube-proxy; advisor.platforms.nodes).
    # A: 3 vCPU / 6 GiB replicas, one per c6i.xlarge (0.77 vCPU and 1.03 GiB idle on each of 5 nodes).
    # B: 0.7 vCPU / 1 GiB replicas, two per c6i.large (3 nodes). Together B fills A's gaps.
    a = _member("a", 3, 6, 5, "c6i.xlarge", 1, c6i)
    b = _member("b", 0.7, 1, 5, "c6i.large", 2, c6i)
    summary, placements = pool_models([a, b], c6i, time_budget_s=2.0)
    assert summary is not None and len(summary.groups) == 1
    group = summary.groups[0]
    plans_peak = a.plan_peak_usd_per_hour + b.plan_peak_usd_per_hour
    assert group.adopted and group.strategy == "shared"
    assert group.packed_usd_per_hour <= 5 * 0.17 + 1e-9 < plans_peak * (1 - MIN_POOLING_GAIN)
    assert group.lower_bound_usd_per_hour <= group.packed_usd_per_hour + 1e-9
    expected = (1 - group.packed_usd_per_hour / plans_peak) * (
        a.compute_usd_per_month + b.compute_usd_per_month
    )
    assert group.savings_usd_per_month == pytest.approx(expected)
    # Every replica placed, on nodes labelled and tainted for inference.
    for name in ("a", "b"):
        p = placements[name]
        assert p.shared and sum(p.replicas_at_peak_by_instance_type.values()) == 5
        assert any(k.endswith("/pool") or k.endswith("/workload") for k in p.node_selector)
        assert any(t.key.endswith("/inference") for t in p.tolerations)
    for pool in group.pools:
        assert pool.node_labels and any(t.key.endswith("/inference") for t in pool.taints)


def test_pools_that_do_not_pay_are_not_adopted(c6i: CandidateTypes) -> None:
    # Replicas that fill their nodes' allocatable resources: nothing to gain by sharing.
    a = _member("a", 1.7, 3.3, 4, "c6i.large", 1, c6i)
    b = _member("b", 3.7, 7, 2, "c6i.xlarge", 1, c6i)
    summary, placements = pool_models([a, b], c6i, time_budget_s=1.0)
    assert summary is not None
    assert not summary.groups[0].adopted and summary.savings_usd_per_month == 0.0
    assert placements["a"].pools == ["inference-a"] and not placements["a"].shared
    assert placements["a"].replicas_at_peak_by_instance_type == {"c6i.large": 4}


def _current(
    platform: Platform, shape: str, replicas: int, usd: float, *, meets: bool | None = True
) -> CurrentCost:
    comparison = Comparison(name="current", description="today", usd_per_month=usd, meets_slo_budget=meets)
    return CurrentCost(comparison, replicas, platform, shape, spot=False)


def _plan(shape: str, max_replicas: int, spot_pct: float = 0.0) -> Plan:
    return Plan.model_validate(
        {
            "name": "p", "platform": "ec2", "shape": shape, "slo": SLO(latency_p99_ms=50),
            "capacity": Capacity(rps_per_replica=10, provenance=CapacityProvenance.GIVEN),
            "autoscaling": AutoscalingPolicy(min_replicas=2, max_replicas=max_replicas),
            "purchase": {"on_demand_base": 1, "spot_pct_above_base": spot_pct, "spot_pools": [shape]},
        }
    )  # fmt: skip


def _churn(cur: CurrentCost, usd: float, plan: Plan, **kw: float) -> ChurnCheck:
    """The check at Karpenter's threshold 0.5, the scenario defaults ($10/month, 30 days) unless given."""
    return churn_check(
        cur, usd, plan, threshold=0.5, **{"min_savings_usd_per_month": 10.0, "max_payback_days": 30.0, **kw}
    )


def test_churn_guard_follows_the_balanced_rule_on_the_model_alone() -> None:
    # This model: 30 replicas on m5.xlarge for $3,000/month.
    cur = _current(Platform.EC2, "m5.xlarge", 30, 3000.0)
    # Move to c6i.large, peaking at 30 replicas, for $2,000: saves 33 % of its cost, restarts all 30: 0.33.
    held = _churn(cur, 2000.0, _plan("c6i.large", 30))
    assert not held.passed and held.score == pytest.approx((1000 / 3000) / 1.0)
    assert held.disruption_fraction == 1.0 and "of this model's cost and replicas" in churn_note(held)
    # For $1,000 the saving is 66.7 % for the same restarts: 0.67, worth it.
    ok = _churn(cur, 1000.0, _plan("c6i.large", 30))
    assert ok.passed and ok.score == pytest.approx((2000 / 3000) / 1.0)
    # The $2,000 plan peaking at 15 replicas restarts only half of them: 0.67, worth it.
    half = _churn(cur, 2000.0, _plan("c6i.large", 15))
    assert half.passed and half.disrupted_replicas == 15 and half.score == pytest.approx((1000 / 3000) / 0.5)
    # Same type, autoscaling only: nothing restarts; any saving above the minimum passes.
    same = _churn(cur, 2900.0, _plan("m5.xlarge", 30))
    assert same.passed and same.score is None and same.disrupted_replicas == 0
    # Nothing saved: keep what runs; missing the SLO today: change regardless.
    assert not _churn(cur, 3100.0, _plan("c6i.large", 5)).passed
    bad = _current(Platform.EC2, "m5.xlarge", 30, 3000.0, meets=False)
    assert _churn(bad, 2990.0, _plan("c6i.large", 30)).passed


def test_a_small_model_s_large_saving_passes_and_a_small_saving_with_full_restarts_is_held() -> None:
    # A $40/month model whose change saves 74 % and restarts its 2 replicas: 0.74 / 1.0 passes, whatever
    # the rest of the fleet costs (the guard no longer divides by it).
    small = _churn(_current(Platform.FARGATE, "fargate-2vcpu-4gb", 2, 40.0), 10.4, _plan("c6i.large", 2))
    assert small.passed and small.savings_fraction == pytest.approx(0.74) and small.disruption_fraction == 1.0
    # A 2 % saving on a big model that restarts every replica: 0.02 < 0.5, held back.
    big = _churn(_current(Platform.EC2, "m5.xlarge", 40, 20_000.0), 19_600.0, _plan("c6i.large", 40))
    assert not big.passed and big.score == pytest.approx(0.02)


def test_churn_guard_minimum_saving_and_payback() -> None:
    cur = _current(Platform.EC2, "m5.xlarge", 4, 100.0)
    # $8/month saved: under the $10 minimum, however little it disrupts.
    low = _churn(cur, 92.0, _plan("m5.xlarge", 4))
    assert not low.passed and "$10.00 minimum" in churn_note(low)
    # Each of the 4 restarted replicas runs twice for the plan's 180 s scale-up delay at $100/730/4 per
    # replica-hour: $0.0274 of roll-out against $50/month (1.64 $/day) pays back in 0.0167 days.
    quick = _churn(cur, 50.0, _plan("c6i.large", 4))
    rollout = 4 * 180 / 3600 * (100 / 730 / 4)
    assert quick.passed and quick.rollout_usd == pytest.approx(rollout)
    assert quick.payback_days == pytest.approx(rollout / (50 / (730 / 24)))
    # With a payback limit below that, the same change is held back.
    slow = _churn(cur, 50.0, _plan("c6i.large", 4), max_payback_days=0.001)
    assert not slow.passed and "pays back in" in churn_note(slow)


def test_disruption_counts(catalog: Catalog) -> None:
    cur = _current(Platform.EC2, "c6i.large", 20, 1.0)
    assert disrupted_replicas(cur, _plan("c6i.large", 20, spot_pct=50)) == 10  # half goes to spot
    assert disrupted_replicas(cur, _plan("c7i.large", 40)) == 20  # at most what runs today
    assert replicas_per_node(catalog.instance("m5.2xlarge"), ReplicaResources(vcpu=1, memory_gib=2)) == 8
    gpu = ReplicaResources(vcpu=4, memory_gib=14, gpu_count=1, gpu_memory_gib=20)
    assert replicas_per_node(catalog.instance("m5.2xlarge"), gpu) == 0
    assert replicas_per_node(catalog.instance("g5.12xlarge"), gpu) == 4
