"""The aggregated packing model: its LP bound (column generation) and its MILP (scipy.optimize.milp / HiGHS).

Variables: ``y_t`` = nodes of type t (integer), ``x_it`` = replicas of model i on type t (integer), for
feasible pairs only. Minimise sum_t price_t * y_t subject to

- demand: sum_t x_it = n_i for every model;
- capacity: sum_i size_ik * x_it <= cap_tk * y_t for every type and resource (vCPU, memory, GPUs, GPU GiB);
- dual-feasible-function cuts, per type and resource: sum_i u(size_ik / cap_tk) * x_it <= y_t, with the
  Fekete-Schepers functions u^(q)(s) = s if (q+1)s is an integer, else floor((q+1)s)/q, for q = 1, 2. For
  q = 1 this says two replicas bigger than half a node never share one; for q = 2 replicas between a third
  and two thirds count one half. Every real packing satisfies them, so the bound stays valid, and they
  make the aggregated counts far easier to realise as concrete nodes;
- in the MILP only, single-model cuts x_it <= per_node_it * y_t where rounding loses capacity;
- when CPU replicas may use GPU nodes: y_t <= sum over GPU models of x_it (no GPU node without a GPU replica).

Every real packing maps to a feasible point of this model, so its LP optimum is a lower bound on any
packing. The LP over all feasible pairs (200 models x 300 types: about 24,000) is solved whole by HiGHS;
very large instances fall back to column generation, whose Lagrangian bound
z_RMP + sum_i n_i * min(0, min_t rc_it) stays valid if it stops early. The MILP then runs on every pair
for small instances (its own dual bound is then global too), else on the LP's support plus each model's
pairs of least reduced cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint

from advisor.optimize.highs import linprog, milp
from advisor.optimize.packing.problem import NUM_RESOURCES, PackingProblem

DFF_ORDERS: tuple[int, ...] = (1, 2)
_RC_TOL = 1e-9

SolverStatus = Literal["optimal", "time_limit", "gap_limit", "failed", "not_run"]


@dataclass(frozen=True)
class RowLayout:
    """Which inequality rows exist; -1 means no row. Independent of the columns, so duals price anything."""

    cap: np.ndarray  # (T, 4) row index
    dff: np.ndarray  # (T, 4, Q) row index
    keep: np.ndarray  # (T,) row index of the GPU keep-alive row
    dff_coef: np.ndarray  # (M, T, 4, Q) cut coefficients
    n_rows: int


@dataclass(frozen=True)
class LPBound:
    value: float  # optimum of the last restricted LP
    bound: float  # certified lower bound (== value when converged)
    columns: np.ndarray  # (M, T) bool: columns the LP saw
    support: np.ndarray  # (M, T) bool: pairs with x > 0 in the LP optimum
    reduced_costs: np.ndarray  # (M, T): rc of every pair under the last duals (inf where infeasible)
    iterations: int
    converged: bool


@dataclass(frozen=True)
class MilpSolution:
    x: np.ndarray  # (M, T) int
    y: np.ndarray  # (T,) int
    objective: float
    dual_bound: float
    status: SolverStatus
    pairs: int


def dff_value(s: np.ndarray, q: int) -> np.ndarray:
    """Fekete-Schepers dual-feasible function u^(q) on normalised sizes ``s`` in [0, 1]."""
    scaled = (q + 1) * s
    nearest = np.round(scaled)
    integral = np.abs(scaled - nearest) <= 1e-9
    out: np.ndarray = np.where(integral, s, np.floor(scaled + 1e-12) / q)
    return out


def build_rows(problem: PackingProblem, allow_cpu_on_gpu: bool) -> RowLayout:
    """Lay out the capacity, DFF and keep-alive rows that can ever bind."""
    m, t = problem.n_models, problem.n_types
    cap = problem.capacity
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(cap[None, :, :] > 0, problem.sizes[:, None, :] / np.where(cap > 0, cap, 1)[None], 0.0)
    norm = np.clip(norm, 0.0, 1.0)
    feas = problem.feasible
    coef = np.stack([dff_value(norm, q) for q in DFF_ORDERS], axis=3)  # (M, T, 4, Q)
    coef = np.where(feas[:, :, None, None], coef, 0.0)
    uses = (problem.sizes[:, None, :] > 0) & feas[:, :, None]  # (M, T, 4)
    used_dim = uses.any(axis=0)  # (T, 4)
    cap_rows = np.full((t, NUM_RESOURCES), -1, dtype=np.int64)
    n_cap = int(used_dim.sum())
    cap_rows[used_dim] = np.arange(n_cap)
    next_row = n_cap
    stronger = (coef > norm[:, :, :, None] + 1e-9).any(axis=0)  # (T, 4, Q): the cut dominates somewhere
    dff_rows = np.full((t, NUM_RESOURCES, len(DFF_ORDERS)), -1, dtype=np.int64)
    n_dff = int(stronger.sum())
    dff_rows[stronger] = next_row + np.arange(n_dff)
    next_row += n_dff
    keep_rows = np.full(t, -1, dtype=np.int64)
    if allow_cpu_on_gpu and m:
        hosts_cpu = (feas & ~problem.accel_model[:, None]).any(axis=0) & problem.accel_type
        n_keep = int(hosts_cpu.sum())
        keep_rows[hosts_cpu] = next_row + np.arange(n_keep)
        next_row += n_keep
    return RowLayout(cap=cap_rows, dff=dff_rows, keep=keep_rows, dff_coef=coef, n_rows=next_row)


def _x_block(problem: PackingProblem, rows: RowLayout, pi: np.ndarray, pt: np.ndarray) -> sp.csc_matrix:
    """Inequality-row coefficients of the x columns for pairs (pi, pt)."""
    r_idx, c_idx, vals = [], [], []
    cols = np.arange(len(pi))
    for k in range(NUM_RESOURCES):
        row = rows.cap[pt, k]
        val = problem.sizes[pi, k]
        ok = (row >= 0) & (val > 0)
        r_idx.append(row[ok])
        c_idx.append(cols[ok])
        vals.append(val[ok])
        for qi in range(len(DFF_ORDERS)):
            row = rows.dff[pt, k, qi]
            val = rows.dff_coef[pi, pt, k, qi]
            ok = (row >= 0) & (val > 0)
            r_idx.append(row[ok])
            c_idx.append(cols[ok])
            vals.append(val[ok])
    row = rows.keep[pt]
    ok = (row >= 0) & problem.accel_model[pi]
    r_idx.append(row[ok])
    c_idx.append(cols[ok])
    vals.append(-np.ones(int(ok.sum())))
    return sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))), shape=(rows.n_rows, len(pi))
    )


def _y_block(problem: PackingProblem, rows: RowLayout) -> sp.csc_matrix:
    r_idx, c_idx, vals = [], [], []
    types = np.arange(problem.n_types)
    for k in range(NUM_RESOURCES):
        ok = rows.cap[:, k] >= 0
        r_idx.append(rows.cap[ok, k])
        c_idx.append(types[ok])
        vals.append(-problem.capacity[ok, k])
        for qi in range(len(DFF_ORDERS)):
            ok = rows.dff[:, k, qi] >= 0
            r_idx.append(rows.dff[ok, k, qi])
            c_idx.append(types[ok])
            vals.append(-np.ones(int(ok.sum())))
    ok = rows.keep >= 0
    r_idx.append(rows.keep[ok])
    c_idx.append(types[ok])
    vals.append(np.ones(int(ok.sum())))
    return sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))),
        shape=(rows.n_rows, problem.n_types),
    )


def _demand_block(problem: PackingProblem, pi: np.ndarray) -> sp.csc_matrix:
    n = len(pi)
    return sp.csc_matrix((np.ones(n), (pi, np.arange(n))), shape=(problem.n_models, n))


def initial_columns(problem: PackingProblem, per_model: int = 4) -> np.ndarray:
    """A few promising types per model: cheapest by resource share and by whole-node packing."""
    feas = problem.feasible
    cap = problem.capacity
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cap[None] > 0, problem.sizes[:, None, :] / np.where(cap > 0, cap, 1)[None], 0.0)
        frac_cost = problem.price[None, :] * share.max(axis=2)
        whole_cost = problem.price[None, :] / np.maximum(problem.per_node, 1)
    cols = np.zeros_like(feas)
    for score in (frac_cost, whole_cost):
        score = np.where(feas, score, np.inf)
        k = min(per_model, problem.n_types)
        best = np.argpartition(score, k - 1, axis=1)[:, :k] if k else np.zeros((problem.n_models, 0), int)
        rows = np.repeat(np.arange(problem.n_models), best.shape[1])
        cols[rows, best.ravel()] = True
    out: np.ndarray = cols & feas
    return out


def reduced_costs(
    problem: PackingProblem, rows: RowLayout, dual_eq: np.ndarray, dual_ub: np.ndarray
) -> np.ndarray:
    """rc_it = 0 - (column of x_it) . duals, for every pair; +inf where infeasible."""
    dcap = np.where(rows.cap >= 0, dual_ub[np.maximum(rows.cap, 0)], 0.0)  # (T, 4)
    ddff = np.where(rows.dff >= 0, dual_ub[np.maximum(rows.dff, 0)], 0.0)  # (T, 4, Q)
    dkeep = np.where(rows.keep >= 0, dual_ub[np.maximum(rows.keep, 0)], 0.0)  # (T,)
    contrib = dual_eq[:, None] + problem.sizes @ dcap.T
    contrib = contrib + np.einsum("itkq,tkq->it", rows.dff_coef, ddff)
    contrib = contrib - problem.accel_model[:, None] * dkeep[None, :]
    rc: np.ndarray = np.where(problem.feasible, -contrib, np.inf)
    return rc


def lp_bound(
    problem: PackingProblem, rows: RowLayout, time_budget_s: float, full_pairs_limit: int = 150_000
) -> LPBound:
    """LP relaxation of the aggregated model over every feasible pair: a certified lower bound in $/h.

    Up to ``full_pairs_limit`` pairs the LP is solved whole (about 0.5 s for 24,000 pairs). Above it,
    column generation: the LP of instance families priced linearly per resource is massively degenerate,
    so it stops as soon as the Lagrangian bound is within 1e-4 of the restricted LP.
    """
    if int(problem.feasible.sum()) <= full_pairs_limit:
        value, support, rc = _solve_lp(problem, rows, problem.feasible, time_budget_s)
        if value is not None:
            return LPBound(value, value, problem.feasible.copy(), support, rc, 1, True)
        # HiGHS gave up (time): fall through to column generation from scratch.
    start = time.perf_counter()
    cols = initial_columns(problem, per_model=10)
    value, bound = 0.0, 0.0
    support = np.zeros_like(cols)
    rc = np.full(problem.feasible.shape, np.inf)
    iteration = 0
    while time.perf_counter() - start < time_budget_s:
        iteration += 1
        left = max(time_budget_s - (time.perf_counter() - start), 0.2)
        solved, supp, rc_new = _solve_lp(problem, rows, cols, left)
        if solved is None:
            break
        value, support, rc = solved, supp, rc_new
        neg = np.minimum(np.where(problem.feasible, rc, 0.0), 0.0).min(axis=1, initial=0.0)
        bound = max(bound, value + float((problem.counts * neg).sum()))
        scale = max(1e-9, float(problem.price.max(initial=1.0)))
        candidates = (rc < -_RC_TOL * scale) & ~cols
        if not candidates.any() or value - bound <= 1e-4 * max(value, 1e-9):
            return LPBound(value, bound, cols, support, rc, iteration, True)
        _add_most_negative(cols, np.where(candidates, rc, np.inf), per_model=10)
    return LPBound(value, max(bound, 0.0), cols, support, rc, iteration, False)


def _solve_lp(
    problem: PackingProblem, rows: RowLayout, cols: np.ndarray, time_limit_s: float
) -> tuple[float | None, np.ndarray, np.ndarray]:
    """Solve the LP over ``cols``: (optimum or None, support of x, reduced costs of every pair)."""
    pi, pt = np.nonzero(cols)
    a_ub = sp.hstack([_x_block(problem, rows, pi, pt), _y_block(problem, rows)], format="csc")
    a_eq = sp.hstack(
        [_demand_block(problem, pi), sp.csc_matrix((problem.n_models, problem.n_types))], format="csc"
    )
    c = np.concatenate([np.zeros(len(pi)), problem.price])
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=np.zeros(rows.n_rows),
        A_eq=a_eq,
        b_eq=problem.counts.astype(float),
        bounds=(0, None),
        method="highs-ipm",
        options={"time_limit": max(time_limit_s, 0.2), "presolve": True},
    )
    support = np.zeros(problem.feasible.shape, dtype=bool)
    if res.status != 0 or res.x is None:
        return None, support, np.full(problem.feasible.shape, np.inf)
    support[pi, pt] = res.x[: len(pi)] > 1e-9
    rc = reduced_costs(problem, rows, np.asarray(res.eqlin.marginals), np.asarray(res.ineqlin.marginals))
    return float(res.fun), support, rc


def select_milp_columns(problem: PackingProblem, lp: LPBound, exact_limit: int, per_model: int) -> np.ndarray:
    """All feasible pairs when few enough; else the LP's support plus each model's best-priced pairs."""
    if int(problem.feasible.sum()) <= exact_limit:
        return problem.feasible.copy()
    cols: np.ndarray = lp.support & problem.feasible
    scored = np.where(problem.feasible, lp.reduced_costs, np.inf)
    k = min(per_model, problem.n_types)
    best = np.argsort(scored, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(problem.n_models), k)
    flat = best.ravel()
    ok = np.isfinite(scored[rows, flat])
    cols[rows[ok], flat[ok]] = True
    return cols


def solve_milp(
    problem: PackingProblem,
    rows: RowLayout,
    cols: np.ndarray,
    time_limit_s: float,
    mip_rel_gap: float,
) -> MilpSolution:
    """The aggregated MILP over the pairs in ``cols`` (HiGHS). Never raises on solver trouble."""
    pi, pt = np.nonzero(cols)
    types_used = np.zeros(problem.n_types, dtype=bool)
    types_used[pt] = True
    x_ub = _x_block(problem, rows, pi, pt)
    y_ub = _y_block(problem, rows)
    # Single-model cuts x_it <= per_node_it * y_t where per-node rounding wastes capacity.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            problem.sizes[pi] > 0,
            problem.capacity[pt] / np.where(problem.sizes[pi] > 0, problem.sizes[pi], 1),
            np.inf,
        ).min(axis=1)
    per = problem.per_node[pi, pt]
    lossy = np.flatnonzero((per < ratio - 1e-6) & (per <= 16))
    n_cut = len(lossy)
    cut_x = sp.csc_matrix((np.ones(n_cut), (np.arange(n_cut), lossy)), shape=(n_cut, len(pi)))
    cut_y = sp.csc_matrix(
        (-per[lossy].astype(float), (np.arange(n_cut), pt[lossy])), shape=(n_cut, problem.n_types)
    )
    a_ub = sp.vstack([sp.hstack([x_ub, y_ub]), sp.hstack([cut_x, cut_y])], format="csc")
    a_eq = sp.hstack(
        [_demand_block(problem, pi), sp.csc_matrix((problem.n_models, problem.n_types))], format="csc"
    )
    c = np.concatenate([np.zeros(len(pi)), problem.price])
    y_cap = np.zeros(problem.n_types)
    np.add.at(y_cap, pt, problem.counts[pi].astype(float))
    upper = np.concatenate([problem.counts[pi].astype(float), np.where(types_used, y_cap, 0.0)])
    constraints = [
        LinearConstraint(a_ub, -np.inf, np.zeros(a_ub.shape[0])),
        LinearConstraint(a_eq, problem.counts.astype(float), problem.counts.astype(float)),
    ]
    res = milp(
        c,
        integrality=np.ones(len(c)),
        bounds=Bounds(np.zeros(len(c)), upper),
        constraints=constraints,
        options={"time_limit": max(time_limit_s, 0.1), "mip_rel_gap": mip_rel_gap, "presolve": True},
    )
    if res.x is None:
        empty = np.zeros(problem.feasible.shape, dtype=np.int64)
        return MilpSolution(empty, np.zeros(problem.n_types, dtype=np.int64), np.inf, 0.0, "failed", len(pi))
    sol = np.rint(res.x).astype(np.int64)
    x = np.zeros(problem.feasible.shape, dtype=np.int64)
    x[pi, pt] = sol[: len(pi)]
    y = sol[len(pi) :]
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    status: SolverStatus
    if res.status == 0:
        status = "optimal" if gap <= 1e-6 else "gap_limit"
    elif res.status == 1:
        status = "time_limit"
    else:
        status = "failed"
    dual = float(getattr(res, "mip_dual_bound", 0.0) or 0.0)
    return MilpSolution(x, y, float(problem.price @ y), dual if np.isfinite(dual) else 0.0, status, len(pi))


def _add_most_negative(cols: np.ndarray, scored: np.ndarray, per_model: int) -> None:
    k = min(per_model, scored.shape[1])
    best = np.argpartition(scored, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(scored.shape[0]), k)
    flat = best.ravel()
    ok = np.isfinite(scored[rows, flat])
    cols[rows[ok], flat[ok]] = True
