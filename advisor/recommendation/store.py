"""Stored recommendations: save one (one transaction), load by id or the latest (of a scenario), list.

Two levels: functions over an open :class:`~advisor.store.Store` (for callers that hold a transaction), and
:func:`save`, :func:`stored_recommendation` and :func:`stored_recommendations` over the store under
``ADVISOR_HOME`` (``advisor.save``, ``advisor.stored_recommendation``...). Reading never creates a store.

The ``recommendations`` table keeps each document's JSON with its id, creation time, scenario and schema
version, so whoever reads it later sees exactly the document ``advisor recommend`` printed.
"""

from __future__ import annotations

from typing import Any

from advisor.errors import NotFoundError
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.migrate import read_stored
from advisor.recommendation.model import Recommendation
from advisor.settings import Settings, load_settings
from advisor.store import Store


def save_recommendation(store: Store, rec: Recommendation) -> None:
    """Store ``rec`` in one transaction (its id is the key)."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO recommendations (id, created_at, scenario, schema_version, body_json)"
            " VALUES (?, ?, ?, ?, ?)",
            (rec.id, rec.created_at.isoformat(), rec.scenario, rec.schema_version, rec.model_dump_json()),
        )


def load_recommendation(
    store: Store, rec_id: str | None = None, *, scenario: str | None = None
) -> Recommendation:
    """A stored recommendation by id, or the latest (of ``scenario``); NotFoundError when there is none."""
    select, newest = "SELECT id, body_json FROM recommendations", " ORDER BY created_at DESC, id DESC LIMIT 1"
    if rec_id is not None:
        rows = store.query(select + " WHERE id = ?", (rec_id,))
    elif scenario is not None:
        rows = store.query(select + " WHERE scenario = ?" + newest, (scenario,))
    else:
        rows = store.query(select + newest)
    if not rows:
        recent = store.query("SELECT id FROM recommendations ORDER BY created_at DESC LIMIT 50")
        raise NotFoundError(
            "recommendation",
            rec_id or scenario or "(latest)",
            known=[r["id"] for r in recent],
            fix="run `advisor recommend SCENARIO.yaml` first",
        )
    return read_stored(rows[0]["body_json"], rows[0]["id"], str(store.path))


def list_recommendations(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first: id, created_at, scenario, schema_version."""
    return store.query(
        "SELECT id, created_at, scenario, schema_version FROM recommendations"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (limit,),
    )


def save(rec: Recommendation, settings: Settings | None = None) -> None:
    """Store a recommendation in the store under ``ADVISOR_HOME`` (one transaction)."""
    settings = settings or load_settings()
    with Store(settings.db_path) as store:
        save_recommendation(store, rec)


def stored_recommendation(
    rec_id: str | None = None, *, scenario: str | None = None, settings: Settings | None = None
) -> Recommendation:
    """A stored recommendation by id, or the latest (of ``scenario``); NotFoundError when there is none."""
    settings = settings or load_settings()
    with Store.for_reading(settings.db_path) as store:
        return load_recommendation(store, rec_id, scenario=scenario)


def stored_recommendations(limit: int = 50, *, settings: Settings | None = None) -> list[dict[str, object]]:
    """Newest first: id, created_at, scenario, schema_version (empty without a store)."""
    settings = settings or load_settings()
    if not settings.db_path.is_file():
        return []
    with Store.for_reading(settings.db_path) as store:
        return list_recommendations(store, limit)


def stored_llm_model(
    settings: Settings, model: str, scan: int = 50
) -> tuple[str, LLMModelRecommendation] | None:
    """The newest stored recommendation with a language model named ``model``: (its id, that model)."""
    if not settings.db_path.is_file():
        return None
    with Store.for_reading(settings.db_path) as store:
        for row in list_recommendations(store, limit=scan):
            rec = load_recommendation(store, row["id"])
            hit = next((m for m in rec.llm_models if m.model == model), None)
            if hit is not None:
                return rec.id, hit
    return None
