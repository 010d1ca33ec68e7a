"""The vectorised replay engine: many plans × one profile as 2-D numpy arrays (plans × steps).

Plans are grouped by what shapes their arrays the same way (dead-band tolerance, stabilisation and delay in
steps), then processed in chunks of rows. Per chunk: desired → provisioned → ready replicas
(``advisor.cost.replay.autoscaler``), nodes and the on-demand/spot split, spot interruptions
(``advisor.cost.replay.spot``, the only per-plan work, and it touches only the few steps with events), served
capacity, overload, and a histogram of requests by per-replica load that the queueing model
(``advisor.cost.replay.queueing``) turns into the share over the SLO and the p99. Nothing loops over steps in
Python.

Billing: nodes follow *provisioned* replicas (an instance bills from launch, booting included), serving
follows *ready* replicas. Fargate bills per second with a one-minute minimum per task: at steps of 60 s
or more every task runs at least a minute, so the minimum never binds; at shorter steps the shortfall of
tasks that live under a minute is added (tasks are stopped newest first).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from advisor.capacity.queueing import RHO_BINS
from advisor.cost.billing import fargate_minimum_extra_seconds
from advisor.cost.loadbalancer import lcu_per_rps
from advisor.cost.prices import PlanPrices
from advisor.cost.replay import spot as spotmod
from advisor.cost.replay.autoscaler import (
    held_demand,
    steps_for,
    trailing_max,
    trailing_min,
)
from advisor.cost.replay.hpa import Growth, growth_limits
from advisor.cost.replay.load import late_share, load_bins
from advisor.cost.replay.queueing import QueueModel
from advisor.cost.replay.replicas import replicas_before_losses
from advisor.domain import Platform
from advisor.errors import ConfigError
from advisor.pricing.fargate import FARGATE_MINIMUM_BILLED_SECONDS
from advisor.recommendation.plan import AutoscalerMetric, Plan, ScalingAlgorithm
from advisor.traffic.profile import TrafficProfile

FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]
CHUNK_ELEMENTS = 1_000_000  # rows × steps per chunk: 4 MB float32 arrays stay cache-friendly
PARALLEL_WORKERS = 4
PARALLEL_ELEMENTS = 4_000_000  # below this (a week × a few dozen plans) threads cost more than they give


@dataclass(frozen=True)
class PlanSetup:
    """A plan's constants for the replay, validated against its prices."""

    plan: Plan
    prices: PlanPrices
    queue: QueueModel
    stabilisation_steps: int
    delay_steps: int
    notice_steps: int
    replacement_steps: int
    lcu_per_rps: float
    lcu_dimension: str
    node_delay_steps: int = 0
    saturation: float = math.inf
    growth: tuple[Growth, ...] = ()

    @functools.cached_property
    def key(self) -> str:
        """The plan as JSON: what its spot draws are seeded with (only spot plans ask for it)."""
        return self.plan.model_dump_json()

    @property
    def capacity_rps(self) -> float:
        return self.plan.capacity.rps_per_replica

    @property
    def group_key(self) -> GroupKey:
        a = self.plan.autoscaling
        reset = a.algorithm_on(self.plan.platform) is not ScalingAlgorithm.SIMPLE  # resizes to the demand
        return (
            a.tolerance,
            a.down_tolerance,
            reset,
            self.stabilisation_steps,
            self.delay_steps,
            self.node_delay_steps,
        )


GroupKey = tuple[float, float, bool, int, int, int]


