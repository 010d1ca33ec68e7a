"""``advisor bench`` as a user runs it: bad input is one line (exit 2), results show, export, import, plan.

The commands that measure for real are in test_bench_models.py (reference models) and test_bench_harness.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from advisor.bench import results
from advisor.bench.measurements import BenchReport, CapacityResult, LoadMode, PointResult, RunStatus
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import assert_one_line_error, run_cli


def _store_run(
    home: Path,
    run_id: str = "20250101T000000-aaaaaa",
    model: str = "m",
    shape: str = "c6i.large",
    capacity: float = 100.0,
) -> None:
    with Store(Settings(home=home).db_path) as store:
        results.start_run(
            store,
            run_id=run_id,
            model=model,
            shape=shape,
            target="t",
            slo_p99_ms=100,
            max_error_rate=0.001,
            config={},
            host=None,
            emulation=None,
        )
        point = PointResult(
            seq=1,
            mode=LoadMode.OPEN,
            target_rps=capacity,
            achieved_rps=capacity,
            requests=400,
            errors=0,
            error_rate=0.0,
            p99_ms=80,
            duration_s=6,
            valid=True,
            passed=True,
        )
        results.add_point(store, run_id, point)
        results.add_capacity(
            store,
            CapacityResult(
                run_id=run_id,
                model=model,
                shape=shape,
                status=RunStatus.COMPLETED,
                slo_p99_ms=100,
                max_error_rate=0.001,
                capacity_rps=capacity,
                p99_ms_at_capacity=80,
                reason="r",
            ),
        )
        results.finish_run(store, run_id, RunStatus.COMPLETED)


def _home() -> Path:
    return Path(os.environ["ADVISOR_HOME"])


def test_unknown_model_suggests_the_close_names() -> None:
    assert_one_line_error(
        run_cli("bench", "run", "--model", "tabulr", "--slo-p99-ms", "100"), "did you mean tabular"
    )


def test_shapes_this_host_cannot_emulate_are_refused_before_anything_starts() -> None:
    result = run_cli(
        "bench", "run", "--model", "tabular", "--shapes", "c7a.medium,c6i.16xlarge", "--slo-p99-ms", "100"
    )
    assert_one_line_error(result, "c6i.16xlarge needs 64 vCPU", "bench jobs --emit k8s")
    assert_one_line_error(
        run_cli("bench", "run", "--model", "tabular", "--shapes", "g5.xlarge", "--slo-p99-ms", "100"), "GPUs"
    )
    assert_one_line_error(
        run_cli("bench", "run", "--model", "tabular", "--shapes", "c6i.larg", "--slo-p99-ms", "100"),
        "did you mean",
    )
    assert "No bench runs stored yet" in run_cli("bench", "show").stdout  # nothing was measured


def test_a_malformed_payload_is_refused_before_any_load(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"instances": [1, 2,,]}')
    result = run_cli(
        "bench",
        "run",
        "--model",
        "synthetic",
        "--shapes",
        "c7a.medium",
        "--payload",
        str(body),
        "--slo-p99-ms",
        "100",
    )
    assert_one_line_error(result, f"{body}:1:21", "malformed JSON")
    assert json.loads(run_cli("bench", "show", "--json").stdout)["runs"] == []


def test_conflicting_or_missing_targets_are_one_line_errors() -> None:
    assert_one_line_error(run_cli("bench", "run", "--slo-p99-ms", "100"), "nothing to measure")
    assert_one_line_error(
        run_cli("bench", "run", "--server-cmd", "x", "--endpoint", "http://h:1", "--slo-p99-ms", "100"),
        "exclude each other",
    )
    assert_one_line_error(run_cli("bench", "run", "--model", "tabular", "--slo-p99-ms", "-5"), "--slo-p99-ms")
    assert_one_line_error(
        run_cli("bench", "run", "--model", "tabular", "--emulation", "docker", "--slo-p99-ms", "100"),
        "--emulation",
    )
    assert_one_line_error(
        run_cli(
            "bench",
            "run",
            "--model",
            "synthetic",
            "--model-option",
            "slotz=3",
            "--shapes",
            "c7a.medium",
            "--slo-p99-ms",
            "100",
        ),
        "slotz",
        "slots",
    )


def test_server_that_never_gets_ready_is_a_clear_timeout(tmp_path: Path) -> None:
    body = tmp_path / "b.json"
    body.write_text('{"x": 1}')
    result = run_cli(
        "bench",
        "run",
        "--server-cmd",
        "python -c 'import time; time.sleep(60)' {port}",
        "--payload",
        str(body),
        "--shapes",
        "c7a.medium",
        "--ready-timeout",
        "2",
        "--slo-p99-ms",
        "100",
    )
    assert_one_line_error(result, "not ready after 2 s")
    runs = json.loads(run_cli("bench", "show", "--json").stdout)["runs"]
    assert [(r["status"], r["model"]) for r in runs] == [("failed", "custom")]


def test_show_and_export_stored_runs() -> None:
    _store_run(_home())
    listing = run_cli("bench", "show")
    assert listing.code == 0 and "20250101T000000-aaaaaa" in listing.stdout and "100" in listing.stdout
    one = json.loads(run_cli("bench", "show", "--run", "20250101T000000-aaaaaa", "--json").stdout)
    assert one["capacity_rps"] == 100.0 and one["points"][0]["p99_ms"] == 80
    assert_one_line_error(run_cli("bench", "show", "--run", "20250101T000000-aaaaab"), "did you mean")
    rows = list(csv.DictReader(io.StringIO(run_cli("bench", "export", "--format", "csv").stdout)))
    assert rows[0]["run_id"] == "20250101T000000-aaaaaa" and rows[0]["p99_ms"] == "80.0"
    exported = json.loads(run_cli("bench", "export", "--format", "json").stdout)
    assert exported[0]["points"][0]["target_rps"] == 100.0
    assert_one_line_error(run_cli("bench", "export", "--format", "xml"), "csv or json")


def test_suggest_shows_measured_and_estimated_capacities() -> None:
    _store_run(_home())
    out = run_cli(
        "bench",
        "suggest",
        "--model",
        "m",
        "--slo-p99-ms",
        "100",
        "--instance-types",
        "c6i.large,c6i.xlarge,c7g.large,t3.large",
        "--json",
    )
    assert out.code == 0, out.stderr
    data = json.loads(out.stdout)
    caps = {c["instance_type"]: c for c in data["capacities"]}
    assert caps["c6i.large"]["estimated"] is False and caps["c6i.large"]["capacity_rps"] == 100.0
    assert (
        caps["c6i.xlarge"]["estimated"] is True
        and caps["c6i.xlarge"]["low_rps"] < caps["c6i.xlarge"]["high_rps"]
    )
    assert caps["t3.large"]["capacity_rps"] is None
    assert isinstance(data["suggestions"], list)
    table = run_cli("bench", "suggest", "--model", "m", "--slo-p99-ms", "100")
    assert table.code == 0 and "measured" in table.stdout and "estimated" in table.stdout
    assert_one_line_error(
        run_cli("bench", "suggest", "--model", "nobody", "--slo-p99-ms", "100"), "no capacity of 'nobody'"
    )


def test_jobs_writes_valid_jobs_and_import_reads_their_output(tmp_path: Path) -> None:
    out = run_cli(
        "bench",
        "jobs",
        "--emit",
        "k8s",
        str(tmp_path / "jobs"),
        "--models",
        "tabular,embedding",
        "--instance-types",
        "c6i.large,c7g.xlarge",
        "--slo-p99-ms",
        "100",
        "--image",
        "advisor:0.1",
    )
    assert out.code == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [
        "advisor-bench-embedding-c6i-large.yaml",
        "advisor-bench-embedding-c7g-xlarge.yaml",
        "advisor-bench-tabular-c6i-large.yaml",
        "advisor-bench-tabular-c7g-xlarge.yaml",
    ]
    assert_one_line_error(  # by the command's name until 0.1, still accepted
        run_cli(
            "bench",
            "plan",
            "--emit",
            "helm",
            str(tmp_path / "x"),
            "--models",
            "tabular",
            "--instance-types",
            "c6i.large",
            "--slo-p99-ms",
            "100",
            "--image",
            "i",
        ),
        "--emit",
    )
    report = BenchReport(
        model="tabular",
        target="k8s",
        slo_p99_ms=100,
        max_error_rate=0.001,
        results=[
            CapacityResult(
                run_id="20250102T000000-bbbbbb",
                model="tabular",
                shape="c7g.xlarge",
                status=RunStatus.COMPLETED,
                slo_p99_ms=100,
                max_error_rate=0.001,
                capacity_rps=321.0,
            )
        ],
    )
    log = tmp_path / "job.log"
    log.write_text("pulling model\n" + report.model_dump_json(indent=2) + "\n")
    first = run_cli("bench", "import", str(log))
    assert first.code == 0 and "imported" in first.stdout
    again = run_cli("bench", "import", str(log))
    assert "already stored" in again.stdout
    runs = json.loads(run_cli("bench", "show", "--json").stdout)["runs"]
    assert [(r["shape"], r["capacity_rps"]) for r in runs] == [("c7g.xlarge", 321.0)]
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": 1}')
    assert_one_line_error(run_cli("bench", "import", str(bad)), "not a bench report")


def test_models_are_listed() -> None:
    data = json.loads(run_cli("bench", "models", "--json").stdout)
    kinds = {m["name"]: m["kind"] for m in data["models"]}
    assert kinds == {"tabular": "request", "embedding": "request", "synthetic": "request", "tiny-llm": "llm",
                     "synthetic-llm": "llm"}  # fmt: skip


@pytest.mark.parametrize("master", ["nohost", "h:port"])
def test_worker_needs_host_and_port(master: str) -> None:
    assert_one_line_error(run_cli("bench", "worker", "--master", master), "HOST:PORT")
