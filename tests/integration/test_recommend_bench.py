"""``advisor recommend --bench`` end to end: a real server measured on 127.0.0.1, then recommended."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from advisor.recommendation.model import Recommendation
from advisor.recommendation.plan import CapacityProvenance
from tests.helpers import REPO_ROOT, run_cli
from tests.optimize_helpers import model, scenario_dict, write_scenario


@pytest.mark.slow
def test_bench_then_recommend_uses_the_measured_capacity(tmp_path: Path) -> None:
    # The synthetic reference server: 4 slots x 100 ms per request (an M/D/4 queue), so any SLO >= 100 ms
    # has a capacity below 40 requests/s. Nothing is given by hand: the measurement is the only source.
    data = scenario_dict(
        model(
            "synth",
            server={"reference": "synthetic"},
            resources={"vcpu": 1, "memory_gib": 2},
            slo={"latency_p99_ms": 400},
            traffic={"profile": "flat", "peak_rps": 60},
            capacities_rps={},
        ),
        candidates={"families": ["c7a", "c6i"], "max_size_vcpu": 8},
        bench={"shapes": ["c7a.medium"], "quick": True, "max_points": 2},
    )
    path = write_scenario(tmp_path / "s.yaml", data)
    home = tmp_path / "home"
    result = run_cli(
        "recommend", str(path), "--bench", "--json", env={"ADVISOR_HOME": str(home)}, timeout=300
    )
    assert result.code == 0, result.stderr[-2000:]
    rec = Recommendation.model_validate(json.loads(result.stdout))
    with sqlite3.connect(home / "advisor.db") as conn:
        runs = conn.execute("SELECT id, status FROM bench_runs WHERE model = 'synthetic'").fetchall()
        cap = conn.execute("SELECT capacity_rps FROM capacities WHERE run_id = ?", (runs[0][0],)).fetchone()[
            0
        ]
    assert len(runs) == 1 and runs[0][1] == "completed"
    assert 0 < cap < 40.5
    synth = rec.model("synth")
    assert synth.plan is not None, synth.reason
    assert rec.provenance.bench_run_ids == [runs[0][0]]
    if synth.plan.capacity.provenance is CapacityProvenance.MEASURED:  # c7a chosen: the measured family
        assert synth.plan.capacity.bench_run_ids == [runs[0][0]]
        assert synth.plan.capacity.rps_per_replica == pytest.approx(cap)
    else:  # another family: an estimate from the measurement, flagged and traced to the run
        assert synth.plan.capacity.provenance is CapacityProvenance.ESTIMATED
        assert runs[0][0] in synth.plan.capacity.bench_run_ids


@pytest.mark.slow
def test_bench_measures_a_server_command_as_bench_run_does(tmp_path: Path) -> None:
    # A server started by command, with {port}, loaded on the default route with a body file given relative
    # to the scenario (which lives elsewhere than the working directory): a wrong route would answer 404 and a
    # wrong body path would be an error before any load.
    (tmp_path / "payload.json").write_text(json.dumps({"features": [0.1, 0.2]}))
    server = "advisor.bench.servers.reference.synthetic"
    command = f"{sys.executable} -m {server} --port {{port}} --slots 4 --service-ms 20"
    data = scenario_dict(
        model(
            "own-server",
            server={"command": command, "payload": "payload.json"},
            slo={"latency_p99_ms": 200},
            traffic={"profile": "flat", "peak_rps": 100},
            capacities_rps={},
        ),
        candidates={"families": ["c7a"], "max_size_vcpu": 4},
        bench={"shapes": ["c7a.medium"], "quick": True, "max_points": 2},
    )
    path = write_scenario(tmp_path / "s.yaml", data)
    home = tmp_path / "home"
    result = run_cli(
        "recommend", str(path), "--bench", "--json", env={"ADVISOR_HOME": str(home)}, timeout=300
    )
    assert result.code == 0, result.stderr[-2000:]
    with sqlite3.connect(home / "advisor.db") as conn:
        run_id, target, status = conn.execute("SELECT id, target, status FROM bench_runs").fetchone()
        probe_errors, passed = conn.execute(
            "SELECT SUM(errors * (seq = 0)), SUM(passed = 1) FROM bench_points WHERE run_id = ?", (run_id,)
        ).fetchone()
        cap = conn.execute("SELECT capacity_rps FROM capacities WHERE run_id = ?", (run_id,)).fetchone()[0]
    assert status == "completed" and probe_errors == 0 and passed >= 1  # the route and the body were right
    assert "{port}" not in target and "--port" in target  # the placeholder was filled in
    assert 50 < cap <= 200  # 4 slots x 20 ms: an M/D/4 queue serving under 200 req/s
    rec = Recommendation.model_validate(json.loads(result.stdout))
    assert rec.model("own-server").plan is not None and rec.provenance.bench_run_ids == [run_id]


@pytest.mark.load
def test_the_llm_demo_measures_tiny_llm_then_recommends_in_tokens(tmp_path: Path) -> None:
    """`make demo`'s language model: tiny-llm measured on a 1-vCPU shape under the TTFT/TPOT SLO, and the
    measurement replacing the hand-given capacity of that type in a recommendation in $/M tokens."""
    home = tmp_path / "home"
    scenario = REPO_ROOT / "examples" / "demo-llm.yaml"
    result = run_cli(
        "recommend", str(scenario), "--bench", "--json", env={"ADVISOR_HOME": str(home)}, timeout=600
    )
    assert result.code == 0, result.stderr[-2000:]
    with sqlite3.connect(home / "advisor.db") as conn:
        rows = conn.execute(
            "SELECT shape, status, result_json FROM llm_bench_runs WHERE model = 'tiny-chat'"
        ).fetchall()
    assert [(shape, status) for shape, status, _ in rows] == [("c7a.medium", "completed")]
    measured = json.loads(rows[0][2])
    assert measured["slo"]["ttft_p99_ms"] == 2000 and measured["slo"]["tpot_p99_ms"] == 200
    assert measured["sizes"]["input_tokens"] == 64 and measured["sizes"]["output_tokens"] == 32
    rec = Recommendation.model_validate(json.loads(result.stdout))
    (chat,) = rec.llm_models
    by_type = {g.instance_type: g for g in chat.groups}
    if "c7a.medium" in by_type:  # the measured type is in the mix: its capacity is the measurement's
        g = by_type["c7a.medium"]
        # (on a failure: the measurement's capacity and sizes say whether it could count as evidence)
        said = (measured["capacity_rps"], measured.get("points", [])[-1:], chat.notes)
        assert set(g.capacity_methods.values()) == {"measured"}, said
        assert list(g.capacity_rps_per_instance.values()) == [pytest.approx(measured["capacity_rps"])]
    if measured["capacity_rps"] > 0:
        assert "1 measured, 2 given" in chat.notes[0]
    else:  # no rate met the SLO (a machine far busier than the bench expects): the type is left out
        assert "c7a.medium" not in by_type
        assert "2 given; left out, measured to meet the SLO at no rate: c7a.medium" in chat.notes[0]
    assert chat.tokens.usd_per_m_blended is not None and chat.tokens.usd_per_m_blended > 0
