"""Capacity for instance types nobody measured: estimates with an uncertainty band, and what to measure next.

:func:`capacity_table` is what the optimiser calls. For each instance type it returns a
:class:`CapacityEstimate`: the measured capacity when there is one (measured always wins), else an estimate
flagged ``estimated=True`` with ``low_rps``/``high_rps``:

* **CPU types — vCPU scaling.** Measured capacities are first normalised by their family's relative speed
  per vCPU (``data/family_speed.csv``: assumptions with their basis and band, see that file). With two or
  more measured vCPU counts the scaling exponent ``e`` in ``capacity ∝ vcpu^e`` is fitted (clamped to
  [0.3, 1.2]) — this is the efficiency measured between shapes; with one, ``e`` is assumed to lie in
  [0.6, 1.0].
  The estimate starts from the measured shape nearest in vCPU::

      c_T = c_A / f_A × (v_T / v_A)^e × f_T

  and the band combines the exponent range with both families' speed bands. Worked example: 100 req/s
  measured on c6i.large (2 vCPU, f=1.0), one shape only; c7g.xlarge (4 vCPU, f=1.0 ±20%):
  point 100 × 2^0.8 = 174, low 100 × 2^0.6 × 0.8 = 121, high 100 × 2^1.0 × 1.2 = 240.
* **GPU types — roofline**, only when the model's FLOPs and bytes per request are given: one request takes
  at least ``max(FLOPs / peak FLOP/s, bytes / memory bandwidth)`` (``data/gpu_specs.csv``, from NVIDIA
  datasheets); capacity is ``GPUs × efficiency / t`` with efficiency in [0.1, 0.5] (low, high).
* Otherwise (accelerators, burstable types, no measurement at all) the entry has ``capacity_rps=None`` and a
  ``reason``. A type whose memory is below the server's measured RSS gets capacity 0 (it does not fit).

:func:`suggest_measurements` lists the estimated types whose optimistic $/(req/s) beats the best
pessimistic one, i.e. whose uncertainty could change the cheapest choice.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from advisor.bench import results
from advisor.domain import SLO, InstanceType, PurchaseOption
from advisor.errors import AdvisorError
from advisor.pricing.catalog import Catalog
from advisor.store import Store

DATA_DIR = Path(__file__).resolve().parent / "data"
SINGLE_SHAPE_EXPONENT = (0.6, 0.8, 1.0)  # (low, point, high) when only one vCPU count was measured
EXPONENT_CLAMP = (0.3, 1.2)
UNKNOWN_FAMILY_BAND = 0.40
GPU_EFFICIENCY = (0.1, 0.5)
_FAMILY_RE = re.compile(r"^(?P<cls>[a-z]+?)(?P<gen>\d+)(?P<attrs>[a-z]*)(?:-flex)?$")


class GpuWorkload(BaseModel):
    """What one request costs a GPU, for the roofline estimate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flops_per_request: float = Field(gt=0)
    bytes_per_request: float = Field(gt=0, description="bytes moved from GPU memory per request")


