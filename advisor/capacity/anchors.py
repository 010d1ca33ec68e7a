"""Anchors: capacities known on a shape, measured in the bench or given by hand, at the scenario's SLO.

An anchor says "a server with ``vcpu`` vCPUs of this processor served ``rps`` requests/s within the SLO".
Measured anchors come from :mod:`advisor.capacity.evidence` (a bench run's capacity; the server had the
whole emulated shape, so ``vcpu`` is the shape's); given ones from a scenario's ``capacities_rps`` (what one
replica serves, so ``vcpu`` is the replica's request). A measurement taken at another p99 SLO is converted
through the queueing model (:func:`convert_capacity_to_slo`) and flagged estimated; a run at the scenario's
SLO beats a converted one on the same shape, and a run at that SLO which found no passing rate rules the
shape out (it is kept as *missed*, the evidence behind "cannot recommend").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from advisor.capacity.evidence import Measurement
from advisor.capacity.queueing import calibrate_service_time_ms, max_utilisation_for_slo
from advisor.domain import InstanceType
from advisor.errors import AdvisorError, ConfigError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import CapacityProvenance

FARGATE = "fargate"
_PROVENANCE_RANK = {
    CapacityProvenance.MEASURED: 0,
    CapacityProvenance.GIVEN: 1,
    CapacityProvenance.ESTIMATED: 2,
}


@dataclass(frozen=True)
class Anchor:
    """A measured or given capacity: ``rps`` requests/s from a server with ``vcpu`` vCPUs on ``shape``."""

    shape: str  # an instance type, or "fargate"
    vcpu: float
    rps: float
    provenance: CapacityProvenance
    basis: str  # "measured", "given", "measured; SLO conversion 50->100 ms (M/D/1)"
    source: str
    method: str = "measured"  # measured | given | slo_conversion
    run_ids: tuple[str, ...] = ()
    instance: InstanceType | None = None
    peak_rss_mib: float | None = None

    @property
    def rank(self) -> int:
        return _PROVENANCE_RANK[self.provenance]

    @property
    def arch(self) -> str:
        return self.instance.arch.value if self.instance is not None else "x86_64"

    @property
    def gpu_model(self) -> str | None:
        return self.instance.gpu_model if self.instance is not None and self.instance.has_gpu else None

    def same_family(self, itype: InstanceType) -> bool:
        """Same family, architecture and GPU: another size of the same processor (and GPU)."""
        if self.instance is None or self.instance.family != itype.family or self.arch != itype.arch.value:
            return False
        return self.gpu_model == (itype.gpu_model if itype.has_gpu else None)


def convert_capacity_to_slo(capacity_rps: float, from_slo_ms: float, to_slo_ms: float) -> float:
    """Capacity at another p99 SLO through an M/D/1 queue calibrated at the measured point.

    Returns 0.0 when the calibrated service time alone exceeds ``to_slo_ms`` (no rate meets it).
    """
    if math.isclose(from_slo_ms, to_slo_ms, rel_tol=1e-9):
        return capacity_rps
    service_ms = calibrate_service_time_ms(capacity_rps, from_slo_ms, 1, 0.0)
    rho = max_utilisation_for_slo(service_ms, to_slo_ms, 1, 0.0)
    return rho * 1000.0 / service_ms


def measured_anchors(
    measurements: Sequence[Measurement], catalog: Catalog, slo_p99_ms: float
) -> tuple[list[Anchor], list[Measurement]]:
    """Anchors from stored measurements (the first per shape wins), and the runs that missed this SLO.

    Measurements on shapes the catalog does not know (``host``, ``unknown``) are skipped.
    """
    at_slo = [m for m in measurements if math.isclose(m.slo_p99_ms, slo_p99_ms, rel_tol=1e-6)]
    missed_shapes = {m.shape for m in at_slo if m.capacity_rps <= 0}
    ordered = at_slo + [m for m in measurements if m not in at_slo and m.shape not in missed_shapes]
    anchors: list[Anchor] = []
    missed: list[Measurement] = []
    seen: set[str] = set()
    for m in ordered:
        try:
            itype = catalog.instance(m.shape)
        except AdvisorError:
            continue
        if m.capacity_rps <= 0:
            if m.shape in missed_shapes:
                missed.append(m)
            continue
        anchor = _measured(m, itype, slo_p99_ms)
        if anchor is not None and anchor.shape not in seen:
            anchors.append(anchor)
            seen.add(anchor.shape)
    return anchors, missed


def given_anchors(
    given: Mapping[str, float], replica_vcpu: float, catalog: Catalog, where: str, skip: set[str]
) -> list[Anchor]:
    """Anchors from a scenario's ``capacities_rps`` (per replica), except on the shapes in ``skip``.

    Raises ConfigError naming ``{where}.KEY`` for an unknown instance type, with the closest names.
    """
    out = []
    for key, rps in given.items():
        at = f"{where}.{key}"
        source = f"given in the scenario ({at})"
        if key.lower().startswith(FARGATE):
            out.append(Anchor(FARGATE, replica_vcpu, rps, CapacityProvenance.GIVEN, "given", source, "given"))
            continue
        try:
            itype = catalog.instance(key)
        except AdvisorError as exc:  # NotFoundError, with suggestions
            fix = exc.fix or "use an instance type name from `advisor pricing show`"
            raise ConfigError(f"unknown instance type {key!r}", where=at, fix=fix) from None
        if itype.name not in skip:  # measured ones win
            vcpu = replica_vcpu
            out.append(
                Anchor(itype.name, vcpu, rps, CapacityProvenance.GIVEN, "given", source, "given", (), itype)
            )
    return out


def _measured(m: Measurement, itype: InstanceType, slo_p99_ms: float) -> Anchor | None:
    rps, provenance, basis, method = m.capacity_rps, CapacityProvenance.MEASURED, "measured", "measured"
    notes = [f"bench run {m.run_id} on {m.shape}"]
    if m.lower_bound:
        notes.append("a lower bound: the load generator, not the server, was the limit")
    if not math.isclose(m.slo_p99_ms, slo_p99_ms, rel_tol=1e-6):
        rps = convert_capacity_to_slo(rps, m.slo_p99_ms, slo_p99_ms)
        provenance, method = CapacityProvenance.ESTIMATED, "slo_conversion"
        basis = f"measured; SLO conversion {m.slo_p99_ms:g}->{slo_p99_ms:g} ms (M/D/1)"
        if rps <= 0:
            return None
    return Anchor(
        shape=itype.name,
        vcpu=float(itype.vcpu),
        rps=rps,
        provenance=provenance,
        basis=basis,
        source="; ".join(notes),
        method=method,
        run_ids=(m.run_id,),
        instance=itype,
        peak_rss_mib=m.peak_rss_mib,
    )
