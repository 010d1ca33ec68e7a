"""Capacity anchors: measured beats given, normalisation (vCPU, SLO), family reuse, estimates, floors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from advisor.cost.plan import CapacityProvenance
from advisor.cost.queueing import p99_latency_ms
from advisor.domain import InstanceType
from advisor.errors import ConfigError
from advisor.optimize.capacities import (
    SAME_ARCH_BAND,
    build_capacities,
    convert_capacity_to_slo,
    measured_latency_floor,
    model_labels,
    stored_measurements,
)
from advisor.optimize.scenario import ModelSpec
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from advisor.store import Store
from tests.optimize_helpers import model, store_bench_run


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog.load(Settings(home=tmp_path_factory.mktemp("home")))


def _spec(**over: object) -> ModelSpec:
    return ModelSpec.model_validate(model(**over))


def test_given_capacity_applies_to_its_family_and_is_estimated_elsewhere(catalog: Catalog) -> None:
    caps = build_capacities(_spec(), catalog, measurements=[])
    own = caps.entry(catalog.instance("c6i.large"))
    sibling = caps.entry(catalog.instance("c6i.4xlarge"))
    other = caps.entry(catalog.instance("m7i.large"))
    assert own is not None and own.provenance is CapacityProvenance.GIVEN and own.rps_per_replica == 100
    assert (
        sibling is not None
        and sibling.provenance is CapacityProvenance.GIVEN
        and sibling.rps_per_replica == 100
    )
    assert other is not None and other.provenance is CapacityProvenance.ESTIMATED
    # Conservative: the low end of the same-arch band, and the band itself is reported.
    assert other.rps_per_replica == pytest.approx(100 * SAME_ARCH_BAND[0])
    assert (other.low_rps, other.high_rps) == pytest.approx((75.0, 125.0))


def test_estimate_policies_and_gpu_types(catalog: Catalog) -> None:
    point = build_capacities(_spec(), catalog, measurements=[], policy="point")
    off = build_capacities(_spec(), catalog, measurements=[], policy="off")
    assert point.entry(catalog.instance("m7i.large")).rps_per_replica == pytest.approx(100)  # type: ignore[union-attr]
    assert off.entry(catalog.instance("m7i.large")) is None
    assert off.entry(catalog.instance("c6i.xlarge")) is not None  # same family is not an estimate
    # A CPU anchor never estimates a GPU type, and arm64 is a wider (cross-arch) estimate.
    assert point.entry(catalog.instance("g5.xlarge")) is None
    arm = build_capacities(_spec(), catalog, measurements=[]).entry(catalog.instance("c7g.large"))
    assert arm is not None and "cross arch" in arm.basis and arm.rps_per_replica == pytest.approx(60)


def test_measured_wins_over_given_and_is_found_under_the_reference_name(
    tmp_path: Path, catalog: Catalog
) -> None:
    spec = _spec(capacities_rps={"c6i.large": 100})
    with Store(tmp_path / "a.db") as store:
        # Run stored under the reference server's name (what run_capacity does), 1 vCPU shape = replica size.
        store_bench_run(store, run_id="r1", label="tabular", shape="c7a.medium", slo_p99_ms=50,
                        capacity_rps=300.0, point_p99s_ms=[20.0, 45.0])  # fmt: skip
        store_bench_run(store, run_id="r2", label="tabular", shape="c6i.large", slo_p99_ms=50,
                        capacity_rps=500.0, point_p99s_ms=[18.0])  # fmt: skip
        labels = model_labels(spec)
        assert labels == ("m", "tabular")
        ms = stored_measurements(store, labels)
        floor = measured_latency_floor(store, labels)
    assert {m.shape for m in ms} == {"c7a.medium", "c6i.large"}
    assert floor is not None and floor[0] == 18.0 and "r2" in floor[1]
    caps = build_capacities(spec, catalog, measurements=ms, latency_floor=floor)
    c7a = caps.entry(catalog.instance("c7a.large"))
    assert c7a is not None and c7a.provenance is CapacityProvenance.MEASURED and c7a.run_ids == ("r1",)
    assert c7a.rps_per_replica == 300.0
    # c6i.large was measured with 2 vCPU for a 1-vCPU replica: scaled by vCPU, so flagged estimated, and it
    # replaces the given figure on that shape (measured ones win).
    c6i = caps.entry(catalog.instance("c6i.large"))
    assert c6i is not None and c6i.rps_per_replica == pytest.approx(250.0)
    assert c6i.provenance is CapacityProvenance.ESTIMATED and "vCPU scaling" in c6i.basis
    assert caps.run_ids == ("r1", "r2")
    assert caps.latency_floor_ms == 18.0


def test_a_run_at_the_same_slo_that_found_no_rate_is_kept_as_missed(tmp_path: Path, catalog: Catalog) -> None:
    spec = _spec(capacities_rps={})
    with Store(tmp_path / "a.db") as store:
        store_bench_run(store, run_id="r0", label="m", shape="c7a.medium", slo_p99_ms=50, capacity_rps=0.0,
                        point_p99s_ms=[80.0], reason="p99 80 ms > SLO 50 ms at the lowest rate")  # fmt: skip
        ms = stored_measurements(store, model_labels(spec))
    caps = build_capacities(spec, catalog, measurements=ms)
    assert caps.anchors == [] and [m.run_id for m in caps.missed] == ["r0"]


def test_slo_conversion_goes_through_the_queueing_model() -> None:
    assert convert_capacity_to_slo(100.0, 50.0, 50.0) == 100.0
    looser = convert_capacity_to_slo(100.0, 50.0, 100.0)
    tighter = convert_capacity_to_slo(100.0, 50.0, 30.0)
    assert tighter < 100.0 < looser
    # At the converted capacity the calibrated M/D/1 queue's p99 is exactly the new SLO.
    from advisor.cost.queueing import calibrate_service_time_ms

    service = calibrate_service_time_ms(100.0, 50.0, 1, 0.0)
    assert p99_latency_ms(looser, 1, service) == pytest.approx(100.0, rel=1e-6)
    # An SLO below the service time itself: no rate meets it.
    assert convert_capacity_to_slo(100.0, 50.0, service * 0.5) == 0.0
    assert math.isfinite(tighter)


def test_unknown_given_type_names_the_field(catalog: Catalog) -> None:
    with pytest.raises(ConfigError) as err:
        build_capacities(_spec(capacities_rps={"c6i.lrage": 10}), catalog, measurements=[], where="models.3")
    assert "models.3.capacities_rps.c6i.lrage" in err.value.one_line()
    assert "c6i.large" in err.value.one_line()  # the closest name is suggested


def test_fargate_capacity_given_or_estimated(catalog: Catalog) -> None:
    given = build_capacities(_spec(capacities_rps={"fargate": 42}), catalog, measurements=[])
    entry = given.fargate_entry()
    assert entry is not None and entry.rps_per_replica == 42 and entry.provenance is CapacityProvenance.GIVEN
    estimated = build_capacities(_spec(), catalog, measurements=[]).fargate_entry()
    assert estimated is not None and estimated.provenance is CapacityProvenance.ESTIMATED


def test_a_run_at_the_scenario_slo_beats_a_converted_one(tmp_path: Path, catalog: Catalog) -> None:
    spec = _spec(slo={"latency_p99_ms": 100}, capacities_rps={})
    with Store(tmp_path / "a.db") as store:
        for run_id, slo, cap in (("at50", 50, 200.0), ("at100", 100, 260.0)):
            store_bench_run(store, run_id=run_id, label="m", shape="c7a.medium", slo_p99_ms=slo,
                            capacity_rps=cap, point_p99s_ms=[20.0])  # fmt: skip
        ms = stored_measurements(store, model_labels(spec))
    entry = build_capacities(spec, catalog, measurements=ms).entry(catalog.instance("c7a.medium"))
    assert entry is not None and entry.run_ids == ("at100",) and entry.rps_per_replica == 260.0
    assert entry.provenance is CapacityProvenance.MEASURED
    # Only the other SLO on file: converted through the queue model, and flagged.
    only50 = [m for m in ms if m.run_id == "at50"]
    converted = build_capacities(spec, catalog, measurements=only50).entry(catalog.instance("c7a.medium"))
    assert converted is not None and converted.provenance is CapacityProvenance.ESTIMATED
    assert converted.rps_per_replica > 200.0 and "SLO conversion" in converted.basis


def test_estimates_follow_the_family_speed_table_when_given(catalog: Catalog) -> None:
    def speed(itype: InstanceType) -> tuple[float, float, str]:  # the interface of the bench's look-up
        return {"c6i": (1.0, 0.05, "reference"), "c7i": (1.2, 0.10, "newer")}.get(
            itype.family, (1.0, 0.4, "?")
        )

    caps = build_capacities(_spec(), catalog, measurements=[], policy="point", speed=speed)
    c7i = caps.entry(catalog.instance("c7i.large"))
    assert c7i is not None and c7i.rps_per_replica == pytest.approx(120.0)  # 100 given on c6i x 1.2 / 1.0
    assert c7i.low_rps == pytest.approx(120 * 0.9 / 1.05) and c7i.high_rps == pytest.approx(120 * 1.1 / 0.95)
    conservative = build_capacities(_spec(), catalog, measurements=[], speed=speed)
    assert conservative.entry(catalog.instance("c7i.large")).rps_per_replica == pytest.approx(
        120 * 0.9 / 1.05
    )  # type: ignore[union-attr]


def test_the_bench_speed_table_plugs_in() -> None:
    estimate = pytest.importorskip("advisor.bench.estimate", reason="the bench extra is not installed")
    from advisor.cli.recommend import bench_family_speed

    lookup = bench_family_speed()
    assert lookup is not None
    settings_catalog = Catalog.load(Settings())
    c7g = settings_catalog.instance("c7g.large")
    factor, band, basis = lookup(c7g)
    assert (factor, band) == (estimate.family_speed(c7g).factor, estimate.family_speed(c7g).band) and basis
