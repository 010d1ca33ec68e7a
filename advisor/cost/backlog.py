"""Requests that arrive faster than the replicas can serve wait, and the wait carries into later steps.

Fluid model per plan: in step t, ``demand_t × step`` requests arrive and the ready replicas serve at most
``ready_t × μ`` per second, μ = concurrency ÷ service time (the queue's saturation rate, above the SLO
capacity). The backlog at the end of a step is Lindley's recursion
b_t = max(0, b_{t−1} + (d_t − ready_t·μ)·Δ), vectorised as b_t = S_t − min(−b_start, min_{k≤t} S_k) with
S the cumulative sum of the net arrivals. The profile is cyclic, so the backlog entering the first step is
the one leaving the last (a second pass).

Counted in the SLO figures: a request arriving behind a backlog B waits B ÷ (ready·μ) before its own
queueing; where that wait exceeds the SLO, every request of the step is late (the step is overloaded and its
requests fall in the overload bin), so a burst is paid for until its backlog drains, not only while demand
is above capacity.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]


def window_columns(hot: npt.NDArray[np.intp], before: int, after: int, n: int) -> npt.NDArray[np.intp]:
    """The steps within [h − before, h + after) of any of the sorted steps ``hot``, in order, without
    touching the other steps (a year has half a million)."""
    lo = np.maximum(hot - before, 0)
    hi = np.minimum(hot + after, n)
    new = np.r_[True, lo[1:] > np.maximum.accumulate(hi)[:-1]]  # a window not overlapping the ones before
    group = np.cumsum(new) - 1
    starts = lo[new]
    ends = np.zeros(starts.size, dtype=np.int64)
    np.maximum.at(ends, group, hi)
    lengths = ends - starts
    offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    out: npt.NDArray[np.intp] = np.arange(int(lengths.sum())) + offsets
    return out


def carried_backlog(
    demand: F32Array, service_rps: F32Array, excess: npt.NDArray[np.bool_], step_s: int
) -> FloatArray:
    """Requests waiting at the end of each step (plans × steps), for arrivals ``demand`` (steps,), the rate
    the ready replicas serve at, ``service_rps`` (plans × steps), and where arrivals exceed it, ``excess``.

    Computed on windows from each step where arrivals exceed service until the backlog has drained
    (widened when it has not by a window's end; the whole row when it still has not).
    """
    out = np.zeros(service_rps.shape, dtype=np.float64)
    n = demand.size
    for j in range(service_rps.shape[0]):
        hot = np.flatnonzero(excess[j])
        if hot.size == 0:
            continue
        span = 64
        while span < n:
            cols = window_columns(hot, 0, span, n)
            net = (demand[cols].astype(np.float64) - service_rps[j, cols]) * float(step_s)
            row = _windowed(net, cols, n)
            if row is not None:
                out[j, cols] = row
                break
            span *= 8
        else:
            out[j] = _lindley((demand.astype(np.float64) - service_rps[j]) * float(step_s))
    return out


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
    starts = np.r_[True, np.diff(cols) > 1]
    segment = np.cumsum(starts) - 1
    cumulative = np.cumsum(values)
    before = np.r_[0.0, cumulative][np.flatnonzero(starts)][segment]
    within = cumulative - before
    big = 4.0 * (float(np.abs(values).sum()) + 1.0)  # keeps each window's running minimum its own
    lowest = np.minimum.accumulate(within - segment * big) + segment * big
    backlog = within - np.minimum(lowest, 0.0)
    ends = np.r_[np.flatnonzero(starts)[1:] - 1, cols.size - 1]
    if np.any(backlog[ends] > 0.5):
        return None
    out: FloatArray = np.maximum(backlog, 0.0)
    return out


def late_steps(backlog: FloatArray, service_rps: F32Array, slo_s: F32Array) -> list[npt.NDArray[np.intp]]:
    """Per plan, the steps whose arrivals wait over the SLO behind the backlog carried in from the step
    before."""
    out = []
    n = backlog.shape[1]
    for j in range(backlog.shape[0]):
        waiting = np.flatnonzero(backlog[j] > 0.5)
        steps = (waiting + 1) % n
        with np.errstate(divide="ignore", invalid="ignore"):
            wait_s = backlog[j, waiting] / service_rps[j, steps]
        out.append(steps[~(wait_s <= slo_s[j, 0])])
    return out
