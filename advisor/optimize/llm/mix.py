"""The cheapest heterogeneous set of instances for an LLM's request-size buckets at one request rate.

Mélange's formulation (Griggs et al., arXiv 2404.14527; ``tyler-griggs/melange-release``,
``melange/solver.py`` at d46ab43): each bucket's rate is split into ``slice_factor`` equal slices; a slice
goes whole to one candidate; a candidate's load is the sum over its slices of slice rate / its capacity for
that slice's bucket (a replica's load adds up linearly across buckets); the integer count of each candidate
covers its load; minimise the hourly cost. Solved with scipy's MILP (HiGHS) rather than PuLP/CBC as Mélange
does: scipy is already a dependency and HiGHS reports its gap.

advisor's candidates are whole instances (an instance type at a tensor-parallel degree and purchase option,
hosting ``devices // tp`` replicas), so capacities are per instance and prices are the instance's. Pairs a
candidate cannot serve (capacity 0: the bucket does not fit its KV cache or misses the SLO) are removed
before solving. The routing rule of the answer (which share of each bucket goes to which candidate) is what a
router needs; :func:`best_single` is Mélange's baseline, the cheapest one candidate serving every bucket.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint

from advisor.errors import InputError
from advisor.optimize.highs import milp

MIP_REL_GAP = 1e-6
PER_BUCKET = 8
TIME_LIMIT_S = 20.0


@dataclass(frozen=True)
class MixCandidate:
    """One kind of instance the mix may use: its hourly price and requests/s it serves per bucket alone."""

    name: str
    usd_per_hour: float
    capacity_rps: Mapping[str, float]


@dataclass(frozen=True)
class Mix:
    """Instances per candidate, the hourly cost, and each bucket's routing (candidate → share of its rate)."""

    counts: dict[str, int]
    usd_per_hour: float
    routing: dict[str, dict[str, float]]
    load: dict[str, float] = field(default_factory=dict)

    @property
    def instances(self) -> int:
        return sum(self.counts.values())


def solve_mix(
    bucket_rps: Mapping[str, float],
    candidates: Sequence[MixCandidate],
    slice_factor: int = 4,
    per_bucket: int | None = PER_BUCKET,
) -> Mix:
    """The cheapest mix serving every bucket's rate; InputError when some bucket has no candidate at all.

    ``per_bucket`` keeps, for each bucket, only the candidates cheapest per request/s of it (the rest could
    only serve it at a higher price per request; None keeps all): the MILP's size stays in hundreds of
    binaries however many instance types there are."""
    if slice_factor < 1:
        raise InputError(f"slice_factor must be at least 1, not {slice_factor}")
    buckets = [b for b, r in bucket_rps.items() if r > 0]
    if not buckets:
        return Mix({}, 0.0, {})
    for b in buckets:
        if not any(c.capacity_rps.get(b, 0.0) > 0 for c in candidates):
            raise InputError(
                f"no candidate serves bucket {b} within the SLO",
                where="request sizes",
                fix="allow larger GPUs or tensor-parallel degrees, or relax the SLO",
            )
    candidates = undominated(candidates, buckets)
    single = best_single(bucket_rps, candidates)
    # the best single candidate stays allowed everywhere, so the MILP can always do at least as well
    alone = [k for k, c in enumerate(candidates) if single is not None and c.name in single.counts]
    slices = [(b, bucket_rps[b] / slice_factor) for b in buckets for _ in range(slice_factor)]
    allowed = {b: sorted({*_cheapest(candidates, b, per_bucket), *alone}) for b in buckets}
    pairs = [(s, k) for s, (b, _) in enumerate(slices) for k in allowed[b]]
    n_x, n_k = len(pairs), len(candidates)
    cost = np.concatenate([np.zeros(n_x), [c.usd_per_hour for c in candidates]])
    assign = np.zeros((len(slices), n_x + n_k))
    load = np.zeros((n_k, n_x + n_k))
    for j, (s, k) in enumerate(pairs):
        b, rate = slices[s]
        assign[s, j] = 1.0
        load[k, j] = rate / candidates[k].capacity_rps[b]
    load[np.arange(n_k), n_x + np.arange(n_k)] = -1.0
    upper = np.concatenate([np.ones(n_x), np.full(n_k, np.inf)])

    def solve(presolve: bool) -> np.ndarray | None:
        res = milp(
            cost,
            constraints=[LinearConstraint(assign, 1, 1), LinearConstraint(load, -np.inf, 0)],
            integrality=np.ones(n_x + n_k),
            bounds=Bounds(np.zeros(n_x + n_k), upper),
            options={"mip_rel_gap": MIP_REL_GAP, "time_limit": TIME_LIMIT_S, "presolve": presolve},
        )
        return None if res.x is None else np.round(res.x).astype(int)

    # HiGHS's presolve (scipy 1.17) has returned a costlier mix than the best single candidate as "optimal"
    # on LLM problems of some forty candidates; such an answer is solved again without it
    x = solve(presolve=True)
    if x is None or (single is not None and float(cost @ x) > single.usd_per_hour + 1e-9):
        x = solve(presolve=False)
    if x is None or (single is not None and float(cost @ x) > single.usd_per_hour + 1e-9):
        if single is None:  # pragma: no cover - every slice has a candidate, so the problem is feasible
            raise InputError("the mix could not be solved")
        return single
    counts = {candidates[k].name: int(x[n_x + k]) for k in range(n_k) if x[n_x + k] > 0}
    routing: dict[str, dict[str, float]] = {b: {} for b in buckets}
    loads: dict[str, float] = {}
    for j, (s, k) in enumerate(pairs):
        if x[j]:
            b, rate = slices[s]
            name = candidates[k].name
            routing[b][name] = routing[b].get(name, 0.0) + rate / bucket_rps[b]
            loads[name] = loads.get(name, 0.0) + rate / candidates[k].capacity_rps[b]
    usd = sum(candidates[k].usd_per_hour * x[n_x + k] for k in range(n_k))
    return Mix(counts, float(usd), routing, loads)


