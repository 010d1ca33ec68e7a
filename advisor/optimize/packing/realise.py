"""Concrete nodes: realising aggregated counts, repairing, consolidating, and the two reference packers.

A :class:`Layout` is a list of nodes, each with an instance type and replica counts per model. Every
function here returns layouts that hold the two invariants the packer promises: no node is over its
allocatable resources, and every replica is placed.

- :func:`realise` turns the MILP's (x_it, y_t) into nodes, type by type: first-fit decreasing into the
  y_t nodes (replicas sorted by their dominant share of the node); if FFD leaves replicas over, best-fit
  and worst-fit (spreading, which also helps availability) are tried, then, on small instances, the
  exact per-type MILPs of :mod:`advisor.optimize.packing.exact`. :func:`repair` puts what is still left
  into the room of existing nodes, then on new nodes of the type cheapest per replica (counted, reported).
- :func:`consolidate` re-types every node to the cheapest type its contents fit, then removes nodes whose
  replicas fit in the room left on others (Karpenter's consolidation, on a plan instead of a cluster).
- :func:`dedicated_layout` is the optimal one-pool-per-model answer: for each model an exact dynamic
  programme over node counts per type (a covering knapsack).
- :func:`greedy_ffd_layout` is the Karpenter-like baseline: replicas by decreasing CPU then memory go to
  the first open node with room; when none has room, a node of the type cheapest per replica it will
  hold (price / min(replicas per node, replicas still pending)) is opened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from advisor.optimize.packing.exact import EXACT_MAX_VARS, NO_FILL, assignment_fill, pattern_fill
from advisor.optimize.packing.problem import CAPACITY_EPS, NUM_RESOURCES, PackingProblem

_EXACT_MAX_REPLICAS = 500  # total replicas up to which the exact realisation is tried


@dataclass
class Layout:
    """Nodes as arrays: ``types[n]`` is a type index, ``contents[n, i]`` replicas of model i."""

    types: np.ndarray  # (N,) int
    contents: np.ndarray  # (N, M) int
    repaired: int = 0

    def cost(self, problem: PackingProblem) -> float:
        return float(problem.price[self.types].sum()) if len(self.types) else 0.0

    def used(self, problem: PackingProblem) -> np.ndarray:
        out: np.ndarray = self.contents @ problem.sizes
        return out


def check_layout(problem: PackingProblem, layout: Layout) -> list[str]:
    """Broken invariants, as sentences (empty when the layout is sound). Used by tests and as a guard."""
    errors: list[str] = []
    placed = layout.contents.sum(axis=0) if len(layout.types) else np.zeros(problem.n_models, dtype=np.int64)
    for i in np.flatnonzero(placed != problem.counts):
        errors.append(f"model {problem.models[i]}: {placed[i]} of {problem.counts[i]} replicas placed")
    used = layout.used(problem)
    for n, t in enumerate(layout.types):
        if not problem.fits(used[n], int(t)):
            errors.append(f"node {n} ({problem.types[t]}) over capacity: {used[n]} > {problem.capacity[t]}")
        hosted = np.flatnonzero(layout.contents[n] > 0)
        if not problem.feasible[hosted, t].all():
            errors.append(f"node {n} ({problem.types[t]}) hosts a model that may not run there")
        if problem.accel_type[t] and not problem.accel_model[hosted].any():
            errors.append(f"node {n} ({problem.types[t]}) is a GPU node with no GPU replica")
    return errors


# ----- realisation of the MILP -----------------------------------------------------------------------


def realise(
    problem: PackingProblem, x: np.ndarray, y: np.ndarray, time_budget_s: float = 0.5
) -> tuple[Layout, np.ndarray]:
    """Concrete nodes for the aggregated solution, type by type, without repair.

    Returns the layout and the replicas that did not fit, per type and model ((T, M) counts); pass their
    column sums to :func:`repair`.
    """
    start = time.perf_counter()
    # Exact realisation MILPs pay off on small instances (a few hundred replicas); on large fleets the
    # mixes they fail on are unrealisable anyway and the pattern stage does better with the time.
    exact = int(problem.counts.sum()) <= _EXACT_MAX_REPLICAS
    types: list[int] = []
    contents: list[np.ndarray] = []
    leftover = np.zeros((problem.n_types, problem.n_models), dtype=np.int64)
    for t in np.flatnonzero(y > 0):
        models = np.flatnonzero(x[:, t] > 0)
        left = max(time_budget_s - (time.perf_counter() - start), 0.0) if exact else 0.0
        bins, rest = _fill_type(problem, int(t), models, x[models, t], int(y[t]), left)
        for row in bins:
            if row.any():
                full = np.zeros(problem.n_models, dtype=np.int64)
                full[models] = row
                types.append(int(t))
                contents.append(full)
        leftover[t, models] += rest
    # Replicas the MILP left unassigned (cannot happen with consistent input; be safe): charge type 0.
    missing = np.maximum(problem.counts - x.sum(axis=1), 0)
    if missing.any() and problem.n_types:
        leftover[0] += missing
    layout = Layout(
        types=np.array(types, dtype=np.int64),
        contents=np.array(contents, dtype=np.int64).reshape(len(types), problem.n_models),
    )
    return _drop_idle_gpu_nodes(problem, layout, leftover), leftover


def _fill_type(
    problem: PackingProblem, t: int, models: np.ndarray, counts: np.ndarray, bins: int, time_left: float
) -> tuple[np.ndarray, np.ndarray]:
    """Put ``counts`` replicas of ``models`` into ``bins`` nodes of type t: (bins x models, leftover)."""
    cap = problem.capacity[t]
    sizes = problem.sizes[models]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cap > 0, sizes / np.where(cap > 0, cap, 1), 0.0)
    order = np.lexsort((-share.sum(axis=1), -share.max(axis=1)))
    best: tuple[np.ndarray, np.ndarray] | None = None
    for rule in ("first", "best", "worst"):
        placed, rest = _heuristic_fill(sizes, counts, cap, bins, order, rule)
        if best is None or rest.sum() < best[1].sum():
            best = (placed, rest)
        if not rest.any():
            return placed, rest
    assert best is not None
    if time_left > 0.02 and int(counts.sum()) * bins <= EXACT_MAX_VARS * 4:
        start = time.perf_counter()
        exact = pattern_fill(sizes, counts, cap, bins, time_left)
        if isinstance(exact, str) and exact == NO_FILL:  # proved: no assignment to these nodes exists
            return best
        left = time_left - (time.perf_counter() - start)
        if exact is None and int(counts.sum()) * bins <= EXACT_MAX_VARS and left > 0.02:
            exact = assignment_fill(sizes, counts, cap, bins, left)
        if exact is not None:
            return exact, np.zeros(len(models), dtype=np.int64)
    return best


def _heuristic_fill(
    sizes: np.ndarray, counts: np.ndarray, cap: np.ndarray, bins: int, order: np.ndarray, rule: str
) -> tuple[np.ndarray, np.ndarray]:
    used = np.zeros((bins, NUM_RESOURCES))
    placed = np.zeros((bins, len(counts)), dtype=np.int64)
    rest = counts.astype(np.int64).copy()
    limit = cap * (1 + CAPACITY_EPS) + CAPACITY_EPS
    safe_cap = np.where(cap > 0, cap, 1)
    for j in order:
        for _ in range(int(counts[j])):
            after = used + sizes[j]
            ok = np.all(after <= limit, axis=1)
            if not ok.any():
                break
            if rule == "first":
                b = int(np.argmax(ok))
            else:
                slack = np.where(cap > 0, (cap - after) / safe_cap, 0.0).min(axis=1)
                slack = np.where(ok, slack, np.inf if rule == "best" else -np.inf)
                b = int(np.argmin(slack)) if rule == "best" else int(np.argmax(slack))
            used[b] = after[b]
            placed[b, j] += 1
            rest[j] -= 1
    return placed, rest


def _drop_idle_gpu_nodes(problem: PackingProblem, layout: Layout, leftover: np.ndarray) -> Layout:
    """A GPU node left with only CPU replicas is dissolved; its replicas join ``leftover`` (in place)."""
    if not len(layout.types):
        return layout
    has_gpu = (layout.contents[:, problem.accel_model] > 0).any(axis=1)
    idle = problem.accel_type[layout.types] & ~has_gpu
    if not idle.any():
        return layout
    np.add.at(leftover, layout.types[idle], layout.contents[idle])
    return Layout(layout.types[~idle], layout.contents[~idle], layout.repaired)


def repair(problem: PackingProblem, layout: Layout, leftover: np.ndarray) -> Layout:
    """Place ``leftover`` into existing room first, then on new nodes of the cheapest fitting type."""
    fleet = _InFlight(problem)
    for t, row in zip(layout.types, layout.contents, strict=True):
        fleet.add_fixed(int(t), row)
    order = np.lexsort((-problem.sizes[:, 1], -problem.sizes[:, 0]))
    for i in order:
        if leftover[i]:
            fleet.place(int(i), int(leftover[i]))
    out = fleet.layout()
    out.repaired = layout.repaired + int(leftover.sum())
    return out


# ----- consolidation ---------------------------------------------------------------------------------


def type_options(problem: PackingProblem, contents: np.ndarray) -> np.ndarray:
    """(N, T) bool: types that can hold each node's contents (capacity, pair rules, no idle GPU node)."""
    used = contents @ problem.sizes
    fits: np.ndarray = np.all(
        used[:, None, :] <= problem.capacity[None, :, :] * (1 + CAPACITY_EPS) + CAPACITY_EPS, axis=2
    )
    conflicts = (contents > 0).astype(np.int64) @ (~problem.feasible).astype(np.int64)
    has_gpu = np.asarray((contents[:, problem.accel_model] > 0).any(axis=1), dtype=bool)
    ok: np.ndarray = fits & (conflicts == 0) & (has_gpu[:, None] | ~problem.accel_type[None, :])
    return ok


