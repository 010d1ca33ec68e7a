"""The one capacity estimator: anchors (measured beats given), normalisation (vCPU, SLO, processor speed),
family reuse, floors, per-instance tables for `bench suggest` and the agreement of both uses."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast

import pytest

from advisor.capacity import (
    CapacityEstimate,
    GpuWorkload,
    build_capacities,
    capacity_table,
    convert_capacity_to_slo,
    family_speed,
    read_evidence,
    suggest_measurements,
)
from advisor.capacity.queueing import calibrate_service_time_ms, p99_latency_ms
from advisor.domain import SLO
from advisor.errors import ConfigError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import CapacityProvenance
from advisor.scenario.model import ModelSpec
from advisor.settings import Settings
from advisor.store import Store
from tests.optimize_helpers import caps_for, model, store_bench_run

SLO100 = SLO(latency_p99_ms=100)
ICE_LAKE, SAPPHIRE, GRAVITON3 = 0.05, 0.15, 0.20  # the bands of intel:6, intel:7, graviton:7


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return Catalog.load(Settings(home=tmp_path_factory.mktemp("home")))


def _spec(**over: Any) -> ModelSpec:
    return ModelSpec.model_validate(model(**over))


# ----- per replica (recommend) ----------------------------------------------------------------------------


def test_given_capacity_applies_to_its_family_and_is_estimated_elsewhere(catalog: Catalog) -> None:
    caps = caps_for(_spec(), catalog)
    own = caps.entry(catalog.instance("c6i.large"))
    sibling = caps.entry(catalog.instance("c6i.4xlarge"))
    other = caps.entry(catalog.instance("m7i.large"))  # Sapphire Rapids 1.10 vs Ice Lake 1.00
    assert own is not None and own.provenance is CapacityProvenance.GIVEN and own.rps_per_replica == 100
    assert sibling is not None and sibling.provenance is CapacityProvenance.GIVEN
    assert sibling.rps_per_replica == 100  # the replica asks for the same CPUs on every size
    assert other is not None and other.provenance is CapacityProvenance.ESTIMATED
    band = math.hypot(ICE_LAKE, SAPPHIRE)
    assert other.rps_per_replica == pytest.approx(110 * (1 - band))  # conservative: the low end
    assert (other.low_rps, other.high_rps) == pytest.approx((110 * (1 - band), 110 * (1 + band)))
    same_processor = caps.entry(catalog.instance("m6i.large"))  # Ice Lake too: no band from the speed
    assert same_processor is not None and same_processor.rps_per_replica == pytest.approx(100)
    assert "same processor as c6i.large" in same_processor.basis


def test_entries_only_for_the_types_asked_about_are_the_same_entries(catalog: Catalog) -> None:
    caps = caps_for(_spec(), catalog)
    names = ["c6i.large", "c6i.4xlarge", "m7i.large", "g5.xlarge", "m6i.large", "m6i.2xlarge", "c7g.large"]
    types = [catalog.instance(n) for n in names]
    every, every_entries = caps.entries_for(types)
    wanted = [n not in ("c6i.large", "g5.xlarge", "m6i.large") for n in names]
    some, some_entries = caps.entries_for(types, wanted)
    for i, name in enumerate(names):
        if wanted[i]:  # each family's entry is the same whichever of its sizes was asked about first
            assert some_entries[i] == every_entries[i] and some_entries[i] is not None, name
            assert some[i] == every[i]
        else:
            assert some_entries[i] is None and math.isnan(some[i]), name


def test_estimate_policies_and_gpu_types(catalog: Catalog) -> None:
    point = caps_for(_spec(), catalog, policy="point")
    off = caps_for(_spec(), catalog, policy="off")
    assert point.entry(catalog.instance("m7i.large")).rps_per_replica == pytest.approx(110)  # type: ignore[union-attr]
    assert off.entry(catalog.instance("m7i.large")) is None
    assert off.entry(catalog.instance("c6i.xlarge")) is not None  # same family is not an estimate
    assert point.entry(catalog.instance("g5.xlarge")) is None  # no CPU anchor estimates a GPU type
    arm = caps_for(_spec(), catalog).entry(catalog.instance("c7g.large"))
    assert arm is not None and "cross arch" in arm.basis
    assert arm.rps_per_replica == pytest.approx(100 * (1 - math.hypot(ICE_LAKE, GRAVITON3)))


def test_measured_wins_over_given_and_is_found_under_the_reference_name(
    tmp_path: Path, catalog: Catalog
) -> None:
    spec = _spec(capacities_rps={"c6i.large": 100})
    with Store(tmp_path / "a.db") as store:
        # Runs stored under the reference server's name (what `recommend --bench` does).
        store_bench_run(store, run_id="r1", label="tabular", shape="c7a.medium", slo_p99_ms=50,
                        capacity_rps=300.0, point_p99s_ms=[20.0, 45.0])  # fmt: skip
        store_bench_run(store, run_id="r2", label="tabular", shape="c6i.large", slo_p99_ms=50,
                        capacity_rps=500.0, point_p99s_ms=[18.0])  # fmt: skip
        assert spec.bench_labels == ("m", "tabular")
        caps = caps_for(spec, catalog, store)
    assert caps.latency_floor_ms == 18.0 and "r2" in caps.latency_floor_source
    c7a = caps.entry(catalog.instance("c7a.large"))
    assert c7a is not None and c7a.provenance is CapacityProvenance.MEASURED and c7a.run_ids == ("r1",)
    assert c7a.rps_per_replica == 300.0
    # Two measured vCPU counts fit the exponent: 300/1.35 per vCPU on Genoa, 500 on 2 Ice Lake vCPUs.
    e = math.log2(500 / (300 / 1.35))
    assert (
        caps.exponent.point == pytest.approx(e) and caps.exponent.basis == "fitted on c6i.large, c7a.medium"
    )
    # c6i.large was measured with 2 vCPU for a 1-vCPU replica: scaled down (conservative: the steeper end),
    # flagged estimated, and it replaces the given figure on that shape (measured ones win).
    c6i = caps.entry(catalog.instance("c6i.large"))
    assert c6i is not None and c6i.rps_per_replica == pytest.approx(500 * 0.5 ** min(1.2, e + 0.1))
    assert c6i.provenance is CapacityProvenance.ESTIMATED and "vCPU scaling 2->1" in c6i.basis
    assert caps.run_ids == ("r1", "r2")


def test_a_run_at_the_same_slo_that_found_no_rate_is_kept_as_missed(tmp_path: Path, catalog: Catalog) -> None:
    spec = _spec(capacities_rps={})
    with Store(tmp_path / "a.db") as store:
        store_bench_run(store, run_id="r0", label="m", shape="c7a.medium", slo_p99_ms=50, capacity_rps=0.0,
                        point_p99s_ms=[80.0], reason="p99 80 ms > SLO 50 ms at the lowest rate")  # fmt: skip
        caps = caps_for(spec, catalog, store)
    assert caps.anchors == [] and [m.run_id for m in caps.missed] == ["r0"]


def test_slo_conversion_goes_through_the_queueing_model() -> None:
    assert convert_capacity_to_slo(100.0, 50.0, 50.0) == 100.0
    looser = convert_capacity_to_slo(100.0, 50.0, 100.0)
    tighter = convert_capacity_to_slo(100.0, 50.0, 30.0)
    assert tighter < 100.0 < looser
    # At the converted capacity the calibrated M/D/1 queue's p99 is exactly the new SLO.
    service = calibrate_service_time_ms(100.0, 50.0, 1, 0.0)
    assert p99_latency_ms(looser, 1, service) == pytest.approx(100.0, rel=1e-6)
    assert convert_capacity_to_slo(100.0, 50.0, service * 0.5) == 0.0  # below the service time: none
    assert math.isfinite(tighter)


def test_unknown_given_type_names_the_field(catalog: Catalog) -> None:
    with pytest.raises(ConfigError) as err:
        build_capacities(
            "m", catalog, slo_p99_ms=50, given={"c6i.lrage": 10}, replica_vcpu=1, where="models.3"
        )
    assert "models.3.capacities_rps.c6i.lrage" in err.value.one_line()
    assert "c6i.large" in err.value.one_line()  # the closest name is suggested


def test_fargate_capacity_given_or_estimated(catalog: Catalog) -> None:
    given = caps_for(_spec(capacities_rps={"fargate": 42}), catalog).fargate_entry()
    assert given is not None and given.rps_per_replica == 42 and given.provenance is CapacityProvenance.GIVEN
    estimated = caps_for(_spec(), catalog).fargate_entry()  # the anchor's processor, within +-25%
    assert estimated is not None and estimated.provenance is CapacityProvenance.ESTIMATED
    assert (estimated.low_rps, estimated.high_rps) == pytest.approx((75.0, 125.0))


def test_a_run_at_the_scenario_slo_beats_a_converted_one(tmp_path: Path, catalog: Catalog) -> None:
    spec = _spec(slo={"latency_p99_ms": 100}, capacities_rps={})
    with Store(tmp_path / "a.db") as store:
        for run_id, slo, cap in (("at50", 50, 200.0), ("at100", 100, 260.0)):
            store_bench_run(store, run_id=run_id, label="m", shape="c7a.medium", slo_p99_ms=slo,
                            capacity_rps=cap, point_p99s_ms=[20.0])  # fmt: skip
        evidence = read_evidence(store, ["m"])
    entry = caps_for(spec, catalog).entry  # no store: nothing measured
    assert entry(catalog.instance("c7a.medium")) is None
    both, _ = evidence.for_labels(["m"])
    caps = build_capacities("m", catalog, slo_p99_ms=100, measurements=both, replica_vcpu=1)
    got = caps.entry(catalog.instance("c7a.medium"))
    assert got is not None and got.run_ids == ("at100",) and got.rps_per_replica == 260.0
    assert got.provenance is CapacityProvenance.MEASURED
    only50 = [m for m in both if m.run_id == "at50"]  # only the other SLO on file: converted, flagged
    converted = build_capacities("m", catalog, slo_p99_ms=100, measurements=only50, replica_vcpu=1)
    conv = converted.entry(catalog.instance("c7a.medium"))
    assert conv is not None and conv.provenance is CapacityProvenance.ESTIMATED
    assert conv.rps_per_replica > 200.0 and "SLO conversion" in conv.basis


def test_stored_figures_that_are_not_numbers_are_not_evidence(tmp_path: Path) -> None:
    """Stores written before imports were checked may hold infinite or negative capacities and p99s (NaN is
    NULL to SQLite, which the schema refuses)."""
    with Store(tmp_path / "old.db") as store:
        for run_id, shape in (
            ("neg", "c7a.medium"),
            ("inf", "c7a.large"),
            ("ok", "c6i.large"),
        ):
            store_bench_run(store, run_id=run_id, label="m", shape=shape, slo_p99_ms=100, capacity_rps=50.0,
                            point_p99s_ms=[20.0])  # fmt: skip
        with store.transaction() as conn:
            for run_id, value in (("neg", -5.0), ("inf", float("inf"))):
                conn.execute("UPDATE capacities SET capacity_rps = ? WHERE run_id = ?", (value, run_id))
            conn.execute("UPDATE bench_points SET p99_ms = ? WHERE run_id = 'inf'", (-1.0,))
        evidence = read_evidence(store, ["m"])
    assert [m.run_id for m in evidence.measurements] == ["ok"]
    assert evidence.floors["m"].p99_ms == 20.0


# ----- one server per instance (bench suggest) ------------------------------------------------------------


def _store_with(tmp_path: Path, *runs: tuple[str, str, float], rss: float | None = 300.0) -> Store:
    store = Store(tmp_path / "b.db")
    for run_id, shape, cap in runs:
        store_bench_run(store, run_id=run_id, label="m", shape=shape, slo_p99_ms=100, capacity_rps=cap,
                        point_p99s_ms=[60.0], rss_mib=rss)  # fmt: skip
    return store


def _table(
    store: Store, catalog: Catalog, types: list[str], slo: SLO = SLO100, **kw: object
) -> dict[str, CapacityEstimate]:
    rows = capacity_table(read_evidence(store, ["m"]), catalog, "m", types, slo, **kw)  # type: ignore[arg-type]
    return {e.instance_type: e for e in rows}


def test_measured_wins_and_single_shape_scaling_matches_the_worked_example(
    tmp_path: Path, catalog: Catalog
) -> None:
    with _store_with(tmp_path, ("a", "c6i.large", 100.0)) as store:
        table = _table(store, catalog, ["c6i.large", "c6i.xlarge", "c7g.xlarge"])
    assert table["c6i.large"] == CapacityEstimate(
        model="m", instance_type="c6i.large", slo_p99_ms=100, capacity_rps=100.0, low_rps=100.0,
        high_rps=100.0, estimated=False, method="measured", run_id="a", basis=["c6i.large"],
        reason="measured",
    )  # fmt: skip
    same_family = table["c6i.xlarge"]
    assert same_family.estimated and same_family.method == "vcpu_scaling"
    assert same_family.capacity_rps == pytest.approx(100 * 2**0.8, rel=1e-3)
    assert (same_family.low_rps, same_family.high_rps) == pytest.approx((100 * 2**0.6, 200.0), rel=1e-3)
    other = table["c7g.xlarge"]  # Graviton3 1.0 +-20% vs Ice Lake 1.0 +-5%: band sqrt(.2^2+.05^2)
    band = math.hypot(GRAVITON3, ICE_LAKE)
    assert other.low_rps == pytest.approx(100 * 2**0.6 * (1 - band), rel=1e-3)
    assert other.high_rps == pytest.approx(200 * (1 + band), rel=1e-3)


def test_two_shapes_fit_the_scaling_exponent(tmp_path: Path, catalog: Catalog) -> None:
    with _store_with(tmp_path, ("a", "c6i.large", 100.0), ("b", "c6i.xlarge", 170.0)) as store:
        (est,) = _table(store, catalog, ["c6i.2xlarge"]).values()
    assert est.capacity_rps == pytest.approx(170 * 2 ** math.log2(1.7), rel=0.01)  # e = log2(1.7) = 0.766
    assert "fitted on c6i.large, c6i.xlarge" in est.reason


def test_types_that_cannot_be_estimated_say_why(tmp_path: Path, catalog: Catalog) -> None:
    with _store_with(tmp_path, ("a", "c6i.large", 100.0), rss=3000.0) as store:
        rows = _table(store, catalog, ["t3.large", "g5.xlarge", "c7g.medium", "inf2.xlarge"])
        other = capacity_table(read_evidence(store, ["other"]), catalog, "other", ["c6i.large"], SLO100)
        tighter = _table(store, catalog, ["c6i.large"], SLO(latency_p99_ms=50))["c6i.large"]
    assert rows["t3.large"].capacity_rps is None and "burstable" in rows["t3.large"].reason
    assert rows["g5.xlarge"].capacity_rps is None and "FLOPs" in rows["g5.xlarge"].reason
    assert rows["c7g.medium"].capacity_rps == 0.0 and "does not fit" in rows["c7g.medium"].reason  # 2 GiB
    assert rows["inf2.xlarge"].capacity_rps is None
    assert other[0].reason.startswith("no CPU shape")
    # Measured at 100 ms only: a 50 ms SLO is converted through the queue model, lower and flagged.
    assert tighter.method == "slo_conversion" and tighter.estimated and 0 < (tighter.capacity_rps or 0) < 100


def test_gpu_roofline(tmp_path: Path, catalog: Catalog) -> None:
    work = GpuWorkload(flops_per_request=2e12, bytes_per_request=1e9)  # T4: 2e12/65e12 = 30.8 ms compute
    with _store_with(tmp_path) as store:
        est = _table(store, catalog, ["g4dn.xlarge"], SLO(latency_p99_ms=500), workload=work)["g4dn.xlarge"]
        tight = _table(store, catalog, ["g4dn.xlarge"], SLO(latency_p99_ms=20), workload=work)["g4dn.xlarge"]
    t = 2e12 / 65e12
    assert est.method == "roofline" and (est.low_rps, est.high_rps) == pytest.approx(
        (0.1 / t, 0.5 / t), rel=1e-3
    )
    assert tight.capacity_rps == 0.0 and "over the SLO" in tight.reason


def test_family_speed_comes_from_the_data_file(catalog: Catalog) -> None:
    assert family_speed(catalog.instance("c6i.large")).factor == 1.0
    assert family_speed(catalog.instance("c7a.large")).factor == 1.35
    assert family_speed(catalog.instance("c6g.large")).factor == 0.8
    assert family_speed(catalog.instance("x2gd.large")).factor == 0.8
    unknown = family_speed(catalog.instance("mac1.metal"))
    assert unknown.factor == 1.0 and unknown.band == 0.4


def test_suggest_lists_types_whose_best_case_beats_the_best_guarantee(catalog: Catalog) -> None:
    def est(t: str, cap: float, low: float, high: float, estimated: bool = True) -> CapacityEstimate:
        return CapacityEstimate(
            model="m", instance_type=t, slo_p99_ms=100, capacity_rps=cap, low_rps=low, high_rps=high,
            estimated=estimated, method="vcpu_scaling" if estimated else "measured",
        )  # fmt: skip

    od = {
        t: catalog.on_demand("us-east-1", t).usd_per_hour for t in ("c6i.large", "c7g.large", "m6i.4xlarge")
    }
    table = [est("c6i.large", 100, 100, 100, estimated=False), est("c7g.large", 100, 60, 200),
             est("m6i.4xlarge", 300, 250, 350)]  # fmt: skip
    picks = suggest_measurements(table, catalog, "us-east-1")
    best = od["c6i.large"] / 100
    expected = {
        t
        for t, e in (("c7g.large", table[1]), ("m6i.4xlarge", table[2]))
        if od[t] / cast(float, e.high_rps) < best
    }
    assert {p.instance_type for p in picks} == expected and "c7g.large" in expected
    assert all(p.usd_per_rps_hour_best_case < p.best_guaranteed_usd_per_rps_hour for p in picks)
    assert suggest_measurements([table[0]], catalog, "us-east-1") == []


# ----- one estimator ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["c6i.large", "c6i.xlarge", "m7i.large", "c7g.large", "c6a.large"])
def test_suggest_and_recommend_agree_when_a_replica_takes_the_whole_instance(
    tmp_path: Path, catalog: Catalog, target: str
) -> None:
    with _store_with(tmp_path, ("a", "c6i.large", 100.0), ("b", "c6i.xlarge", 170.0)) as store:
        evidence = read_evidence(store, ["m"])
        (row,) = capacity_table(evidence, catalog, "m", [target], SLO100)
    itype = catalog.instance(target)
    measurements, _ = evidence.for_labels(["m"])
    per_replica = build_capacities(
        "m", catalog, slo_p99_ms=100, measurements=measurements, replica_vcpu=itype.vcpu, policy="point"
    ).entry(itype)
    assert per_replica is not None and row.capacity_rps == pytest.approx(
        per_replica.rps_per_replica, abs=1e-3
    )
    assert (row.low_rps, row.high_rps) == pytest.approx(
        (
            per_replica.low_rps or per_replica.rps_per_replica,
            per_replica.high_rps or per_replica.rps_per_replica,
        ),
        abs=1e-3,
    )
