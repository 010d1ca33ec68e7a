"""Multi-model bin-packing onto shared node pools, with a certified lower bound.

:func:`pack` is the entry point. It

1. drops (model, type) pairs where one replica cannot fit and reports models that fit nowhere
   (:mod:`advisor.optimize.packing.problem`);
2. bounds the cost from below with the column-generated LP of the aggregated model, then solves the
   aggregated MILP with HiGHS under a time limit and a relative gap (:mod:`advisor.optimize.packing.milp`);
3. realises the MILP's node counts as concrete nodes by first-fit decreasing, repairs with extra
   cheapest-fitting nodes if needed, and consolidates (:mod:`advisor.optimize.packing.realise`);
4. prices one dedicated pool per model (exact) and keeps the cheaper of the two plans;
5. names the pools and gives their nodes labels and taints (inference kept apart from other workloads;
   GPU pools also carry the ``nvidia.com/gpu`` taint), and each model the node selector and tolerations
   that land it there.

The returned cost is what the realised nodes cost; the gap is measured against the certified bound, so
it is honest even when the MILP hit its time limit or the realisation needed extra nodes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from advisor.optimize.packing.labels import (
    AcceleratorKind,
    node_selector,
    pool_labels,
    pool_name,
    pool_taints,
    tolerations,
)
from advisor.optimize.packing.milp import (
    MilpSolution,
    RowLayout,
    build_rows,
    lp_bound,
    select_milp_columns,
    solve_milp,
)
from advisor.optimize.packing.patterns import improve_with_patterns
from advisor.optimize.packing.problem import PackingProblem, build_problem
from advisor.optimize.packing.realise import (
    Layout,
    check_layout,
    consolidate,
    dedicated_layout,
    greedy_ffd_layout,
    realise,
    repair,
)
from advisor.optimize.packing.types import (
    ModelDemand,
    ModelPlacement,
    NodeType,
    PackingLayout,
    PackingOptions,
    PackingResult,
    PlacedNode,
    Resources,
)
from advisor.recommendation.pools import Pool, Taint

_DEFAULT_OPTIONS = PackingOptions()


def pack(
    demands: Sequence[ModelDemand], node_types: Sequence[NodeType], options: PackingOptions = _DEFAULT_OPTIONS
) -> PackingResult:
    """Place every replica of every model on nodes of the candidate types at the least $/h found.

    ``demands``: replicas to place per model (count + per-replica resources incl. arch). ``node_types``:
    candidate instance types with allocatable resources and $/h (see
    :func:`advisor.optimize.packing.problem.node_types_from_offers`). Returns a :class:`PackingResult`:
    status ``ok``; ``partial`` when some models fit no candidate type (listed in ``infeasible`` with the
    reason; the others are packed); ``infeasible`` when none fits; ``empty`` when there is nothing to place.
    Costs are $/h. Raises only :class:`advisor.errors.InputError` for duplicate model or type names.
    """
    start = time.perf_counter()
    problem = build_problem(demands, node_types, options)
    infeasible = list(problem.infeasible)
    if problem.n_models == 0:
        return PackingResult(
            status="infeasible" if infeasible else "empty",
            chosen=None,
            usd_per_hour=0.0,
            lower_bound_usd_per_hour=0.0,
            lp_bound_usd_per_hour=0.0,
            gap=0.0,
            solver_status="not_run",
            milp_usd_per_hour=None,
            shared_usd_per_hour=None,
            dedicated_usd_per_hour=None,
            plan=None,
            alternative=None,
            infeasible=infeasible,
            removed_pairs=problem.removed_pairs,
            milp_pairs=0,
            solve_seconds=time.perf_counter() - start,
        )
    notes: list[str] = []
    rows = build_rows(problem, options.allow_cpu_replicas_on_gpu_nodes)
    lp = lp_bound(problem, rows, options.lp_time_limit_s)
    if not lp.converged:
        notes.append("LP column generation hit its budget; the bound is the (weaker) Lagrangian bound")
    cols = select_milp_columns(problem, lp, options.exact_pairs_limit, options.columns_per_model)
    exact = int(cols.sum()) == int(problem.feasible.sum())
    per_model = dedicated_layout(problem)
    sol, shared = _shared_layout(problem, rows, cols, per_model, options, notes)
    bound = lp.bound
    if exact and sol.status != "failed":
        bound = max(bound, sol.dual_bound)
    if not exact:
        notes.append(
            f"MILP restricted to {sol.pairs} of {int(problem.feasible.sum())} feasible pairs "
            "(chosen by LP reduced cost); the bound comes from the LP over all pairs"
        )
    dedicated = per_model if options.compare_dedicated else None
    for name, layout in (("shared", shared), ("dedicated", dedicated)):
        if layout is not None and (errors := check_layout(problem, layout)):
            raise RuntimeError(f"packer produced an invalid {name} layout: {errors[0]}")

    shared_plan = _plan(problem, shared, "shared", options)
    dedicated_plan = _plan(problem, dedicated, "dedicated", options) if dedicated is not None else None
    # Keep the cheaper; on a tie, dedicated pools (same cost, smaller blast radius).
    chosen, other = shared_plan, dedicated_plan
    if dedicated_plan is not None and dedicated_plan.usd_per_hour <= shared_plan.usd_per_hour + 1e-9:
        chosen, other = dedicated_plan, shared_plan
    cost = chosen.usd_per_hour
    bound = min(bound, cost)
    return PackingResult(
        status="partial" if infeasible else "ok",
        chosen=chosen.strategy,
        usd_per_hour=cost,
        lower_bound_usd_per_hour=bound,
        lp_bound_usd_per_hour=min(lp.bound, cost),
        gap=(cost - bound) / cost if cost > 0 else 0.0,
        solver_status=sol.status,
        milp_usd_per_hour=None if sol.status == "failed" else sol.objective,
        shared_usd_per_hour=shared_plan.usd_per_hour,
        dedicated_usd_per_hour=None if dedicated_plan is None else dedicated_plan.usd_per_hour,
        plan=chosen,
        alternative=other,
        infeasible=infeasible,
        removed_pairs=problem.removed_pairs,
        milp_pairs=sol.pairs,
        solve_seconds=time.perf_counter() - start,
        notes=notes,
    )


def _shared_layout(
    problem: PackingProblem,
    rows: RowLayout,
    cols: np.ndarray,
    dedicated: Layout,
    options: PackingOptions,
    notes: list[str],
) -> tuple[MilpSolution, Layout]:
    """Aggregated MILP -> first-fit-decreasing realisation -> repair -> consolidation; then the pattern stage.

    The aggregated MILP cannot see two-resource conflicts between replicas (two that each fill 56 % of a
    node's memory never share it), so its mix is not always realisable and the repair adds nodes. The
    pattern stage (:mod:`advisor.optimize.packing.patterns`), seeded with these nodes and the dedicated
    pools, recombines whole-node patterns; the cheaper layout wins. Returns the MILP solution (its
    objective and bound are the ones reported) and the layout.
    """
    start = time.perf_counter()
    sol = solve_milp(problem, rows, cols, options.milp_share * options.time_limit_s, options.mip_rel_gap)
    if sol.status == "failed":
        notes.append("the MILP found no solution in time; shared pools start from first-fit decreasing")
        layout = consolidate(problem, greedy_ffd_layout(problem))
    else:
        # Only small types use the exact realisation MILPs; they get a third of what is left.
        remaining = options.time_limit_s - (time.perf_counter() - start)
        base, leftover = realise(problem, sol.x, sol.y, time_budget_s=max(0.2, remaining / 3))
        layout = consolidate(problem, repair(problem, base, leftover.sum(axis=0)))
        if layout.repaired:
            notes.append(
                f"{layout.repaired} replicas did not fit the MILP's node counts; repaired onto other nodes"
            )
    left = options.time_limit_s - (time.perf_counter() - start)
    if options.pattern_stage and left > 0.3:
        improved = improve_with_patterns(problem, [layout, dedicated], left, options.mip_rel_gap)
        if improved is not None:
            improved = consolidate(problem, improved)
            sound = not check_layout(problem, improved)
            if sound and improved.cost(problem) < layout.cost(problem) - 1e-9:
                notes.append(
                    f"pattern stage lowered the shared cost from {layout.cost(problem):.4f} to "
                    f"{improved.cost(problem):.4f} $/h"
                )
                improved.repaired = layout.repaired
                layout = improved
    return sol, layout


def karpenter_like_ffd(
    demands: Sequence[ModelDemand], node_types: Sequence[NodeType], options: PackingOptions = _DEFAULT_OPTIONS
) -> PackingLayout | None:
    """The baseline: first-fit decreasing onto in-flight nodes launched as the cheapest fitting type.

    No MILP, no consolidation; what a Karpenter-style provisioner does in one batch. None when nothing
    can be placed. Used by benchmarks to show what the MILP buys.
    """
    problem = build_problem(demands, node_types, options)
    if problem.n_models == 0:
        return None
    return _plan(problem, greedy_ffd_layout(problem), "shared", options)


# ----- pools, labels, taints -------------------------------------------------------------------------


def _accel_kind(problem: PackingProblem, t: int) -> AcceleratorKind:
    if not problem.accel_type[t]:
        return "cpu"
    return "gpu" if problem.capacity[t, 2] > 0 else "accel"


def _plan(problem: PackingProblem, layout: Layout, strategy: str, options: PackingOptions) -> PackingLayout:
    used = layout.used(problem)
    pool_of_node: list[str] = []
    pool_info: dict[str, tuple[AcceleratorKind, str | None]] = {}
    for n, t in enumerate(layout.types):
        kind = _accel_kind(problem, int(t))
        first = int(np.flatnonzero(layout.contents[n])[0])
        model = problem.models[first] if strategy == "dedicated" else None
        name = pool_name(options, kind, model)
        pool_info[name] = (kind, model)
        pool_of_node.append(name)

    nodes: list[PlacedNode] = []
    counters: dict[str, int] = defaultdict(int)
    for n, t in enumerate(layout.types):
        pool = pool_of_node[n]
        counters[pool] += 1
        cap = problem.capacity[t]
        nodes.append(
            PlacedNode(
                node_id=f"{pool}-{counters[pool]:03d}",
                pool=pool,
                instance_type=problem.types[t],
                usd_per_hour=float(problem.price[t]),
                replicas={
                    problem.models[i]: int(layout.contents[n, i]) for i in np.flatnonzero(layout.contents[n])
                },
                used=Resources(
                    vcpu=used[n, 0], memory_gib=used[n, 1], gpu_count=used[n, 2], gpu_memory_gib=used[n, 3]
                ),
                allocatable=Resources(
                    vcpu=cap[0], memory_gib=cap[1], gpu_count=cap[2], gpu_memory_gib=cap[3]
                ),
            )
        )

    pools: list[Pool] = []
    taints_of: dict[str, list[Taint]] = {}
    for name in sorted(pool_info):
        kind, pool_model = pool_info[name]
        taints = pool_taints(options, kind, pool_model)
        taints_of[name] = taints
        members = [nd for nd in nodes if nd.pool == name]
        counts: dict[str, int] = defaultdict(int)
        for nd in members:
            counts[nd.instance_type] += 1
        pools.append(
            Pool(
                name=name,
                kind="dedicated" if strategy == "dedicated" else "shared",
                accelerated=kind != "cpu",
                models=sorted({m for nd in members for m in nd.replicas}),
                node_counts=dict(sorted(counts.items())),
                usd_per_hour=float(sum(nd.usd_per_hour for nd in members)),
                node_labels=pool_labels(options, name, kind, pool_model),
                taints=taints,
            )
        )

    placements: list[ModelPlacement] = []
    for i, model in enumerate(problem.models):
        hosts = np.flatnonzero(layout.contents[:, i])
        model_pools = sorted({pool_of_node[n] for n in hosts})
        by_type: dict[str, int] = defaultdict(int)
        for host in hosts:
            by_type[problem.types[layout.types[host]]] += int(layout.contents[host, i])
        placements.append(
            ModelPlacement(
                model=model,
                replicas=int(problem.counts[i]),
                pools=model_pools,
                replicas_by_instance_type=dict(sorted(by_type.items())),
                node_selector=node_selector(options, model_pools, problem.arch[i]),
                tolerations=tolerations([t for pool in model_pools for t in taints_of[pool]]),
            )
        )
    return PackingLayout(
        strategy="dedicated" if strategy == "dedicated" else "shared",
        usd_per_hour=layout.cost(problem),
        pools=pools,
        nodes=nodes,
        placements=placements,
        repaired_replicas=layout.repaired,
    )
