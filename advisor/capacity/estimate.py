"""The one capacity estimator: what a server of ``v`` vCPUs serves on an instance type nobody measured.

Used alike by ``advisor recommend`` (``v`` = the replica's vCPU request, whatever the node's size) and by
``advisor bench suggest`` (``v`` = the whole instance, one server per node). For a target type ``T``:

1. **An anchor on T's family with the same vCPUs** (:mod:`advisor.capacity.anchors`) applies as it is, with
   its provenance: a replica asking for the same CPUs of the same processor serves the same rate on any
   size of the family.
2. **vCPU scaling and processor speed**, from the best anchor (measured before given, same architecture,
   same family, nearest vCPU count, highest rate)::

       c_T = c_A / f_A × (v / v_A)^e × f_T

   ``f`` is the processor's speed per vCPU (:mod:`advisor.capacity.speed`, with its band); ``e`` is fitted
   on the model's measured vCPU counts (clamped to [0.3, 1.2], band ± 2 standard errors, at least ± 0.1)
   or assumed in [0.6, 1.0] (point 0.8) with one count. The band combines the exponent's range with the two
   processors' bands in quadrature (independent assumptions); the same processor adds none. Worked example:
   100 req/s measured on c6i.large (2 vCPU), asked for c7g.xlarge (4 vCPU, Graviton3 1.0 ± 20% vs Ice Lake
   1.0 ± 5%): point 100 × 2^0.8 = 174, low 100 × 2^0.6 × (1 − 0.206) = 120, high 100 × 2 × 1.206 = 241.
   ``capacity_estimates: conservative`` (the default) uses the low end, ``point`` the middle, ``off`` no
   estimate across families.
3. **GPU types**: an anchor on the same GPU (per GPU, on other sizes); else, when the model's FLOPs and
   bytes per request are given, a roofline: one request takes at least max(FLOPs / peak FLOP/s, bytes /
   bandwidth) and a GPU reaches 10-50% of that (advisor's assumption). No CPU anchor estimates a GPU type.
4. **Nothing**, with the reason: accelerators (Inferentia, Trainium) and burstable types need a measurement;
   a type with less memory than the server's measured RSS does not fit (whole-instance mode only).

On Fargate (no choice of processor) the anchor's own processor is assumed, ± ``FARGATE_BAND``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from pydantic import Field

from advisor.capacity.anchors import FARGATE, Anchor
from advisor.capacity.evidence import Measurement
from advisor.capacity.speed import FARGATE_BAND, UNKNOWN_FAMILY_BAND, ProcessorSpeed, family_speed, gpu_specs
from advisor.domain import InputModel, InstanceType
from advisor.recommendation.plan import Capacity, CapacityProvenance

EstimatePolicy = Literal["conservative", "point", "off"]
EXPONENT_CLAMP = (0.3, 1.2)
GPU_EFFICIENCY = (0.1, 0.5)
_BURSTABLE = re.compile(r"^t\d")


class GpuWorkload(InputModel):
    """What one request costs a GPU, for the roofline estimate."""

    flops_per_request: float = Field(gt=0, description="floating-point operations one request takes")
    bytes_per_request: float = Field(gt=0, description="bytes one request moves from GPU memory")


@dataclass(frozen=True)
class Exponent:
    """``e`` in capacity ∝ vcpu^e: low, point, high, and what it rests on."""

    low: float
    point: float
    high: float
    basis: str


SINGLE_SHAPE_EXPONENT = Exponent(0.6, 0.8, 1.0, "assumed 0.6-1.0")


@dataclass(frozen=True)
class CapacityEntry:
    """The capacity of one server (replica) on one shape, with how it was obtained."""

    shape: str
    rps_per_replica: float
    provenance: CapacityProvenance
    basis: str
    source: str
    run_ids: tuple[str, ...] = ()
    low_rps: float | None = None
    high_rps: float | None = None
    method: str = "measured"  # measured | given | slo_conversion | vcpu_scaling | family_speed | roofline
    anchors: tuple[str, ...] = ()  # shapes the figure rests on

    def to_capacity(self) -> Capacity:
        """The cost model's :class:`Capacity` for a plan on this shape."""
        return Capacity(
            rps_per_replica=self.rps_per_replica,
            provenance=self.provenance,
            source=f"{self.basis}: {self.source}",
            low_rps=self.low_rps,
            high_rps=self.high_rps,
        )

    def renamed(self, shape: str) -> CapacityEntry:
        """The same figure for another size of the family (a shallow copy of the fields: ``replace`` would
        run every field through ``__init__`` again, and ``copy.copy`` through the pickle protocol, hundreds
        of times per model)."""
        if shape == self.shape:
            return self
        out = object.__new__(CapacityEntry)
        out.__dict__.update(self.__dict__)
        out.__dict__["shape"] = shape
        return out


