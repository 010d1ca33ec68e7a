"""Spot interruptions: seeded draws per pool from its interruption band, and what each one costs.

Rate. AWS's Spot Instance Advisor publishes, per type and region, a band of the share of instances
interrupted in a month (<5 %, 5-10 %, ... >20 %). A band's midpoint q (``InterruptionBand.
monthly_rate_midpoint``) becomes a constant hazard per spot node-hour h = −ln(1 − q) / 730, so a node
running a whole 730-hour month is interrupted with probability q. Interruptions of a pool are a Poisson
process whose intensity follows the number of spot nodes running: the count is drawn from
Poisson(h × node-hours) and the times are placed in proportion to the nodes running (inverse CDF on the
cumulative node-hours). A seed fixes the draws; the same seed, plan and profile give the same events.

Effect of one event at step e (spot nodes of a plan are spread evenly over its pools):

- the node is reclaimed ``notice_s`` after the notice (two minutes on EC2 and Fargate Spot); a replacement
  is launched at the notice and serves after ``replacement_delay_s``. In between, the plan serves with
  ``replicas_per_node`` fewer replicas;
- the replacement bills from its launch, so the notice overlaps two nodes for ``notice_s``;
- with ``on_demand_fallback``, the replacement is on-demand (the pool was just reclaimed, so it is short of
  spot capacity) for ``fallback_hold_s`` before returning to spot: the difference to spot is billed.

Correlated reclaims. Spot capacity is reclaimed by type and zone, so interruptions come in bursts: besides
the independent events, each pool is reclaimed as a whole (``pool_reclaim_share`` of its spot nodes at once)
as a Poisson process of ``pool_reclaims_per_month`` per pool while it runs nodes — by default the band's
midpoint, the rate at which a pool's every node would be interrupted if all its interruptions came at once.
The lost nodes are replaced after ``replacement_delay_s`` from the other pools (EC2 Auto Scaling capacity
rebalancing and Karpenter both launch into the types still available) or on-demand where the plan falls
back; with one pool and no fallback nothing can host them until the pool recovers (``pool_outage_s``).
That is the event an on-demand base is sized for
(``advisor.optimize.rightsize.sizing.on_demand_base_for_spot``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from advisor.traffic.profile import HOURS_PER_MONTH

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def hourly_hazard(monthly_rate: float) -> float:
    """Interruptions per spot node-hour for a monthly interruption probability ``monthly_rate``."""
    if monthly_rate <= 0:
        return 0.0
    return -math.log(1.0 - min(monthly_rate, 0.999999)) / HOURS_PER_MONTH


def plan_rng(seed: int, plan_key: str) -> np.random.Generator:
    """The generator for one plan: fixed by the seed and the plan's content, not by its batch position."""
    digest = hashlib.blake2b(plan_key.encode(), digest_size=8).digest()
    return np.random.default_rng([seed, int.from_bytes(digest, "little")])


@dataclass(frozen=True)
class Interruptions:
    """Interruption events of one plan: the step of each notice and the pool it hit."""

    steps: IntArray
    pools: IntArray

    @property
    def count(self) -> int:
        return int(self.steps.size)


def draw_interruptions(
    spot_nodes: npt.NDArray[np.floating],
    monthly_rates: Sequence[float],
    step_s: int,
    rng: np.random.Generator,
) -> Interruptions:
    """Draw the events of one plan; ``spot_nodes[t]`` spot nodes run in step t, spread over the pools."""
    n = spot_nodes.size
    blocks = _BlockCumsum(spot_nodes)
    node_hours = blocks.total * (step_s / 3600.0) / max(len(monthly_rates), 1)  # per pool
    steps: list[IntArray] = []
    pools: list[IntArray] = []
    for pool, rate in enumerate(monthly_rates):
        h = hourly_hazard(rate)
        count = int(rng.poisson(h * node_hours)) if node_hours > 0 and h > 0 else 0
        if count == 0:
            continue
        at = blocks.locate(rng.random(count) * blocks.total)
        steps.append(np.minimum(at, n - 1))
        pools.append(np.full(count, pool, dtype=np.int64))
    if not steps:
        return Interruptions(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    all_steps = np.concatenate(steps)
    order = np.argsort(all_steps, kind="stable")
    return Interruptions(all_steps[order], np.concatenate(pools)[order])


class _BlockCumsum:
    """Inverse-CDF lookups on a long non-negative series without a full-length cumulative sum.

    Sums per block of ``BLOCK`` steps locate an event's block; only that block is summed step by step.
    """

    BLOCK = 1024

    def __init__(self, values: npt.NDArray[np.floating]) -> None:
        self.values = values
        pad = (-values.size) % self.BLOCK
        padded = np.concatenate([values, np.zeros(pad, dtype=values.dtype)]) if pad else values
        self.block_cum = np.cumsum(padded.reshape(-1, self.BLOCK).sum(axis=1, dtype=np.float64))
        self.total = float(self.block_cum[-1]) if self.block_cum.size else 0.0

    def locate(self, targets: FloatArray) -> IntArray:
        """For each target in [0, total), the step t with cumsum[t-1] <= target < cumsum[t]."""
        block = np.minimum(np.searchsorted(self.block_cum, targets, side="right"), self.block_cum.size - 1)
        out = np.empty(targets.size, dtype=np.int64)
        for i, (b, target) in enumerate(zip(block, targets, strict=True)):
            before = float(self.block_cum[b - 1]) if b > 0 else 0.0
            lo = int(b) * self.BLOCK
            within = np.cumsum(self.values[lo : lo + self.BLOCK], dtype=np.float64)
            out[i] = lo + int(np.searchsorted(within, target - before, side="right"))
        return out


@dataclass(frozen=True)
class Outages:
    """Replicas out of service: ``replicas[k]`` from step ``start[k]`` until (not including) ``end[k]``."""

    start: IntArray
    end: IntArray
    replicas: FloatArray

    @classmethod
    def none(cls) -> Outages:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))

    def __add__(self, other: Outages) -> Outages:
        return Outages(
            np.concatenate([self.start, other.start]),
            np.concatenate([self.end, other.end]),
            np.concatenate([self.replicas, other.replicas]),
        )

    def per_step(self) -> tuple[IntArray, FloatArray]:
        """(steps, replicas out) at the steps any outage covers, sorted: events are a handful a month, so
        the year's other half a million steps are never touched."""
        lengths = np.maximum(self.end - self.start, 0)
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        steps, where = np.unique(np.repeat(self.start, lengths) + offsets, return_inverse=True)
        out = np.zeros(steps.size)
        np.add.at(out, where, np.repeat(self.replicas, lengths))
        return steps, out