class CapacityEstimate(BaseModel):
    """Capacity of one replica of ``model`` on ``instance_type`` under the SLO; measured or estimated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    instance_type: str
    slo_p99_ms: float
    capacity_rps: float | None = Field(description="None: no estimate possible (see reason)")
    low_rps: float | None = None
    high_rps: float | None = None
    estimated: bool
    method: Literal["measured", "vcpu_scaling", "roofline", "unavailable"]
    run_id: str | None = None
    basis: list[str] = Field(default_factory=list, description="measured shapes the estimate rests on")
    reason: str = ""


@dataclass(frozen=True)
class FamilySpeed:
    factor: float
    band: float
    basis: str


@cache
def _speed_table() -> dict[str, FamilySpeed]:
    with open(DATA_DIR / "family_speed.csv", encoding="utf-8") as fh:
        return {
            row["match"]: FamilySpeed(
                float(row["relative_speed_per_vcpu"]), float(row["band_pct"]) / 100, row["basis"]
            )
            for row in csv.DictReader(fh)
        }


@cache
def _gpu_table() -> dict[str, tuple[float, float, str]]:
    with open(DATA_DIR / "gpu_specs.csv", encoding="utf-8") as fh:
        return {
            row["gpu_model"]: (
                float(row["fp16_dense_tflops"]),
                float(row["memory_bandwidth_gb_per_s"]),
                row["source"],
            )
            for row in csv.DictReader(fh)
        }


def family_speed(itype: InstanceType) -> FamilySpeed:
    """Relative per-vCPU speed of an instance's processor (c6i = 1.0); unknown families get 1.0 ± 40%."""
    table = _speed_table()
    if f"family:{itype.family}" in table:
        return table[f"family:{itype.family}"]
    m = _FAMILY_RE.match(itype.family)
    if m is not None:
        attrs = m.group("attrs")
        proc = "graviton" if itype.arch.value == "arm64" else ("amd" if "a" in attrs else "intel")
        key = f"{proc}:{m.group('gen')}"
        if key in table:
            return table[key]
    return FamilySpeed(1.0, UNKNOWN_FAMILY_BAND, f"no speed factor for family {itype.family}; assumed 1.0")


@dataclass(frozen=True)
class _Measured:
    itype: InstanceType
    capacity: float
    run_id: str
    rss_mib: float | None
    lower_bound: bool


def capacity_table(
    store: Store,
    catalog: Catalog,
    model: str,
    instance_types: list[str],
    slo: SLO,
    *,
    workload: GpuWorkload | None = None,
) -> list[CapacityEstimate]:
    """One entry per instance type (in the order given): measured capacity, or a flagged estimate.

    Only measurements taken under this very SLO (p99 bound) count. Unknown instance names raise
    NotFoundError. Never raises for a type that cannot be estimated: its entry says why instead.
    """
    measured: dict[str, _Measured] = {}
    for row in results.measured_capacities(store, model):
        if abs(float(row["slo_p99_ms"]) - slo.latency_p99_ms) > 1e-9:
            continue
        try:
            itype = catalog.instance(str(row["shape"]))
        except AdvisorError:
            continue  # "host" or an endpoint of unknown shape: not usable for scaling
        measured[itype.name] = _Measured(
            itype,
            float(row["capacity_rps"]),
            str(row["run_id"]),
            results.peak_rss_mib(store, str(row["run_id"])),
            bool(row.get("lower_bound")),
        )
    cpu_base = [m for m in measured.values() if not m.itype.has_gpu and m.capacity > 0]
    fit = _fit_exponent(cpu_base)
    out = []
    for name in instance_types:
        itype = catalog.instance(name)
        base = {"model": model, "instance_type": itype.name, "slo_p99_ms": slo.latency_p99_ms}
        if itype.name in measured:
            m = measured[itype.name]
            note = "measured" + (
                " (a lower bound: the load generator saturated first)" if m.lower_bound else ""
            )
            out.append(
                CapacityEstimate(
                    **base,
                    capacity_rps=m.capacity,
                    low_rps=m.capacity,
                    high_rps=m.capacity,
                    estimated=False,
                    method="measured",
                    run_id=m.run_id,
                    basis=[itype.name],
                    reason=note,
                )
            )
        elif itype.has_gpu:
            out.append(_roofline(base, itype, workload, slo))
        else:
            out.append(_scaled(base, itype, cpu_base, fit, measured))
    return out


