"""Pattern stage: improve a realised packing with node patterns (Gilmore-Gomory column generation).

The aggregated MILP cannot see that two replicas which each fill 56 % of a node's memory never share
one, so its node counts can be unrealisable and the realisation needs extra nodes. Here every column is
a whole node: a *pattern* (instance type, replicas per model) that is known to fit. The master problem

    minimise sum_p price_p * z_p   subject to   sum_p a_ip * z_p >= n_i  for every model,  z integer >= 0

is realisable by construction. It starts from the nodes of the layouts already found (the realised MILP
solution, dedicated pools), and new patterns come from pricing with the master LP's duals pi: for each
type, a greedy multi-resource knapsack (value pi_i per replica, most value per share of the node first)
looks for a pattern with price_t - pi . a < 0. Pricing is heuristic, so this stage is a primal heuristic:
the certified bound still comes from the aggregated LP. The integer master is solved by HiGHS under a
time limit, over-covered replicas are removed, and the caller consolidates.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint

from advisor.optimize.highs import linprog, milp
from advisor.optimize.packing.problem import CAPACITY_EPS, PackingProblem
from advisor.optimize.packing.realise import Layout

_TOP_ITEMS = 60  # items (by value density) a greedy pricing pass considers per type
_BLENDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # vCPU weight in the vCPU/memory blends of pricing densities


def improve_with_patterns(
    problem: PackingProblem,
    seeds: list[Layout],
    time_budget_s: float,
    mip_rel_gap: float,
) -> Layout | None:
    """Best covering of the demand by whole-node patterns, seeded with ``seeds``' nodes; None if none found.

    The result places exactly ``counts`` replicas per model (over-coverage is trimmed) and respects every
    node's capacity, but is not yet re-typed or consolidated.
    """
    start = time.perf_counter()
    types, patterns = _unique_patterns(seeds, problem.n_models)
    if not len(types):
        return None
    lp_share = 0.6 * time_budget_s
    while time.perf_counter() - start < lp_share:
        duals = _master_duals(problem, types, patterns)
        if duals is None:
            break
        new_types, new_patterns = _price(problem, duals)
        if not len(new_types):
            break
        types = np.concatenate([types, new_types])
        patterns = np.vstack([patterns, new_patterns])
        types, patterns = _dedupe(types, patterns)
    left = max(time_budget_s - (time.perf_counter() - start), 0.2)
    z = _integer_master(problem, types, patterns, left, mip_rel_gap)
    if z is None:
        return None
    return _expand_and_trim(problem, types, patterns, z)


def _unique_patterns(seeds: list[Layout], n_models: int) -> tuple[np.ndarray, np.ndarray]:
    types = np.concatenate([s.types for s in seeds]) if seeds else np.zeros(0, dtype=np.int64)
    patterns = np.vstack([s.contents for s in seeds]) if seeds else np.zeros((0, n_models), dtype=np.int64)
    return _dedupe(types.astype(np.int64), patterns.astype(np.int64))


def _dedupe(types: np.ndarray, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keyed = np.hstack([types[:, None], patterns])
    _, idx = np.unique(keyed, axis=0, return_index=True)
    idx = np.sort(idx)
    return types[idx], patterns[idx]


def _master_duals(problem: PackingProblem, types: np.ndarray, patterns: np.ndarray) -> np.ndarray | None:
    """Duals (>= 0) of the covering rows in the master LP over the current patterns."""
    a = sp.csr_matrix(-patterns.T.astype(float))
    res = linprog(
        problem.price[types], A_ub=a, b_ub=-problem.counts.astype(float), bounds=(0, None), method="highs-ds"
    )
    if res.status != 0 or res.x is None:
        return None
    duals: np.ndarray = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)
    return duals


def _price(problem: PackingProblem, duals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Patterns with negative reduced cost: one greedy knapsack per type and value-density rule.

    Vectorised over types: at step j every type considers its j-th densest item and takes as many copies
    as still fit (and are needed). Density = dual value / the item's share of the node, measured several
    ways (sum and max of shares, and vCPU/memory blends that favour replicas balancing what the node has
    left), each giving one candidate pattern per type.
    """
    cap = problem.capacity
    m = problem.n_models
    empty = (np.zeros(0, dtype=np.int64), np.zeros((0, m), dtype=np.int64))
    valuable = duals > 1e-12
    usable = problem.feasible & valuable[:, None]  # (M, T)
    if not usable.any():
        return empty
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cap[None] > 0, problem.sizes[:, None, :] / np.where(cap > 0, cap, 1)[None], 0.0)
        gpu = share[:, :, 2] + share[:, :, 3]
        weights = [share.sum(axis=2), share.max(axis=2)] + [
            lam * share[:, :, 0] + (1 - lam) * share[:, :, 1] + gpu for lam in _BLENDS
        ]
        # Fractional knapsack bound over vCPU and memory: types below their price cannot improve.
        bound = np.where(usable, duals[:, None] / share[:, :, :2].max(axis=2), 0.0).max(axis=0)
    live = np.flatnonzero(bound > problem.price * (1 + 1e-9))
    if not len(live):
        return empty
    found_types: list[np.ndarray] = []
    found: list[np.ndarray] = []
    steps = min(_TOP_ITEMS, m)
    cols = np.arange(len(live))
    for weight in weights:
        with np.errstate(divide="ignore", invalid="ignore"):
            density = np.where(usable[:, live], duals[:, None] / np.maximum(weight[:, live], 1e-12), -np.inf)
        order = np.argsort(-density, axis=0, kind="stable")[:steps]  # (steps, L)
        room = cap[live] * (1 + CAPACITY_EPS) + CAPACITY_EPS  # (L, 4)
        pattern = np.zeros((len(live), m), dtype=np.int64)
        for j in range(steps):
            item = order[j]
            ok = np.isfinite(density[item, cols])
            size = problem.sizes[item]  # (L, 4)
            with np.errstate(divide="ignore", invalid="ignore"):
                fit = np.where(size > 0, room / np.where(size > 0, size, 1), np.inf).min(axis=1)
            take = np.where(ok, np.minimum(np.floor(np.maximum(fit, 0)), problem.counts[item]), 0).astype(
                np.int64
            )
            pattern[cols, item] += take
            room = room - take[:, None] * size
        value = pattern @ duals
        gpu_ok = ~problem.accel_type[live] | (pattern[:, problem.accel_model] > 0).any(axis=1)
        good = (value > problem.price[live] * (1 + 1e-9) + 1e-12) & gpu_ok & (pattern.sum(axis=1) > 0)
        found_types.append(live[good])
        found.append(pattern[good])
    return np.concatenate(found_types), np.vstack(found)


