"""``advisor recommend`` and ``advisor init`` as a user runs them: outputs, storage, the error contract."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from advisor.recommendation.model import Recommendation
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import REPO_ROOT, assert_one_line_error, run_cli
from tests.optimize_helpers import model, scenario_dict, store_bench_run, write_scenario

REPO = REPO_ROOT


def test_init_writes_the_example_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "s.yaml"
    first = run_cli("init", str(target))
    assert first.code == 0 and target.is_file()
    written = yaml.safe_load(target.read_text())
    assert written["models"][0]["name"] == "fraud-scorer"
    # The deployability settings are written with their comments: the image's architectures, the deploy
    # target (every kind, commented), and how the cluster's nodes run replicas.
    text = target.read_text()
    assert written["models"][0]["architectures"] == ["x86_64", "arm64"]
    assert written["models"][0]["deploy"] == {"aws_asg": {"name": "fraud-scorer"}}
    assert written["cluster"]["orchestrator"] == "eks" and written["cluster"]["daemonsets"]
    for kind in ("aws_asg", "sagemaker", "ecs", "kubernetes", "cortex"):
        assert f"#   {{{kind}:" in text, kind
    target.write_text("mine: true\n")
    again = run_cli("init", str(target))
    assert_one_line_error(again, "exists already", "--force")
    assert target.read_text() == "mine: true\n"  # nothing lost
    forced = run_cli("init", str(target), "--force")
    assert forced.code == 0 and "fraud-scorer" in target.read_text()


def test_the_example_recommends_in_every_output_format_and_is_stored(tmp_path: Path) -> None:
    scen = tmp_path / "s.yaml"
    assert run_cli("init", str(scen)).code == 0
    home = tmp_path / "home"
    env = {"ADVISOR_HOME": str(home)}
    table = run_cli("recommend", str(scen), env=env)
    assert table.code == 0, table.stderr
    assert (
        "What to run" in table.stdout and "What it saves" in table.stdout and "fraud-scorer" in table.stdout
    )
    assert "stored as rec-" in table.stdout
    as_json = run_cli("recommend", str(scen), "--json", env=env)
    assert as_json.code == 0, as_json.stderr
    rec = Recommendation.model_validate(json.loads(as_json.stdout))
    assert rec.status == "ok" and {m.model for m in rec.models} == {"fraud-scorer", "search-embedder"}
    md = run_cli("recommend", str(scen), "--markdown", "--no-store", env=env)
    assert md.code == 0 and md.stdout.startswith("# Recommendation for")
    with sqlite3.connect(home / "advisor.db") as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM recommendations ORDER BY created_at")]
    assert len(ids) == 2 and rec.id in ids  # --no-store stored nothing
    assert_one_line_error(run_cli("recommend", str(scen), "--json", "--markdown", env=env), "--markdown")


def test_a_malformed_scenario_is_one_line_with_the_field_path_and_line(tmp_path: Path) -> None:
    data = scenario_dict(model("a"), model("b", slo={"latency_p99_ms": -5}))
    path = write_scenario(tmp_path / "bad.yaml", data)
    result = run_cli("recommend", str(path))
    assert_one_line_error(result, "models.1.slo.latency_p99_ms", f"{path}:")
    line = int(result.stderr.split(f"{path}:")[1].split(":")[0])
    assert "latency_p99_ms: -5" in path.read_text().splitlines()[line - 1]
    unknown = write_scenario(tmp_path / "u.yaml", scenario_dict(model("a", capacities_rps={"c6i.lrage": 9})))
    assert_one_line_error(
        run_cli("recommend", str(unknown)), "models.0.capacities_rps.c6i.lrage", "c6i.large"
    )
    profile = write_scenario(tmp_path / "p.yaml", scenario_dict(model("a", traffic={"profile": "flatt"})))
    assert_one_line_error(run_cli("recommend", str(profile)), "models.0.traffic.profile", "flat")
    assert_one_line_error(run_cli("recommend", str(tmp_path / "missing.yaml")), "not found")


def test_an_slo_below_the_fastest_measured_latency_cannot_be_recommended(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store(Settings(home=home).db_path) as store:
        store_bench_run(store, run_id="run-fast", label="scorer", shape="c7a.medium", slo_p99_ms=50,
                        capacity_rps=300.0, point_p99s_ms=[12.0, 30.0, 48.0])  # fmt: skip
    data = scenario_dict(model("scorer", slo={"latency_p99_ms": 5}, capacities_rps={}))
    path = write_scenario(tmp_path / "tight.yaml", data)
    env = {"ADVISOR_HOME": str(home)}
    result = run_cli("recommend", str(path), env=env)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "cannot recommend" in result.stdout and "below the fastest p99" in result.stdout
    doc = run_cli("recommend", str(path), "--json", env=env)
    rec = Recommendation.model_validate(json.loads(doc.stdout))
    scorer = rec.model("scorer")
    assert rec.status == "cannot_recommend" and scorer.action.value == "cannot_recommend"
    assert "12 ms" in (scorer.reason or "") and "run-fast" in (scorer.reason or "")
    assert "at least 12 ms" in (scorer.fix or "")
    assert rec.provenance.bench_run_ids == ["run-fast"]
