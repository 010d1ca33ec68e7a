"""Bench results in the store, estimates for unmeasured types, and Kubernetes Job plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from advisor.bench import results
from advisor.bench.estimate import (
    CapacityEstimate,
    GpuWorkload,
    capacity_table,
    family_speed,
    suggest_measurements,
)
from advisor.bench.k8s import job_manifest, job_name, read_report, validate_manifest, write_jobs
from advisor.bench.measurements import (
    BenchReport,
    CapacityResult,
    LoadMode,
    PointResult,
    RunStatus,
    WindowStats,
)
from advisor.domain import SLO
from advisor.errors import InputError, NotFoundError
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from advisor.store import Store

SLO100 = SLO(latency_p99_ms=100)


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store(settings.db_path)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


def _point(seq: int, rate: float, p99: float, rss: float = 300.0) -> PointResult:
    w = WindowStats(
        name="w0", duration_s=4, requests=int(rate * 4), failures=0, histogram={int(p99): int(rate * 4)}
    )
    return PointResult(
        seq=seq,
        mode=LoadMode.OPEN,
        target_rps=rate,
        achieved_rps=rate,
        requests=int(rate * 4),
        errors=0,
        error_rate=0.0,
        p99_ms=p99,
        server_rss_mib=rss,
        duration_s=6.0,
        valid=True,
        passed=p99 <= 100,
        windows=[w],
    )


def _stored(
    store: Store,
    run_id: str,
    shape: str,
    capacity: float,
    *,
    model: str = "m",
    rss: float = 300.0,
    status: RunStatus = RunStatus.COMPLETED,
    slo_ms: float = 100,
) -> None:
    results.start_run(
        store,
        run_id=run_id,
        model=model,
        shape=shape,
        target="t",
        slo_p99_ms=slo_ms,
        max_error_rate=0.001,
        config={},
        host=None,
        emulation=None,
    )
    results.add_point(store, run_id, _point(1, capacity, 60, rss))
    result = CapacityResult(
        run_id=run_id,
        model=model,
        shape=shape,
        status=status,
        slo_p99_ms=slo_ms,
        max_error_rate=0.001,
        capacity_rps=capacity,
        p99_ms_at_capacity=60,
        reason="r",
    )
    if status is RunStatus.COMPLETED:
        results.add_capacity(store, result)
    results.finish_run(store, run_id, status, error=None if status is RunStatus.COMPLETED else "died")


def test_a_run_round_trips_through_the_store(store: Store) -> None:
    run_id = "20250101T120000-abc123"
    _stored(store, run_id, "c6i.large", 120.0)
    loaded = results.load_result(store, run_id)
    assert loaded.status is RunStatus.COMPLETED and loaded.capacity_rps == 120.0
    assert loaded.points[0].windows[0].histogram == {60: 480} and loaded.points[0].passed is True
    runs = results.list_runs(store)
    assert runs[0]["id"] == run_id and runs[0]["points"] == 1
    with pytest.raises(NotFoundError) as err:
        results.load_result(store, "20250101T120000-abc124")
    assert f"did you mean {run_id}?" in err.value.one_line()  # the closest stored id is suggested


def test_failed_runs_keep_points_but_give_no_capacity(store: Store) -> None:
    _stored(store, "f1", "c6i.large", 50.0, status=RunStatus.FAILED)
    assert results.load_result(store, "f1").points and results.measured_capacities(store, "m") == []


def test_import_is_idempotent(store: Store) -> None:
    result = CapacityResult(
        run_id="k1",
        model="m",
        shape="c7g.large",
        status=RunStatus.COMPLETED,
        slo_p99_ms=100,
        max_error_rate=0.001,
        capacity_rps=80,
        points=[_point(0, 80, 70)],
    )
    assert results.import_result(store, result, target="job") is True
    assert results.import_result(store, result, target="job") is False
    rows = results.measured_capacities(store, "m")
    assert [(r["shape"], r["capacity_rps"], r["method"]) for r in rows] == [("c7g.large", 80.0, "imported")]


def test_measured_wins_and_single_shape_scaling_matches_the_worked_example(
    store: Store, catalog: Catalog
) -> None:
    _stored(store, "a", "c6i.large", 100.0)
    table = {
        e.instance_type: e
        for e in capacity_table(store, catalog, "m", ["c6i.large", "c6i.xlarge", "c7g.xlarge"], SLO100)
    }
    assert table["c6i.large"] == CapacityEstimate(
        model="m",
        instance_type="c6i.large",
        slo_p99_ms=100,
        capacity_rps=100.0,
        low_rps=100.0,
        high_rps=100.0,
        estimated=False,
        method="measured",
        run_id="a",
        basis=["c6i.large"],
        reason="measured",
    )
    same_family = table["c6i.xlarge"]
    assert same_family.estimated and same_family.method == "vcpu_scaling"
    assert same_family.capacity_rps == pytest.approx(100 * 2**0.8, rel=1e-3)
    assert (same_family.low_rps, same_family.high_rps) == pytest.approx((100 * 2**0.6, 200.0), rel=1e-3)
    other = table["c7g.xlarge"]  # Graviton3 1.0 +-20% vs Ice Lake 1.0 +-5%: band sqrt(.2^2+.05^2)
    band = (0.2**2 + 0.05**2) ** 0.5
    assert other.low_rps == pytest.approx(100 * 2**0.6 * (1 - band), rel=1e-3)
    assert other.high_rps == pytest.approx(200 * (1 + band), rel=1e-3)


def test_two_shapes_fit_the_scaling_exponent(store: Store, catalog: Catalog) -> None:
    _stored(store, "a", "c6i.large", 100.0)
    _stored(store, "b", "c6i.xlarge", 170.0)  # 4 vCPU: e = log2(1.7) = 0.766
    (est,) = capacity_table(store, catalog, "m", ["c6i.2xlarge"], SLO100)
    assert est.capacity_rps == pytest.approx(170 * 2**0.766, rel=0.01)
    assert "fitted on c6i.large, c6i.xlarge" in est.reason


def test_types_that_cannot_be_estimated_say_why(store: Store, catalog: Catalog) -> None:
    _stored(store, "a", "c6i.large", 100.0, rss=3000.0)
    rows = {
        e.instance_type: e
        for e in capacity_table(
            store, catalog, "m", ["t3.large", "g5.xlarge", "c7g.medium", "inf2.xlarge"], SLO100
        )
    }
    assert rows["t3.large"].capacity_rps is None and "burstable" in rows["t3.large"].reason
    assert rows["g5.xlarge"].capacity_rps is None and "FLOPs" in rows["g5.xlarge"].reason
    assert (
        rows["c7g.medium"].capacity_rps == 0.0 and "does not fit" in rows["c7g.medium"].reason
    )  # 2 GiB < 3000 MiB
    assert rows["inf2.xlarge"].capacity_rps is None
    assert capacity_table(store, catalog, "other", ["c6i.large"], SLO100)[0].reason.startswith("no CPU shape")
    assert capacity_table(store, catalog, "m", ["c6i.large"], SLO(latency_p99_ms=50))[0].capacity_rps is None


def test_gpu_roofline(store: Store, catalog: Catalog) -> None:
    work = GpuWorkload(
        flops_per_request=2e12, bytes_per_request=1e9
    )  # T4: 2e12/65e12 = 30.8 ms compute-bound
    (est,) = capacity_table(store, catalog, "m", ["g4dn.xlarge"], SLO(latency_p99_ms=500), workload=work)
    t = 2e12 / 65e12
    assert est.method == "roofline" and (est.low_rps, est.high_rps) == pytest.approx(
        (0.1 / t, 0.5 / t), rel=1e-3
    )
    (tight,) = capacity_table(store, catalog, "m", ["g4dn.xlarge"], SLO(latency_p99_ms=20), workload=work)
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
            model="m",
            instance_type=t,
            slo_p99_ms=100,
            capacity_rps=cap,
            low_rps=low,
            high_rps=high,
            estimated=estimated,
            method="vcpu_scaling" if estimated else "measured",
        )

    od = {
        t: catalog.on_demand("us-east-1", t).usd_per_hour for t in ("c6i.large", "c7g.large", "m6i.4xlarge")
    }
    table = [
        est("c6i.large", 100, 100, 100, estimated=False),
        est("c7g.large", 100, 60, 200),
        est("m6i.4xlarge", 300, 250, 350),
    ]
    picks = suggest_measurements(table, catalog, "us-east-1")
    best = od["c6i.large"] / 100
    expected = {
        t for t, e in (("c7g.large", table[1]), ("m6i.4xlarge", table[2])) if od[t] / e.high_rps < best
    }
    assert {p.instance_type for p in picks} == expected and "c7g.large" in expected
    assert all(p.usd_per_rps_hour_best_case < p.best_guaranteed_usd_per_rps_hour for p in picks)
    assert suggest_measurements([table[0]], catalog, "us-east-1") == []


def test_k8s_jobs_are_pinned_and_valid(tmp_path: Path, catalog: Catalog) -> None:
    paths = write_jobs(
        tmp_path,
        ["tabular", "embedding"],
        [catalog.instance("c7g.large"), catalog.instance("g5.xlarge")],
        SLO100,
        image="advisor:1",
    )
    assert len(paths) == 4
    job = yaml.safe_load((tmp_path / "advisor-bench-tabular-c7g-large.yaml").read_text())
    spec = job["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {
        "node.kubernetes.io/instance-type": "c7g.large",
        "kubernetes.io/arch": "arm64",
    }
    args = spec["containers"][0]["args"]
    assert args[args.index("--emulation") + 1] == "none" and "--json" in args and "--quiet" in args
    gpu = yaml.safe_load((tmp_path / "advisor-bench-embedding-g5-xlarge.yaml").read_text())
    assert gpu["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert job_name("x" * 80, "c6i.large").__len__() <= 63


def test_an_invalid_manifest_is_reported_with_its_field_path(catalog: Catalog) -> None:
    manifest = job_manifest("tabular", catalog.instance("c6i.large"), SLO100, image="i")
    manifest["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    with pytest.raises(InputError) as err:
        validate_manifest(manifest, where="job.yaml")
    assert err.value.where == "job.yaml:spec.template.spec.containers.0"
    with pytest.raises(InputError, match="no Kubernetes schema"):
        validate_manifest(
            job_manifest("tabular", catalog.instance("c6i.large"), SLO100, image="i"),
            where="j",
            k8s_version="9.99",
        )


def test_reports_are_read_from_pod_logs(tmp_path: Path) -> None:
    report = BenchReport(
        model="tabular",
        target="t",
        slo_p99_ms=100,
        max_error_rate=0.001,
        results=[
            CapacityResult(
                run_id="k9",
                model="tabular",
                shape="c6i.large",
                status=RunStatus.COMPLETED,
                slo_p99_ms=100,
                max_error_rate=0.001,
                capacity_rps=42.0,
            )
        ],
    )
    logs = tmp_path / "pod.log"
    logs.write_text("starting\n" + json.dumps(report.model_dump(mode="json"), indent=2) + "\nbye\n")
    assert read_report(logs).results[0].capacity_rps == 42.0
    (tmp_path / "bad.json").write_text('{"model": "x"}')
    with pytest.raises(InputError) as err:
        read_report(tmp_path / "bad.json")
    assert "not a bench report" in err.value.what
    (tmp_path / "none.txt").write_text("nothing here")
    with pytest.raises(InputError, match="no JSON document"):
        read_report(tmp_path / "none.txt")
