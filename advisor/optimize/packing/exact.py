"""Exact realisation of one instance type's share of the aggregated solution (small cases only).

Given replicas of several models that the MILP put on ``bins`` nodes of one type, find an assignment to
exactly those nodes when the greedy fills (first/best/worst fit decreasing) leave some over:

- :func:`pattern_fill` enumerates the maximal ways to fill one node and picks at most ``bins`` of them
  covering every replica (a small covering MILP; HiGHS finds these fast even for the triplet instances
  where first-fit decreasing fails);
- :func:`assignment_fill` is the fallback: one binary per (replica, node) with symmetry breaking.

Both return None when they cannot (too big, no answer in time); the caller then repairs with extra nodes.
:func:`pattern_fill` returns ``NO_FILL`` when it proved that no fill exists: it enumerated every maximal
pattern and HiGHS found the covering problem infeasible. Every node of any fill holds at most some maximal
pattern, so no assignment exists either, and the fallback would only spend its time limit finding that
out. On the 200-model benchmark fleet, every exact attempt ends this way (the aggregated MILP's mix is
unrealisable), and the assignment MILPs were about 7 % of the packing's work.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint

from advisor.optimize.highs import milp
from advisor.optimize.packing.problem import CAPACITY_EPS, NUM_RESOURCES

EXACT_MAX_VARS = 600  # replicas x nodes of one type, for the assignment MILP
MAX_PATTERNS = 2000  # maximal node patterns enumerated for the pattern MILP
NO_FILL: Final = "no_fill"  # pattern_fill's proof that no fill of the nodes exists (module docstring)
_INFEASIBLE = 2  # scipy.optimize.milp's status for a problem proved infeasible


def pattern_fill(
    sizes: np.ndarray, counts: np.ndarray, cap: np.ndarray, bins: int, time_left: float
) -> np.ndarray | Literal["no_fill"] | None:
    """Exact fill through node patterns: enumerate the maximal ways to fill one node, then choose at most
    ``bins`` of them covering every replica (a small covering MILP), and trim what is covered twice.

    ``NO_FILL`` when every maximal pattern was enumerated and no ``bins`` of them cover the replicas (no
    fill exists); None when there are too many patterns to enumerate or no cover is found in time.
    """
    patterns = _maximal_patterns(sizes, counts, cap, MAX_PATTERNS)
    if patterns is None or not len(patterns):
        return None
    n_pat = len(patterns)
    a = sp.csr_matrix(patterns.T.astype(float))
    constraints = [
        LinearConstraint(a, counts.astype(float), np.inf),
        LinearConstraint(sp.csr_matrix(np.ones((1, n_pat))), 0.0, float(bins)),
    ]
    res = milp(
        np.ones(n_pat),
        integrality=np.ones(n_pat),
        bounds=Bounds(0, float(bins)),
        constraints=constraints,
        options={"time_limit": max(time_left, 0.05)},
    )
    if res.status == _INFEASIBLE:
        return NO_FILL
    if res.x is None or res.status not in (0, 1):
        return None
    use = np.rint(res.x).astype(np.int64)
    z = np.repeat(patterns, use, axis=0)
    excess = z.sum(axis=0) - counts
    for i in np.flatnonzero(excess > 0):
        extra = int(excess[i])
        for b in range(len(z)):
            take = int(min(extra, z[b, i]))
            z[b, i] -= take
            extra -= take
            if extra == 0:
                break
    if len(z) < bins:
        z = np.vstack([z, np.zeros((bins - len(z), len(counts)), dtype=np.int64)])
    if len(z) > bins or (z.sum(axis=0) != counts).any():
        return None
    return z


def _maximal_patterns(
    sizes: np.ndarray, counts: np.ndarray, cap: np.ndarray, limit: int
) -> np.ndarray | None:
    """Every maximal multiset of replicas (at most ``counts`` each) fitting one node; None past ``limit``.

    A depth-first walk over plain Python numbers: the vectors are a handful of resources long, where
    NumPy's per-call overhead would be most of the work."""
    m = len(counts)
    room0 = (cap * (1 + CAPACITY_EPS) + CAPACITY_EPS).tolist()
    rows: list[list[float]] = sizes.tolist()
    most_of: list[int] = counts.tolist()
    dims_of = [[d for d, v in enumerate(row) if v > 0] for row in rows]
    out: list[list[int]] = []
    current = [0] * m
    visits = 0

    def fits_more(room: list[float]) -> bool:
        return any(
            most_of[j] > current[j] and all(v <= r for v, r in zip(rows[j], room, strict=True))
            for j in range(m)
        )

    def walk(i: int, room: list[float]) -> bool:
        nonlocal visits
        visits += 1
        if len(out) > limit or visits > 10 * limit:
            return False
        if i == m:
            if any(current) and not fits_more(room):
                out.append(current.copy())
            return True
        size, dims = rows[i], dims_of[i]
        most = most_of[i]
        if dims:
            fit = min(room[d] / size[d] for d in dims)
            most = most if fit >= most else math.floor(fit)
        for k in range(max(most, 0), -1, -1):
            current[i] = k
            if not walk(i + 1, [r - k * v for r, v in zip(room, size, strict=True)]):
                return False
        current[i] = 0
        return True

    if not walk(0, room0):
        return None
    return np.array(out, dtype=np.int64).reshape(-1, m)


