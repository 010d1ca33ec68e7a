"""Multi-model bin-packing: known optima, invariants under random inputs, infeasible input, pool metadata."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.domain import Arch, ReplicaResources
from advisor.errors import InputError
from advisor.optimize.packing import realise as realise_module
from advisor.optimize.packing.exact import NO_FILL, pattern_fill
from advisor.optimize.packing.milp import build_rows, lp_bound
from advisor.optimize.packing.problem import build_problem, node_types_from_offers
from advisor.optimize.packing.solve import karpenter_like_ffd, pack
from advisor.optimize.packing.types import (
    ModelDemand,
    NodeType,
    PackingLayout,
    PackingOptions,
    PackingResult,
)
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings

FAST = PackingOptions(time_limit_s=1.0, lp_time_limit_s=1.0)
EPS = 1e-6


def cpu(name: str, replicas: int, vcpu: float, memory_gib: float, arch: Arch | None = None) -> ModelDemand:
    return ModelDemand(
        name=name, replicas=replicas, resources=ReplicaResources(vcpu=vcpu, memory_gib=memory_gib, arch=arch)
    )


def gpu_model(name: str, replicas: int, gpus: float = 1, gpu_gib: float = 16, vcpu: float = 2) -> ModelDemand:
    return ModelDemand(
        name=name,
        replicas=replicas,
        resources=ReplicaResources(vcpu=vcpu, memory_gib=8, gpu_count=gpus, gpu_memory_gib=gpu_gib),
    )


def node(name: str, usd: float, vcpu: float, mem: float, gpus: float = 0, gpu_gib: float = 0) -> NodeType:
    return NodeType(
        name=name, usd_per_hour=usd, vcpu=vcpu, memory_gib=mem, gpu_count=gpus, gpu_memory_gib=gpu_gib
    )


# ----- invariants, checked on every result ------------------------------------------------------------


def assert_sound_plan(
    plan: PackingLayout, demands: list[ModelDemand], types: list[NodeType], skip: set[str]
) -> None:
    """Every placeable replica placed, no node over any resource, rules kept, costs add up."""
    by_type = {t.name: t for t in types}
    by_model = {d.name: d for d in demands}
    placed: dict[str, int] = {}
    for nd in plan.nodes:
        t = by_type[nd.instance_type]
        assert nd.usd_per_hour == pytest.approx(t.usd_per_hour)
        used = np.zeros(4)
        has_gpu_replica = False
        for model, count in nd.replicas.items():
            assert count > 0
            res = by_model[model].resources
            used += count * np.array([res.vcpu, res.memory_gib, res.gpu_count, res.gpu_memory_gib])
            placed[model] = placed.get(model, 0) + count
            assert res.arch is None or res.arch == t.arch, f"{model} on {t.name}: arch"
            has_gpu_replica |= by_model[model].needs_accelerator
        cap = np.array([t.vcpu, t.memory_gib, t.gpu_count, t.gpu_memory_gib])
        assert np.all(used <= cap * (1 + 1e-9) + 1e-9), f"{nd.node_id} over capacity: {used} > {cap}"
        if t.accelerated:
            assert has_gpu_replica, f"{nd.node_id} is a GPU node kept alive by CPU replicas only"
    expected = {d.name: d.replicas for d in demands if d.replicas > 0 and d.name not in skip}
    assert placed == expected
    assert plan.usd_per_hour == pytest.approx(sum(nd.usd_per_hour for nd in plan.nodes))
    for pool in plan.pools:
        assert sum(pool.node_counts.values()) == sum(1 for nd in plan.nodes if nd.pool == pool.name)


def assert_sound(result: PackingResult, demands: list[ModelDemand], types: list[NodeType]) -> None:
    skip = {m.model for m in result.infeasible}
    assert result.lower_bound_usd_per_hour >= 0
    assert result.usd_per_hour >= result.lower_bound_usd_per_hour - EPS
    assert result.lp_bound_usd_per_hour <= result.lower_bound_usd_per_hour + EPS
    assert 0 <= result.gap <= 1
    if result.plan is None:
        assert result.status in ("infeasible", "empty")
        return
    assert result.usd_per_hour == pytest.approx(result.plan.usd_per_hour)
    assert_sound_plan(result.plan, demands, types, skip)
    if result.alternative is not None:
        assert_sound_plan(result.alternative, demands, types, skip)
        assert result.plan.usd_per_hour <= result.alternative.usd_per_hour + EPS


# ----- optimum known by construction ------------------------------------------------------------------


def test_items_that_fill_nodes_exactly_in_threes_pack_into_the_optimum() -> None:
    # Triples of (vCPU, GiB) that sum to exactly one 12 vCPU / 48 GiB box: 3 x (5,4,3) + 2 x (6,4,2) +
    # 2 x (7,3,2), memory 4 GiB per vCPU. The box is the cheapest per resource, so 7 boxes ($7/h) is the
    # optimum and also the LP bound.
    counts = {2: 4, 3: 5, 4: 5, 5: 3, 6: 2, 7: 2}
    demands = [cpu(f"size-{v}", n, v, 4 * v) for v, n in counts.items()]
    types = [node("box", 1.0, 12, 48), node("big", 2.1, 24, 96), node("small", 0.55, 6, 24)]
    result = pack(demands, types, FAST)
    assert_sound(result, demands, types)
    assert result.usd_per_hour == pytest.approx(7.0)
    assert result.lower_bound_usd_per_hour == pytest.approx(7.0)
    assert result.gap == pytest.approx(0.0, abs=1e-9)
    assert result.plan is not None and len(result.plan.nodes) == 7


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_falkenauer_triplets_pack_into_one_node_per_triplet(seed: int) -> None:
    # Falkenauer's "triplet" construction: each item is between a quarter and half of the node, and the
    # items are drawn in triples summing to exactly the node. Only a perfect 3-per-node partition reaches
    # the optimum (= number of triples), which first-fit decreasing alone usually misses.
    rng = np.random.default_rng(seed)
    triples = 6
    demands: list[ModelDemand] = []
    for k in range(triples):
        while True:
            a = int(rng.integers(251, 500))
            b = int(rng.integers(251, 500))
            c = 1000 - a - b
            if 250 < c < 500:
                break
        for j, size in enumerate((a, b, c)):
            vcpu = size / 10  # node: 100 vCPU
            demands.append(cpu(f"t{k}-{j}", 1, vcpu, vcpu * 2))
    types = [node("box", 1.0, 100, 200), node("half", 0.6, 50, 100)]
    result = pack(demands, types, FAST)
    assert_sound(result, demands, types)
    assert result.usd_per_hour == pytest.approx(float(triples))
    assert result.plan is not None
    assert all(len(nd.replicas) == 3 for nd in result.plan.nodes)


def test_two_resource_triples_are_realised_exactly() -> None:
    # Triples fill a 12 vCPU / 48 GiB node in both resources at once, with memory not proportional to vCPU.
    triple_a = [(5, 12), (4, 20), (3, 16)]
    triple_b = [(6, 24), (4, 8), (2, 16)]
    demands = [cpu(f"a{j}", 4, v, m) for j, (v, m) in enumerate(triple_a)]
    demands += [cpu(f"b{j}", 3, v, m) for j, (v, m) in enumerate(triple_b)]
    types = [node("box", 1.0, 12, 48), node("big", 2.2, 24, 96)]
    result = pack(demands, types, FAST)
    assert_sound(result, demands, types)
    assert result.usd_per_hour == pytest.approx(7.0)


def test_pattern_fill_finds_a_fill_proves_there_is_none_or_says_it_cannot_tell() -> None:
    cap = np.array([12.0, 48.0, 0.0, 0.0])
    # the two-resource triples above, one node each: a fill exists
    sizes = np.array([[5, 12, 0, 0], [4, 20, 0, 0], [3, 16, 0, 0]], dtype=float)
    fill = pattern_fill(sizes, np.array([2, 2, 2]), cap, 2, 1.0)
    assert isinstance(fill, np.ndarray) and (fill.sum(axis=0) == [2, 2, 2]).all()
    assert np.all(fill @ sizes <= cap + 1e-9)
    # three replicas over half a node each cannot share two nodes: proved, not timed out
    half = np.array([[7, 10, 0, 0]], dtype=float)
    assert pattern_fill(half, np.array([3]), cap, 2, 1.0) == NO_FILL
    # too many maximal patterns to enumerate: no answer either way
    many = np.array([[1 + j / 10, 1 + j / 7, 0, 0] for j in range(12)])
    assert pattern_fill(many, np.full(12, 3), cap, 6, 1.0) is None


def test_a_fill_proved_impossible_is_not_searched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The aggregated MILP sees only sums: 3 replicas of 7 vCPU "fit" 2 nodes of 12 (21 <= 24), yet no
    # node holds two. The pattern MILP proves it; the assignment MILP would only time out on the same
    # question. The replica left over is repaired onto another node.
    def no_assignment(*args: object) -> None:
        raise AssertionError("assignment_fill was tried after the pattern MILP proved there is no fill")

    monkeypatch.setattr(realise_module, "assignment_fill", no_assignment)
    demands = [cpu("wide", 3, 7, 10)]
    types = [node("box", 1.0, 12, 48)]
    problem = build_problem(demands, types, FAST)
    layout, leftover = realise_module.realise(problem, np.array([[3]]), np.array([2]), time_budget_s=1.0)
    assert leftover.sum() == 1
    assert layout.contents.sum() == 2


def test_one_model_alone_gets_the_exact_cheapest_pool() -> None:
    # 10 replicas of 3 vCPU: four per 12-vCPU box ($1) leaves 2 over; the best is 2 boxes + 1 small (6 vCPU,
    # two replicas, $0.55) = $2.55 (a third box would be $3; five smalls $2.75).
    demands = [cpu("solo", 10, 3, 6)]
    types = [node("box", 1.0, 12, 48), node("small", 0.55, 6, 24)]
    result = pack(demands, types, FAST)
    assert_sound(result, demands, types)
    assert result.usd_per_hour == pytest.approx(2.55)
    assert result.chosen == "dedicated"  # same cost as shared: the smaller blast radius wins the tie


# ----- random instances -------------------------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[ModelDemand], list[NodeType], PackingOptions]:
    n_types = draw(st.integers(1, 5))
    types: list[NodeType] = []
    for k in range(n_types):
        vcpu = draw(st.sampled_from([2, 4, 8, 16, 32]))
        mem = vcpu * draw(st.sampled_from([2, 4, 8]))
        arch = draw(st.sampled_from([Arch.X86_64, Arch.ARM64]))
        if draw(st.booleans()) and k > 0:
            gpus = draw(st.sampled_from([1, 4]))
            types.append(
                NodeType(
                    name=f"g{k}", usd_per_hour=round(vcpu * 0.05 + gpus * 0.5, 4), vcpu=vcpu, memory_gib=mem,
                    gpu_count=gpus, gpu_memory_gib=gpus * draw(st.sampled_from([16.0, 24.0])), arch=arch,
                )
            )  # fmt: skip
        else:
            rate = draw(st.sampled_from([0.04, 0.05, 0.06]))
            types.append(
                NodeType(
                    name=f"c{k}", usd_per_hour=round(vcpu * rate, 4), vcpu=vcpu, memory_gib=mem, arch=arch
                )
            )
    n_models = draw(st.integers(1, 6))
    demands: list[ModelDemand] = []
    for i in range(n_models):
        replicas = draw(st.integers(0, 10))
        want_vcpu = draw(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 40.0]))
        want_mem = round(want_vcpu * draw(st.floats(1.0, 6.0)), 2)
        want_arch = draw(st.sampled_from([None, Arch.X86_64, Arch.ARM64]))
        res = ReplicaResources(vcpu=want_vcpu, memory_gib=want_mem, arch=want_arch)
        if draw(st.integers(0, 3)) == 0:
            want_gpus = draw(st.sampled_from([0.0, 1.0, 2.0]))
            gmem = draw(st.sampled_from([4.0, 12.0, 20.0, 30.0]))
            res = res.model_copy(update={"gpu_count": want_gpus, "gpu_memory_gib": gmem})
        demands.append(ModelDemand(name=f"m{i}", replicas=replicas, resources=res))
    options = PackingOptions(
        time_limit_s=0.6, lp_time_limit_s=0.6, allow_cpu_replicas_on_gpu_nodes=draw(st.booleans()),
        exact_pairs_limit=draw(st.sampled_from([0, 3000])), columns_per_model=draw(st.integers(1, 3)),
    )  # fmt: skip
    return demands, types, options


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_random_instances_keep_every_invariant(
    case: tuple[list[ModelDemand], list[NodeType], PackingOptions],
) -> None:
    demands, types, options = case
    result = pack(demands, types, options)
    assert_sound(result, demands, types)
    placeable = {d.name for d in demands if d.replicas > 0} - {m.model for m in result.infeasible}
    assert (result.plan is not None) == bool(placeable)
    ffd = karpenter_like_ffd(demands, types, options)
    if ffd is not None:
        assert_sound_plan(ffd, demands, types, {m.model for m in result.infeasible})
        assert ffd.usd_per_hour >= result.lower_bound_usd_per_hour - EPS


def test_real_catalog_types_and_mixed_models_keep_every_invariant() -> None:
    offers = Catalog.load(Settings()).offers("us-east-1")
    all_types = node_types_from_offers(offers)
    rng = np.random.default_rng(3)
    picked = [t for t in all_types if t.accelerated][:10]
    picked += [
        all_types[i] for i in rng.choice(len(all_types), 40, replace=False) if not all_types[i].accelerated
    ]
    demands = [
        cpu(f"cpu-{k}", int(rng.integers(1, 12)), float(rng.choice([0.5, 1, 2, 4])), 2.0 + k)
        for k in range(12)
    ]
    demands += [
        gpu_model(f"gpu-{k}", int(rng.integers(1, 5)), gpu_gib=float(rng.choice([8, 16]))) for k in range(4)
    ]
    result = pack(demands, picked, FAST)
    assert result.status == "ok"
    assert_sound(result, demands, picked)


# ----- infeasible input -------------------------------------------------------------------------------


def test_a_model_that_fits_no_type_is_reported_and_the_rest_packed() -> None:
    demands = [cpu("huge", 2, 64, 128), cpu("fine", 3, 2, 4)]
    types = [node("c16", 0.8, 16, 32), node("c4", 0.2, 4, 8)]
    result = pack(demands, types, FAST)
    assert result.status == "partial"
    assert [m.model for m in result.infeasible] == ["huge"]
    assert "fits no candidate instance type" in result.infeasible[0].reason
    assert "64 vCPU" in result.infeasible[0].reason
    assert result.removed_pairs == 0  # infeasible models are dropped whole; "fine" fits both types
    assert_sound(result, demands, types)


def test_pairs_where_one_replica_cannot_fit_are_removed_before_solving() -> None:
    # "wide" (6 vCPU) fits c16 only; "arm" (arm64) fits the arm type only; "gpu" fits the GPU type only.
    demands = [
        cpu("wide", 2, 6, 8, arch=Arch.X86_64),
        cpu("arm", 2, 1, 2, arch=Arch.ARM64),
        gpu_model("gpu", 2),
    ]
    types = [
        node("c4", 0.2, 4, 8),
        node("c16", 0.8, 16, 64),
        NodeType(name="a8", usd_per_hour=0.3, vcpu=8, memory_gib=16, arch=Arch.ARM64),
        node("g1", 1.0, 8, 32, gpus=1, gpu_gib=24),
    ]
    problem = build_problem(demands, types, FAST)
    assert problem.feasible.tolist() == [
        [False, True, False, False],
        [False, False, True, False],
        [False, False, False, True],
    ]
    assert problem.removed_pairs == 9
    result = pack(demands, types, FAST)
    assert result.removed_pairs == 9
    assert_sound(result, demands, types)


def test_gpu_memory_is_shared_per_gpu() -> None:
    # 1 GPU with 40 GiB does not fit a 4 x 22 GiB node (a GPU holds 22 GiB), though the node has 88 in all.
    demands = [gpu_model("llm", 1, gpus=1, gpu_gib=40)]
    result = pack(demands, [node("g4x22", 5.0, 48, 192, gpus=4, gpu_gib=88)], FAST)
    assert result.status == "infeasible"
    assert result.plan is None


def test_nothing_placeable_is_a_value_not_an_exception() -> None:
    result = pack([cpu("huge", 2, 64, 128)], [node("c4", 0.2, 4, 8)], FAST)
    assert result.status == "infeasible"
    assert result.plan is None and result.chosen is None
    assert result.infeasible[0].fix


def test_cpu_replicas_never_keep_a_gpu_node_alive_even_when_allowed() -> None:
    options = PackingOptions(time_limit_s=0.5, lp_time_limit_s=0.5, allow_cpu_replicas_on_gpu_nodes=True)
    result = pack([cpu("web", 2, 1, 2)], [node("g1", 1.0, 8, 32, gpus=1, gpu_gib=24)], options)
    assert result.status == "infeasible"
    assert "CPU-only" in result.infeasible[0].reason


def test_no_replicas_is_empty() -> None:
    result = pack([cpu("idle", 0, 1, 1)], [node("c4", 0.2, 4, 8)], FAST)
    assert result.status == "empty"


def test_duplicate_names_are_an_input_error() -> None:
    with pytest.raises(InputError, match="listed twice"):
        pack([cpu("a", 1, 1, 1), cpu("a", 1, 1, 1)], [node("c4", 0.2, 4, 8)], FAST)


# ----- GPU nodes, shared vs dedicated, labels and taints ----------------------------------------------


def test_cpu_replicas_fill_gpu_nodes_only_when_allowed() -> None:
    demands = [gpu_model("vision", 2, vcpu=2), cpu("tokenizer", 2, 2, 4)]
    types = [node("g1", 1.0, 8, 32, gpus=1, gpu_gib=24), node("c4", 0.2, 4, 8)]
    strict = pack(demands, types, FAST)
    assert_sound(strict, demands, types)
    assert strict.usd_per_hour == pytest.approx(2.2)  # two GPU nodes + a CPU node for the tokenizer
    relaxed_options = FAST.model_copy(update={"allow_cpu_replicas_on_gpu_nodes": True})
    relaxed = pack(demands, types, relaxed_options)
    assert_sound(relaxed, demands, types)
    assert relaxed.usd_per_hour == pytest.approx(2.0)  # the tokenizer rides on the GPU nodes' spare vCPU


def test_shared_pools_win_when_models_share_nodes_and_carry_labels_and_taints() -> None:
    # Two models of half a node each, one replica apiece: one shared node ($1) vs two dedicated ($2).
    demands = [cpu("alpha", 1, 6, 24), cpu("beta", 1, 6, 24), gpu_model("gamma", 1)]
    types = [node("box", 1.0, 12, 48), node("g1", 2.0, 8, 32, gpus=1, gpu_gib=24)]
    result = pack(demands, types, FAST)
    assert_sound(result, demands, types)
    assert result.chosen == "shared"
    assert result.usd_per_hour == pytest.approx(3.0)
    assert result.dedicated_usd_per_hour == pytest.approx(4.0)
    assert result.plan is not None
    pools = {p.name: p for p in result.plan.pools}
    assert set(pools) == {"inference-shared-cpu", "inference-shared-gpu"}
    for pool in pools.values():
        assert pool.node_labels["advisor.io/pool"] == pool.name
        assert {"key": "advisor.io/inference", "value": "true", "effect": "NoSchedule"} in [
            t.model_dump() for t in pool.taints
        ]
    assert any(t.key == "nvidia.com/gpu" for t in pools["inference-shared-gpu"].taints)
    assert not any(t.key == "nvidia.com/gpu" for t in pools["inference-shared-cpu"].taints)
    for placement in result.plan.placements:
        pool = pools[placement.pools[0]]
        assert placement.node_selector == {"advisor.io/pool": pool.name}
        assert {(t.key, t.value) for t in placement.tolerations} >= {(t.key, t.value) for t in pool.taints}


def test_dedicated_pools_are_named_and_tainted_per_model() -> None:
    demands = [cpu("Search Embedder", 4, 3, 6)]
    result = pack(demands, [node("box", 1.0, 12, 48)], FAST)
    assert result.chosen == "dedicated" and result.plan is not None
    (pool,) = result.plan.pools
    assert pool.name == "inference-search-embedder"
    assert {"advisor.io/model": "search-embedder"}.items() <= pool.node_labels.items()
    assert any(t.key == "advisor.io/model" and t.value == "search-embedder" for t in pool.taints)
    arch_pinned = pack(
        [cpu("pinned", 1, 1, 1, arch=Arch.ARM64)],
        [node("a", 0.1, 2, 4).model_copy(update={"arch": Arch.ARM64})],
        FAST,
    )
    assert arch_pinned.plan is not None
    assert arch_pinned.plan.placements[0].node_selector["kubernetes.io/arch"] == "arm64"


# ----- the bound ----------------------------------------------------------------------------------------


def test_column_generation_reaches_the_full_lp_optimum() -> None:
    rng = np.random.default_rng(11)
    demands = [
        cpu(f"m{k}", int(rng.integers(1, 9)), float(rng.choice([0.5, 1, 2, 3])), float(rng.uniform(1, 9)))
        for k in range(15)
    ]
    types = [
        node(f"t{k}", round(float(v) * float(rng.uniform(0.04, 0.06)), 4), float(v), float(v) * float(r))
        for k, (v, r) in enumerate(zip(rng.choice([2, 4, 8, 16], 12), rng.choice([2, 4, 8], 12), strict=True))
    ]
    problem = build_problem(demands, types, FAST)
    rows = build_rows(problem, allow_cpu_on_gpu=False)
    full = lp_bound(problem, rows, time_budget_s=5.0)
    generated = lp_bound(problem, rows, time_budget_s=5.0, full_pairs_limit=0)
    assert full.converged and generated.converged
    assert generated.bound <= full.value + 1e-6
    assert generated.bound == pytest.approx(full.value, rel=1e-3)
