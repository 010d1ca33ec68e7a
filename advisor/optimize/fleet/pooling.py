"""Multi-model pooling: pack the EC2 models' replicas onto shared node pools when that is cheaper.

The per-model right-sizing gives each EC2 model its own pool of one instance type. Sharing nodes between
models removes the rounding waste of many small pools (three replicas of a model on an 8-replica node leave
five slots idle). :func:`pool_models` asks the packer (:func:`advisor.optimize.packing.pack`: aggregated MILP
with HiGHS, first-fit-decreasing realisation, certified LP bound, shared vs dedicated) how to place every
model's **peak** replicas, and adopts shared pools where they beat the per-model plans at that peak by more
than ``MIN_POOLING_GAIN``.

Which models may share nodes. A replica's capacity depends on the instance family (measured here,
estimated there), so a model may only go to types on which its capacity is at least the one its plan was
sized with. Models are packed together when the types they may all use include each one's planned type;
otherwise each family of the plans forms its own group. Types offered are the scenario's candidates
(on-demand prices).

The saving is an estimate: the relative saving at the peak, (per-model plans − packed) ÷ per-model plans,
applied to the group's monthly compute cost (the pools scale with the same replica counts at other hours,
where the rounding waste is relatively larger, so this tends to understate it). Pooling moves no replica
that the per-model change does not already move (only models being changed or newly deployed are pooled),
so it adds no disruption to the churn check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from advisor.domain import ReplicaResources
from advisor.optimize.packing import (
    ModelDemand,
    NodeType,
    PackingLayout,
    PackingOptions,
    PackingResult,
    pack,
)
from advisor.optimize.packing.labels import (
    accelerator_kind,
    node_selector,
    pool_name,
    pool_taints,
    tolerations,
)
from advisor.optimize.processes import fork_context
from advisor.optimize.rightsize.candidates import CandidateTypes
from advisor.platforms.naming import dns_label
from advisor.platforms.targets import Orchestrator
from advisor.recommendation.deployment import Placement
from advisor.recommendation.model import PackingGroup, PackingSummary

MIN_POOLING_GAIN = 0.02  # adopt shared pools only when they save more than 2 % at the peak
MIN_GROUP_TIME_S = 0.2


@dataclass(frozen=True)
class PoolMember:
    """One EC2 model to place: its peak replicas, its plan's cost, and the types it may run on."""

    model: str
    resources: ReplicaResources
    orchestrator: Orchestrator
    peak_replicas: int
    plan_shape: str
    plan_family: str
    plan_peak_usd_per_hour: float
    compute_usd_per_month: float
    allowed_types: frozenset[str]


def pool_models(
    members: Sequence[PoolMember],
    types: CandidateTypes,
    *,
    time_budget_s: float = 2.0,
    options: PackingOptions | None = None,
    processes: int = 1,
) -> tuple[PackingSummary | None, dict[str, Placement]]:
    """Pack the members; returns the summary (None without members) and each model's placement.

    The groups are packed independently, each within its share of ``time_budget_s``: with ``processes``
    above 1 they run side by side in processes forked from this one (where it may fork:
    :func:`advisor.optimize.processes.fork_context`).
    """
    if not members:
        return None, {}
    base = options or PackingOptions()
    groups = _groups(members)
    total = sum(len(g) for g in groups)
    out_groups: list[PackingGroup] = []
    placements: dict[str, Placement] = {}
    prefixes = _pool_prefixes(groups, base.pool_prefix)
    jobs: list[tuple[list[ModelDemand], list[NodeType], PackingOptions]] = []
    for group, prefix in zip(groups, prefixes, strict=True):
        allowed = frozenset.intersection(*(m.allowed_types for m in group))
        nodes = types.nodes(group[0].orchestrator).allocatable
        node_types = [
            NodeType.from_instance(
                t,
                float(types.on_demand[i]),
                overhead_vcpu=nodes[i].reserved_vcpu,
                overhead_memory_gib=nodes[i].reserved_memory_gib,
            )
            for i, t in enumerate(types.types)
            if t.name in allowed
        ]
        budget = max(MIN_GROUP_TIME_S, time_budget_s * len(group) / total)
        opts = base.model_copy(
            update={"time_limit_s": budget, "lp_time_limit_s": budget, "pool_prefix": prefix}
        )
        demands = [ModelDemand(name=m.model, replicas=m.peak_replicas, resources=m.resources) for m in group]
        jobs.append((demands, node_types, opts))
    for group, result in zip(groups, _pack_all(jobs, processes), strict=True):
        packed_group, group_placements = _summarise(group, result, base)
        out_groups.append(packed_group)
        placements.update(group_placements)
    packed = sum(g.packed_usd_per_hour for g in out_groups)
    bound = sum(g.lower_bound_usd_per_hour for g in out_groups)
    summary = PackingSummary(
        groups=out_groups,
        savings_usd_per_month=sum(g.savings_usd_per_month for g in out_groups),
        packed_usd_per_hour=packed,
        lower_bound_usd_per_hour=bound,
        ratio_to_lower_bound=packed / bound if bound > 0 else None,
        note=(
            "peak replicas packed with on-demand prices; the saving at the peak is applied to the pooled "
            "models' monthly compute cost (an estimate)"
        ),
    )
    return summary, placements


def _pool_prefixes(groups: list[list[PoolMember]], prefix: str) -> list[str]:
    """One pool-name prefix per group, so that two groups' shared pools never share a name: the plain
    prefix for a single group, else the prefix and the group's family (or its position)."""
    if len(groups) <= 1:
        return [prefix] * len(groups)
    out: list[str] = []
    for i, group in enumerate(groups):
        families = {m.plan_family for m in group}
        tag = dns_label(next(iter(families))) if len(families) == 1 else f"g{i + 1}"
        name = f"{prefix}-{tag}"
        out.append(name if name not in out else f"{name}-{i + 1}")
    return out


