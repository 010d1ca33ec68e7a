"""From evidence to a model's ModelCapacities: anchors, floor, exponent; and a scenario model's capacities as
every stage builds them (:func:`capacities_for_model`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from advisor.capacity.anchors import given_anchors, measured_anchors
from advisor.capacity.estimate import EstimatePolicy, GpuWorkload, ModelCapacities, fit_exponent
from advisor.capacity.evidence import BenchEvidence, LatencyFloor, Measurement
from advisor.pricing.catalog import Catalog
from advisor.scenario.model import ModelSpec


def build_capacities(
    model: str,
    catalog: Catalog,
    *,
    slo_p99_ms: float,
    measurements: Sequence[Measurement] = (),
    given: Mapping[str, float] | None = None,
    replica_vcpu: float | None = None,
    latency_floor: LatencyFloor | None = None,
    unloaded_p99_ms: float | None = None,
    policy: EstimatePolicy = "conservative",
    where: str = "models",
    workload: GpuWorkload | None = None,
) -> ModelCapacities:
    """The anchors of ``model``: stored measurements first, then its given capacities (per replica).

    ``replica_vcpu`` None means one server on the whole instance (``bench suggest``); given capacities need
    a replica size. The latency floor is the lowest of the bench's and ``unloaded_p99_ms``. Raises
    ConfigError (naming ``{where}.capacities_rps.KEY``) for a given capacity on an unknown type.
    """
    anchors, missed = measured_anchors(measurements, catalog, slo_p99_ms)
    if given:
        if replica_vcpu is None:
            raise ValueError("given capacities are per replica: pass replica_vcpu")
        measured = {a.shape for a in anchors}
        anchors += given_anchors(given, replica_vcpu, catalog, f"{where}.capacities_rps", measured)
    floor_ms, floor_src = (latency_floor.p99_ms, latency_floor.source) if latency_floor else (None, "")
    if unloaded_p99_ms is not None and (floor_ms is None or unloaded_p99_ms < floor_ms):
        floor_ms, floor_src = unloaded_p99_ms, f"{where}.unloaded_p99_ms"
    return ModelCapacities(
        model=model,
        anchors=anchors,
        slo_p99_ms=slo_p99_ms,
        replica_vcpu=replica_vcpu,
        policy=policy,
        exponent=fit_exponent(anchors),
        latency_floor_ms=floor_ms,
        latency_floor_source=floor_src,
        missed=missed,
        workload=workload,
    )


def capacities_for_model(
    spec: ModelSpec, catalog: Catalog, evidence: BenchEvidence, policy: EstimatePolicy, where: str
) -> ModelCapacities:
    """The capacities of a scenario's model: its stored bench results, then what the scenario gives, with
    its SLO, replica size and latency floor (``where`` is the model's place in the scenario, ``models.N``)."""
    measurements, floor = evidence.for_labels(spec.bench_labels)
    return build_capacities(
        spec.name, catalog, slo_p99_ms=spec.slo.latency_p99_ms, measurements=measurements,
        given=spec.capacities_rps, replica_vcpu=spec.resources.vcpu, latency_floor=floor,
        unloaded_p99_ms=spec.unloaded_p99_ms, policy=policy, where=where,
    )  # fmt: skip
