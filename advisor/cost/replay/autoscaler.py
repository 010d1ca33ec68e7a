"""The autoscaler model of the replay, vectorised over time and over plans (no per-step Python loop).

Per step t of the profile (demand d_t requests/s), for a plan with per-replica capacity c and target
utilisation u:

1. **Tolerance (dead band).** The demand the autoscaler sizes for, z_t, only moves when d_t leaves
   [z(1 − tol), z(1 + tol)]: z_t = clamp(z_{t−1}, d_t/(1 + tol), d_t/(1 − tol)). This is the Kubernetes
   HPA's rule — skip scaling while |metric/target − 1| ≤ tolerance, default 0.1 (kubernetes.io, "Horizontal
   Pod Autoscaling", algorithm details; configurable per direction since v1.33, KEP-4951) — written on the
   demand instead of on the current replica count, which makes it a play (backlash) operator: a
   composition of clamps, computed once per profile with a parallel prefix scan. Leaving the band, this
   ``simple`` model sizes for the band's edge; the HPA and target tracking resize to the current demand
   itself (:func:`reset_deadband`, used for them), so after a rise they run at the target, not up to
   (1 + tol) × target, and after a fall they keep no more than the demand needs.
2. **Recommendation.** r_t = ceil(z_t / (c·u)), clipped to [min_replicas, max_replicas] (the HPA's
   desiredReplicas = ceil(current × metric/target) with metric = demand per replica).
3. **Scale-down stabilisation.** p_t = max(r over the last W steps), W = ceil(window/step) + 1: a drop
   takes effect one window after it starts (HPA ``scaleDown.stabilizationWindowSeconds``, default 300 s;
   scale-up has none by default). p is what is *provisioned*, and billed: instances bill from launch.
4. **Scale-up delay.** Replicas requested at t serve from t + D, D = ceil(delay/step), where delay =
   autoscaler reaction (metrics scrape + sync, or CloudWatch alarm periods) + node boot + model load.
   Replicas removed stop at once, and a pending replica is the first removed, so the serving count is
   a_t = min(p over the last D + 1 steps) — the exact result of that FIFO-launch/LIFO-cancel rule.

SageMaker and ECS/Fargate target tracking (Application Auto Scaling) map onto the same parameters: the
scale-out alarm needs 3 one-minute datapoints over target, the scale-in alarm 15 datapoints below it
(Application Auto Scaling User Guide, "Target tracking scaling policies"), and ``ScaleInCooldown`` /
``ScaleOutCooldown`` default to 300 s for SageMaker variants and ECS services (API reference,
TargetTrackingScalingPolicyConfiguration). So scale_up_delay ≈ 180 s + instance/task start, and
scale_down_stabilisation ≈ 900 s; tolerance 0. ``advisor.cost.baselines`` builds such plans.

The profile is treated as cyclic (a repeated day or week): the windows at its start look back into its
end, so the replay describes steady operation, not a cold start.

Simplifications, each on the conservative side: every new replica waits the full scale-up delay, even one
that fits on a node already running (so with replicas_per_node > 1 the delay is an upper bound); the
autoscaler sees demand itself, not a lagging utilisation metric (put the metric lag in the delay); HPA
scale-up rate limits (double or +4 pods per 15 s) are not modelled, as a 60 s step rarely meets them.
"""

from __future__ import annotations

import hashlib
import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from advisor.traffic.profile import TrafficProfile

FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]
# Replica counts are computed in float32 (exact for integers below 2**24); this slack absorbs float
# rounding so that demand of exactly k × capacity × target asks for k replicas, not k + 1.
_CEIL_SLACK = 4e-6


def steps_for(seconds: float, step_s: int) -> int:
    """Whole steps a delay of ``seconds`` spans (rounded up; 0 for 0)."""
    return max(0, math.ceil(seconds / step_s - 1e-9))


def deadband(demand: FloatArray, tolerance: float, down_tolerance: float | None = None) -> FloatArray:
    """The demand the autoscaler sizes for under a dead band (rule 1 of the module doc).

    ``tolerance`` is the band above the target (scale-up), ``down_tolerance`` the band below it (scale-in;
    None = the same). Cyclic: the state entering the first step is the state leaving the last. Both 0
    return the demand itself.
    """
    down = tolerance if down_tolerance is None else down_tolerance
    if tolerance <= 0 and down <= 0:
        return demand
    lo = demand / (1.0 + tolerance)
    hi = demand / (1.0 - down)
    a, b = lo.copy(), hi.copy()
    shift = 1
    n = demand.size
    while shift < n:  # Hillis–Steele scan of clamp compositions: log2(n) vectorised passes
        prev_a, prev_b = a[:-shift], b[:-shift]
        cur_a, cur_b = a[shift:], b[shift:]
        new_a = np.minimum(np.maximum(prev_a, cur_a), cur_b)
        new_b = np.minimum(np.maximum(prev_b, cur_a), cur_b)
        a[shift:], b[shift:] = new_a, new_b
        shift *= 2
    entering = min(max(float(demand[0]), a[-1]), b[-1])  # state after one full cycle from d_0
    out: FloatArray = np.minimum(np.maximum(entering, a), b)
    return out


