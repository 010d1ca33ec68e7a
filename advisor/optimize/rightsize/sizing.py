"""Closed-form sizing rules the right-sizing search builds its plans with.

- :func:`on_demand_base_for_spot`: the smallest on-demand base that survives losing the largest spot pool;
- :func:`search_envelope`: the coarse demand envelope the search replays (confirmed on the real step later);
- :func:`rolling_max_ahead`: the traffic's climb within a scale-up delay (for the autoscaling maximum).

Pure numpy over a profile's rates; no replay here.
"""

from __future__ import annotations

import numpy as np

from advisor.recommendation.plan import AutoscalingPolicy
from advisor.traffic.profile import TrafficProfile

# The search replays a 3-minute envelope of the demand (the maximum of each 3 minutes, so overload is never
# hidden by averaging); the chosen plans are confirmed on the profile's own step.
SEARCH_STEP_S = 180


def on_demand_base_for_spot(
    demand_rps: np.ndarray,
    rps_per_replica: float,
    replicas_per_node: int,
    policy: AutoscalingPolicy,
    spot_pct: float,
    pools: int,
    min_base: int,
) -> int:
    """The smallest on-demand base (nodes) that survives the loss of the largest spot pool at every step.

    At each step the autoscaler runs ``N = ceil(replicas / replicas_per_node)`` nodes with
    ``replicas = clip(ceil(demand / (capacity × target)), min, max)``; with base B, the on-demand nodes are
    ``min(N, B) + ceil((N − B)⁺ × (100 − spot %) / 100)`` (rounded in favour of on-demand, as EC2 Auto Scaling
    does) and the spot nodes, spread evenly over ``pools`` types, lose ``ceil(spot / pools)`` when one pool is
    reclaimed. B is the least base (at least ``min_base``) for which the nodes left still hold
    ``ceil(demand / capacity)`` replicas - the demand at the SLO - everywhere. Worked example: 10 nodes of one
    replica, 2 pools, 100 % spot, demand needing 7: B = 0 leaves 10 − 5 = 5 < 7; B = 4 gives 6 spot nodes,
    3 lost, 7 left: B = 4.
    """
    per_replica = rps_per_replica * policy.target_utilisation
    # Only the worst need at each node count matters. Nodes and need both grow with the demand, so over
    # the demand in ascending order (the search passes it sorted) each node count's worst need is at the
    # last step with that count.
    d = demand_rps if bool(np.all(demand_rps[1:] >= demand_rps[:-1])) else np.sort(demand_rps)
    replicas = np.clip(np.ceil(d / per_replica - 1e-9), policy.min_replicas, policy.max_replicas)
    nodes = np.ceil(replicas / replicas_per_node - 1e-9)
    last = (
        np.concatenate((np.flatnonzero(nodes[1:] != nodes[:-1]), [nodes.size - 1]))
        if nodes.size
        else np.zeros(0, int)
    )
    n_arr = nodes[last].astype(np.float64)
    need_arr = np.ceil(d[last] / rps_per_replica - 1e-9)
    top = int(n_arr.max()) if n_arr.size else 0
    for base in range(min_base, top + 1):
        above = np.maximum(n_arr - base, 0.0)
        on_demand = np.minimum(n_arr, base) + np.ceil(np.round(above * (100.0 - spot_pct) / 100.0, 9))
        spot = n_arr - on_demand
        lost = np.ceil(spot / max(pools, 1))
        if np.all((n_arr - lost) * replicas_per_node >= need_arr):
            return base
    return max(top, min_base)


# ----- helpers ---------------------------------------------------------------------------------------


def search_envelope(profile: TrafficProfile, step_s: int = SEARCH_STEP_S) -> TrafficProfile:
    """The profile at ``step_s`` holding the maximum rate of each window (itself if already that coarse).

    Replaying the envelope can only overstate overload and cost, never hide them, so a plan within budget
    on it is very likely within budget on the profile; the confirmation replays the profile itself.
    """
    if profile.step_s >= step_s or step_s % profile.step_s:
        return profile
    k = step_s // profile.step_s
    whole = profile.steps // k
    if whole < 2:
        return profile

    def build() -> TrafficProfile:
        rates = profile.rps[: whole * k].reshape(whole, k).max(axis=1)
        return profile.replace(rps=rates, step_s=step_s, name=f"{profile.name} ({step_s} s envelope)")

    out: TrafficProfile = profile.memo(("search_envelope", step_s), build)
    return out


def rolling_max_ahead(d: np.ndarray, steps: int) -> np.ndarray:
    """max(d[t+1 .. t+steps]) for every t (cyclic, like the replay), by doubling spans."""
    n = d.size
    m = d[np.arange(1, n + steps) % n] if n else d  # m[t] = d[t+1], and on past the end cyclically
    span = 1
    while span * 2 <= steps:  # m[t] = max(d[t+1 .. t+span]), span doubling
        m = np.maximum(m[:-span], m[span:])
        span *= 2
    out: np.ndarray = np.maximum(m[:n], m[steps - span : steps - span + n])
    return out