FamilyKey = tuple[str, str, str | None, float]
_FAMILY_KEYS: dict[int, tuple[Sequence[InstanceType], list[FamilyKey]]] = {}


def _family_keys(types: Sequence[InstanceType]) -> list[FamilyKey]:
    """(family, arch, GPU model, GPU count) per type: what a fixed replica's capacity depends on; kept for
    the last few type lists (every model of a run asks with the same one)."""
    kept = _FAMILY_KEYS.get(id(types))
    if kept is not None and kept[0] is types:
        return kept[1]
    keys = [(t.family, t.arch.value, t.gpu_model, t.gpu_count) for t in types]
    if len(_FAMILY_KEYS) >= 4:
        _FAMILY_KEYS.clear()
    _FAMILY_KEYS[id(types)] = (types, keys)
    return keys


@dataclass(frozen=True)
class Unavailable:
    """No figure for a shape, and why."""

    shape: str
    reason: str


def fit_exponent(anchors: Sequence[Anchor]) -> Exponent:
    """The vCPU scaling exponent from measured CPU anchors at two or more vCPU counts (speed-normalised)."""
    by_vcpu: dict[float, list[float]] = {}
    for a in anchors:
        if a.provenance is CapacityProvenance.GIVEN or a.instance is None or a.instance.has_gpu or a.rps <= 0:
            continue
        by_vcpu.setdefault(a.vcpu, []).append(a.rps / family_speed(a.instance).factor)
    if len(by_vcpu) < 2:
        return SINGLE_SHAPE_EXPONENT
    xs = np.array([math.log(v) for v, caps in by_vcpu.items() for _ in caps])
    ys = np.array([math.log(c) for caps in by_vcpu.values() for c in caps])
    dx = xs - xs.mean()
    e = float(np.clip((dx * (ys - ys.mean())).sum() / (dx * dx).sum(), *EXPONENT_CLAMP))
    resid = ys - (ys.mean() + e * dx)
    se = (
        math.sqrt(float((resid**2).sum()) / max(xs.size - 2, 1) / float((dx * dx).sum()))
        if xs.size > 2
        else 0
    )
    half = max(0.1, 2 * se)
    shapes = sorted({a.shape for a in anchors if a.provenance is not CapacityProvenance.GIVEN and a.instance})
    return Exponent(
        max(EXPONENT_CLAMP[0], e - half),
        e,
        min(EXPONENT_CLAMP[1], e + half),
        "fitted on " + ", ".join(shapes),
    )