def _pack_job(job: tuple[list[ModelDemand], list[NodeType], PackingOptions]) -> PackingResult:
    return pack(*job)


def _pack_all(
    jobs: list[tuple[list[ModelDemand], list[NodeType], PackingOptions]], processes: int
) -> list[PackingResult]:
    """``pack`` of each job, in order: side by side in forked processes, the largest groups first, where
    there are several and this process may fork; else here, one after another."""
    forked = fork_context() if processes > 1 and len(jobs) > 1 else None
    if forked is None:
        return [_pack_job(job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -sum(d.replicas for d in jobs[i][0]))
    with ProcessPoolExecutor(max_workers=min(processes, len(jobs)), mp_context=forked) as pool:
        done = dict(zip(order, pool.map(_pack_job, [jobs[i] for i in order]), strict=True))
    return [done[i] for i in range(len(jobs))]


def _groups(members: Sequence[PoolMember]) -> list[list[PoolMember]]:
    """Models that may share nodes: by orchestrator and accelerator need, then by plan family when their type
    sets differ.

    All CPU (or all accelerator) models form one group when the types every one of them may use still
    include each one's own planned type; otherwise no model would be forced off the type its plan chose,
    so the models are grouped by the family of their plans.
    """
    by_kind: dict[tuple[str, bool], list[PoolMember]] = defaultdict(list)
    for m in members:  # nodes run by different orchestrators are different pools
        by_kind[(m.orchestrator.value, m.resources.gpu_count > 0 or m.resources.gpu_memory_gib > 0)].append(m)
    groups: list[list[PoolMember]] = []
    for kind in sorted(by_kind):
        kind_members = by_kind[kind]
        common = frozenset.intersection(*(m.allowed_types for m in kind_members))
        if all(m.plan_shape in common for m in kind_members):
            groups.append(kind_members)
            continue
        by_family: dict[str, list[PoolMember]] = defaultdict(list)
        for m in kind_members:
            by_family[m.plan_family].append(m)
        for family in sorted(by_family):
            fam = by_family[family]
            if frozenset.intersection(*(m.allowed_types for m in fam)):
                groups.append(fam)
            else:  # pragma: no cover - a plan's own family is in its allowed set, so this needs odd inputs
                groups.extend([m] for m in fam)
    return groups


def _summarise(
    group: list[PoolMember], result: PackingResult, options: PackingOptions
) -> tuple[PackingGroup, dict[str, Placement]]:
    plans_peak = sum(m.plan_peak_usd_per_hour for m in group)
    packed = result.usd_per_hour
    adopted = (
        len(group) > 1
        and result.chosen == "shared"
        and result.plan is not None
        and packed < plans_peak * (1.0 - MIN_POOLING_GAIN)
    )
    saving = 0.0
    if adopted and plans_peak > 0:
        saving = (1.0 - packed / plans_peak) * sum(m.compute_usd_per_month for m in group)
    notes = list(result.notes)
    notes += [f"{inf.model}: {inf.reason}" for inf in result.infeasible]
    if not adopted and len(group) > 1:
        notes.append(
            f"shared pools not adopted: packed {packed:.4f} $/h vs {plans_peak:.4f} $/h for the per-model "
            f"plans at their peaks (needs a gain over {MIN_POOLING_GAIN:.0%})"
        )
    shown = result.plan
    placements: dict[str, Placement] = {}
    for m in group:
        if adopted and shown is not None:
            placements[m.model] = _placement_from(shown, m.model, shared=True)
        else:
            placements[m.model] = _dedicated_placement(m, options)
    pg = PackingGroup(
        models=[m.model for m in group],
        instance_types_offered=len(frozenset.intersection(*(m.allowed_types for m in group))),
        strategy=result.chosen,
        adopted=adopted,
        peak_usd_per_hour_per_model_plans=plans_peak,
        packed_usd_per_hour=packed,
        shared_usd_per_hour=result.shared_usd_per_hour,
        dedicated_usd_per_hour=result.dedicated_usd_per_hour,
        lp_bound_usd_per_hour=result.lp_bound_usd_per_hour,
        lower_bound_usd_per_hour=result.lower_bound_usd_per_hour,
        gap=result.gap,
        solver_status=result.solver_status,
        savings_usd_per_month=saving,
        pools=list(shown.pools) if shown is not None else [],
        notes=notes,
    )
    return pg, placements


def _placement_from(plan: PackingLayout, model: str, *, shared: bool) -> Placement:
    for p in plan.placements:
        if p.model == model:
            return Placement(
                pools=list(p.pools),
                shared=shared,
                node_selector=dict(p.node_selector),
                tolerations=list(p.tolerations),
                replicas_at_peak_by_instance_type=dict(p.replicas_by_instance_type),
            )
    raise KeyError(model)  # pragma: no cover - the packer places every placeable model


def _dedicated_placement(m: PoolMember, options: PackingOptions) -> Placement:
    """The per-model pool of the plan's own shape, labelled and tainted as the packer labels pools."""
    kind = accelerator_kind(m.resources)
    pool = pool_name(options, kind, m.model)
    return Placement(
        pools=[pool],
        shared=False,
        node_selector=node_selector(options, [pool], m.resources.arch),
        tolerations=tolerations(pool_taints(options, kind, m.model)),
        replicas_at_peak_by_instance_type={m.plan_shape: m.peak_replicas},
    )


__all__ = ["MIN_POOLING_GAIN", "PoolMember", "pool_models"]