def lost_replica_steps(
    events: Interruptions, n_steps: int, replicas_per_node: int, notice_steps: int, replacement_steps: int
) -> Outages:
    """Replicas out of service: a node's replicas, from its reclaim until its replacement serves."""
    if events.count == 0 or replacement_steps <= notice_steps:
        return Outages.none()
    start = np.minimum(events.steps + notice_steps, n_steps)
    end = np.minimum(events.steps + replacement_steps, n_steps)
    return Outages(start, end, np.full(events.count, float(replicas_per_node)))


def overhead_usd(
    events: Interruptions,
    *,
    n_steps: int,
    step_s: int,
    notice_s: float,
    spot_usd_per_hour: Sequence[float],
    on_demand_usd_per_hour: float,
    fallback: bool,
    fallback_hold_s: float,
) -> tuple[float, float]:
    """(notice overlap $, on-demand fallback premium $) of the events over the horizon."""
    if events.count == 0:
        return 0.0, 0.0
    spot_price = np.asarray(spot_usd_per_hour, dtype=np.float64)[events.pools]
    replacement_price = np.full(events.count, on_demand_usd_per_hour) if fallback else spot_price
    overlap = float((replacement_price * notice_s / 3600.0).sum())
    if not fallback:
        return overlap, 0.0
    remaining_s = (n_steps - events.steps) * step_s
    hold_h = np.minimum(fallback_hold_s, remaining_s) / 3600.0
    premium = float(((on_demand_usd_per_hour - spot_price) * hold_h).sum())
    return overlap, premium


@dataclass(frozen=True)
class PoolReclaims:
    """Whole-pool reclaims of one plan: the step of each notice, the pool, and the nodes it takes."""

    steps: IntArray
    pools: IntArray
    nodes: FloatArray

    @property
    def count(self) -> int:
        return int(self.steps.size)


def draw_pool_reclaims(
    spot_nodes: npt.NDArray[np.floating],
    monthly_rates: Sequence[float],
    share: float,
    step_s: int,
    rng: np.random.Generator,
) -> PoolReclaims:
    """Draw the correlated reclaims of one plan (module docstring); ``monthly_rates`` per pool."""
    running = np.flatnonzero(spot_nodes > 0)
    pools = max(len(monthly_rates), 1)
    hours = running.size * step_s / 3600.0
    steps: list[IntArray] = []
    which: list[IntArray] = []
    for pool, rate in enumerate(monthly_rates):
        count = int(rng.poisson(rate / HOURS_PER_MONTH * hours)) if hours > 0 and rate > 0 else 0
        if count:
            steps.append(np.sort(running[rng.integers(0, running.size, count)]).astype(np.int64))
            which.append(np.full(count, pool, dtype=np.int64))
    if not steps:
        empty = np.zeros(0, dtype=np.int64)
        return PoolReclaims(empty, empty, np.zeros(0))
    at = np.concatenate(steps)
    nodes = np.ceil(share * np.asarray(spot_nodes, dtype=np.float64)[at] / pools - 1e-9)
    return PoolReclaims(at, np.concatenate(which), nodes)


def lost_to_reclaims(
    reclaims: PoolReclaims, n_steps: int, replicas_per_node: int, notice_steps: int, back_steps: int
) -> Outages:
    """Replicas out of service: each reclaim's nodes from the reclaim until replacements serve."""
    if reclaims.count == 0 or back_steps <= notice_steps:
        return Outages.none()
    start = np.minimum(reclaims.steps + notice_steps, n_steps)
    end = np.minimum(reclaims.steps + back_steps, n_steps)
    return Outages(start, end, reclaims.nodes * replicas_per_node)
