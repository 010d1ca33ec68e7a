"""advisor.insights: the reads and what-ifs the dashboard and reports stand on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import advisor
from advisor.api import WhatIf, save_what_if, varied_scenario, what_if
from advisor.errors import InputError
from advisor.insights import latest_recommendations, model_replay, model_table, recommendation_history
from tests.dashboard_helpers import DEMO

SMALL = """\
name: {name}
region: us-east-1
platforms: [ec2]
candidates: {{families: [c6i]}}
models:
  - name: api
    team: web
    server: {{endpoint: "http://127.0.0.1:9/predict"}}
    resources: {{vcpu: 1, memory_gib: 2}}
    slo: {{latency_p99_ms: 100}}
    traffic: {{profile: traffic.csv{scale}}}
    capacities_rps: {{c6i.large: 50}}
"""


def small_scenario(folder: Path, name: str = "small", scale: str = "") -> Path:
    """A one-model scenario whose traffic is a CSV beside it (a day of a sine between 20 and 100 rps)."""
    folder.mkdir(parents=True, exist_ok=True)
    index = pd.date_range("2026-01-05", periods=1440, freq="60s", tz="UTC")
    rps = 60 + 40 * np.sin(np.arange(1440) / 1440 * 2 * np.pi)
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "rps": rps}).to_csv(
        folder / "traffic.csv", index=False
    )
    path = folder / "scenario.yaml"
    path.write_text(SMALL.format(name=name, scale=scale))
    return path


def test_latest_is_one_per_scenario_newest_first(tmp_path: Path) -> None:
    assert latest_recommendations() == []  # no store: nothing, and nothing created
    assert not advisor.load_settings().db_path.exists()
    first = advisor.recommend(small_scenario(tmp_path / "a", "alpha"))
    advisor.save(first)
    demo = advisor.recommend(DEMO)
    advisor.save(demo)
    again = advisor.recommend(small_scenario(tmp_path / "a", "alpha"))
    advisor.save(again)
    assert [r.id for r in latest_recommendations()] == [again.id, demo.id]
    history = recommendation_history("alpha")
    assert list(history["id"]) == [first.id, again.id]
    assert list(history["recommended_usd_per_month"]) == pytest.approx(
        [first.totals.recommended_usd_per_month, again.totals.recommended_usd_per_month]
    )
    table = model_table(demo)
    assert list(table["model"]) == [m.model for m in demo.models]
    assert table["recommended_usd_per_month"].sum() == pytest.approx(demo.totals.recommended_usd_per_month)


def test_traffic_scale_multiplies_the_scale_the_scenario_names(tmp_path: Path) -> None:
    base = advisor.load_scenario(DEMO)
    doubled = varied_scenario(base, "search-embedder", WhatIf(traffic_scale=2), peak_rps=lambda: 1 / 0)
    assert doubled.models[1].traffic.peak_rps == 2 * (base.models[1].traffic.peak_rps or 0)
    assert doubled.models[0] == base.models[0]  # other models as they were
    path = small_scenario(tmp_path, scale=", monthly_requests: 1000000")
    scaled = varied_scenario(
        advisor.load_scenario(path), "api", WhatIf(traffic_scale=3), peak_rps=lambda: 1 / 0
    )
    assert scaled.models[0].traffic.monthly_requests == 3_000_000
    plain = varied_scenario(advisor.load_scenario(small_scenario(tmp_path / "p")), "api",
                            WhatIf(traffic_scale=0.5), peak_rps=lambda: 100.0)  # fmt: skip
    assert plain.models[0].traffic.peak_rps == 50.0


def test_an_impossible_what_if_is_one_line(tmp_path: Path) -> None:
    huge = advisor.load_scenario(small_scenario(tmp_path, scale=", peak_rps: 500000"))
    with pytest.raises(InputError) as err:
        varied_scenario(huge, "api", WhatIf(traffic_scale=1000), peak_rps=lambda: 0)
    line = err.value.one_line()
    assert "\n" not in line and "api traffic ×1000" in line and "invalid scenario" in line
    base = advisor.load_scenario(DEMO)
    with pytest.raises(advisor.NotFoundError):
        varied_scenario(base, "fraud-scorr", WhatIf(), peak_rps=lambda: 0)


def test_a_saved_what_if_keeps_its_scenario_and_replays_at_its_traffic(tmp_path: Path) -> None:
    path = small_scenario(tmp_path / "team")
    rec = advisor.recommend(path)
    advisor.save(rec)
    change = WhatIf(traffic_scale=2.0, min_replicas=3)
    varied = what_if(rec, "api", change)
    assert varied.id != rec.id and varied.summary.startswith(
        f"What-if of {rec.id} (api traffic ×2; HA floor 3)"
    )
    assert varied.model("api").plan.replicas_min >= 3  # type: ignore[union-attr]
    assert latest_recommendations()[0].id == rec.id  # not stored yet
    written = save_what_if(rec, "api", change, varied)
    saved = latest_recommendations()[0]
    assert saved.id == varied.id and saved.scenario_file == str(written)
    data = yaml.safe_load(written.read_text())
    assert data["models"][0]["traffic"]["profile"] == str((tmp_path / "team" / "traffic.csv").resolve())
    assert data["min_replicas"] == 3
    (tmp_path / "team" / "scenario.yaml").unlink()  # the saved one no longer needs the original file
    view = model_replay(saved, "api")
    assert view.matches_stored and view.frame["demand_rps"].max() == pytest.approx(200.0, rel=1e-6)


def test_a_recommendation_from_code_cannot_be_replayed(tmp_path: Path) -> None:
    rec = advisor.recommend(advisor.load_scenario(DEMO))
    with pytest.raises(InputError, match="given in code, not a file"):
        model_replay(rec, "fraud-scorer")
