"""LLM bench results in the store: one row per (run, shape, bucket) holding the whole :class:`LLMCapacity`.

A run writes its row when it starts (``running``) and rewrites it after every point, so Ctrl-C or a crash
keeps every point measured so far. Results measured elsewhere (vLLM, GuideLLM, AIPerf, a Kubernetes Job)
are stored the same way with ``tool`` naming who measured them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from advisor.bench.llm.records import LLMCapacity
from advisor.errors import NotFoundError, closest_names
from advisor.redact import redact_text
from advisor.store import Store


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def row_id(result: LLMCapacity) -> str:
    """``RUN[/SHAPE][#BUCKET]``: a run's whole-distribution row keeps the run id itself."""
    return result.run_id + (f"#{result.bucket}" if result.bucket else "")


def save(store: Store, result: LLMCapacity, *, target: str, started_at: str | None = None) -> None:
    """Insert or replace the row of ``result`` (called as points arrive, and once more at the end)."""
    now = _now()
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO llm_bench_runs (id, run_id, model, shape, bucket, tool, target, status,"
            " capacity_rps, started_at, updated_at, result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET status = excluded.status, capacity_rps = excluded.capacity_rps,"
            " updated_at = excluded.updated_at, result_json = excluded.result_json",
            (
                row_id(result),
                result.run_id,
                result.model,
                result.shape,
                result.bucket,
                result.tool,
                redact_text(target),
                result.status,
                result.capacity_rps,
                started_at or now,
                now,
                result.model_dump_json(),
            ),
        )


def exists(store: Store, result: LLMCapacity) -> bool:
    return bool(store.query("SELECT 1 FROM llm_bench_runs WHERE id = ?", (row_id(result),)))


def list_runs(store: Store, *, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first: id, run_id, model, shape, bucket, tool, target, status, capacity_rps, started_at."""
    sql = (
        "SELECT id, run_id, model, shape, bucket, tool, target, status, capacity_rps, started_at, updated_at"
        " FROM llm_bench_runs"
    )
    params: tuple[Any, ...] = ()
    if model is not None:
        sql += " WHERE model = ?"
        params = (model,)
    sql += " ORDER BY started_at DESC, id LIMIT ?"
    return store.query(sql, (*params, limit))


def load_run(store: Store, run_id: str) -> list[LLMCapacity]:
    """Every row of one run (its whole-distribution result first, then its buckets); NotFoundError if none."""
    rows = store.query(
        "SELECT result_json FROM llm_bench_runs WHERE run_id = ? OR id = ? ORDER BY bucket IS NOT NULL, id",
        (run_id, run_id),
    )
    if not rows:
        known = [r["run_id"] for r in store.query("SELECT DISTINCT run_id FROM llm_bench_runs LIMIT 500")]
        close = closest_names(run_id, known)
        raise NotFoundError(
            "LLM bench run",
            run_id,
            known=known,
            where="--run",
            fix=f"did you mean {close[0]}?" if close else "list them with `advisor bench show`",
        )
    return [LLMCapacity.model_validate(json.loads(r["result_json"])) for r in rows]


def has_run(store: Store, run_id: str) -> bool:
    return bool(store.query("SELECT 1 FROM llm_bench_runs WHERE run_id = ? OR id = ?", (run_id, run_id)))
