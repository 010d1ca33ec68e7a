"""The embedded store: one SQLite database (WAL mode) at ``$ADVISOR_HOME/advisor.db``.

It holds bench runs, their points and capacity results, recommendations, applied changes (the audit log)
and the report outbox. Schema changes are numbered migrations applied in order and recorded in
``PRAGMA user_version``; each migration and each write runs in one transaction, so a crash never leaves half
a record. Stages own their SQL (``advisor/bench/results.py`` etc.); this module owns the connection,
the migrations and the transaction discipline.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from advisor.errors import DataError

# Append-only: never edit a migration that has shipped; add a new one.
MIGRATIONS: list[str] = [
    # 1: the initial schema.
    """
    CREATE TABLE bench_runs (
        id TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        shape TEXT NOT NULL,
        target TEXT NOT NULL,
        mode TEXT NOT NULL DEFAULT 'open',
        slo_p99_ms REAL NOT NULL,
        max_error_rate REAL NOT NULL DEFAULT 0.001,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        host_json TEXT NOT NULL DEFAULT '{}',
        config_json TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        log_tail TEXT
    );
    CREATE TABLE bench_points (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES bench_runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        mode TEXT NOT NULL,
        target_rps REAL,
        users INTEGER,
        achieved_rps REAL NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        error_rate REAL NOT NULL,
        p50_ms REAL, p90_ms REAL, p95_ms REAL, p99_ms REAL, max_ms REAL,
        server_cpu_pct REAL,
        server_rss_mib REAL,
        generator_cpu_pct REAL,
        duration_s REAL NOT NULL,
        valid INTEGER NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        measured_at TEXT NOT NULL
    );
    CREATE INDEX bench_points_run ON bench_points(run_id, seq);
    CREATE TABLE capacities (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT REFERENCES bench_runs(id) ON DELETE SET NULL,
        model TEXT NOT NULL,
        shape TEXT NOT NULL,
        capacity_rps REAL NOT NULL,
        p99_ms_at_capacity REAL,
        slo_p99_ms REAL NOT NULL,
        estimated INTEGER NOT NULL DEFAULT 0,
        low_rps REAL,
        high_rps REAL,
        reason TEXT NOT NULL DEFAULT '',
        method TEXT NOT NULL DEFAULT 'measured',
        created_at TEXT NOT NULL
    );
    CREATE INDEX capacities_model_shape ON capacities(model, shape);
    CREATE TABLE recommendations (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        scenario TEXT NOT NULL,
        schema_version TEXT NOT NULL,
        body_json TEXT NOT NULL
    );
    CREATE TABLE applied_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        recommendation_id TEXT REFERENCES recommendations(id),
        target TEXT NOT NULL,
        action TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        status TEXT NOT NULL,
        diff_json TEXT NOT NULL DEFAULT '{}',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE report_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        team TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        body_html TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_at TEXT
    );
    """,
    # 2: bench harness - point verdicts and windows, capacity lower-bound flag and error budget.
    """
    ALTER TABLE bench_points ADD COLUMN passed INTEGER;
    ALTER TABLE bench_points ADD COLUMN stable INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE bench_points ADD COLUMN windows_json TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE capacities ADD COLUMN lower_bound INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE capacities ADD COLUMN max_error_rate REAL;
    """,
]


class Store:
    """A connection to the advisor database, migrated to the latest schema on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction spans exactly one write.
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise DataError(
                f"cannot open the store: {exc}",
                where=str(path),
                fix="move the file aside (it is kept as is) or point ADVISOR_HOME elsewhere",
            ) from None

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise DataError(
                f"the store has schema version {current}, newer than this advisor ({len(MIGRATIONS)})",
                where=str(self.path),
                fix="upgrade advisor",
            )
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction() as conn:
                for statement in _split_sql(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.conn.execute(sql, params).fetchall()]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split_sql(script: str) -> list[str]:
    # executescript() would COMMIT implicitly; splitting keeps the migration inside our transaction.
    return [s.strip() for s in script.split(";") if s.strip()]


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
