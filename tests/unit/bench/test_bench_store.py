"""Bench results in the store, what capacity questions read back from it, and Kubernetes Job plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from advisor.bench import results
from advisor.bench.k8s import job_manifest, job_name, read_report, validate_manifest, write_jobs
from advisor.bench.measurements import (
    BenchReport,
    CapacityResult,
    LoadMode,
    PointResult,
    RunStatus,
    WindowStats,
)
from advisor.capacity import read_evidence
from advisor.domain import SLO
from advisor.errors import InputError, NotFoundError
from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION
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
    assert results.load_result(store, "f1").points and read_evidence(store, ["m"]).measurements == ()


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
    stored = read_evidence(store, ["m"]).measurements
    assert [(m.shape, m.capacity_rps, m.run_id) for m in stored] == [("c7g.large", 80.0, "k1")]
    assert store.query("SELECT method FROM capacities") == [{"method": "imported"}]


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
    # The pod must fit what an EKS c7g.large leaves (2 vCPU - 70m kubelet - 150m daemonsets; 4 GiB - 255 MiB -
    # 11 MiB x 29 pods - 100 MiB eviction): requesting the whole node would leave it Pending.
    requests = spec["containers"][0]["resources"]["requests"]
    assert int(requests["cpu"].removesuffix("m")) <= 2000 - 70 - 150
    assert int(requests["memory"].removesuffix("Mi")) <= 4096 - 255 - 11 * 29 - 100
    gpu = yaml.safe_load((tmp_path / "advisor-bench-embedding-g5-xlarge.yaml").read_text())
    assert gpu["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert job_name("x" * 80, "c6i.large").__len__() <= 63


def test_an_invalid_manifest_is_reported_with_its_field_path(catalog: Catalog) -> None:
    manifest = job_manifest("tabular", catalog.instance("c6i.large"), SLO100, image="i")
    manifest["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    with pytest.raises(InputError) as err:
        validate_manifest(manifest, where="job.yaml")
    assert err.value.where == "job.yaml:spec.template.spec.containers.0"
    good = job_manifest("tabular", catalog.instance("c6i.large"), SLO100, image="i")
    for version in ("9.99", "0.1", "1.9", "latest", "1.30.0.1"):  # kubernetes-validate: IndexError on 0.1
        with pytest.raises(InputError, match="no Kubernetes schema") as bad:
            validate_manifest(good, where="j", k8s_version=version)
        # the fix names the one default version advisor validates against
        assert bad.value.where == "--k8s-version" and DEFAULT_K8S_VERSION in bad.value.one_line()
    for version in ("1.30", "v1.29.3", "1.25"):
        validate_manifest(good, where="j", k8s_version=version)


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
