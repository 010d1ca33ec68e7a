"""The Kubernetes HorizontalPodAutoscaler's scale-up, as the replay follows it (``algorithm: hpa``).

What the HPA does each sync period (``--horizontal-pod-autoscaler-sync-period``, default 15 s; kubernetes.io,
"Horizontal Pod Autoscaling", algorithm details, and ``pkg/controller/podautoscaler/replica_calculator.go``):

- desiredReplicas = ceil(currentReplicas × currentMetric / target), skipped within the tolerance (0.1);
- a **pod metric** (CPU, or the requests/s a pod reports serving, as ``advisor apply`` configures) is what
  the ready pods do, so it saturates: a pod cannot report more than the work it can do. Pods that are not
  ready yet (starting, loading the model) are counted at 0 % when the HPA would scale up, which "dampens
  the magnitude of a scale up". Together: with R ready pods each at most
  at saturation s (requests/s at 100 % CPU), desired = ceil(min(demand, R·s) / (capacity × target));
- the result is limited by ``behavior.scaleUp.policies`` (default: 100 % or 4 pods per 15 s, the larger),
  then by the scale-down stabilisation window (the highest recommendation of the last 300 s) and
  [minReplicas, maxReplicas].

So after a jump the replicas grow in waves: each wave multiplies the ready pods by at most s/(capacity ×
target) and lasts one start-up delay. The simple model (``advisor.cost.replay.autoscaler``) grants the
whole jump in one delay: on a square wave 20 → 200 rps with 60 s start-ups it counts 2.25 minutes over the
SLO per jump where the HPA (``tests/unit/cost/test_hpa_replay.py``) spends 6. A **requests metric** (an
external metric on the load balancer or ingress, e.g. KEDA's Prometheus scaler, ALB RequestCountPerTarget)
counts arrivals, does not saturate and is not averaged over pods, so only the rate limit applies.

Vectorised without a loop over steps: the replica trajectory p is the greatest fixed point of the monotone
map F(p) = stabilise(max(floor, min(desired, cap(ready(p)), limit(p shifted by a period)))); starting from
the unconstrained trajectory (an upper bound), each pass of F is one vectorised pass over the arrays and the
iteration decreases to the fixed point; it stops when a pass changes nothing (a few passes per wave, only
on the rows that change). The replay's step is the HPA's clock: at steps longer than the sync period the
policies' allowance per period compounds over the syncs in a step; the sync itself and the metric lag belong
in ``scale_up_delay_s``. Not modelled: the scale-down side of the not-ready rule (not-ready pods counted at
100 % on scale-down) and scale-up stabilisation windows above 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from advisor.cost.replay.autoscaler import trailing_max, trailing_min
from advisor.cost.replay.backlog import window_columns

F32Array = npt.NDArray[np.float32]
MAX_PASSES = 400  # a pass per step of the longest scale-up in the worst case; far fewer in practice
_SLACK = 4e-6
_UNBOUNDED = 1e8


class Growth(NamedTuple):
    """One scale-up policy per replay step: p_t ≤ p_{t−lag} × factor + pods (a tuple: hashed in C, for
    the rate columns' cache)."""

    lag: int
    factor: float
    pods: float


def growth_limits(policies: Sequence[tuple[str, int, int]], step_s: int, sync_s: float) -> tuple[Growth, ...]:
    """The policies ((type, value, period_s), selectPolicy Max) as per-step limits.

    A period shorter than the step compounds over the syncs within the step (the HPA applies the policy at
    each sync); a longer one limits growth over that many steps. Kept per distinct policies (every plan of
    a search has one of a few).
    """
    return _growth_limits(tuple(policies), step_s, sync_s)


@functools.lru_cache(maxsize=256)
def _growth_limits(
    policies: tuple[tuple[str, int, int], ...], step_s: int, sync_s: float
) -> tuple[Growth, ...]:
    out = []
    syncs = max(1.0, step_s / sync_s)
    for kind, value, period in policies:
        repeats = min(syncs, max(1.0, step_s / period))
        lag = max(1, round(period / step_s))
        if kind == "Percent":  # capped where it could not bind (replica counts stay below 2**24)
            out.append(Growth(lag, min((1.0 + value / 100.0) ** repeats, _UNBOUNDED), 0.0))
        else:
            out.append(Growth(lag, 1.0, min(value * repeats, _UNBOUNDED)))
    return tuple(out)


def hpa_trajectory(
    desired: F32Array,
    floor: F32Array,
    stabilisation_steps: int,
    delay_steps: int,
    saturation: Sequence[float],
    growth: Sequence[tuple[Growth, ...]],
    *,
    start: tuple[F32Array, F32Array] | None = None,
) -> tuple[F32Array, F32Array]:
    """(provisioned, ready) replicas under the HPA's scale-up rules (module docstring).

    ``desired``: the unconstrained recommendations (plans × steps, already within the floor and the
    maximum); ``floor``: the minimum per plan (column) or per step; ``saturation[j]``: replicas one ready
    pod's saturated metric justifies (s / (capacity × target); ``inf`` for a requests metric);
    ``growth[j]``: plan j's scale-up policies (empty = no limit); ``start``: the unconstrained
    (provisioned, ready) when the caller has them (the trailing max of ``desired`` over the stabilisation
    window, and its trailing min over the delay).

    The passes run only on windows around the steps where the unconstrained trajectory breaks a rule
    (with the steps before them that the windows look back on); a window that has not caught up with the
    unconstrained trajectory by its end is widened, and after a few widenings the whole row is iterated.
    """
    if start is None:
        provisioned = trailing_max(desired, stabilisation_steps + 1)
        ready = trailing_min(provisioned, delay_steps + 1)
    else:
        provisioned, ready = start
    rows = [j for j in range(desired.shape[0]) if math.isfinite(saturation[j]) or growth[j]]
    if not rows:
        return provisioned, ready
    solve = _binding(provisioned, ready, desired, rows, saturation, growth)
    if not solve:
        return provisioned, ready
    provisioned = provisioned.copy() if provisioned is desired else provisioned
    ready = ready.copy() if ready is provisioned or ready is desired else ready
    windows = (stabilisation_steps, delay_steps)
    pending = []
    for j, binding in solve:
        lags = max((g.lag for g in growth[j]), default=1)
        context = stabilisation_steps + delay_steps + lags + 2
        pending.append(_Windows(j, binding, context, 8 * (delay_steps + 1) + context))
    rules = _Rules(saturation, growth, floor)
    for _ in range(4):
        solved = _solve_windows(provisioned, desired, pending, rules, windows)
        provisioned[solved.rows, solved.cols], ready[solved.rows, solved.cols] = solved.replicas, solved.ready
        pending = [
            replace(w, span=w.span * 4) for w, ok in zip(pending, solved.caught_up, strict=True) if not ok
        ]
        if not pending:
            break
    for w in pending:
        j = w.row
        rule = _Rule(
            np.asarray([[saturation[j]]], dtype=np.float32), _rate_columns([growth[j]]), floor[j : j + 1]
        )
        provisioned[j] = _solve_row(provisioned[j], desired[j], rule, windows)
        ready[j] = trailing_min(provisioned[j][None], delay_steps + 1)[0]
    return provisioned, ready


def _binding(
    provisioned: F32Array,
    ready: F32Array,
    desired: F32Array,
    rows: list[int],
    saturation: Sequence[float],
    growth: Sequence[tuple[Growth, ...]],
) -> list[tuple[int, npt.NDArray[np.intp]]]:
    """(row, steps) where the row wants more than its rules allow on the unconstrained trajectory, for the
    rows with any; found for every row at once.

    The rules allow at least the ready replicas (saturation >= 1, growth >= the replicas a period ago, which
    are at least the ready ones when every period is one step), so then only the steps that want more than
    is ready are checked; with longer periods every step is.
    """
    sat = np.asarray([[saturation[j]] for j in rows], dtype=np.float32)
    rates = _rate_columns([growth[j] for j in rows])
    if len(rows) == desired.shape[0]:  # every row (read only here): no copies
        p, r, want = provisioned, ready, desired
    else:
        p, r, want = provisioned[rows], ready[rows], desired[rows]
    if any(lag > 1 for lag, _, _ in rates):
        k, at = np.nonzero(want > _bound(p, r, sat, rates))
    else:
        k, at = np.nonzero(want > r)
        with np.errstate(invalid="ignore"):
            cap = np.ceil(r[k, at] * sat[k, 0] * np.float32(1 - _SLACK))
        cap = np.maximum(np.where(np.isnan(cap), np.float32(np.inf), cap), 1.0)
        for lag, factor, pods in rates:
            before = p[k, at - lag]  # cyclic: the first steps look back on the last
            with np.errstate(invalid="ignore"):
                allowed = np.ceil(np.maximum(before * factor[k, 0], before + pods[k, 0]) - np.float32(_SLACK))
            cap = np.minimum(cap, allowed)
        over = want[k, at] > cap
        k, at = k[over], at[over]
    if k.size == 0:
        return []
    starts = np.searchsorted(k, np.arange(len(rows) + 1))
    return [(j, at[starts[i] : starts[i + 1]]) for i, j in enumerate(rows) if starts[i + 1] > starts[i]]


@dataclass(frozen=True)
class _Rule:
    """One plan's scale-up rules: saturation (1 × 1), rate columns, floor (1 × 1 or 1 × steps)."""

    sat: F32Array
    rates: RateColumns
    floor: F32Array

    def bound(self, p: F32Array, r: F32Array) -> F32Array:
        return _bound(p, r, self.sat, self.rates)

    def step(self, p: F32Array, want: F32Array, floor: F32Array, windows: tuple[int, int]) -> F32Array:
        """F(p): the trajectory the rules give when the replicas so far were ``p`` (1 × steps)."""
        ready = trailing_min(p, windows[1] + 1)
        return trailing_max(np.maximum(np.minimum(want, self.bound(p, ready)), floor), windows[0] + 1)


def _solve_row(p: F32Array, want: F32Array, rule: _Rule, windows: tuple[int, int]) -> F32Array:
    current = p[None].copy()
    for _ in range(MAX_PASSES):
        new = rule.step(current, want[None], rule.floor, windows)
        if np.array_equal(new, current):
            break
        current = new
    out: F32Array = current[0]
    return out


@dataclass(frozen=True)
class _Windows:
    """A row's steps where the unconstrained trajectory breaks a rule, with the look-back (``context``) and
    the look-ahead (``span``) of the windows solved around them."""

    row: int
    binding: npt.NDArray[np.intp]
    context: int
    span: int


@dataclass(frozen=True)
class _Rules:
    """Every row's scale-up rules (:func:`hpa_trajectory`'s arguments), to be laid out per column."""

    saturation: Sequence[float]
    growth: Sequence[tuple[Growth, ...]]
    floor: F32Array

    def along(self, order: list[int], at: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]) -> _Rule:
        """The rules laid out per column: column k is step ``cols[k]`` of row ``order[at[k]]``."""
        rows = np.asarray(order)[at]
        sat = np.asarray([self.saturation[j] for j in order], dtype=np.float32)[at][None]
        rows_here = at[np.concatenate(([True], at[1:] != at[:-1]))].tolist()  # ``at`` is sorted
        present = {g.lag for k in rows_here for g in self.growth[order[k]]}
        rates = [
            (lag, factor[at, 0][None], pods[at, 0][None])
            for lag, factor, pods in _rate_columns([self.growth[j] for j in order])
            if lag in present  # the lags of the rows laid out here only
        ]
        floor = self.floor[rows, 0][None] if self.floor.shape[1] == 1 else self.floor[rows, cols][None]
        return _Rule(sat, rates, floor)