def _fit_exponent(points: list[_Measured]) -> tuple[float, float, float]:
    """(low, point, high) of e in capacity ∝ vcpu^e, from speed-normalised measurements."""
    by_vcpu: dict[int, list[float]] = {}
    for m in points:
        by_vcpu.setdefault(m.itype.vcpu, []).append(m.capacity / family_speed(m.itype).factor)
    if len(by_vcpu) < 2:
        return SINGLE_SHAPE_EXPONENT
    xs = [math.log(v) for v, caps in by_vcpu.items() for _ in caps]
    ys = [math.log(c) for caps in by_vcpu.values() for c in caps]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    e = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    e = min(max(e, EXPONENT_CLAMP[0]), EXPONENT_CLAMP[1])
    resid = [y - (my + e * (x - mx)) for x, y in zip(xs, ys, strict=True)]
    se = math.sqrt(sum(r * r for r in resid) / max(len(xs) - 2, 1) / sxx) if len(xs) > 2 else 0.0
    half = max(0.1, 2 * se)
    return max(EXPONENT_CLAMP[0], e - half), e, min(EXPONENT_CLAMP[1], e + half)


def _scaled(
    base: dict[str, object],
    itype: InstanceType,
    cpu_base: list[_Measured],
    fit: tuple[float, float, float],
    measured: dict[str, _Measured],
) -> CapacityEstimate:
    if itype.accelerator_count:
        return CapacityEstimate(
            **base,
            capacity_rps=None,
            estimated=True,
            method="unavailable",
            reason=f"{itype.accelerator_name or 'accelerator'} instances need a measurement",
        )
    if re.match(r"^t\d", itype.family):
        return CapacityEstimate(
            **base,
            capacity_rps=None,
            estimated=True,
            method="unavailable",
            reason="burstable type: CPU credits run out under sustained load; measure it",
        )
    if not cpu_base:
        why = (
            "the SLO was missed on every measured shape"
            if measured
            else "no CPU shape of this model was measured under this SLO"
        )
        return CapacityEstimate(**base, capacity_rps=None, estimated=True, method="unavailable", reason=why)
    anchor = min(cpu_base, key=lambda m: (abs(math.log(itype.vcpu / m.itype.vcpu)), -m.capacity))
    fa, ft = family_speed(anchor.itype), family_speed(itype)
    ratio = itype.vcpu / anchor.itype.vcpu
    norm = anchor.capacity / fa.factor * ft.factor
    same = fa.basis == ft.basis
    band = 0.0 if same else math.sqrt(fa.band**2 + ft.band**2)
    e_lo, e, e_hi = fit
    if ratio < 1:  # shrinking: a smaller exponent means *more* capacity left
        e_lo, e_hi = e_hi, e_lo
    point = norm * ratio**e
    low = norm * ratio**e_lo * (1 - band)
    high = norm * ratio**e_hi * (1 + band)
    if anchor.rss_mib is not None and itype.memory_gib * 1024 < anchor.rss_mib:
        return CapacityEstimate(
            **base,
            capacity_rps=0.0,
            low_rps=0.0,
            high_rps=0.0,
            estimated=True,
            method="vcpu_scaling",
            basis=[anchor.itype.name],
            reason=f"does not fit: the server used {anchor.rss_mib:.0f} MiB on {anchor.itype.name}, "
            f"{itype.name} has {itype.memory_gib:g} GiB",
        )
    basis = sorted({m.itype.name for m in cpu_base})
    exponent_basis = "fitted on " + ", ".join(basis) if fit != SINGLE_SHAPE_EXPONENT else "assumed 0.6-1.0"
    reason = (
        f"from {anchor.itype.name} ({anchor.capacity:.3g} req/s), vcpu^{e:.2f} "
        f"(exponent {exponent_basis}); "
        f"speed {ft.factor:g} vs {fa.factor:g} ({ft.basis})"
    )
    return CapacityEstimate(
        **base,
        capacity_rps=round(point, 3),
        low_rps=round(max(low, 0.0), 3),
        high_rps=round(high, 3),
        estimated=True,
        method="vcpu_scaling",
        basis=basis,
        reason=reason,
    )


