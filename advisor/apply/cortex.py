"""The Cortex applier: files only. Cortex (cortexlabs/cortex) is archived, so apply writes the two pieces of
configuration the recommendation changes and calls no Cortex CLI:

- ``<model>/cortex-cluster-node-groups.yaml``: the ``node_groups`` of the cluster configuration (one per
  pool of the model), for ``cortex cluster configure``;
- ``<model>/cortex-api.yaml``: the API's ``autoscaling`` block and the ``node_groups`` it may run on, to
  merge into the API's configuration, for ``cortex deploy``.

Field names and rules are those of Cortex's last releases (v0.4x, up to v0.42): the cluster configuration's
``NodeGroup`` and ``SpotConfig`` (``name`` of letters, digits, '-' and '_', at most 26 characters;
``spot_config`` only on a spot group; spot ``instance_distribution`` types at least as large as
``instance_type`` in CPU, memory and GPUs; no ARM instances) from pkg/types/clusterconfig/cluster_config.go,
and the realtime API's ``autoscaling`` (``min_replicas``, ``max_replicas``, ``target_in_flight``, ``window``,
``downscale_stabilization_period``, ``upscale_stabilization_period``) from
docs/workloads/realtime/autoscaling.md, both in cortexlabs/cortex (commits 0068a7d9 and 079c20c2).

``target_in_flight``. Cortex scales on in-flight requests per replica: desired replicas = in-flight
requests of the API ÷ ``target_in_flight``. By Little's law the in-flight count is the request rate × the
time a request spends in the replica, so ``target_in_flight`` = per-replica target rate × that time gives the
replica count the plan's rate target gives. The time is the model's unloaded latency
(``latency_floor_ms``) when the recommendation has it, else the service time of a replica serving one
request at a time (Cortex's default ``max_concurrency`` is 1): 1 ÷ the replica's capacity, so that
``target_in_flight`` is the plan's target utilisation. Queueing only lengthens the time, which adds replicas:
the conversion errs on the safe side. Upscale stabilisation is 0 s, as an HPA's scale-up (Cortex's default
is 1 m, on top of its 60 s averaging ``window``, which stays); downscale stabilisation is the plan's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from advisor.apply.base import ApplyError, Intent, Progress, State, Step
from advisor.apply.kubernetes.manifests import per_replica_target
from advisor.platforms.naming import dns_label
from advisor.recommendation.deployment import NodePool

MAX_NODE_GROUP_NAME = 26  # 32 less the "cx-wd-"/"cx-ws-" prefix Cortex adds (cluster_config.go)
_ARCHIVED = "Cortex is archived; apply writes its files (see --out), it does not call the Cortex CLI"


def _files_only() -> ApplyError:
    return ApplyError(_ARCHIVED, fix="apply the written files with the cortex CLI yourself")


def node_group_name(pool_name: str) -> str:
    """A Cortex node group name for a pool: at most 26 letters, digits, '-' or '_'."""
    return dns_label(pool_name)[:MAX_NODE_GROUP_NAME].rstrip("-")


def node_group(intent: Intent, pool: NodePool) -> tuple[dict[str, Any], list[str]]:
    """One ``node_groups`` entry for a pool, and the pool's types it leaves out (ARM ones, or spot types
    smaller than the primary). The primary ``instance_type`` is the smallest x86_64 type (Cortex's advice,
    and its rule that spot alternatives are at least as large), the others go in ``instance_distribution``."""
    arch = _arches(pool)
    x86 = [t for t in pool.instance_types if arch[t] == "x86_64"]
    if not x86:
        raise ApplyError(
            f"pool {pool.name} has no x86_64 instance type: Cortex does not run on ARM instances",
            where=f"pools.{pool.name}",
            fix="recommend again with x86_64 candidates only for this model",
        )
    missing = [t for t in x86 if t not in pool.allocatable]
    if missing:
        raise ApplyError(
            f"pool {pool.name} has no node capacity for {', '.join(missing)}", where=f"pools.{pool.name}"
        )

    def size(t: str) -> tuple[float, float, float]:
        n = pool.allocatable[t]
        return (n.gpu_count, n.vcpu + n.reserved_vcpu, n.memory_gib + n.reserved_memory_gib)

    primary = min(x86, key=size)
    others = [
        t for t in x86 if t != primary and all(a >= b for a, b in zip(size(t), size(primary), strict=True))
    ]
    group: dict[str, Any] = {
        "name": node_group_name(pool.name),
        "instance_type": primary,
        "min_instances": pool.min_nodes,
        "max_instances": max(pool.max_nodes, 1),
        "spot": "spot" in pool.capacity_types,
    }
    if group["spot"]:
        base = max(pool.on_demand_base_capacity, intent.guardrails.min_on_demand_base)
        group["spot_config"] = {
            "instance_distribution": others,
            "on_demand_base_capacity": min(base, group["max_instances"]),
            "on_demand_percentage_above_base_capacity": pool.on_demand_percentage_above_base_capacity,
        }
    kept = {primary, *others} if group["spot"] else {primary}
    return group, [t for t in pool.instance_types if t not in kept]


def _arches(pool: NodePool) -> dict[str, str]:
    """Each type's architecture: the pool's when it has one, else each type's as the recommendation
    stored it."""
    if len(pool.architectures) == 1:
        return {t: pool.architectures[0].value for t in pool.instance_types}
    missing = [t for t in pool.instance_types if t not in pool.architecture_by_instance_type]
    if missing:
        raise ApplyError(
            f"node pool {pool.name} mixes architectures and the recommendation does not say which type has "
            f"which ({', '.join(missing)})",
            where=f"pools.{pool.name}",
            fix="run advisor recommend again: a new recommendation records each type's architecture",
        )
    return {t: pool.architecture_by_instance_type[t].value for t in pool.instance_types}


def target_in_flight(intent: Intent) -> float:
    """In-flight requests per replica at the plan's per-replica target (module docstring)."""
    m = intent.model
    assert m.plan is not None
    rate = per_replica_target(intent)
    seconds = m.latency_floor_ms / 1000.0 if m.latency_floor_ms else 1.0 / m.plan.capacity.rps_per_replica
    return round(max(rate * seconds, 0.001), 3)