def _integer_master(
    problem: PackingProblem, types: np.ndarray, patterns: np.ndarray, time_limit_s: float, gap: float
) -> np.ndarray | None:
    a = sp.csr_matrix(patterns.T.astype(float))
    upper = np.ceil(problem.counts[None, :] / np.maximum(patterns, 1)).max(axis=1)
    res = milp(
        problem.price[types],
        integrality=np.ones(len(types)),
        bounds=Bounds(0, upper),
        constraints=[LinearConstraint(a, problem.counts.astype(float), np.inf)],
        options={"time_limit": max(time_limit_s, 0.1), "mip_rel_gap": gap},
    )
    if res.x is None:
        return None
    z: np.ndarray = np.rint(res.x).astype(np.int64)
    return z


def _expand_and_trim(
    problem: PackingProblem, types: np.ndarray, patterns: np.ndarray, z: np.ndarray
) -> Layout:
    node_types = np.repeat(types, z)
    contents = np.repeat(patterns, z, axis=0).copy()
    excess = contents.sum(axis=0) - problem.counts
    for i in np.flatnonzero(excess > 0):
        extra = int(excess[i])
        # Take surplus replicas off the nodes holding the fewest of them first (they empty soonest).
        for n in np.argsort(
            np.where(contents[:, i] > 0, contents[:, i], np.iinfo(np.int64).max), kind="stable"
        ):
            if extra == 0 or contents[n, i] == 0:
                break
            take = int(min(extra, contents[n, i]))
            contents[n, i] -= take
            extra -= take
    keep = contents.sum(axis=1) > 0
    # A GPU node trimmed down to CPU replicas only is re-typed to a CPU type by the caller's consolidation.
    return Layout(types=node_types[keep], contents=contents[keep])