@dataclass(frozen=True)
class _Solved:
    """What :func:`_solve_windows` found: the steps it may change, as (rows, cols) with their replicas and
    ready replicas, and per pending row whether its windows caught up (those of the others are left out)."""

    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]
    replicas: F32Array
    ready: F32Array
    caught_up: list[bool]


def _solve_windows(
    provisioned: F32Array,
    desired: F32Array,
    pending: list[_Windows],
    rules: _Rules,
    windows: tuple[int, int],
) -> _Solved:
    """The fixed point on the windows [b − context, b + span) around each row's binding steps b, for the
    rows whose windows' last ``context`` steps all caught up with the unconstrained trajectory.

    The windows of all rows are laid end to end in one array (row k's steps at k × steps + step) and
    iterated side by side: the first ``context`` steps of a window are held at their values, and every other
    step looks back less than that, so windows do not see each other. A row with a window from step 0,
    which looks back cyclically on the row's last windows, is iterated on its own.
    """
    n = provisioned.shape[1]
    count = len(pending)
    order = [w.row for w in pending]
    context = np.asarray([w.context for w in pending])
    span = np.asarray([w.span for w in pending])
    at_hot = np.repeat(np.arange(count), [w.binding.size for w in pending])
    hot = np.concatenate([w.binding for w in pending]) + at_hot * n
    laid = window_columns(hot, context[at_hot], span[at_hot], n, origin=at_hot * n)
    at = laid // n  # the pending row of each laid step
    cols = laid - at * n
    new_row = np.concatenate(([True], at[1:] != at[:-1]))
    starts = np.concatenate(([True], np.diff(laid) > 1)) | new_row
    episode = np.cumsum(starts) - 1
    first = cols[starts][episode]
    last = cols[np.concatenate((starts[1:], [True]))][episode]
    ctx = context[at]
    lead = ((cols - first) < ctx) & (first > 0)  # steps before the episode: held at their values
    tail = (last - cols) < ctx  # must have caught up, unless every window of the row ends the row
    tail &= (np.bincount(at[tail & (last != n - 1)], minlength=count) > 0)[at]
    alone = cols[new_row] == 0  # per pending row: a window from step 0
    rows = np.asarray(order)[at]
    fixed = provisioned[rows, cols]
    current, ready = fixed.copy(), np.empty_like(fixed)
    for batch in [~alone[at], *(at == k for k in np.flatnonzero(alone))]:
        if batch.any():
            current[batch], ready[batch] = _iterate(
                desired, rules, order, at[batch], cols[batch], fixed[batch], lead[batch], windows
            )
    caught_up = np.bincount(at[tail & (current != fixed)], minlength=count) == 0
    keep = ~lead & caught_up[at]
    return _Solved(rows[keep], cols[keep], current[keep], ready[keep], caught_up.tolist())