def prepare(plan: Plan, prices: PlanPrices, step_s: int) -> PlanSetup:
    """Check a plan against its prices and derive its replay constants; ConfigError when they disagree."""
    if prices.platform is not plan.platform:
        raise ConfigError(
            f"prices are for {prices.platform.value}, the plan is {plan.platform.value}", where=plan.name
        )
    if plan.purchase.uses_spot and not prices.spot_pools:
        raise ConfigError(
            "the plan buys spot but its prices carry no spot pool",
            where=f"{plan.name}: purchase.spot_pct_above_base",
            fix="resolve prices with advisor.cost.resolve_prices(plan, catalog)",
        )
    cap = plan.capacity
    queue = QueueModel.for_capacity(
        cap.rps_per_replica,
        cap.concurrency,
        plan.slo.latency_p99_ms,
        cap.service_time_ms,
        cap.service_time_scv,
        plan.effective_load_balancer.balancing,
        plan.autoscaling.max_replicas,
    )
    policy = plan.autoscaling
    replacement = plan.spot.replacement_delay_s
    coefficient, dimension = lcu_per_rps(plan.effective_load_balancer)
    hpa = policy.algorithm_on(plan.platform) is ScalingAlgorithm.HPA
    saturation = math.inf
    if hpa and policy.metric_on(plan.platform) is AutoscalerMetric.CPU:
        saturation = queue.max_rps / (cap.rps_per_replica * policy.target_utilisation)
    rules = [(g.type, g.value, g.period_s) for g in policy.scale_up_policies]
    return PlanSetup(
        plan=plan,
        prices=prices,
        queue=queue,
        stabilisation_steps=steps_for(policy.scale_down_stabilisation_s, step_s),
        delay_steps=steps_for(policy.scale_up_delay_s, step_s),
        notice_steps=steps_for(plan.spot.notice_s, step_s),
        replacement_steps=steps_for(policy.scale_up_delay_s if replacement is None else replacement, step_s),
        lcu_per_rps=coefficient,
        lcu_dimension=dimension,
        node_delay_steps=steps_for(policy.node_scale_down_delay_on(plan.platform), step_s),
        saturation=saturation,
        growth=growth_limits(rules, step_s, policy.sync_period_s) if hpa else (),
    )


@dataclass
class Outcome:
    """Raw sums of one plan over the horizon (``advisor.cost.simulate`` turns them into a CostResult)."""

    replica_steps: float = 0.0
    replicas_min: float = 0.0
    replicas_max: float = 0.0
    node_steps: float = 0.0
    nodes_max: float = 0.0
    on_demand_node_steps: float = 0.0
    spot_node_steps: float = 0.0
    fargate_minimum_extra_s: float = 0.0
    served_rps_steps: float = 0.0
    overloaded_steps: int = 0
    interruptions: int = 0
    pool_reclaims: int = 0
    lost_replica_steps: float = 0.0
    notice_overlap_usd: float = 0.0
    fallback_premium_usd: float = 0.0
    backlog_max_requests: float = 0.0
    # False: over a screening's cap before the backlog was worked out (served load and histogram not kept)
    overload_settled: bool = True
    requests_by_load_bin: FloatArray = field(default_factory=lambda: np.zeros(RHO_BINS + 1))
    series: dict[str, npt.NDArray[np.generic]] | None = None
    # the on-demand nodes per step (``keep_on_demand``): what a Savings Plan covers, without the whole series
    on_demand_nodes: F32Array | None = None
    # a screening's histogram, worked out on first use (a plan over the minutes budget never needs it)
    later_histogram: Callable[[], FloatArray] | None = None

    def load_histogram(self) -> FloatArray:
        """:attr:`requests_by_load_bin`, worked out now if the replay left it for later."""
        if self.later_histogram is not None:
            self.requests_by_load_bin, self.later_histogram = self.later_histogram(), None
        return self.requests_by_load_bin


