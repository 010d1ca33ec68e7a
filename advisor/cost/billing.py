"""What the replay bills beyond node-steps: the on-demand/spot split of a node count and Fargate's minimum."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from advisor.pricing.fargate import FARGATE_MINIMUM_BILLED_SECONDS

F32Array = npt.NDArray[np.float32]


def on_demand_share(nodes: F32Array, base: F32Array, on_demand_pct: F32Array) -> F32Array:
    """On-demand nodes per step: the base first, then ``on_demand_pct`` % of the nodes above it, rounded up.

    Percentages are whole numbers (as in the ASG API), so a non-integer share is at least 0.01 above an
    integer and the 0.005 slack only absorbs float rounding.
    """
    share = np.subtract(nodes, base, dtype=np.float32)  # the nodes above the base, then in place
    np.maximum(share, np.float32(0), out=share)
    share *= on_demand_pct / np.float32(100)
    share -= np.float32(0.005)
    np.ceil(share, out=share)
    share += np.minimum(nodes, base)
    out: F32Array = share
    return out


def fargate_minimum_extra_seconds(tasks: F32Array, step_s: int) -> float:
    """Billed seconds added by the one-minute minimum for tasks living under a minute (steps < 60 s).

    Tasks occupy levels 1..tasks[t]; a rise launches the new levels, a fall stops the top ones (newest
    first). The tasks launched at t alive at least j steps number max(0, min(tasks[t..t+j-1]) - tasks[t-1]).
    """
    m = math.ceil(FARGATE_MINIMUM_BILLED_SECONDS / step_s)
    p = tasks.astype(np.float64)
    prev = np.roll(p, 1)
    window_min = p.copy()
    alive = [np.maximum(window_min - prev, 0.0)]  # alive[j-1]: launched at t, alive >= j steps
    for j in range(1, m):
        window_min = np.minimum(window_min, np.roll(p, -j))
        alive.append(np.maximum(window_min - prev, 0.0))
    extra = 0.0
    for j in range(1, m):
        lifetime_exactly_j = alive[j - 1] - alive[j]
        extra += float(lifetime_exactly_j.sum()) * (FARGATE_MINIMUM_BILLED_SECONDS - j * step_s)
    return extra