def _iterate(
    desired: F32Array,
    rules: _Rules,
    order: list[int],
    at: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    fixed: F32Array,
    lead: npt.NDArray[np.bool_],
    windows: tuple[int, int],
) -> tuple[F32Array, F32Array]:
    """The fixed point of :func:`_solve_windows`' windows laid end to end (step ``cols[k]`` of row
    ``order[at[k]]``), from ``fixed``, the unconstrained trajectory; and its ready replicas."""
    want = desired[np.asarray(order)[at], cols][None]
    rule = rules.along(order, at, cols)
    current = fixed[None].copy()
    for _ in range(MAX_PASSES):
        new = rule.step(current, want, rule.floor, windows)
        new[0, lead] = fixed[lead]
        if np.array_equal(new, current):
            break
        current = new
    # the steps held at their values keep their ready replicas (the look-back there crosses windows);
    # after a window, ready looks back on its tail, which is unchanged
    ready = trailing_min(current, windows[1] + 1)[0]
    return current[0], ready


RateColumns = list[tuple[int, F32Array, F32Array]]


def _rate_columns(limits: Sequence[tuple[Growth, ...]]) -> RateColumns:
    """Per lag: each plan's factor and pods as columns (factor 0 and pods −inf where it has no such policy;
    pods +inf for a plan with no policy at all, which is never limited). Kept for the last few hundred
    lists of policies (a search replays the same few over and over); the columns are read-only."""
    return _rate_columns_of(tuple(limits))


