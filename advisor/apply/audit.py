"""The audit trail of ``advisor apply``: one ``applied_changes`` row per model and run.

A row says who ran it (the OS user and host), when, against which recommendation and target, the target's
state before and after (the applier's :data:`~advisor.apply.base.State`, without credentials: states hold
settings only), the steps made, the verification, and for a rollback which change it undid. Statuses::

    applied       the change was made and verified
    failed        a step or the verification failed (the run rolled back what it had changed)
    rolled_back   a change undone, by the run that failed or later by `advisor apply rollback`
    rollback_failed  undoing failed: the row's `after_json` is what the target may now be in
    written       files written instead of a change (Kubernetes without a cluster, Cortex, migrations)
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import socket
from dataclasses import dataclass
from typing import Any

from advisor.errors import NotFoundError
from advisor.store import Store


@dataclass(frozen=True)
class AuditRow:
    run_id: str
    recommendation_id: str
    model: str
    target: str
    action: str  # apply | rollback | write
    status: str
    before: Any = None
    after: Any = None
    steps: tuple[str, ...] = ()
    verification: str = ""
    detail: str = ""
    rollback_of: int | None = None


def actor() -> str:
    """``user@host`` of whoever runs apply."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container with an arbitrary uid)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def record(store: Store, row: AuditRow, *, now: dt.datetime) -> int:
    """Write ``row`` in one transaction; its id."""
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO applied_changes (created_at, recommendation_id, target, action, dry_run, status,"
            " diff_json, detail, run_id, model, actor, before_json, after_json, verification, rollback_of)"
            " VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now.isoformat(),
                row.recommendation_id,
                row.target,
                row.action,
                row.status,
                json.dumps(list(row.steps)),
                row.detail,
                row.run_id,
                row.model,
                actor(),
                json.dumps(row.before, sort_keys=True) if row.before is not None else None,
                json.dumps(row.after, sort_keys=True) if row.after is not None else None,
                row.verification,
                row.rollback_of,
            ),
        )
        return int(cur.lastrowid or 0)


def mark_rolled_back(store: Store, change_id: int) -> None:
    """An applied change undone; a failed one keeps its status (its rollback row tells the rest)."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE applied_changes SET status = 'rolled_back' WHERE id = ? AND status = 'applied'",
            (change_id,),
        )


def history(store: Store, *, limit: int = 100, model: str | None = None) -> list[dict[str, Any]]:
    """Newest first: id, created_at, actor, recommendation, model, target, action, status, rollback_of."""
    sql = (
        "SELECT id, created_at, actor, recommendation_id, model, target, action, status, verification,"
        " rollback_of, detail FROM applied_changes WHERE dry_run = 0"
    )
    params: tuple[Any, ...] = ()
    if model is not None:
        sql, params = sql + " AND model = ?", (model,)
    return store.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))


def change(store: Store, change_id: int) -> dict[str, Any]:
    """One row with its states decoded; NotFoundError with the recent ids otherwise."""
    rows = store.query("SELECT * FROM applied_changes WHERE id = ?", (change_id,))
    if not rows:
        recent = store.query("SELECT id FROM applied_changes ORDER BY id DESC LIMIT 20")
        raise NotFoundError(
            "applied change",
            str(change_id),
            known=[str(r["id"]) for r in recent],
            fix="see `advisor apply history`",
        )
    row = dict(rows[0])
    for key in ("before_json", "after_json"):
        row[key] = json.loads(row[key]) if row[key] else None
    return row
