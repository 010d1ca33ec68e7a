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


def carried_backlog(demand: F32Array, service_rps: F32Array, step_s: int) -> FloatArray:
    """Requests waiting at the end of each step (plans × steps), for arrivals ``demand`` (steps,) and the
    rate the ready replicas serve at, ``service_rps`` (plans × steps)."""
    net = (demand[None, :].astype(np.float64) - service_rps) * float(step_s)
    cumulative = np.cumsum(net, axis=1)
    lowest = np.minimum.accumulate(cumulative, axis=1)
    first = cumulative - np.minimum(lowest, 0.0)
    start = first[:, -1:]  # the backlog leaving the cycle enters it again
    out: FloatArray = cumulative - np.minimum(lowest, -start)
    np.maximum(out, 0.0, out=out)
    return out


def late_steps(backlog: FloatArray, service_rps: F32Array, slo_s: F32Array) -> npt.NDArray[np.bool_]:
    """Steps whose arrivals wait over the SLO behind the backlog carried in from the step before."""
    entering = np.roll(backlog, 1, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait_s = entering / service_rps
    out: npt.NDArray[np.bool_] = (entering > 0.5) & ~(wait_s <= slo_s)  # 0/0 (nothing waits) is not late
    return out
