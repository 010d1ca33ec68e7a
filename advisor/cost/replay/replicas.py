"""A chunk's replicas and nodes before spot losses: the part of the replay (``advisor.cost.replay.engine``)
that depends only on the plan, not on its interruption draws, so a plan replayed under several seeds
computes it once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from advisor.cost.billing import on_demand_share
from advisor.cost.replay.autoscaler import desired_replicas, trailing_max
from advisor.cost.replay.hpa import Growth, hpa_trajectory
from advisor.cost.replay.schedules import minimum_by_step
from advisor.recommendation.plan import Plan
from advisor.traffic.profile import TrafficProfile

F32Array = npt.NDArray[np.float32]


class PlanRow(Protocol):
    """What a replayed plan gives this module (``advisor.cost.replay.engine.PlanSetup``)."""

    @property
    def plan(self) -> Plan: ...

    @property
    def stabilisation_steps(self) -> int: ...

    @property
    def delay_steps(self) -> int: ...

    @property
    def node_delay_steps(self) -> int: ...

    @property
    def saturation(self) -> float: ...

    @property
    def growth(self) -> tuple[Growth, ...]: ...


class HeldDemand(Protocol):
    """The group's held demand and its trailing windows (``advisor.cost.replay.engine.Held``)."""

    @property
    def demand(self) -> F32Array: ...

    @property
    def stabilised(self) -> F32Array: ...

    @property
    def started(self) -> F32Array: ...


def col(values: Sequence[float]) -> F32Array:
    """Per-plan values as a float32 column, to broadcast against (plans, steps) arrays."""
    return np.asarray(values, dtype=np.float32)[:, None]


def minimums(plans: Sequence[Plan], profile: TrafficProfile) -> F32Array:
    """Each plan's minimum: a column, or (plans, steps) where a plan raises it on a schedule."""
    if not any(p.autoscaling.schedules for p in plans):
        return col([p.autoscaling.min_replicas for p in plans])
    rows = []
    for p in plans:
        a = p.autoscaling
        windows = tuple((s.start, s.end, s.timezone, s.min_replicas) for s in a.schedules)
        key = ("scheduled_min", a.min_replicas, windows)
        rows.append(
            profile.memo(key, lambda a=a: minimum_by_step(a.schedules, profile.index, a.min_replicas))
        )
    out: F32Array = np.vstack(rows).astype(np.float32, copy=False)
    return out


def replicas_before_losses(
    group: Sequence[PlanRow], profile: TrafficProfile, held: HeldDemand
) -> tuple[F32Array, F32Array, F32Array, F32Array, F32Array]:
    """(desired, provisioned, ready, nodes, on-demand nodes) per plan of a chunk, before spot losses."""
    first = group[0]
    plans = [s.plan for s in group]
    floor = minimums(plans, profile)
    per_replica = col([p.capacity.rps_per_replica * p.autoscaling.target_utilisation for p in plans])
    maximums = col([p.autoscaling.max_replicas for p in plans])
    desired = desired_replicas(held.demand[None, :], per_replica, floor, maximums)
    start = None
    if floor.shape[1] == 1:  # a scheduled minimum is not one function of the held demand (Held)
        start = (
            desired_replicas(held.stabilised[None, :], per_replica, floor, maximums),
            desired_replicas(held.started[None, :], per_replica, floor, maximums),
        )
    provisioned, ready = hpa_trajectory(
        desired,
        floor,
        first.stabilisation_steps,
        first.delay_steps,
        [s.saturation for s in group],
        [s.growth for s in group],
        start=start,
    )
    rpn = [p.replicas_per_node for p in plans]
    nodes = provisioned if all(r == 1 for r in rpn) else np.ceil(provisioned / col(rpn))
    nodes = trailing_max(nodes, first.node_delay_steps + 1)  # an unneeded node bills until it is removed
    on_demand_nodes = nodes
    if any(p.purchase.uses_spot for p in plans):
        on_demand_nodes = on_demand_share(
            nodes,
            col([p.purchase.on_demand_base for p in plans]),
            col([100 - p.purchase.spot_pct_above_base for p in plans]),
        )
    return desired, provisioned, ready, nodes, on_demand_nodes
