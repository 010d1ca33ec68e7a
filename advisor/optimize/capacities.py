"""Capacities for the optimiser: what one replica of a model serves on each candidate shape, and how we know.

Three sources, in order of trust:

1. **measured**: completed bench runs in the store's ``capacities`` table (``advisor bench`` or
   ``advisor recommend --bench``), looked up under the scenario's model name and then under its reference
   server's name (the harness labels runs of reference models by that name);
2. **given**: the scenario's ``capacities_rps`` (requests/s one replica serves within the SLO, per type);
3. **estimated**: for instance families nobody measured, derived from the best anchor of 1-2 (below).

A measured or given figure is an *anchor*. Anchors are normalised to the scenario: a measurement on a shape
with more or fewer vCPUs than one replica requests is scaled linearly by vCPU, and one taken at another SLO
is converted through the queueing model (``advisor.cost.queueing``: the service time that makes the model's
p99 equal the old SLO at the measured rate, then the highest rate whose p99 meets the new SLO). Both mark the
anchor estimated. From the anchors, the capacity on an instance type is

- the anchor on that very type, else an anchor of the same family (same CPU or GPU generation; the replica
  requests the same resources on every size), with the anchor's provenance;
- else, for CPU replicas, an estimate from the best anchor with an uncertainty band. With a family speed
  look-up (``advisor.bench.estimate.family_speed``, which the CLI passes in when the bench extra is
  installed) the anchor is scaled by the two processors' relative speed per vCPU and the band combines
  theirs; without one, ×0.75-1.25 within the same architecture and ×0.6-1.2 across x86/arm64. Both are
  assumptions (no published figure covers every model), so ``capacity_estimates: conservative`` (the
  default) uses the low end, and ``off`` uses none; GPU replicas get no cross-family estimate (GPU
  generations differ too much);
- on Fargate, a ``fargate`` anchor, else an estimate as above (Fargate does not let you choose the CPU).

The **latency floor** is the lowest p99 any valid bench point of the model reached (or the scenario's
``unloaded_p99_ms``): advisor never recommends under an SLO below it, and a measurement at the scenario's SLO
that found no passing rate at all proves the same. Both yield "cannot recommend" with the reason.

Pure: reads the store with plain SQL (no bench import), so it works whether or not the harness is installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from advisor.cost.plan import Capacity, CapacityProvenance
from advisor.cost.queueing import calibrate_service_time_ms, max_utilisation_for_slo
from advisor.domain import InstanceType
from advisor.errors import AdvisorError, ConfigError
from advisor.optimize.scenario import ModelSpec
from advisor.pricing.catalog import Catalog
from advisor.store import Store

EstimatePolicy = Literal["conservative", "point", "off"]
# (relative processor speed per vCPU, uncertainty band as a fraction, basis): how two families compare.
# ``advisor.bench.estimate.family_speed`` provides one (its table of assumptions, with sources); the CLI
# passes it in when the bench extra is installed. Without one, the flat bands below apply.
SpeedLookup = Callable[[InstanceType], tuple[float, float, str]]
FARGATE = "fargate"
# Assumed uncertainty of a cross-family estimate (advisor's assumption; see the module docstring).
SAME_ARCH_BAND = (0.75, 1.25)
CROSS_ARCH_BAND = (0.6, 1.2)
_PROVENANCE_RANK = {
    CapacityProvenance.MEASURED: 0,
    CapacityProvenance.GIVEN: 1,
    CapacityProvenance.ESTIMATED: 2,
}


@dataclass(frozen=True)
class Measurement:
    """One stored capacity of a completed bench run (the latest per label, shape and SLO)."""

    run_id: str
    label: str
    shape: str
    capacity_rps: float
    slo_p99_ms: float
    p99_ms_at_capacity: float | None
    lower_bound: bool
    reason: str


@dataclass(frozen=True)
class Anchor:
    """A measured or given capacity, normalised to the scenario's replica and SLO."""

    shape: str
    family: str
    arch: str | None
    gpu_model: str | None
    rps_per_replica: float
    provenance: CapacityProvenance
    basis: str
    source: str
    run_ids: tuple[str, ...] = ()
    instance: InstanceType | None = None

    @property
    def rank(self) -> int:
        return _PROVENANCE_RANK[self.provenance]


