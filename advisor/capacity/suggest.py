"""``advisor bench suggest``: capacity per instance type for one server on the whole instance, ranked by cost,
and which unmeasured types are worth measuring next.

:func:`capacity_table` runs the one estimator (:mod:`advisor.capacity.estimate`) with the server taking the
whole instance, at the point of each band; :func:`suggest_measurements` lists the estimated types whose
optimistic $/(req/s) beats the best pessimistic one, i.e. whose uncertainty could change the cheapest
choice; :func:`rank_by_cost` orders a table by $ per (req/s)-hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from advisor.capacity.build import build_capacities
from advisor.capacity.estimate import CapacityEntry, GpuWorkload
from advisor.capacity.evidence import BenchEvidence
from advisor.domain import SLO, FrozenModel, PurchaseOption
from advisor.errors import AdvisorError
from advisor.pricing.catalog import Catalog

Method = Literal[
    "measured", "same_family", "slo_conversion", "vcpu_scaling", "family_speed", "roofline", "unavailable"
]
_METHODS: frozenset[str] = frozenset(Method.__args__)  # type: ignore[attr-defined]


class CapacityEstimate(FrozenModel):
    """Capacity of one server of ``model`` on the whole of ``instance_type`` under the SLO."""

    model: str
    instance_type: str
    slo_p99_ms: float
    capacity_rps: float | None = Field(description="None: no estimate possible (see reason)")
    low_rps: float | None = None
    high_rps: float | None = None
    estimated: bool
    method: Method
    run_id: str | None = None
    basis: list[str] = Field(default_factory=list, description="shapes the figure rests on")
    reason: str = ""


class Suggestion(FrozenModel):
    instance_type: str
    usd_per_hour: float
    usd_per_rps_hour_best_case: float
    usd_per_rps_hour_point: float
    best_guaranteed_usd_per_rps_hour: float
    potential_saving_pct: float
    reason: str


@dataclass(frozen=True)
class RankedEstimate:
    """A table row with its price: $/h of the instance and $ per (req/s)-hour (None when not priced)."""

    estimate: CapacityEstimate
    usd_per_hour: float | None
    usd_per_rps_hour: float | None


def capacity_table(
    evidence: BenchEvidence,
    catalog: Catalog,
    model: str,
    instance_types: Sequence[str],
    slo: SLO,
    *,
    workload: GpuWorkload | None = None,
) -> list[CapacityEstimate]:
    """One entry per instance type (in the order given): measured capacity, or a flagged estimate.

    Unknown instance names raise NotFoundError. Never raises for a type that cannot be estimated: its
    entry says why instead.
    """
    measurements, _ = evidence.for_labels([model])
    caps = build_capacities(
        model, catalog, slo_p99_ms=slo.latency_p99_ms, measurements=measurements, policy="point",
        workload=workload,
    )  # fmt: skip
    out = []
    for name in instance_types:
        itype = catalog.instance(name)
        found = caps.lookup(itype)
        base = {"model": model, "instance_type": itype.name, "slo_p99_ms": slo.latency_p99_ms}
        if isinstance(found, CapacityEntry):
            out.append(_row(base, found))
        else:
            out.append(
                CapacityEstimate(
                    **base, capacity_rps=None, estimated=True, method="unavailable", reason=found.reason
                )
            )
    return out


def _row(base: dict[str, object], entry: CapacityEntry) -> CapacityEstimate:
    exact = entry.anchors == (entry.shape,)
    measured = entry.method == "measured" and exact
    low: float | None = entry.rps_per_replica if measured else entry.low_rps
    high: float | None = entry.rps_per_replica if measured else entry.high_rps
    reason = entry.basis
    if measured:
        lower = "lower bound" in entry.source
        reason = "measured" + (" (a lower bound: the load generator saturated first)" if lower else "")
    method = entry.method if exact or entry.method not in ("measured", "given") else "same_family"
    return CapacityEstimate(
        **base,
        capacity_rps=round(entry.rps_per_replica, 3),
        low_rps=None if low is None else round(low, 3),
        high_rps=None if high is None else round(high, 3),
        estimated=not measured,
        method=method if method in _METHODS else "vcpu_scaling",
        run_id=entry.run_ids[0] if measured and entry.run_ids else None,
        basis=list(entry.anchors),
        reason=reason,
    )


def rank_by_cost(
    estimates: Sequence[CapacityEstimate], catalog: Catalog, region: str, option: PurchaseOption
) -> list[RankedEstimate]:
    """The rows with their price, cheapest per req/s first (unpriced and unestimated ones last)."""
    rows = []
    for est in estimates:
        try:
            usd: float | None = catalog.price(region, est.instance_type, option).usd_per_hour
        except AdvisorError:
            usd = None
        per_rps = usd / est.capacity_rps if usd is not None and est.capacity_rps else None
        rows.append(RankedEstimate(est, usd, per_rps))
    rows.sort(key=lambda r: (r.usd_per_rps_hour is None, r.usd_per_rps_hour or 0.0, r.estimate.instance_type))
    return rows


def suggest_measurements(
    estimates: Sequence[CapacityEstimate],
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
    priced = [
        (r.estimate, r.usd_per_hour)
        for r in rank_by_cost(estimates, catalog, region, option)
        if r.usd_per_hour is not None and r.estimate.capacity_rps and r.estimate.capacity_rps > 0
    ]
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
                    f"{saving:.0f}% cheaper per req/s than the best guaranteed option",
                )
            )
    out.sort(key=lambda s: -s.potential_saving_pct)
    return out[:limit]


def default_candidates(catalog: Catalog, region: str, with_gpus: bool) -> list[str]:
    """Current-generation c/m/r types up to 16 vCPU priced in the region (and GPU types when asked)."""
    frame = catalog.offers(region)
    family = frame["family"].astype(str)
    gpus = frame["gpu_count"].fillna(0)
    cpu = family.str.match(r"^[cmr][6-8][agi]?$") & (frame["vcpu"] <= 16) & (gpus == 0)
    pick = cpu | ((gpus > 0) & (frame["vcpu"] <= 32)) if with_gpus else cpu
    return [str(n) for n in frame[pick]["instance_type"]]