@dataclass
class ModelCapacities:
    """Every anchor of one model and what can be derived from them.

    ``replica_vcpu`` is the vCPU request of one replica (``recommend``), or None for one server on the whole
    instance (``bench suggest``), where the instance's memory must also hold the server's measured RSS.
    """

    model: str
    anchors: list[Anchor]
    slo_p99_ms: float
    replica_vcpu: float | None = None
    policy: EstimatePolicy = "conservative"
    exponent: Exponent = SINGLE_SHAPE_EXPONENT
    latency_floor_ms: float | None = None
    latency_floor_source: str = ""
    missed: list[Measurement] = field(default_factory=list)
    workload: GpuWorkload | None = None

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(sorted({r for a in self.anchors for r in a.run_ids} | {m.run_id for m in self.missed}))

    def entry(self, itype: InstanceType) -> CapacityEntry | None:
        """The capacity of one server on ``itype``; None when nothing supports a figure."""
        found = self.lookup(itype)
        return found if isinstance(found, CapacityEntry) else None

    def lookup(self, itype: InstanceType) -> CapacityEntry | Unavailable:
        """The capacity on ``itype`` or why there is none (module docstring, steps 1-4)."""
        v = self.replica_vcpu if self.replica_vcpu is not None else float(itype.vcpu)
        family = [a for a in self.anchors if a.shape == itype.name] or [
            a for a in self.anchors if a.same_family(itype)
        ]
        if itype.has_gpu:
            return self._gpu(itype, family)
        same = [a for a in family if math.isclose(a.vcpu, v, rel_tol=1e-6)]
        if same:
            return _as_is(min(same, key=lambda a: (a.rank, a.shape != itype.name, a.shape)), itype.name)
        if itype.accelerator_count:
            return Unavailable(
                itype.name, f"{itype.accelerator_name or 'accelerator'} instances need a measurement"
            )
        if _BURSTABLE.match(itype.family):
            return Unavailable(
                itype.name, "burstable type: CPU credits run out under sustained load; measure it"
            )
        cpu = [a for a in self.anchors if a.instance is not None and a.gpu_model is None]
        if self.policy == "off":
            cpu = family
        if not cpu:
            return Unavailable(itype.name, self._no_anchor_reason())
        best = (
            cpu[0]  # one CPU anchor (most models): the order has nothing to choose
            if len(cpu) == 1
            else min(cpu, key=lambda a: _anchor_order(a, itype.arch.value, v, a.same_family(itype)))
        )
        assert best.instance is not None
        entry = self._scaled(
            best, itype.name, v, family_speed(best.instance), family_speed(itype), itype.arch.value
        )
        rss = best.peak_rss_mib
        if self.replica_vcpu is None and rss is not None and itype.memory_gib * 1024 < rss:
            return replace(
                entry,
                rps_per_replica=0.0,
                low_rps=0.0,
                high_rps=0.0,
                basis=f"does not fit: the server used {rss:.0f} MiB on {best.shape}, {itype.name} has "
                f"{itype.memory_gib:g} GiB",
            )
        return entry

    def fargate_entry(self) -> CapacityEntry | None:
        """The capacity of one replica in a Fargate task (x86 Linux)."""
        given = [a for a in self.anchors if a.shape == FARGATE]
        if given:
            return _as_is(min(given, key=lambda a: a.rank), FARGATE)
        cpu = [a for a in self.anchors if a.instance is not None and a.gpu_model is None]
        if self.policy == "off" or not cpu:
            return None
        v = self.replica_vcpu if self.replica_vcpu is not None else 1.0
        best = min(cpu, key=lambda a: _anchor_order(a, "x86_64", v, False))
        assert best.instance is not None
        own = family_speed(best.instance)
        if best.arch == "x86_64":  # the anchor's processor, within the Fargate band (module docstring)
            target = ProcessorSpeed(
                own.factor, FARGATE_BAND, f"Fargate x86, assumed as {best.shape}'s processor"
            )
        else:
            target = ProcessorSpeed(1.0, UNKNOWN_FAMILY_BAND, "Fargate x86, processor unknown; assumed 1.0")
        return self._scaled(best, FARGATE, v, own, target, "x86_64", fargate=True)

    def entries_for(
        self, types: Sequence[InstanceType], wanted: Sequence[bool] | None = None
    ) -> tuple[np.ndarray, list[CapacityEntry | None]]:
        """Capacity per type (NaN where unknown), and the entries themselves; only where ``wanted`` (the
        types a replica fits: a CPU model never asks about GPU types) when given, NaN and None elsewhere.

        With a fixed replica every size of a family gets the same entry (except a type with its own anchor),
        so entries are computed once per family: 300 types cost a few dozen look-ups.
        """
        values = np.full(len(types), np.nan)
        entries: list[CapacityEntry | None] = [None] * len(types)
        by_family: dict[tuple[str, str, str | None, float], CapacityEntry | None] = {}
        anchor_shapes = {a.shape for a in self.anchors}
        per_type = self.replica_vcpu is None
        for i, (itype, key) in enumerate(zip(types, _family_keys(types), strict=True)):
            if wanted is not None and not wanted[i]:
                continue
            if per_type or itype.name in anchor_shapes:
                entry = self.entry(itype)
            else:
                if key not in by_family:
                    by_family[key] = self.entry(itype)
                found = by_family[key]
                entry = None if found is None else found.renamed(itype.name)
            entries[i] = entry
            if entry is not None:
                values[i] = entry.rps_per_replica
        return values, entries

    # ----- helpers -------------------------------------------------------------------------------------

    def _no_anchor_reason(self) -> str:
        if self.missed and not self.anchors:
            return "the SLO was missed on every measured shape"
        if self.policy == "off":
            return "capacity_estimates is off and nothing was measured or given on this family"
        return "no CPU shape of this model was measured or given under this SLO"

    def _scaled(
        self,
        anchor: Anchor,
        shape: str,
        v: float,
        f_a: ProcessorSpeed,
        f_t: ProcessorSpeed,
        arch: str,
        *,
        fargate: bool = False,
    ) -> CapacityEntry:
        ratio = v / anchor.vcpu
        e = self.exponent
        e_lo, e_hi = (e.high, e.low) if ratio < 1 else (e.low, e.high)
        same_processor = f_a.basis == f_t.basis
        band = f_t.band if fargate else (0.0 if same_processor else math.hypot(f_a.band, f_t.band))
        norm = anchor.rps / f_a.factor * f_t.factor
        point = norm * ratio**e.point
        low = norm * ratio**e_lo * (1 - band)
        high = norm * ratio**e_hi * (1 + band)
        notes = []
        if not math.isclose(ratio, 1.0, rel_tol=1e-9):
            notes.append(f"vCPU scaling {anchor.vcpu:g}->{v:g} as vcpu^{e.point:.2f} (exponent {e.basis})")
        if not same_processor or fargate:
            notes.append(f"family speed {f_t.factor:g}/{f_a.factor:g} per vCPU: {f_t.basis}")
        else:
            notes.append(f"same processor as {anchor.shape}")
        if anchor.arch != arch:
            notes.append("cross arch")
        used = low if self.policy == "conservative" else point
        return CapacityEntry(
            shape=shape,
            rps_per_replica=max(used, 0.0),
            provenance=CapacityProvenance.ESTIMATED,
            basis=f"estimate ({'; '.join(notes)}; {self.policy}) from {anchor.shape}",
            source=f"{anchor.provenance.value} {anchor.rps:.4g} rps on {anchor.shape}: {anchor.source}",
            run_ids=anchor.run_ids,
            low_rps=max(low, 0.0),
            high_rps=high,
            method="family_speed" if math.isclose(ratio, 1.0, rel_tol=1e-9) else "vcpu_scaling",
            anchors=(anchor.shape,),
        )

    def _gpu(self, itype: InstanceType, family: list[Anchor]) -> CapacityEntry | Unavailable:
        if family:
            best = min(family, key=lambda a: (a.rank, a.shape != itype.name, a.shape))
            base = _as_is(best, itype.name)
            per_node = best.instance.gpu_count if best.instance is not None else itype.gpu_count
            if self.replica_vcpu is not None or math.isclose(per_node, itype.gpu_count):
                return base
            scale = itype.gpu_count / per_node  # one server on the whole node: linear in its GPUs
            return replace(
                base,
                rps_per_replica=base.rps_per_replica * scale,
                provenance=CapacityProvenance.ESTIMATED,
                basis=f"{best.shape} x {scale:g} GPUs ({best.basis})",
                method="vcpu_scaling",
            )
        spec = gpu_specs().get(itype.gpu_model or "")
        if self.workload is None or spec is None:
            why = (
                "GPU types need the model's FLOPs and bytes per request for a roofline estimate "
                "(or a measurement)"
                if spec is not None
                else f"no datasheet figures for GPU {itype.gpu_model!r}; measure it"
            )
            return Unavailable(itype.name, why)
        w = self.workload
        t_compute = w.flops_per_request / (spec.fp16_dense_tflops * 1e12)
        t_memory = w.bytes_per_request / (spec.memory_bandwidth_gb_per_s * 1e9)
        t_request = max(t_compute, t_memory)
        bound = "compute" if t_compute >= t_memory else "memory"
        gpus = itype.gpu_count
        low, high = gpus * GPU_EFFICIENCY[0] / t_request, gpus * GPU_EFFICIENCY[1] / t_request
        fastest_ms = t_request * 1000.0 / GPU_EFFICIENCY[1]
        if fastest_ms > self.slo_p99_ms:
            low = high = 0.0
        basis = (
            f"{bound}-bound roofline on {gpus:g} x {itype.gpu_model} ({spec.source}); efficiency "
            f"{GPU_EFFICIENCY[0]:g}-{GPU_EFFICIENCY[1]:g}"
            if low > 0
            else f"one request needs >= {fastest_ms:.1f} ms at the best efficiency assumed, over the SLO"
        )
        return CapacityEntry(
            shape=itype.name,
            rps_per_replica=math.sqrt(low * high),
            provenance=CapacityProvenance.ESTIMATED,
            basis=basis,
            source="GPU datasheet",
            low_rps=low,
            high_rps=high,
            method="roofline",
        )


def _as_is(anchor: Anchor, shape: str) -> CapacityEntry:
    basis = anchor.basis if anchor.shape == shape else f"same family as {anchor.shape} ({anchor.basis})"
    return CapacityEntry(
        shape=shape,
        rps_per_replica=anchor.rps,
        provenance=anchor.provenance,
        basis=basis,
        source=anchor.source,
        run_ids=anchor.run_ids,
        method=anchor.method,
        anchors=(anchor.shape,),
    )


def _anchor_order(anchor: Anchor, arch: str, v: float, same_family: bool) -> tuple[object, ...]:
    return (
        anchor.rank,
        anchor.arch != arch,
        not same_family,
        abs(math.log(v / anchor.vcpu)),
        -anchor.rps,
        anchor.shape,
    )