@dataclass(frozen=True)
class CapacityEntry:
    """The capacity of one replica on one shape, with how it was obtained."""

    shape: str
    rps_per_replica: float
    provenance: CapacityProvenance
    basis: str  # "exact", "same family", "estimate (same arch)", "estimate (cross arch)", ...
    source: str
    run_ids: tuple[str, ...] = ()
    low_rps: float | None = None
    high_rps: float | None = None

    def to_capacity(self) -> Capacity:
        """The cost model's :class:`Capacity` for a plan on this shape."""
        return Capacity(
            rps_per_replica=self.rps_per_replica,
            provenance=self.provenance,
            source=f"{self.basis}: {self.source}",
            low_rps=self.low_rps,
            high_rps=self.high_rps,
        )


@dataclass
class ModelCapacities:
    """Every anchor of one model and what can be derived from them."""

    model: str
    anchors: list[Anchor]
    policy: EstimatePolicy = "conservative"
    latency_floor_ms: float | None = None
    latency_floor_source: str = ""
    missed: list[Measurement] = field(default_factory=list)
    speed: SpeedLookup | None = None

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(sorted({r for a in self.anchors for r in a.run_ids} | {m.run_id for m in self.missed}))

    def entry(self, itype: InstanceType) -> CapacityEntry | None:
        """The capacity of one replica on ``itype``; None when nothing supports a figure."""
        exact = [a for a in self.anchors if a.shape == itype.name]
        same = exact or [a for a in self.anchors if _same_family(a, itype)]
        if same:
            best = min(same, key=lambda a: (a.rank, a.shape))
            basis = best.basis if exact else f"same family as {best.shape} ({best.basis})"
            return CapacityEntry(
                itype.name, best.rps_per_replica, best.provenance, basis, best.source, best.run_ids
            )
        if self.policy == "off" or itype.has_gpu or itype.accelerator_count:
            return None
        cpu = [a for a in self.anchors if a.gpu_model is None and a.shape != FARGATE]
        return self._estimate(itype.name, itype.arch.value, cpu, itype)

    def fargate_entry(self) -> CapacityEntry | None:
        """The capacity of one replica in a Fargate task (x86 Linux)."""
        given = [a for a in self.anchors if a.shape == FARGATE]
        if given:
            best = min(given, key=lambda a: a.rank)
            return CapacityEntry(FARGATE, best.rps_per_replica, best.provenance, best.basis, best.source)
        if self.policy == "off":
            return None
        cpu = [a for a in self.anchors if a.gpu_model is None]
        return self._estimate(FARGATE, "x86_64", cpu)

    def _estimate(
        self, shape: str, arch: str, anchors: list[Anchor], target: InstanceType | None = None
    ) -> CapacityEntry | None:
        if not anchors:
            return None
        best = min(anchors, key=lambda a: (a.rank, a.arch != arch, -a.rps_per_replica, a.shape))
        point = best.rps_per_replica
        if self.speed is not None and target is not None and best.instance is not None:
            # Per-vCPU processor speed of the two families (the bench's table, with its bands and basis).
            f_a, band_a, _ = self.speed(best.instance)
            f_t, band_t, basis_t = self.speed(target)
            point = point * f_t / f_a
            low, high = point * (1 - band_t) / (1 + band_a), point * (1 + band_t) / max(1 - band_a, 0.05)
            kind = f"family speed {f_t:g}/{f_a:g} per vCPU: {basis_t}"
        else:
            low_f, high_f = SAME_ARCH_BAND if best.arch in (None, arch) else CROSS_ARCH_BAND
            low, high = point * low_f, point * high_f
            kind = "same arch" if best.arch in (None, arch) else "cross arch"
        used = low if self.policy == "conservative" else point
        return CapacityEntry(
            shape,
            used,
            CapacityProvenance.ESTIMATED,
            f"estimate ({kind}; {self.policy}) from {best.shape}",
            f"{best.provenance.value} {best.rps_per_replica:.4g} rps on {best.shape}: {best.source}",
            best.run_ids,
            low_rps=low,
            high_rps=high,
        )

    def entries_for(self, types: Sequence[InstanceType]) -> tuple[np.ndarray, list[CapacityEntry | None]]:
        """Capacity per type (NaN where unknown), and the entries themselves.

        Entries are computed once per family (every size of a family gets the same one, except a type with
        its own anchor), so 300 types cost a few dozen look-ups.
        """
        values = np.full(len(types), np.nan)
        entries: list[CapacityEntry | None] = [None] * len(types)
        by_family: dict[tuple[str, str, str | None], CapacityEntry | None] = {}
        anchor_shapes = {a.shape for a in self.anchors}
        for i, itype in enumerate(types):
            key = (itype.family, itype.arch.value, itype.gpu_model)
            if itype.name in anchor_shapes:
                entry = self.entry(itype)
            else:
                if key not in by_family:
                    by_family[key] = self.entry(itype)
                found = by_family[key]
                entry = None if found is None else _renamed(found, itype.name)
            entries[i] = entry
            if entry is not None:
                values[i] = entry.rps_per_replica
        return values, entries