def api_config(intent: Intent, groups: list[str]) -> dict[str, Any]:
    """The API's ``autoscaling`` and ``node_groups`` (merge into its entry of the API configuration)."""
    d = intent.deployment
    api = intent.target.cortex.api if intent.target.cortex is not None else dns_label(intent.name)
    return {
        "name": api,
        "kind": "RealtimeAPI",
        "node_groups": groups,
        "autoscaling": {
            "min_replicas": d.min_replicas,
            "max_replicas": d.max_replicas,
            "target_in_flight": target_in_flight(intent),
            "downscale_stabilization_period": f"{round(d.scale_down_stabilisation_s)}s",
            "upscale_stabilization_period": "0s",
        },
    }


class CortexApplier:
    """Cortex targets, as files (module docstring)."""

    kind = "cortex"

    def label(self, intent: Intent) -> str:
        cortex = intent.target.cortex
        return (
            f"Cortex API {cortex.cluster}/{cortex.api}" if cortex is not None else f"Cortex API {intent.name}"
        )

    def read(self, intent: Intent) -> State:
        raise _files_only()

    def desired(self, intent: Intent, live: State) -> State:
        raise _files_only()

    def steps(self, intent: Intent, now: State, want: State) -> list[Step]:
        raise _files_only()

    def settle(self, intent: Intent, want: State, deadline_s: float, progress: Progress) -> None:
        raise _files_only()

    def render(self, intent: Intent) -> Mapping[str, str]:
        """The two files of the module docstring, each opening with what to do with it."""
        if intent.deployment.migration or not intent.pools:
            raise ApplyError(
                f"the plan of {intent.name} does not run on EC2 nodes: Cortex has nothing to change",
                where=f"deploy.cortex of {intent.name}",
            )
        groups, notes = [], []
        for pool in intent.pools:
            group, left_out = node_group(intent, pool)
            groups.append(group)
            if left_out:
                why = "Cortex runs no ARM type; an on-demand group has one type; spot ones must be larger"
                notes.append(f"# pool {pool.name}: {', '.join(left_out)} left out ({why})")
        names = [g["name"] for g in groups]
        if len(set(names)) < len(names):
            raise ApplyError(f"pool names of {intent.name} shorten to the same node group name: {names}")
        notes += [
            f"# scheduled {s.label}: Cortex has no schedule; raise min_replicas then yourself"
            for s in intent.deployment.schedules
        ]
        cluster = intent.target.cortex.cluster if intent.target.cortex is not None else "your cluster"
        folder = dns_label(intent.name)
        head = (
            f"# node_groups of {cluster}'s cluster configuration: replace these groups, "
            "then `cortex cluster configure`\n"
        )
        return {
            f"{folder}/cortex-cluster-node-groups.yaml": head
            + yaml.safe_dump({"node_groups": groups}, sort_keys=False),
            f"{folder}/cortex-api.yaml": "# merge into the API's entry of its configuration, then "
            "`cortex deploy`\n"
            + "".join(f"{n}\n" for n in notes)
            + yaml.safe_dump([api_config(intent, names)], sort_keys=False),
        }
