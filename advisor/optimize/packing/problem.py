"""The packing instance in array form, and which (model, type) pairs are feasible at all.

:class:`PackingProblem` turns the pydantic inputs into numpy arrays the solvers and the realiser share:
replica sizes (models x resources), node capacities and prices (types x resources), and the boolean
``feasible`` matrix. A pair is feasible when one replica fits on one empty node of the type:

- arch matches (a replica without an arch runs anywhere: a multi-arch image);
- every resource fits (vCPU, memory GiB, GPU count, GPU/accelerator memory GiB);
- a replica that asks for ``g`` GPUs gets ``g`` GPUs' share of the node's GPU memory, so its GPU memory
  request must fit in ``g x (node GPU memory / node GPUs)``: 1 GPU with 40 GiB does not fit a 4 x 22 GiB
  g5.12xlarge even though the node has 89 GiB in total;
- an accelerated type (GPU, Inferentia, Trainium) hosts only replicas that need an accelerator, unless
  the options allow CPU replicas there (then the MILP still forbids GPU nodes with no GPU replica).

Models with no feasible pair are reported with a reason, never raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from advisor.domain import Arch
from advisor.errors import InputError
from advisor.optimize.packing.types import InfeasibleModel, ModelDemand, NodeType, PackingOptions

# Relative slack on capacity comparisons, so 3 x (1/3 of a node) fits a node despite float rounding.
CAPACITY_EPS = 1e-9
NUM_RESOURCES = 4  # vcpu, memory_gib, gpu_count, gpu_memory_gib


@dataclass(frozen=True)
class PackingProblem:
    """Models (rows) and node types (columns) as arrays; only placeable models with replicas are kept."""

    models: tuple[str, ...]
    counts: np.ndarray  # (M,) int: replicas to place
    sizes: np.ndarray  # (M, 4) float: per-replica request
    accel_model: np.ndarray  # (M,) bool: needs a GPU/accelerator
    arch: tuple[Arch | None, ...]
    types: tuple[str, ...]
    capacity: np.ndarray  # (T, 4) float: allocatable per node
    price: np.ndarray  # (T,) float: $/h per node
    accel_type: np.ndarray  # (T,) bool
    type_arch: tuple[Arch, ...]
    feasible: np.ndarray  # (M, T) bool: one replica fits one node
    per_node: np.ndarray  # (M, T) int: replicas of this model alone that fit one node (0 if infeasible)
    infeasible: tuple[InfeasibleModel, ...]
    removed_pairs: int

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_types(self) -> int:
        return len(self.types)

    def fits(self, used: np.ndarray, type_index: int) -> bool:
        """True when a resource vector ``used`` fits one node of type ``type_index``."""
        cap = self.capacity[type_index]
        return bool(np.all(used <= cap * (1 + CAPACITY_EPS) + CAPACITY_EPS))


def build_problem(
    demands: Sequence[ModelDemand], node_types: Sequence[NodeType], options: PackingOptions
) -> PackingProblem:
    """Validate the inputs and build the arrays. Duplicate names raise InputError (a caller bug).

    Models with zero replicas are dropped; models that fit no candidate type go to ``infeasible``.
    """
    _check_unique([d.name for d in demands], "model")
    _check_unique([t.name for t in node_types], "node type")
    capacity = np.array(
        [[t.vcpu, t.memory_gib, t.gpu_count, t.gpu_memory_gib] for t in node_types], dtype=float
    ).reshape(-1, NUM_RESOURCES)
    price = np.array([t.usd_per_hour for t in node_types], dtype=float)
    accel_type = np.array([t.accelerated for t in node_types], dtype=bool)
    type_arch = tuple(t.arch for t in node_types)

    wanted = [d for d in demands if d.replicas > 0]
    sizes_all = np.array(
        [
            [d.resources.vcpu, d.resources.memory_gib, d.resources.gpu_count, d.resources.gpu_memory_gib]
            for d in wanted
        ],
        dtype=float,
    ).reshape(-1, NUM_RESOURCES)
    accel_all = np.array([d.needs_accelerator for d in wanted], dtype=bool)
    feasible_all = _feasible_pairs(wanted, sizes_all, accel_all, capacity, accel_type, type_arch, options)

    # A CPU replica may share a GPU node (when allowed) but never keeps one alive, so it needs a CPU type.
    standalone = feasible_all & (accel_all[:, None] | ~accel_type[None, :])
    keep = standalone.any(axis=1) if len(wanted) else np.zeros(0, dtype=bool)
    infeasible = tuple(
        _explain(d, sizes_all[i], capacity, type_arch, accel_type)
        for i, d in enumerate(wanted)
        if not keep[i]
    )
    idx = np.flatnonzero(keep)
    sizes = sizes_all[idx]
    feasible = feasible_all[idx]
    per_node = _per_node(sizes, capacity, feasible)
    removed = int((~feasible).sum())
    return PackingProblem(
        models=tuple(wanted[i].name for i in idx),
        counts=np.array([wanted[i].replicas for i in idx], dtype=np.int64),
        sizes=sizes,
        accel_model=accel_all[idx],
        arch=tuple(wanted[i].resources.arch for i in idx),
        types=tuple(t.name for t in node_types),
        capacity=capacity,
        price=price,
        accel_type=accel_type,
        type_arch=type_arch,
        feasible=feasible,
        per_node=per_node,
        infeasible=infeasible,
        removed_pairs=removed,
    )


def node_types_from_offers(
    offers: pd.DataFrame,
    *,
    include_burstable: bool = False,
    include_metal: bool = False,
    overhead_vcpu: float = 0.0,
    overhead_memory_gib: float = 0.0,
) -> list[NodeType]:
    """Node types from a :meth:`advisor.pricing.catalog.Catalog.offers` frame (one row per priced type).

    Burstable ``t*`` types are left out by default (their CPU credits do not hold under sustained inference
    load) and so are ``.metal`` types (same price per vCPU as the largest size, slower to boot).
    ``overhead_*`` is subtracted from every node: what kubelet, the OS and daemonsets reserve.
    """
    frame = offers
    if not include_burstable:
        frame = frame[~frame["family"].astype(str).str.match(r"^t\d")]
    if not include_metal:
        frame = frame[~frame["instance_type"].astype(str).str.contains("metal")]
    out: list[NodeType] = []
    for row in frame.itertuples(index=False):
        gpu_mem = max(_num(row.gpu_memory_gib), _num(row.accelerator_memory_gib))
        out.append(
            NodeType(
                name=str(row.instance_type),
                usd_per_hour=float(row.usd_per_hour),
                vcpu=max(float(row.vcpu) - overhead_vcpu, 1e-6),
                memory_gib=max(float(row.memory_gib) - overhead_memory_gib, 1e-6),
                gpu_count=_num(row.gpu_count),
                gpu_memory_gib=gpu_mem,
                accelerator_count=int(_num(row.accelerator_count)),
                arch=Arch(str(row.arch)),
                family=str(row.family),
            )
        )
    return out


# ----- helpers ---------------------------------------------------------------------------------------


def _feasible_pairs(
    demands: Sequence[ModelDemand],
    sizes: np.ndarray,
    accel_model: np.ndarray,
    capacity: np.ndarray,
    accel_type: np.ndarray,
    type_arch: tuple[Arch, ...],
    options: PackingOptions,
) -> np.ndarray:
    m, t = len(demands), capacity.shape[0]
    if m == 0 or t == 0:
        return np.zeros((m, t), dtype=bool)
    fits = np.all(sizes[:, None, :] <= capacity[None, :, :] * (1 + CAPACITY_EPS) + CAPACITY_EPS, axis=2)
    arch_ok = np.array(
        [[d.resources.arch is None or d.resources.arch == a for a in type_arch] for d in demands], dtype=bool
    )
    # GPU-memory share: g GPUs of a node with G GPUs and total memory GM get g * GM / G.
    node_gpus = capacity[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        mem_per_gpu = np.where(node_gpus > 0, capacity[:, 3] / np.where(node_gpus > 0, node_gpus, 1), 0.0)
    share = sizes[:, 2:3] * mem_per_gpu[None, :]
    share_ok = (sizes[:, 2:3] <= 0) | (node_gpus[None, :] <= 0) | (sizes[:, 3:4] <= share * (1 + 1e-6) + 1e-9)
    role_ok = np.ones((m, t), dtype=bool)
    if not options.allow_cpu_replicas_on_gpu_nodes:
        role_ok = accel_model[:, None] | ~accel_type[None, :]
    feasible: np.ndarray = fits & arch_ok & share_ok & role_ok
    return feasible


def _per_node(sizes: np.ndarray, capacity: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    if sizes.size == 0:
        return np.zeros((0, capacity.shape[0]), dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            sizes[:, None, :] > 0,
            capacity[None, :, :] * (1 + CAPACITY_EPS) / np.where(sizes[:, None, :] > 0, sizes[:, None, :], 1),
            np.inf,
        )
    count = np.floor(ratio.min(axis=2) + CAPACITY_EPS)
    count = np.where(feasible, count, 0)
    return np.minimum(count, 1_000_000).astype(np.int64)


def _explain(
    demand: ModelDemand,
    size: np.ndarray,
    capacity: np.ndarray,
    type_arch: tuple[Arch, ...],
    accel_type: np.ndarray,
) -> InfeasibleModel:
    res = demand.resources
    want = (
        f"{res.vcpu:g} vCPU, {res.memory_gib:g} GiB memory"
        + (f", {res.gpu_count:g} GPU" if res.gpu_count else "")
        + (f", {res.gpu_memory_gib:g} GiB GPU memory" if res.gpu_memory_gib else "")
        + (f", arch {res.arch.value}" if res.arch else "")
    )
    n = capacity.shape[0]
    arch_ok = np.array([res.arch is None or res.arch == a for a in type_arch], dtype=bool)
    role_ok = accel_type if demand.needs_accelerator else ~accel_type
    cpu_ok = (capacity[:, 0] >= size[0]) & (capacity[:, 1] >= size[1]) if n else np.zeros(0, dtype=bool)
    gpu_ok = (capacity[:, 2] >= size[2]) & (capacity[:, 3] >= size[3]) if n else np.zeros(0, dtype=bool)
    kind = "accelerated" if demand.needs_accelerator else "CPU-only"
    steps = [
        f"{int(arch_ok.sum())} of {n} candidate types match the arch",
        f"{int((arch_ok & role_ok).sum())} of those are {kind}",
        f"{int((arch_ok & role_ok & cpu_ok).sum())} have the vCPU and memory",
    ]
    if demand.needs_accelerator:
        steps.append(f"{int((arch_ok & role_ok & cpu_ok & gpu_ok).sum())} the GPUs and GPU memory")
    return InfeasibleModel(
        model=demand.name,
        replicas=demand.replicas,
        reason=f"one replica ({want}) fits no candidate instance type: " + ", ".join(steps),
        fix="add larger or matching instance types to the candidates, or lower the replica's request",
    )


def _check_unique(names: list[str], kind: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(
                f"{kind} {name!r} is listed twice", where="packing input", fix="give each a unique name"
            )
        seen.add(name)


def _num(value: object) -> float:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if np.isnan(f) else f