def stored_measurements(store: Store, labels: tuple[str, ...]) -> list[Measurement]:
    """The latest capacity per (label, shape, SLO) of completed runs under any of ``labels``."""
    if not labels:
        return []
    marks = ",".join("?" for _ in labels)
    rows = store.query(
        "SELECT c.run_id, c.model, c.shape, c.capacity_rps, c.slo_p99_ms, c.p99_ms_at_capacity,"
        " c.lower_bound, c.reason FROM capacities c JOIN bench_runs r ON r.id = c.run_id"
        f" WHERE c.model IN ({marks}) AND c.estimated = 0 AND r.status = 'completed'"
        " ORDER BY c.id",
        labels,
    )
    latest: dict[tuple[str, str, float], Measurement] = {}
    for r in rows:
        m = Measurement(
            run_id=str(r["run_id"]),
            label=str(r["model"]),
            shape=str(r["shape"]),
            capacity_rps=float(r["capacity_rps"]),
            slo_p99_ms=float(r["slo_p99_ms"]),
            p99_ms_at_capacity=None if r["p99_ms_at_capacity"] is None else float(r["p99_ms_at_capacity"]),
            lower_bound=bool(r["lower_bound"]),
            reason=str(r["reason"] or ""),
        )
        latest[(m.label, m.shape, m.slo_p99_ms)] = m
    # Prefer the first label (the scenario's own name) over the reference server's name.
    order = {label: i for i, label in enumerate(labels)}
    return sorted(latest.values(), key=lambda m: (order[m.label], m.shape, m.slo_p99_ms))


def measured_latency_floor(store: Store, labels: tuple[str, ...]) -> tuple[float, str] | None:
    """The lowest p99 (ms) of any valid point of a completed run under ``labels``, and where it was seen."""
    if not labels:
        return None
    marks = ",".join("?" for _ in labels)
    rows = store.query(
        "SELECT p.p99_ms, r.id, r.shape FROM bench_points p JOIN bench_runs r ON r.id = p.run_id"
        f" WHERE r.model IN ({marks}) AND r.status = 'completed' AND p.valid = 1 AND p.p99_ms IS NOT NULL"
        " ORDER BY p.p99_ms ASC, r.id LIMIT 1",
        labels,
    )
    if not rows:
        return None
    row = rows[0]
    return float(row["p99_ms"]), f"bench run {row['id']} on {row['shape']}"


def model_labels(model: ModelSpec) -> tuple[str, ...]:
    """Names the model's runs may be stored under: its own, then its reference server's."""
    labels = [model.name]
    if model.server.reference and model.server.reference != model.name:
        labels.append(model.server.reference)
    return tuple(labels)


def build_capacities(
    model: ModelSpec,
    catalog: Catalog,
    *,
    measurements: list[Measurement],
    latency_floor: tuple[float, str] | None = None,
    policy: EstimatePolicy = "conservative",
    where: str = "models",
    speed: SpeedLookup | None = None,
) -> ModelCapacities:
    """The anchors of ``model`` from stored measurements and its ``capacities_rps``.

    Raises ConfigError (naming ``{where}.capacities_rps.KEY``) for a given capacity on an unknown type.
    Measurements on shapes the catalog does not know (``host``) are skipped.
    """
    slo = model.slo.latency_p99_ms
    anchors: list[Anchor] = []
    missed: list[Measurement] = []
    measured_shapes: set[str] = set()
    at_slo = [m for m in measurements if math.isclose(m.slo_p99_ms, slo, rel_tol=1e-6)]
    # A run at the scenario's SLO beats a conversion from another SLO on the same shape, and a run at this
    # SLO that found no passing rate rules the shape out whatever other SLOs found.
    missed_shapes = {m.shape for m in at_slo if m.capacity_rps <= 0}
    ordered = at_slo + [m for m in measurements if m not in at_slo and m.shape not in missed_shapes]
    for m in ordered:
        try:
            itype = catalog.instance(m.shape)
        except AdvisorError:  # a shape that is not an instance type (the host itself)
            continue
        if m.capacity_rps <= 0:
            if m.shape in missed_shapes:
                missed.append(m)
            continue
        anchor = _measured_anchor(m, itype, model)
        if anchor is not None and anchor.shape not in measured_shapes:
            anchors.append(anchor)
            measured_shapes.add(anchor.shape)
    for key, rps in model.capacities_rps.items():
        anchor = _given_anchor(key, rps, catalog, f"{where}.capacities_rps.{key}")
        if anchor.shape not in measured_shapes:  # measured ones win
            anchors.append(anchor)
    floor_ms, floor_src = None, ""
    if latency_floor is not None:
        floor_ms, floor_src = latency_floor
    if model.unloaded_p99_ms is not None and (floor_ms is None or model.unloaded_p99_ms < floor_ms):
        floor_ms, floor_src = model.unloaded_p99_ms, f"{where}.unloaded_p99_ms"
    return ModelCapacities(
        model=model.name,
        anchors=anchors,
        policy=policy,
        latency_floor_ms=floor_ms,
        latency_floor_source=floor_src,
        missed=missed,
        speed=speed,
    )


