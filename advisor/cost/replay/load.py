"""Which queue-table bin each step's requests fall in, which steps are overloaded, and the backlog behind
them (``advisor.cost.replay.backlog``): the part of the replay (``advisor.cost.replay.engine``) once replicas
are known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from advisor.capacity.queueing import P99_TAIL, RHO_BINS
from advisor.cost.replay.backlog import Backlog, carried_backlog, late_requests
from advisor.cost.replay.queueing import QueueModel
from advisor.recommendation.plan import Plan


class PlanRow(Protocol):
    """What a replayed plan gives this module (``advisor.cost.replay.engine.PlanSetup``)."""

    @property
    def plan(self) -> Plan: ...

    @property
    def queue(self) -> QueueModel: ...

    @property
    def capacity_rps(self) -> float: ...


FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]
OVERLOAD_SLACK = 1e-5


def _col(values: Sequence[float]) -> F32Array:
    return np.asarray(values, dtype=np.float32)[:, None]


@dataclass
class LoadBins:
    """Per plan and step: the flat queue-table bin of its requests, whether it is overloaded, and (plans with
    a backlog only) the backlog and the share of the step's requests late behind it."""

    bins: npt.NDArray[np.int32]
    overloaded: npt.NDArray[np.bool_]
    backlogs: dict[int, Backlog]
    late: dict[int, tuple[npt.NDArray[np.intp], FloatArray]]
    unsettled: frozenset[int] = frozenset()  # plans over ``overload_cap`` before their backlog: not settled

    def requests_by_bin(self, j: int, demand: FloatArray, step_s: int, size: int) -> FloatArray:
        """Requests per bin of plan j over the horizon; late requests moved to their class's overload bin."""
        weights = demand
        late = self.late.get(j)
        if late is not None:
            steps, share = late
            weights = demand.copy()
            weights[steps] *= 1.0 - share
        counts = np.asarray(np.bincount(self.bins[j], weights=weights, minlength=size), dtype=np.float64)
        if late is not None:
            steps, share = late
            overload = (self.bins[j, steps] // (RHO_BINS + 1)) * (RHO_BINS + 1) + RHO_BINS
            counts += np.bincount(overload, weights=demand[steps] * share, minlength=size)
        counts *= step_s
        return counts


def late_share(loads: LoadBins, j: int, n: int) -> FloatArray:
    out = np.zeros(n)
    if j in loads.late:
        steps, share = loads.late[j]
        out[steps] = share
    return out


def load_bins(
    group: Sequence[PlanRow],
    demand32: F32Array,
    ready: F32Array,
    step_s: int,
    overload_cap: int | None = None,
) -> LoadBins:
    """Per step: the load bin of its requests, whether it is overloaded, and the backlog of plans with one.

    Per-replica load in units of a histogram bin: demand / (ready × max_rps / RHO_BINS). A step with no
    ready replica gives inf (demand > 0) or nan (no demand); fmin sends both to the overload bin, where a
    nan step weighs nothing. Where the balancing makes the replica count matter, the bin is offset by the
    class of the ready count. Overloaded: demand above ready capacity, or arrivals waiting over the SLO
    behind a backlog carried in (``advisor.cost.replay.backlog``). ``overload_cap``: a screening's
    budget in steps - a plan overloaded at more steps before its backlog is left unsettled (``unsettled``).
    """
    max_rps = _col([s.queue.max_rps for s in group])
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.multiply(ready, max_rps / RHO_BINS, dtype=np.float32)
        np.divide(demand32[None, :], load, out=load)
    threshold = _col([s.capacity_rps / (s.queue.max_rps / RHO_BINS) * (1 + OVERLOAD_SLACK) for s in group])
    with np.errstate(invalid="ignore"):
        overloaded = load > threshold
    with np.errstate(invalid="ignore"):
        excess = load > np.float32(RHO_BINS)  # demand above ready × max_rps (nan: no demand, no replica)
    rows = np.flatnonzero(excess.any(axis=1))
    unsettled: frozenset[int] = frozenset()
    if overload_cap is not None and rows.size:
        # a plan already overloaded at more steps than the cap is over it whatever its backlog adds: a
        # screening replay does not work the backlog out (its overload count is then a lower bound)
        over = overloaded[rows].sum(axis=1) > overload_cap
        unsettled, rows = frozenset(int(j) for j in rows[over]), rows[~over]
    backlogs: dict[int, Backlog] = {}
    late: dict[int, tuple[npt.NDArray[np.intp], FloatArray]] = {}
    if rows.size:
        mu = [group[int(j)].queue.max_rps for j in rows]
        pooled = [group[int(j)].queue.balancing.pools_backlog for j in rows]
        found = carried_backlog(demand32, ready[rows], mu, pooled, excess[rows], step_s)
        for k, backlog in enumerate(found):
            j = int(rows[k])
            slo_s = group[j].plan.slo.latency_p99_ms / 1000.0
            steps, share = late_requests(backlog, ready[j], slo_s)
            overloaded[j, steps[share >= P99_TAIL]] = True  # over 1 % of its requests late: p99 over the SLO
            backlogs[j], late[j] = backlog, (steps, share.astype(np.float64))
    np.fmin(load, np.float32(RHO_BINS), out=load)
    bins = load.astype(np.int32)  # half the memory traffic of intp; bincount takes it
    for j, s in enumerate(group):
        if s.queue.classes.size > 1:
            bins[j] += s.queue.class_offsets(ready[j])
    return LoadBins(bins, overloaded, backlogs, late, unsettled)