@functools.lru_cache(maxsize=512)
def _rate_columns_of(limits: tuple[tuple[Growth, ...], ...]) -> RateColumns:
    out: RateColumns = []
    for lag in sorted({g.lag for gs in limits for g in gs}):
        factor = np.zeros((len(limits), 1), dtype=np.float32)
        pods = np.full((len(limits), 1), -np.inf, dtype=np.float32)
        for k, gs in enumerate(limits):
            if not gs:
                pods[k] = np.inf
            for g in gs:
                if g.lag != lag:
                    continue
                if g.pods > 0:  # policies of one period: the larger allowance wins (selectPolicy Max)
                    pods[k] = max(float(pods[k, 0]), g.pods)
                else:
                    factor[k] = max(float(factor[k, 0]), g.factor)
        out.append((lag, factor, pods))
    for _, factor, pods in out:
        factor.setflags(write=False)
        pods.setflags(write=False)
    return out


def _bound(p: F32Array, r: F32Array, sat: F32Array, rates: RateColumns) -> F32Array:
    """The most replicas the HPA may ask for at each step, given the trajectory so far."""
    with np.errstate(invalid="ignore"):
        bound = np.ceil(r * sat * np.float32(1 - _SLACK))  # inf × 0 = nan: no ready pod
    bound = np.where(np.isnan(bound), np.float32(np.inf), bound)
    np.maximum(bound, 1.0, out=bound)  # a pod always starts when none is ready (KEDA/min 1)
    if not rates:
        return bound
    rate = np.full_like(bound, -np.inf)
    for lag, factor, pods in rates:
        before = np.roll(p, lag, axis=-1)
        with np.errstate(invalid="ignore"):
            allowed = np.ceil(np.maximum(before * factor, before + pods) - np.float32(_SLACK))
        np.maximum(rate, allowed, out=rate)
    out: F32Array = np.minimum(bound, rate)
    return out