def _roofline(
    base: dict[str, object], itype: InstanceType, workload: GpuWorkload | None, slo: SLO
) -> CapacityEstimate:
    spec = _gpu_table().get(itype.gpu_model or "")
    if workload is None or spec is None:
        why = (
            "GPU types need the model's FLOPs and bytes per request for a roofline estimate "
            "(or a measurement)"
            if spec is not None
            else f"no datasheet figures for GPU {itype.gpu_model!r}; measure it"
        )
        return CapacityEstimate(**base, capacity_rps=None, estimated=True, method="unavailable", reason=why)
    tflops, gbps, source = spec
    t_request = max(workload.flops_per_request / (tflops * 1e12), workload.bytes_per_request / (gbps * 1e9))
    if t_request * 1000.0 / GPU_EFFICIENCY[1] > slo.latency_p99_ms:
        return CapacityEstimate(
            **base,
            capacity_rps=0.0,
            low_rps=0.0,
            high_rps=0.0,
            estimated=True,
            method="roofline",
            reason=f"one request needs >= {t_request * 1000 / GPU_EFFICIENCY[1]:.1f} ms at the best "
            f"efficiency assumed, over the SLO",
        )
    gpus = itype.gpu_count
    low, high = gpus * GPU_EFFICIENCY[0] / t_request, gpus * GPU_EFFICIENCY[1] / t_request
    bound = (
        "compute"
        if workload.flops_per_request / (tflops * 1e12) >= workload.bytes_per_request / (gbps * 1e9)
        else "memory"
    )
    return CapacityEstimate(
        **base,
        capacity_rps=round(math.sqrt(low * high), 3),
        low_rps=round(low, 3),
        high_rps=round(high, 3),
        estimated=True,
        method="roofline",
        reason=f"{bound}-bound roofline on {gpus:g} x {itype.gpu_model} ({source}); efficiency "
        f"{GPU_EFFICIENCY[0]:g}-{GPU_EFFICIENCY[1]:g}",
    )


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_type: str
    usd_per_hour: float
    usd_per_rps_hour_best_case: float
    usd_per_rps_hour_point: float
    best_guaranteed_usd_per_rps_hour: float
    potential_saving_pct: float
    reason: str


def suggest_measurements(
    estimates: list[CapacityEstimate],
    catalog: Catalog,
    region: str,
    option: PurchaseOption = PurchaseOption.ON_DEMAND,
    *,
    limit: int = 5,
) -> list[Suggestion]:
    """Estimated types worth measuring next: their best case beats the best *guaranteed* $/(req/s)·h.

    The guaranteed figure uses measured capacities as they are and estimates at their low end. A type whose
    optimistic cost (price / high) is below it could become the cheapest choice once measured. Sorted by
    the potential saving; empty when no estimate can change the answer (or nothing is priced).
    """
    priced: list[tuple[CapacityEstimate, float]] = []
    for est in estimates:
        if not est.capacity_rps or est.capacity_rps <= 0:
            continue
        try:
            priced.append((est, catalog.price(region, est.instance_type, option).usd_per_hour))
        except AdvisorError:
            continue
    guaranteed = [usd / est.low_rps for est, usd in priced if est.low_rps]
    if not guaranteed:
        return []
    best = min(guaranteed)
    out = []
    for est, usd in priced:
        if not est.estimated or not est.high_rps:
            continue
        optimistic = usd / est.high_rps
        if optimistic < best:
            saving = (best - optimistic) / best * 100
            out.append(
                Suggestion(
                    instance_type=est.instance_type,
                    usd_per_hour=usd,
                    usd_per_rps_hour_best_case=round(optimistic, 6),
                    usd_per_rps_hour_point=round(usd / (est.capacity_rps or 1.0), 6),
                    best_guaranteed_usd_per_rps_hour=round(best, 6),
                    potential_saving_pct=round(saving, 1),
                    reason=f"estimated {est.low_rps:.3g}-{est.high_rps:.3g} req/s: could be up to "
                    f"{saving:.0f}% cheaper "
                    f"per req/s than the best guaranteed option",
                )
            )
    out.sort(key=lambda s: -s.potential_saving_pct)
    return out[:limit]