def _cheapest(candidates: Sequence[MixCandidate], bucket: str, keep: int | None) -> list[int]:
    """Indices of the candidates serving ``bucket``, the ``keep`` cheapest per request/s of it."""
    serving = [k for k, c in enumerate(candidates) if c.capacity_rps.get(bucket, 0.0) > 0]
    serving.sort(key=lambda k: candidates[k].usd_per_hour / candidates[k].capacity_rps[bucket])
    return sorted(serving if keep is None else serving[:keep])


def undominated(candidates: Sequence[MixCandidate], buckets: Sequence[str]) -> list[MixCandidate]:
    """The candidates no other beats: one that costs no more and serves at least as much of every bucket
    (strictly cheaper or more somewhere, or the same and listed first) makes it redundant. Fewer columns for
    the MILP, and the same optimum (a dominated candidate's slices can move to its dominator at no cost)."""
    if not candidates:
        return []
    price = np.asarray([c.usd_per_hour for c in candidates])
    caps = np.asarray([[c.capacity_rps.get(b, 0.0) for b in buckets] for c in candidates]).reshape(
        len(price), -1
    )
    no_worse = (price[:, None] <= price[None, :]) & np.all(caps[:, None, :] >= caps[None, :, :], axis=2)
    better = (price[:, None] < price[None, :]) | np.any(caps[:, None, :] > caps[None, :, :], axis=2)
    same = no_worse & ~better
    first = np.tril(np.ones((len(price), len(price)), dtype=bool), k=-1)  # [j, i]: j listed before i
    beaten = np.any(no_worse & better, axis=0) | np.any(same & first, axis=0)
    return [c for c, out in zip(candidates, beaten, strict=True) if not out]


def best_single(bucket_rps: Mapping[str, float], candidates: Sequence[MixCandidate]) -> Mix | None:
    """Mélange's baseline: the cheapest single candidate serving every bucket (None when none can)."""
    best: Mix | None = None
    for c in candidates:
        buckets = [b for b, r in bucket_rps.items() if r > 0]
        if any(c.capacity_rps.get(b, 0.0) <= 0 for b in buckets):
            continue
        load = sum(bucket_rps[b] / c.capacity_rps[b] for b in buckets)
        n = max(1, math.ceil(load - 1e-9)) if buckets else 0
        mix = Mix(
            {c.name: n} if n else {}, n * c.usd_per_hour, {b: {c.name: 1.0} for b in buckets}, {c.name: load}
        )
        if best is None or mix.usd_per_hour < best.usd_per_hour:
            best = mix
    return best