def replay(
    setups: Sequence[PlanSetup],
    profile: TrafficProfile,
    seed: int | Sequence[int],
    *,
    keep_series: bool = False,
    keep_on_demand: bool = False,
    progress: Callable[[int, int], None] | None = None,
    overload_cap: int | None = None,
) -> list[Outcome]:
    """Replay every plan over ``profile``; returns one Outcome per setup, in order (rows found identical - one
    setup under several seeds, none of which lost anything to spot - share one Outcome object).

    ``seed``: one for all, or one per setup (the same plan under several interruption draws replays as
    rows of one batch). ``overload_cap`` (a screening's budget, in steps): a plan overloaded at more steps
    than that before any backlog is counted has ``overload_settled`` False - its count is a lower bound.
    ``keep_on_demand``: each outcome keeps its on-demand nodes per step (``keep_series`` keeps every series).
    """
    seeds = [seed] * len(setups) if isinstance(seed, int) else list(seed)
    outcomes: list[Outcome | None] = [None] * len(setups)
    groups: dict[GroupKey, list[int]] = defaultdict(list)
    for i, s in enumerate(setups):
        groups[s.group_key].append(i)
    demand32 = profile.memo("rps_f32", lambda: profile.rps.astype(np.float32))
    rows_per_chunk = max(1, CHUNK_ELEMENTS // profile.steps)
    jobs: list[tuple[list[int], Held]] = []
    for (up, down, reset, *_), members in groups.items():
        held = _held(profile, up, down, reset, setups[members[0]])
        jobs += [(members[lo : lo + rows_per_chunk], held) for lo in range(0, len(members), rows_per_chunk)]

    def run(job: tuple[list[int], Held]) -> tuple[list[int], list[Outcome]]:
        chunk, held = job
        rows = [setups[i] for i in chunk]
        picked = [seeds[i] for i in chunk]
        return chunk, _replay_chunk(
            rows, profile, demand32, held, picked, keep_series, overload_cap, keep_on_demand
        )

    # numpy releases the GIL in its array loops: big replays use the machine's cores, chunk by chunk
    workers = 1
    if len(setups) * profile.steps >= PARALLEL_ELEMENTS:
        workers = min(PARALLEL_WORKERS, os.cpu_count() or 1, len(jobs))
    done = 0
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else contextlib.nullcontext() as pool:
        answers = pool.map(run, jobs) if pool is not None else map(run, jobs)
        for chunk, results in answers:
            for i, outcome in zip(chunk, results, strict=True):
                outcomes[i] = outcome
            done += len(chunk)
            if progress is not None:
                progress(done, len(setups))
    return [o for o in outcomes if o is not None]


@dataclass(frozen=True)
class Held:
    """A group's held demand (the dead band's), and its trailing max over the stabilisation window and the
    trailing min of that over the start-up delay: what every plan of the group scales on."""

    demand: F32Array
    stabilised: F32Array
    started: F32Array


def _held(profile: TrafficProfile, up: float, down: float, reset: bool, first: PlanSetup) -> Held:
    """The group's :class:`Held`, memoised on the profile (plans differ in scale, not in these).

    Replicas are a non-decreasing function of the held demand (ceil, then clip), so the trailing max of
    the replicas is the replicas of the trailing max, and likewise for the min: three passes per plan
    instead of a windowed max and min each.
    """
    band = (round(up, 9), round(down, 9), reset)
    demand = profile.memo(
        ("held_f32", *band), lambda: held_demand(profile, up, down, reset).astype(np.float32)
    )
    stab, delay = first.stabilisation_steps, first.delay_steps
    stabilised = profile.memo(("held_max", *band, stab), lambda: trailing_max(demand, stab + 1))
    started = profile.memo(("held_started", *band, stab, delay), lambda: trailing_min(stabilised, delay + 1))
    return Held(demand, stabilised, started)


def _replay_chunk(
    group: list[PlanSetup],
    profile: TrafficProfile,
    demand32: F32Array,
    held: Held,
    seeds: list[int],
    keep: bool,
    overload_cap: int | None = None,
    keep_on_demand: bool = False,
) -> list[Outcome]:
    step_s, n = profile.step_s, profile.steps
    plans = [s.plan for s in group]
    # a plan listed several times (under several seeds) has the same replicas and nodes until spot draws:
    # those are computed once per plan (row ``rows[j]`` of the arrays below) and never copied per seed
    row_of: dict[int, int] = {}
    rows = [row_of.setdefault(id(s), len(row_of)) for s in group]
    unique = list({id(s): s for s in group}.values()) if len(row_of) < len(group) else group
    desired, provisioned, ready, nodes, on_demand_nodes = replicas_before_losses(unique, profile, held)
    outcomes = [Outcome() for _ in group]
    spot_rows = [j for j, p in enumerate(plans) if p.purchase.uses_spot]
    lost_rows, lost_ready = _spot_losses(
        group, spot_rows, nodes, on_demand_nodes, ready, rows, outcomes, seeds, step_s
    )
    # rows of one plan that lost nothing to spot have the same ready replicas: their loads are computed once
    clean: dict[int, int] = {}
    rep = [j if j in lost_rows else clean.setdefault(rows[j], j) for j in range(len(group))]
    own = list(dict.fromkeys(rep))  # the rows whose loads are computed, in order
    if own == list(range(len(unique))) and not lost_ready:
        ready_rows = ready  # one row per plan, nothing lost: the very array
    else:
        ready_rows = ready[[rows[j] for j in own]]
        for k, j in enumerate(own):
            if j in lost_ready:
                ready_rows[k] = lost_ready[j]
    at = {j: k for k, j in enumerate(own)}
    loads = load_bins([group[j] for j in own], demand32, ready_rows, step_s, overload_cap)
    overloaded = loads.overloaded
    by_bin: dict[int, FloatArray] = {}
    demand64 = profile.rps
    total_rps_steps = profile.memo("rps_sum", lambda: float(demand64.sum()))
    replica_sums = provisioned.sum(axis=1, dtype=np.float64)
    node_sums = replica_sums if nodes is provisioned else nodes.sum(axis=1, dtype=np.float64)
    on_demand_sums = node_sums if on_demand_nodes is nodes else on_demand_nodes.sum(axis=1, dtype=np.float64)
    replicas_min, replicas_max = provisioned.min(axis=1), provisioned.max(axis=1)
    for j, o in enumerate(outcomes):
        if rep[j] != j and not keep:  # the same plan, nothing lost: the very outcome of the row it repeats
            outcomes[j] = outcomes[rep[j]]
            continue
        u, w = rows[j], at[rep[j]]
        o.replica_steps = float(replica_sums[u])
        o.replicas_min = float(replicas_min[u])
        o.replicas_max = float(replicas_max[u])
        o.node_steps = float(node_sums[u])
        # nodes = ceil(replicas / rpn) is monotone
        o.nodes_max = float(np.ceil(o.replicas_max / plans[j].replicas_per_node))
        o.on_demand_node_steps = float(on_demand_sums[u])
        o.spot_node_steps = o.node_steps - o.on_demand_node_steps
        hot = np.flatnonzero(overloaded[w])
        o.overloaded_steps = int(hot.size)
        o.overload_settled = w not in loads.unsettled
        backlog = loads.backlogs.get(w)
        o.backlog_max_requests = 0.0 if backlog is None else backlog.max_requests
        if o.overload_settled:  # an unsettled plan is only counted over its cap: no served load or histogram
            deficit = np.maximum(demand64[hot] - ready_rows[w, hot] * group[j].capacity_rps, 0.0)
            o.served_rps_steps = total_rps_steps - float(deficit.sum())
            if not keep:  # left for later: a screening needs it only for a plan within the minutes budget
                o.later_histogram = functools.partial(
                    loads.requests_by_bin, w, demand64, step_s, group[j].queue.n_bins
                )
            else:
                if w not in by_bin:
                    by_bin[w] = loads.requests_by_bin(w, demand64, step_s, group[j].queue.n_bins)
                o.requests_by_load_bin = by_bin[w]
        if keep_on_demand:
            o.on_demand_nodes = on_demand_nodes[u]  # a row of the chunk's array, never written to
        if plans[j].platform is Platform.FARGATE and step_s < FARGATE_MINIMUM_BILLED_SECONDS:
            o.fargate_minimum_extra_s = fargate_minimum_extra_seconds(provisioned[u], step_s)
        if keep:
            o.series = {
                "held_demand_rps": held.demand.astype(np.float64),
                "desired_replicas": desired[u].copy(),
                "provisioned_replicas": provisioned[u].copy(),
                "ready_replicas": ready_rows[w].copy(),
                "lost_replicas": _dense(lost_rows.get(j), n),
                "backlog_requests": np.zeros(n) if backlog is None else backlog.requests,
                "nodes": np.asarray(nodes[u], dtype=np.float64),
                "nodes_on_demand": np.asarray(on_demand_nodes[u], dtype=np.float64),
                "nodes_spot": np.asarray(nodes[u] - on_demand_nodes[u], dtype=np.float64),
                "overloaded": overloaded[w].copy(),
                "load_bin": loads.bins[w].copy(),
                "late_share": late_share(loads, w, n),
            }
    return outcomes


Lost = tuple[npt.NDArray[np.int64], FloatArray]  # (steps, replicas lost) at the steps with any


def _dense(lost: Lost | None, n: int) -> FloatArray:
    out = np.zeros(n)
    if lost is not None:
        out[lost[0]] = lost[1]
    return out


def _spot_losses(
    group: list[PlanSetup],
    spot_rows: list[int],
    nodes: F32Array,
    on_demand_nodes: F32Array,
    ready: F32Array,
    rows: list[int],
    outcomes: list[Outcome],
    seeds: list[int],
    step_s: int,
) -> tuple[dict[int, Lost], dict[int, F32Array]]:
    """Draw each spot plan's interruptions and pool reclaims and fill in their costs; plan row j's replicas
    are row ``rows[j]`` of ``nodes``, ``on_demand_nodes`` and ``ready`` (never written to).

    Returns, for each plan row that lost any replica: the lost replicas per step, and its ready replicas
    after the losses (its own copy).
    """
    lost_rows: dict[int, Lost] = {}
    lost_ready: dict[int, F32Array] = {}
    for j in spot_rows:
        u = rows[j]
        lost = _draw_losses(group[j], nodes[u] - on_demand_nodes[u], outcomes[j], seeds[j], step_s)
        if lost is None:
            continue
        lost_rows[j] = lost
        steps, out = lost
        mine = ready[u].copy()
        before = mine[steps]
        outcomes[j].lost_replica_steps = float(np.minimum(out, before).sum())
        mine[steps] = np.maximum(before - out, 0.0)
        lost_ready[j] = mine
    return lost_rows, lost_ready


def _draw_losses(s: PlanSetup, spot_row: F32Array, o: Outcome, seed: int, step_s: int) -> Lost | None:
    """One plan's lost replicas as (steps, replicas) at the steps with any (None when nothing is lost);
    counts and overheads into ``o``."""
    n = spot_row.size
    plan, pools = s.plan, s.prices.spot_pools
    rng = spotmod.plan_rng(seed, s.key)
    events = spotmod.draw_interruptions(spot_row, [p.monthly_interruption_rate for p in pools], step_s, rng)
    given = plan.spot.pool_reclaims_per_month
    rates = [p.monthly_interruption_rate if given is None else given for p in pools]
    reclaims = spotmod.draw_pool_reclaims(spot_row, rates, plan.spot.pool_reclaim_share, step_s, rng)
    o.interruptions, o.pool_reclaims = events.count, reclaims.count
    if events.count == 0 and reclaims.count == 0:
        return None
    rpn = plan.replicas_per_node
    outages = spotmod.lost_replica_steps(events, n, rpn, s.notice_steps, s.replacement_steps)
    elsewhere = len(pools) > 1 or plan.spot_fallback  # somewhere to launch replacements
    back = (
        s.replacement_steps
        if elsewhere
        else max(s.replacement_steps, steps_for(plan.spot.pool_outage_s, step_s))
    )
    outages += spotmod.lost_to_reclaims(reclaims, n, rpn, s.notice_steps, back)
    steps, lost = outages.per_step()
    np.minimum(lost, spot_row[steps].astype(np.float64) * rpn, out=lost)  # overlapping: spot nodes go once
    overhead = functools.partial(
        spotmod.overhead_usd,
        n_steps=n,
        step_s=step_s,
        notice_s=plan.spot.notice_s,
        spot_usd_per_hour=[p.usd_per_node_hour for p in pools],
        on_demand_usd_per_hour=s.prices.on_demand_usd_per_node_hour,
        fallback_hold_s=plan.spot.fallback_hold_s,
    )
    overlap, premium = overhead(events, fallback=plan.spot_fallback)
    each = np.repeat(np.arange(reclaims.count), reclaims.nodes.astype(np.int64))  # one event per node
    nodes_hit = spotmod.Interruptions(reclaims.steps[each], reclaims.pools[each])
    fallback = plan.spot_fallback and len(pools) == 1  # else the other pools host them, as spot
    more_overlap, more_premium = overhead(nodes_hit, fallback=fallback)
    o.notice_overlap_usd, o.fallback_premium_usd = overlap + more_overlap, premium + more_premium
    return steps, lost
