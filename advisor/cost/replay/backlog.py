"""Requests that arrive faster than the replicas can serve wait, and the wait carries into later steps.

Fluid model per plan: in step t, ``demand_t × step`` requests arrive and the ready replicas serve at most
``ready_t × μ`` per second, μ = concurrency ÷ service time (the queue's saturation rate, above the SLO
capacity). The backlog at the end of a step is Lindley's recursion
b_t = max(0, b_{t−1} + (d_t − ready_t·μ)·Δ), vectorised as b_t = S_t − min(−b_start, min_{k≤t} S_k) with
S the cumulative sum of the net arrivals. The profile is cyclic, so the backlog entering the first step is
the one leaving the last (a second pass).

Who drains it depends on the load balancer (``advisor.cost.replay.balancing``). Behind least outstanding
requests one shared backlog waits for whichever replica frees first: net inflow d − ready·μ, and an arrival
behind B waits B ÷ (ready·μ). Behind a random or round-robin split each replica queues what it was sent: the
same recursion runs on one replica's inflow d ÷ ready − μ, so the replicas ready since the burst began (the
holders) hold the most and drain last, at μ less their even share of the new arrivals however many replicas
have joined since; an arrival sent to a holder waits b ÷ μ. The requests waiting are then counted as the
holders' backlog (a lower bound: replicas that joined during the burst hold some too).

Counted in the SLO figures: where the wait behind the backlog exceeds the SLO, the requests sent to the
holders (holders ÷ ready of the step's, all of them when pooled) are late and fall in the overload bin; a
step with over 1 % of its requests late counts as overloaded. A burst is paid for until its backlog drains,
not only while demand is above capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]


def window_columns(
    hot: npt.NDArray[np.intp],
    before: int | npt.NDArray[np.intp],
    after: int | npt.NDArray[np.intp],
    n: int,
    origin: int | npt.NDArray[np.intp] = 0,
) -> npt.NDArray[np.intp]:
    """The steps within [h − before, h + after) of any of the sorted steps ``hot``, in order, without
    touching the other steps (a year has half a million); each window within [origin, origin + n).
    ``before``, ``after`` and ``origin`` may be given per hot step (rows of a batch laid end to end)."""
    lo = np.maximum(hot - before, origin)
    hi = np.minimum(hot + after, origin + n)
    # a window not overlapping the ones before starts a run of windows
    new = np.concatenate(([True], lo[1:] > np.maximum.accumulate(hi)[:-1]))
    starts = lo[new]
    ends = np.maximum.reduceat(hi, np.flatnonzero(new))
    lengths = ends - starts
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    out: npt.NDArray[np.intp] = np.arange(int(lengths.sum())) + offsets
    return out


@dataclass(frozen=True)
class Backlog:
    """One plan's backlog at the steps ``steps`` (sorted; nothing waits at the end of the others): requests
    waiting at the step's end, how long an arrival behind them waits (seconds), and how many replicas hold
    them. Kept at those steps only: a year has half a million, a burst's backlog a few dozen."""

    n: int
    steps: npt.NDArray[np.intp]
    requests_at: FloatArray
    wait_s_at: FloatArray
    holders_at: FloatArray

    @property
    def requests(self) -> FloatArray:
        """Requests waiting at the end of every step."""
        out = np.zeros(self.n)
        out[self.steps] = self.requests_at
        return out

    @property
    def max_requests(self) -> float:
        return float(self.requests_at.max()) if self.requests_at.size else 0.0


def carried_backlog(
    demand: F32Array,
    ready: F32Array,
    mu: Sequence[float],
    pooled: Sequence[bool],
    excess: npt.NDArray[np.bool_],
    step_s: int,
) -> list[Backlog]:
    """The backlog of each plan (rows of ``ready`` replicas serving at most ``mu[j]`` requests/s each) under
    arrivals ``demand`` (steps,); ``excess`` marks the steps where arrivals exceed what the ready serve.

    ``pooled``: every ready replica drains one shared backlog (least outstanding requests); else each
    replica queues what it was sent (random and round-robin splits), and the replicas ready when the burst
    began hold the most. Computed on windows from each step where arrivals exceed service until the backlog
    has drained (widened when it has not by a window's end; the whole row when it still has not).
    """
    out = []
    n = demand.size
    for j in range(ready.shape[0]):
        hot = np.flatnonzero(excess[j])
        span = 32
        while span < n:
            cols = window_columns(hot, 0, span, n)
            r = ready[j, cols].astype(np.float64)
            row = _windowed(_net(demand[cols], r, mu[j], pooled[j], step_s), cols, n)
            if row is not None:
                found = _describe(row, r, mu[j], pooled[j], np.concatenate(([True], np.diff(cols) > 1)))
                break
            span *= 8
        else:
            cols = np.arange(n)
            r = ready[j].astype(np.float64)
            row = _lindley(_net(demand, r, mu[j], pooled[j], step_s))
            found = _describe(row, r, mu[j], pooled[j], np.zeros(n, dtype=bool))
        keep = found[0] > 0
        out.append(Backlog(n, cols[keep], found[0, keep], found[1, keep], found[2, keep]))
    return out