def consolidate(problem: PackingProblem, layout: Layout) -> Layout:
    """Re-type nodes to the cheapest fit, then empty and remove nodes whose replicas fit elsewhere."""
    if not len(layout.types):
        return layout
    types = _retype(problem, layout.types, layout.contents)
    contents = layout.contents.copy()
    alive = np.ones(len(types), dtype=bool)
    used = contents @ problem.sizes
    room = problem.capacity[types] - used
    util = np.where(
        problem.capacity[types] > 0,
        used / np.where(problem.capacity[types] > 0, problem.capacity[types], 1),
        0,
    ).max(axis=1)
    for n in np.argsort(util, kind="stable"):
        trial_room = room.copy()
        moves: list[tuple[int, int, int]] = []
        feasible_move = True
        for i in np.flatnonzero(contents[n] > 0):
            need = int(contents[n, i])
            others = np.flatnonzero(alive & (np.arange(len(types)) != n) & problem.feasible[i, types])
            if not problem.accel_model[i]:
                gpu_ok = ~problem.accel_type[types[others]] | (
                    contents[others][:, problem.accel_model] > 0
                ).any(axis=1)
                others = others[gpu_ok]
            if not len(others):
                feasible_move = False
                break
            size = problem.sizes[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                cnt = np.where(
                    size > 0, (trial_room[others] + CAPACITY_EPS) / np.where(size > 0, size, 1), np.inf
                )
            fit = np.floor(cnt.min(axis=1)).astype(np.int64)
            for m_idx in np.argsort(-fit, kind="stable"):
                if need == 0:
                    break
                take = int(min(fit[m_idx], need))
                if take <= 0:
                    break
                m = int(others[m_idx])
                trial_room[m] -= take * size
                moves.append((m, int(i), take))
                need -= take
            if need:
                feasible_move = False
                break
        if not feasible_move:
            continue
        for host, moved, take in moves:
            contents[host, moved] += take
        contents[n] = 0
        alive[n] = False
        room = trial_room
    kept = np.flatnonzero(alive)
    contents = contents[kept]
    types = _retype(problem, types[kept], contents)
    return Layout(types=types, contents=contents, repaired=layout.repaired)


def _retype(problem: PackingProblem, types: np.ndarray, contents: np.ndarray) -> np.ndarray:
    """Each node's cheapest valid type; a node whose current type is no longer valid is always moved."""
    if not len(types):
        return types
    ok = type_options(problem, contents)
    price = np.where(ok, problem.price[None, :], np.inf)
    best = np.argmin(price, axis=1)
    has_best = np.isfinite(price[np.arange(len(best)), best])
    valid_now = ok[np.arange(len(types)), types]
    move = has_best & (~valid_now | (problem.price[best] < problem.price[types]))
    out: np.ndarray = np.where(move, best, types)
    return out


# ----- reference packers -----------------------------------------------------------------------------


def dedicated_layout(problem: PackingProblem) -> Layout:
    """One pool per model, each at its exact minimum cost (DP over how many nodes of each type)."""
    types: list[int] = []
    contents: list[np.ndarray] = []
    for i in range(problem.n_models):
        ok = problem.feasible[i] & (problem.accel_model[i] | ~problem.accel_type) & (problem.per_node[i] > 0)
        cand = np.flatnonzero(ok)
        if not len(cand):
            continue
        per, price = problem.per_node[i, cand], problem.price[cand]
        n = int(problem.counts[i])
        cost = np.zeros(n + 1)
        choice = np.zeros(n + 1, dtype=np.int64)
        for need in range(1, n + 1):
            options = price + cost[np.maximum(need - per, 0)]
            j = int(np.argmin(options))
            cost[need], choice[need] = options[j], j
        need = n
        while need > 0:
            j = int(choice[need])
            take = int(min(per[j], need))
            row = np.zeros(problem.n_models, dtype=np.int64)
            row[i] = take
            types.append(int(cand[j]))
            contents.append(row)
            need -= take
    layout = Layout(
        np.array(types, dtype=np.int64),
        np.array(contents, dtype=np.int64).reshape(len(types), problem.n_models),
    )
    layout.types = _retype(problem, layout.types, layout.contents)
    return layout


def greedy_ffd_layout(problem: PackingProblem) -> Layout:
    """Karpenter-like first-fit decreasing: in-flight nodes launch as the cheapest type that still fits."""
    fleet = _InFlight(problem)
    for i in np.lexsort((-problem.sizes[:, 1], -problem.sizes[:, 0])):
        fleet.place(int(i), int(problem.counts[i]))
    return fleet.layout()


class _InFlight:
    """Greedy first-fit over open nodes, each of a fixed type; new nodes are the cheapest per replica."""

    def __init__(self, problem: PackingProblem) -> None:
        self.p = problem
        self.n = 0
        self.types = np.zeros(16, dtype=np.int64)
        self.used = np.zeros((16, NUM_RESOURCES))
        self.contents = np.zeros((16, problem.n_models), dtype=np.int64)
        self.has_gpu = np.zeros(16, dtype=bool)

    def _append(self, t: int, row: np.ndarray) -> int:
        if self.n == len(self.types):
            grow = len(self.types)
            self.types = np.concatenate([self.types, np.zeros(grow, dtype=np.int64)])
            self.used = np.vstack([self.used, np.zeros((grow, NUM_RESOURCES))])
            self.contents = np.vstack([self.contents, np.zeros((grow, self.p.n_models), dtype=np.int64)])
            self.has_gpu = np.concatenate([self.has_gpu, np.zeros(grow, dtype=bool)])
        n = self.n
        self.types[n] = t
        self.used[n] = row @ self.p.sizes
        self.contents[n] = row
        self.has_gpu[n] = bool((row[self.p.accel_model] > 0).any())
        self.n += 1
        return n

    def add_fixed(self, t: int, row: np.ndarray) -> None:
        self._append(t, row)

    def place(self, i: int, count: int) -> None:
        """First fit into open nodes, then open nodes of the type cheapest per replica they will hold."""
        p = self.p
        need = count
        size = p.sizes[i]
        dims = size > 0
        if self.n:
            types = self.types[: self.n]
            ok = p.feasible[i, types]
            if not p.accel_model[i]:
                ok &= ~p.accel_type[types] | self.has_gpu[: self.n]
            nodes = np.flatnonzero(ok)
            if len(nodes):
                room = p.capacity[types[nodes]] * (1 + CAPACITY_EPS) + CAPACITY_EPS - self.used[nodes]
                fit = np.floor((room[:, dims] / size[dims]).min(axis=1)).astype(np.int64)
                for n, f in zip(nodes[fit > 0], fit[fit > 0], strict=True):
                    take = int(min(f, need))
                    self._add(int(n), i, take)
                    need -= take
                    if need == 0:
                        break
        base = p.feasible[i] & (p.accel_model[i] | ~p.accel_type) & (p.per_node[i] > 0)
        while need > 0 and base.any():
            slots = np.minimum(p.per_node[i], need)
            t = int(np.argmin(np.where(base, p.price / np.maximum(slots, 1), np.inf)))
            n = self._append(t, np.zeros(p.n_models, dtype=np.int64))
            take = int(slots[t])
            self._add(n, i, take)
            need -= take

    def _add(self, n: int, i: int, count: int) -> None:
        self.used[n] += count * self.p.sizes[i]
        self.contents[n, i] += count
        self.has_gpu[n] |= bool(self.p.accel_model[i])

    def layout(self) -> Layout:
        keep = self.contents[: self.n].sum(axis=1) > 0
        return Layout(types=self.types[: self.n][keep].copy(), contents=self.contents[: self.n][keep].copy())