def assignment_fill(
    sizes: np.ndarray, counts: np.ndarray, cap: np.ndarray, bins: int, time_left: float
) -> np.ndarray | None:
    """Exact assignment of replicas to ``bins`` identical nodes (small MILP), or None if none is found.

    One binary per (replica, node). Identical nodes make the plain model hopelessly symmetric, so replicas
    are sorted by size and replica j may only use nodes 0..j (a node is "opened" by its largest replica),
    and copies of one model take non-decreasing node indices.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cap > 0, sizes / np.where(cap > 0, cap, 1), 0.0).max(axis=1)
    order = np.argsort(-share, kind="stable")
    items = np.repeat(order, counts[order])  # model index of each replica, largest first
    n = len(items)
    if n == 0:
        return np.zeros((bins, len(counts)), dtype=np.int64)
    allowed = [(j, b) for j in range(n) for b in range(min(j + 1, bins))]
    var = {jb: k for k, jb in enumerate(allowed)}
    n_var = len(allowed)
    dims = [k for k in range(NUM_RESOURCES) if cap[k] > 0 or (sizes[:, k] > 0).any()]
    r_cap, c_cap, v_cap = [], [], []
    for (j, b), k in var.items():
        for d_i, d in enumerate(dims):
            if sizes[items[j], d] > 0:
                r_cap.append(b * len(dims) + d_i)
                c_cap.append(k)
                v_cap.append(sizes[items[j], d])
    a_cap = sp.csr_matrix((v_cap, (r_cap, c_cap)), shape=(bins * len(dims), n_var))
    ub_cap = np.tile(cap[dims], bins) * (1 + CAPACITY_EPS) + CAPACITY_EPS
    a_one = sp.csr_matrix((np.ones(n_var), ([j for j, _ in allowed], range(n_var))), shape=(n, n_var))
    # Copies of one model: node index of copy j <= that of copy j + 1.
    r_ord, c_ord, v_ord = [], [], []
    row = 0
    for j in range(n - 1):
        if items[j] != items[j + 1]:
            continue
        for b in range(min(j + 1, bins)):
            r_ord.append(row)
            c_ord.append(var[(j, b)])
            v_ord.append(float(b))
        for b in range(min(j + 2, bins)):
            r_ord.append(row)
            c_ord.append(var[(j + 1, b)])
            v_ord.append(-float(b))
        row += 1
    constraints = [
        LinearConstraint(a_cap, -np.inf, ub_cap),
        LinearConstraint(a_one, 1.0, 1.0),
    ]
    if row:
        constraints.append(
            LinearConstraint(sp.csr_matrix((v_ord, (r_ord, c_ord)), shape=(row, n_var)), -np.inf, 0.0)
        )
    res = milp(
        np.zeros(n_var),
        integrality=np.ones(n_var),
        bounds=Bounds(0, 1),
        constraints=constraints,
        options={"time_limit": max(time_left, 0.05)},
    )
    if res.x is None or res.status not in (0, 1):
        return None
    z = np.zeros((bins, len(counts)), dtype=np.int64)
    for (j, b), k in var.items():
        if res.x[k] > 0.5:
            z[b, items[j]] += 1
    used = z @ sizes
    if (z.sum(axis=0) != counts).any() or np.any(used > cap * (1 + CAPACITY_EPS) + CAPACITY_EPS):
        return None
    return z