def convert_capacity_to_slo(capacity_rps: float, from_slo_ms: float, to_slo_ms: float) -> float:
    """Capacity at another p99 SLO through an M/D/1 queue calibrated at the measured point.

    Returns 0.0 when the calibrated service time alone exceeds ``to_slo_ms`` (no rate meets it).
    """
    if math.isclose(from_slo_ms, to_slo_ms, rel_tol=1e-9):
        return capacity_rps
    service_ms = calibrate_service_time_ms(capacity_rps, from_slo_ms, 1, 0.0)
    rho = max_utilisation_for_slo(service_ms, to_slo_ms, 1, 0.0)
    return rho * 1000.0 / service_ms


# ----- helpers ---------------------------------------------------------------------------------------


def _measured_anchor(m: Measurement, itype: InstanceType, model: ModelSpec) -> Anchor | None:
    rps = m.capacity_rps
    notes = [f"bench run {m.run_id} on {m.shape}"]
    provenance = CapacityProvenance.MEASURED
    basis = "measured"
    if m.lower_bound:
        notes.append("a lower bound: the load generator, not the server, was the limit")
    need = model.resources.vcpu
    if not itype.has_gpu and not math.isclose(itype.vcpu, need, rel_tol=1e-6):
        rps *= need / itype.vcpu
        provenance, basis = CapacityProvenance.ESTIMATED, f"vCPU scaling {need:g}/{itype.vcpu}"
    if not math.isclose(m.slo_p99_ms, model.slo.latency_p99_ms, rel_tol=1e-6):
        rps = convert_capacity_to_slo(rps, m.slo_p99_ms, model.slo.latency_p99_ms)
        provenance = CapacityProvenance.ESTIMATED
        basis = f"{basis}; SLO conversion {m.slo_p99_ms:g}->{model.slo.latency_p99_ms:g} ms (M/D/1)"
        if rps <= 0:
            return None
    return Anchor(
        shape=itype.name,
        family=itype.family,
        arch=itype.arch.value,
        gpu_model=itype.gpu_model if itype.has_gpu else None,
        rps_per_replica=rps,
        provenance=provenance,
        basis=basis,
        source="; ".join(notes),
        run_ids=(m.run_id,),
        instance=itype,
    )


def _given_anchor(key: str, rps: float, catalog: Catalog, where: str) -> Anchor:
    source = f"given in the scenario ({where})"
    if key.lower().startswith(FARGATE):
        return Anchor(FARGATE, FARGATE, "x86_64", None, rps, CapacityProvenance.GIVEN, "given", source)
    try:
        itype = catalog.instance(key)
    except AdvisorError as exc:  # NotFoundError, with suggestions
        fix = exc.fix or "use an instance type name from `advisor pricing show`"
        raise ConfigError(f"unknown instance type {key!r}", where=where, fix=fix) from None
    return Anchor(
        shape=itype.name,
        family=itype.family,
        arch=itype.arch.value,
        gpu_model=itype.gpu_model if itype.has_gpu else None,
        rps_per_replica=rps,
        provenance=CapacityProvenance.GIVEN,
        basis="given",
        source=source,
        instance=itype,
    )


def _same_family(anchor: Anchor, itype: InstanceType) -> bool:
    if anchor.shape == FARGATE or anchor.family != itype.family or anchor.arch != itype.arch.value:
        return False
    return anchor.gpu_model == (itype.gpu_model if itype.has_gpu else None)


def _renamed(entry: CapacityEntry, shape: str) -> CapacityEntry:
    if entry.shape == shape:
        return entry
    return CapacityEntry(
        shape,
        entry.rps_per_replica,
        entry.provenance,
        entry.basis,
        entry.source,
        entry.run_ids,
        entry.low_rps,
        entry.high_rps,
    )
