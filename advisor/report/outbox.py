"""The report outbox in the store: a message is rendered and stored first, then delivered.

Each message has an idempotency key (scenario, team, period, channel), so a period is queued once however
often ``report send`` runs. Delivery states: ``queued`` (waiting, with the last error and the time of the
next attempt after a failure), ``sending`` (handed to the SMTP server or webhook: committed *before* the
hand-off), ``sent``, and ``unknown``.

At most once, and why. SMTP gives a client no way to ask a server whether it accepted a message, so after a
crash between the server's acceptance and the ``sent`` mark nobody can tell a delivered message from a lost
one. advisor chooses at most once: a message found ``sending`` by the next ``report send`` (which holds the
outbox lock, so no other sender is at work) is marked ``unknown`` with that reason and not resent; ``report
status`` lists it and ``report resend ID`` delivers it again on purpose. A duplicate cost report erodes the
trust a report depends on more than a rare missing one that the status shows, and the Message-ID stays the
same on a resend, so mail clients that thread by it fold a duplicate into one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.errors import InputError, StorageError
from advisor.store import Store

RETRY_BASE_S = 60
RETRY_MAX_S = 3600
INTERRUPTED = (
    "delivery was interrupted after the hand-off began; not resent (at most once): see `report resend`"
)


@dataclass(frozen=True)
class Message:
    key: str
    scenario: str
    team: str
    period: str
    channel: str  # email | webhook
    recommendation_id: str | None
    recipients: list[str]
    subject: str
    message_id: str
    body: bytes
    alerts: list[str]


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def retry_delay_s(attempts: int) -> int:
    """Seconds before the next attempt after ``attempts`` failed ones: 1, 2, 4 ... minutes, at most 1 h."""
    return int(min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, attempts - 1)))


@contextmanager
def sender_lock(home: Path) -> Iterator[None]:
    """One ``report send`` at a time per store (an exclusive lock on ``ADVISOR_HOME/report-send.lock``)."""
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / "report-send.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(
                "another `report send` is running on this store",
                where=str(home),
                fix="let it finish; the next scheduled run picks up whatever is left",
            ) from None
        yield
    finally:
        os.close(fd)


def last_period(store: Store, scenario: str) -> tuple[str, str | None] | None:
    """(period, recommendation id) of the latest period reported for ``scenario``; None before the first."""
    rows = store.query(
        "SELECT period, recommendation_id FROM report_runs WHERE scenario = ? ORDER BY period DESC LIMIT 1",
        (scenario,),
    )
    return (rows[0]["period"], rows[0]["recommendation_id"]) if rows else None


def record_period(
    store: Store, scenario: str, period: str, rec_id: str, messages: list[Message], now: str
) -> int:
    """Queue ``messages`` and mark ``period`` reported, in one transaction; returns how many were new."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO report_runs (scenario, period, recommendation_id, created_at)"
            " VALUES (?, ?, ?, ?)",
            (scenario, period, rec_id, now),
        )
        added = 0
        for m in messages:
            cur = conn.execute(
                "INSERT OR IGNORE INTO report_outbox (idempotency_key, scenario, team, period, channel,"
                " recommendation_id, created_at, recipients, subject, message_id, body, alerts_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    m.key,
                    m.scenario,
                    m.team,
                    m.period,
                    m.channel,
                    m.recommendation_id,
                    now,
                    json.dumps(m.recipients),
                    m.subject,
                    m.message_id,
                    m.body,
                    json.dumps(m.alerts),
                ),
            )
            added += cur.rowcount
    return added


def mark_interrupted(store: Store) -> int:
    """Messages a crashed sender left ``sending`` become ``unknown`` (call with :func:`sender_lock` held)."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE report_outbox SET status = 'unknown', last_error = ? WHERE status = 'sending'",
            (INTERRUPTED,),
        )
        return cur.rowcount


def due(
    store: Store, now: dt.datetime, scenario: str | None = None, *, retry_now: bool = False
) -> list[dict[str, Any]]:
    """Queued messages whose next attempt has come (every queued one with ``retry_now``), oldest first."""
    sql = (
        "SELECT * FROM report_outbox WHERE status = 'queued'"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR ?)"
    )
    params: tuple[Any, ...] = (iso(now), int(retry_now))
    if scenario is not None:
        sql, params = sql + " AND scenario = ?", (*params, scenario)
    return store.query(sql + " ORDER BY id", params)


def waiting(store: Store, now: dt.datetime) -> tuple[int, str | None, str | None]:
    """Queued messages whose retry time is still to come: how many, the earliest retry, its last error."""
    rows = store.query(
        "SELECT next_attempt_at, last_error FROM report_outbox WHERE status = 'queued'"
        " AND next_attempt_at > ? ORDER BY next_attempt_at",
        (iso(now),),
    )
    if not rows:
        return 0, None, None
    return len(rows), str(rows[0]["next_attempt_at"]), rows[0]["last_error"]


def claim(store: Store, row_id: int) -> bool:
    """``queued`` → ``sending`` (committed before the hand-off); False when another state holds it."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE report_outbox SET status = 'sending', attempts = attempts + 1"
            " WHERE id = ? AND status = 'queued'",
            (row_id,),
        )
        return cur.rowcount == 1


def mark_sent(store: Store, row_id: int, now: dt.datetime) -> None:
    with store.transaction() as conn:
        conn.execute(
            "UPDATE report_outbox SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
            (iso(now), row_id),
        )


def mark_failed(store: Store, row_id: int, error: str, now: dt.datetime) -> str:
    """Back to ``queued`` with the error and the time of the next attempt (returned, ISO 8601)."""
    with store.transaction() as conn:
        attempts = conn.execute("SELECT attempts FROM report_outbox WHERE id = ?", (row_id,)).fetchone()[0]
        retry = iso(now + dt.timedelta(seconds=retry_delay_s(int(attempts))))
        conn.execute(
            "UPDATE report_outbox SET status = 'queued', last_error = ?, next_attempt_at = ? WHERE id = ?",
            (error[:500], retry, row_id),
        )
    return retry


def requeue(store: Store, row_id: int) -> None:
    """``report resend``: an ``unknown`` or ``sent`` message goes back to the queue, due at once."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE report_outbox SET status = 'queued', next_attempt_at = NULL WHERE id = ?"
            " AND status IN ('unknown', 'sent')",
            (row_id,),
        )
        if cur.rowcount != 1:
            raise InputError(
                f"no sent or unknown message {row_id} in the outbox",
                where="ID",
                fix="see `advisor report status`",
            )


def status_rows(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    return store.query(
        "SELECT id, scenario, team, period, channel, status, attempts, last_error, next_attempt_at, sent_at,"
        " subject FROM report_outbox ORDER BY id DESC LIMIT ?",
        (limit,),
    )