def reset_deadband(
    demand: FloatArray, tolerance: float, down_tolerance: float | None = None, shape: bytes | None = None
) -> FloatArray:
    """The demand the HPA (and target tracking) sizes for: it keeps its size while the demand stays within
    the band around the demand it last sized for, and resizes *to the demand itself* when it leaves it.

    Vectorised without a loop over steps: from each step s, the next step that leaves the band around d_s
    comes from sparse tables of the band's edges (binary lifting, log2(n) passes); the chain of resizes
    from the start is then built by pointer doubling. Cyclic, as :func:`deadband`.

    Which step each step's size comes from depends on ratios of the demand, so the answer is kept for demand
    of the same shape (a fleet's models on one bundled profile at their own peaks) and tried on the next
    one: it is taken only when it follows the rule at every step of that demand (one vectorised check).
    ``shape``: :func:`shape_digest` of ``demand``, where the caller keeps it (worked out here otherwise).
    """
    down = tolerance if down_tolerance is None else down_tolerance
    if (tolerance <= 0 and down <= 0) or demand.size < 2:
        return demand
    lo = demand / (1.0 + tolerance)  # z stays while lo_t <= z <= hi_t
    hi = demand / (1.0 - down)
    key = (round(tolerance, 9), round(down, 9), shape_digest(demand) if shape is None else shape)
    kept = _SOURCES.get(key)
    if kept is None or not _follows_rule(demand, lo, hi, *kept):
        kept = _resize_sources(demand, lo, hi)
        with _SOURCES_LOCK:  # replays may run on threads (a Dask worker's)
            if len(_SOURCES) >= _SOURCES_KEPT:
                _SOURCES.pop(next(iter(_SOURCES)))
            _SOURCES[key] = kept
    out: FloatArray = demand[kept[1]]
    return out


# Resize steps by (tolerance, down tolerance, demand shape to 12 decimals of the peak): a look-up only,
# checked against the rule before use.
_SHAPE_DIGITS = 12
_SOURCES_KEPT = 64
Sources = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]
_SOURCES: dict[tuple[float, float, bytes], Sources] = {}
_SOURCES_LOCK = threading.Lock()


def shape_digest(demand: FloatArray) -> bytes:
    """The key of ``demand``'s shape: its steps over its peak, to 12 decimals, hashed."""
    peak = float(demand.max())
    shape = np.round(demand / peak, _SHAPE_DIGITS) if peak > 0 else demand
    return hashlib.blake2b(shape.tobytes(), digest_size=16).digest()


def _follows_rule(
    demand: FloatArray, lo: FloatArray, hi: FloatArray, first: IntArray, cycle: IntArray
) -> bool:
    """Whether the sizes ``demand[first]`` (a pass from d_0) and ``demand[cycle]`` (the cycle entered from
    that pass's last size) are what the rule gives on ``demand`` at every step."""
    if first.size != demand.size or first[0] != 0:
        return False
    z = demand[first]  # step 0 sizes to d_0; each later step keeps the size before it or takes its demand
    if not _steps_follow(demand[1:], lo[1:], hi[1:], z[:-1], z[1:]):
        return False
    cyclic = demand[cycle]
    return _steps_follow(demand, lo, hi, np.r_[z[-1], cyclic[:-1]], cyclic)


def _steps_follow(
    demand: FloatArray, lo: FloatArray, hi: FloatArray, before: FloatArray, after: FloatArray
) -> bool:
    inside = (lo <= before) & (before <= hi)
    return bool(np.array_equal(after, np.where(inside, before, demand)))


