"""The Recommendation document: committed JSON schema, validation of real output, store round trip."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from advisor.errors import NotFoundError
from advisor.optimize.recommend import recommend
from advisor.pricing.catalog import Catalog
from advisor.recommendation.migrate import load_document
from advisor.recommendation.model import SCHEMA_PATH, Recommendation, schema_text
from advisor.recommendation.store import list_recommendations, load_recommendation, save_recommendation
from advisor.render.markdown import recommendation_markdown
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import REPO_ROOT
from tests.optimize_helpers import model, scenario

V1_DOCUMENT = REPO_ROOT / "tests" / "data" / "recommendation-v1.json"  # the demo, as schema 1 stored it


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommendation:
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    sc = scenario(
        model("cpu", current={"platform": "ec2", "instance_type": "m5.xlarge", "count": 3}),
        model("tight", slo={"latency_p99_ms": 5}, unloaded_p99_ms=8),  # below its own floor: cannot recommend
    )
    return recommend(sc, Catalog.load(settings), settings)


def test_the_committed_schema_matches_the_model() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "recommendation.schema.json is stale: run `python -m advisor.recommendation.model`"
    )


def test_real_output_validates_against_the_committed_schema(rec: Recommendation) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    document = json.loads(rec.model_dump_json())
    jsonschema.validate(document, schema)
    assert document["schema_version"] == "advisor.recommendation/3"
    broken = {**document, "status": "maybe"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_the_document_carries_provenance_and_the_cannot_recommend_reason(rec: Recommendation) -> None:
    assert rec.status == "partial"
    cpu, tight = rec.model("cpu"), rec.model("tight")
    assert cpu.plan is not None and cpu.cost is not None and cpu.slo_risk is not None
    assert cpu.plan.capacity.provenance.value in ("given", "estimated")
    assert {b.name for b in cpu.baselines} == {
        "static_peak",
        "sagemaker_target_tracking",
        "fargate_target_tracking",
    }
    assert cpu.current is not None and cpu.savings_vs_current_pct is not None
    assert cpu.efficiency is not None and 0 < cpu.efficiency.efficiency <= 1.0
    assert tight.action.value == "cannot_recommend" and tight.plan is None
    assert "below the fastest p99" in (tight.reason or "") and "8" in (tight.fix or "")
    assert rec.provenance.prices_as_of_oldest <= rec.provenance.prices_as_of_newest
    md = recommendation_markdown(rec)
    assert "## What to run" in md and "cannot recommend" in md and "tight" in md


def test_store_round_trip(tmp_path: Path, rec: Recommendation) -> None:
    with Store(tmp_path / "a.db") as store:
        save_recommendation(store, rec)
        again = load_recommendation(store, rec.id)
        latest = load_recommendation(store, scenario=rec.scenario)
        rows = list_recommendations(store)
        with pytest.raises(NotFoundError):
            load_recommendation(store, "rec-nope")
    assert again == rec and latest.id == rec.id
    assert rows[0]["id"] == rec.id and rows[0]["schema_version"] == rec.schema_version


def test_a_v2_document_loads_as_schema_3_with_no_language_models(rec: Recommendation) -> None:
    data = json.loads(rec.model_dump_json())
    data["schema_version"] = "advisor.recommendation/2"
    del data["llm_models"]
    again = load_document(json.dumps(data))
    assert (
        again.schema_version == "advisor.recommendation/3"
        and again.upgraded_from == "advisor.recommendation/2"
    )
    assert again.llm_models == [] and again.totals == rec.totals and again.models == rec.models


def test_a_v1_document_still_loads_and_is_upgraded(tmp_path: Path) -> None:
    text = V1_DOCUMENT.read_text(encoding="utf-8")
    assert json.loads(text)["schema_version"] == "advisor.recommendation/1"
    rec = load_document(text)
    assert (
        rec.schema_version == "advisor.recommendation/3" and rec.upgraded_from == "advisor.recommendation/1"
    )
    placed = {m.model: m.plan.placement for m in rec.models if m.plan and m.plan.placement}
    assert placed["search-embedder"].pools == ["inference-search-embedder"]
    assert all(m.plan is None or m.plan.deployment is None for m in rec.models) and rec.pools == []
    with Store(tmp_path / "v1.db") as store, store.transaction() as conn:  # a row a schema-1 advisor wrote
        conn.execute(
            "INSERT INTO recommendations (id, created_at, scenario, schema_version, body_json)"
            " VALUES (?, ?, ?, ?, ?)",
            ("rec-v1", "2026-01-01T00:00:00+00:00", "demo", "advisor.recommendation/1", text),
        )
    with Store(tmp_path / "v1.db") as store:
        assert load_recommendation(store, "rec-v1").totals == rec.totals
