"""``advisor recommend --bench`` end to end: a real server measured on 127.0.0.1, then recommended."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from advisor.cost.plan import CapacityProvenance
from advisor.optimize.recommendation import Recommendation
from tests.helpers import run_cli
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
        bench={"shapes": ["c7a.medium"], "quick": True},
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