def _resize_sources(demand: FloatArray, lo: FloatArray, hi: FloatArray) -> Sources:
    """For each step, the step whose demand the autoscaler last resized to: on a pass from d_0, and on the
    cycle entered from that pass's last size (:func:`reset_deadband`)."""
    n = demand.size
    tables = [(lo, hi)]
    span = 1
    while span * 2 <= n:
        a, b = tables[-1]
        tables.append((np.maximum(a[:-span], a[span:]), np.minimum(b[:-span], b[span:])))
        span *= 2

    def first_exit(values: FloatArray, start: IntArray) -> IntArray:
        """For each value, the first step at or after ``start`` whose band excludes it (n if none)."""
        pos = start.copy()
        for k in range(len(tables) - 1, -1, -1):
            width = 1 << k
            a, b = tables[k]
            ok = pos + width <= n
            at = np.where(ok, pos, 0)
            inside = ok & (a[at] <= values) & (b[at] >= values)
            pos = np.where(inside, pos + width, pos)
        return pos

    def sources(resizes: IntArray, before: int) -> IntArray:
        resized = np.zeros(n, dtype=bool)
        resized[resizes] = True
        owner = np.maximum.accumulate(np.where(resized, np.arange(n), -1))  # the resize each step keeps
        out: IntArray = np.where(owner >= 0, owner, before)
        return out

    nxt = np.r_[first_exit(demand, np.arange(1, n + 1)), n]  # next resize after a resize at s; n = none
    first = sources(_chain(nxt, 0, n), 0)  # the pass from d_0: its last size is the state entering the cycle
    last = int(first[-1])
    start = int(first_exit(np.asarray([demand[last]]), np.asarray([0]))[0])
    cycle = sources(_chain(nxt, start, n), last) if start < n else np.full(n, last, dtype=np.intp)
    for out in (first, cycle):
        out.setflags(write=False)
    return first, cycle


def _chain(nxt: npt.NDArray[np.intp], start: int, n: int) -> npt.NDArray[np.intp]:
    """start, nxt[start], nxt[nxt[start]], ... while below n, by pointer doubling (log2 passes)."""
    seq = np.asarray([start])
    jump = nxt.copy()
    while seq[-1] < n:
        seq = np.concatenate([seq, jump[seq]])
        jump = jump[jump]
    return seq[seq < n]


def held_demand(
    profile: TrafficProfile, tolerance: float, down_tolerance: float | None = None, reset: bool = False
) -> FloatArray:
    """:func:`deadband` (or :func:`reset_deadband`) of a profile, memoised on the (immutable) profile."""
    down = tolerance if down_tolerance is None else down_tolerance
    key = ("deadband", round(tolerance, 9), round(down, 9), reset)
    if not reset:
        return profile.memo(key, lambda: deadband(profile.rps, tolerance, down))  # type: ignore[no-any-return]

    def held() -> FloatArray:  # the shape's key is the same for every tolerance: worked out once a profile
        return reset_deadband(
            profile.rps, tolerance, down, profile.memo("shape_digest", lambda: shape_digest(profile.rps))
        )

    return profile.memo(key, held)  # type: ignore[no-any-return]


def desired_replicas(held: F32Array, per_replica_rps: Any, min_replicas: Any, max_replicas: Any) -> F32Array:
    """r = clip(ceil(held / per_replica_rps), min, max) for rows of plans (rule 2).

    ``held`` is (plans, steps) or (steps,); the other arguments are per plan (column vectors) or scalars.
    ``per_replica_rps`` is capacity × target utilisation.
    """
    scale = (1.0 - _CEIL_SLACK) / np.asarray(per_replica_rps, dtype=np.float32)
    r: F32Array = np.multiply(held, scale, dtype=np.float32)  # one new array, then in place
    np.ceil(r, out=r)
    np.clip(r, np.asarray(min_replicas, dtype=np.float32), np.asarray(max_replicas, dtype=np.float32), out=r)
    return r


def trailing_max(x: F32Array, window: int) -> F32Array:
    """Max over the last ``window`` steps (cyclic), along the last axis."""
    return _trailing(x, window, np.maximum)


def trailing_min(x: F32Array, window: int) -> F32Array:
    """Min over the last ``window`` steps (cyclic), along the last axis."""
    return _trailing(x, window, np.minimum)


def _trailing(x: F32Array, window: int, op: Any) -> F32Array:
    if window <= 1:
        return x
    n = x.shape[-1]
    pad_idx = np.arange(n - (window - 1), n) % n
    padded = np.concatenate([x[..., pad_idx], x], axis=-1)
    span = 1
    m = padded
    while span * 2 <= window:  # m[i] = op(padded[i : i + span]) by doubling
        m = op(m[..., :-span], m[..., span:])
        span *= 2
    out: F32Array = op(m[..., :n], m[..., window - span : window - span + n])
    return out


def replica_trajectory(
    desired: F32Array, stabilisation_steps: int, delay_steps: int
) -> tuple[F32Array, F32Array]:
    """(provisioned, ready) replicas from recommendations (rules 3 and 4 of the module docstring)."""
    provisioned = trailing_max(desired, stabilisation_steps + 1)
    ready = trailing_min(provisioned, delay_steps + 1)
    return provisioned, ready