def _net(demand: F32Array, ready: FloatArray, mu: float, pooled: bool, step_s: int) -> FloatArray:
    """Net arrivals per step into the shared backlog (pooled) or into one replica's (split)."""
    d = demand.astype(np.float64)
    if pooled:
        out: FloatArray = (d - ready * mu) * step_s
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        per_replica = np.where(ready > 0, d / ready, d)
    out = (per_replica - mu) * step_s
    return out


def _describe(
    backlog: FloatArray, ready: FloatArray, mu: float, pooled: bool, new_window: npt.NDArray[np.bool_]
) -> FloatArray:
    """(requests waiting, wait in s, holders) from the Lindley result: the shared backlog, or the backlog
    of one of the replicas ready since the burst began, which hold the most and drain last."""
    if pooled:
        with np.errstate(divide="ignore", invalid="ignore"):
            wait = np.where(backlog > 0, backlog / (ready * mu), 0.0)
        return np.vstack([backlog, wait, ready])
    before = np.concatenate(([0.0], backlog[:-1]))
    begins = (backlog > 0) & ((before <= 0) | new_window)
    first = np.maximum.accumulate(np.where(begins, np.arange(backlog.size), 0))
    holders = np.where(backlog > 0, np.minimum(np.maximum(ready[first], 1.0), np.maximum(ready, 1.0)), 0.0)
    return np.vstack([backlog * holders, backlog / mu, holders])


def _lindley(net: FloatArray) -> FloatArray:
    """The whole cyclic row (module docstring)."""
    cumulative = np.cumsum(net)
    lowest = np.minimum.accumulate(cumulative)
    start = cumulative[-1] - min(float(lowest[-1]), 0.0)  # the backlog leaving the cycle enters it again
    out: FloatArray = np.maximum(cumulative - np.minimum(lowest, -start), 0.0)
    return out


def _windowed(values: FloatArray, cols: npt.NDArray[np.intp], n: int) -> FloatArray | None:
    """Lindley's recursion on windows of steps ``cols`` (net arrivals ``values``), each starting empty (the
    step before a window has no backlog); None when a window ends with requests still waiting."""
    if cols[-1] == n - 1 or cols[0] == 0:
        return None  # the cycle's ends meet: the whole row decides
    starts = np.concatenate(([True], np.diff(cols) > 1))
    segment = np.cumsum(starts) - 1
    cumulative = np.cumsum(values)
    before = np.concatenate(([0.0], cumulative))[np.flatnonzero(starts)][segment]
    within = cumulative - before
    big = 4.0 * (float(np.abs(values).sum()) + 1.0)  # keeps each window's running minimum its own
    lowest = np.minimum.accumulate(within - segment * big) + segment * big
    backlog = within - np.minimum(lowest, 0.0)
    ends = np.concatenate((np.flatnonzero(starts)[1:] - 1, [cols.size - 1]))
    if np.any(backlog[ends] > 0.5):
        return None
    out: FloatArray = np.maximum(backlog, 0.0)
    return out


def late_requests(backlog: Backlog, ready: F32Array, slo_s: float) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The steps whose arrivals wait over the SLO behind the backlog carried in from the step before, and
    the share of each step's requests that do (those sent to the replicas holding it)."""
    waiting = np.flatnonzero(backlog.wait_s_at > slo_s)
    steps = (backlog.steps[waiting] + 1) % backlog.n
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(ready[steps] > 0, np.minimum(backlog.holders_at[waiting] / ready[steps], 1.0), 1.0)
    return steps, share
