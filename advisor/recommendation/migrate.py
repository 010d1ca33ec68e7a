"""Reading stored recommendations of every schema version: schema 3 as it is, 1 and 2 upgraded.

Fields added since a document was stored are filled by the rule that decides them, so that
every surface reads them from the document: each model's ``effective_usd_per_month``
(:func:`advisor.recommendation.totals.effective_usd`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from advisor.errors import DataError
from advisor.recommendation.model import SCHEMA_V1, SCHEMA_V2, SCHEMA_VERSION, Recommendation
from advisor.recommendation.totals import with_effective_costs


def load_document(text: str | bytes) -> Recommendation:
    """A stored document as a Recommendation: schema 3 as it is, 1 and 2 upgraded (:func:`upgrade_v1`,
    :func:`upgrade_v2`)."""
    data = json.loads(text)
    if isinstance(data, dict) and data.get("schema_version") == SCHEMA_V1:
        data = upgrade_v1(data)
    if isinstance(data, dict) and data.get("schema_version") == SCHEMA_V2:
        data = upgrade_v2(data)
    rec = Recommendation.model_validate(data)
    missing = isinstance(data, dict) and any(
        isinstance(m, dict) and "effective_usd_per_month" not in m for m in data.get("models") or []
    )
    return rec.model_copy(update={"models": with_effective_costs(rec.models)}) if missing else rec


def read_stored(text: str | bytes, rec_id: str, where: str) -> Recommendation:
    """:func:`load_document` of the stored row ``rec_id`` (in the store at ``where``); a document this
    version cannot read - damaged, or written by another version of advisor - is a DataError naming it."""
    try:
        return load_document(text)
    except (ValueError, TypeError) as exc:  # JSON's and pydantic's errors are ValueErrors
        version = _schema_of(text)
        fix = "make a new one with `advisor recommend SCENARIO.yaml` (the stored row is left as it is)"
        if version is not None and version not in (SCHEMA_V1, SCHEMA_V2, SCHEMA_VERSION):
            raise DataError(
                f"recommendation {rec_id} was stored by another version of advisor (schema {version}; this "
                f"one reads {SCHEMA_V1}, {SCHEMA_V2} and {SCHEMA_VERSION})",
                where=where,
                fix=f"read it with that version, or {fix}",
            ) from None
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            reason = f"{'.'.join(str(p) for p in first['loc']) or 'the document'}: {first['msg']}"
        else:
            reason = str(exc)
        what = f"stored recommendation {rec_id} is damaged ({reason})"
        raise DataError(what, where=where, fix=fix) from None


def _schema_of(text: str | bytes) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    version = data.get("schema_version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def upgrade_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A schema-2 document in schema 3's shape: schema 2 had no language models, so its totals (classic
    models only) are schema 3's for the same fleet; ``llm_models`` is empty."""
    out = dict(data)
    out["schema_version"] = SCHEMA_VERSION
    out["upgraded_from"] = out.get("upgraded_from") or SCHEMA_V2
    out.setdefault("llm_models", [])
    return out


def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 document in schema 2's shape: a placement's joined ``pool`` becomes its ``pools`` list.

    What schema 1 never recorded (deployment targets, node pools, scaling metrics) stays empty; the
    document keeps ``upgraded_from`` so a reader knows why.
    """
    out: dict[str, Any] = json.loads(json.dumps(data))
    out["schema_version"] = SCHEMA_V2
    out["upgraded_from"] = SCHEMA_V1
    for model in out.get("models") or []:
        placement = (model.get("plan") or {}).get("placement")
        if isinstance(placement, dict) and "pool" in placement:
            joined = str(placement.pop("pool"))
            placement["pools"] = [p.strip() for p in joined.split(",") if p.strip()] or [joined]
    return out
