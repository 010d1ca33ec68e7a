"""The embedded store: one SQLite database (WAL mode) at ``$ADVISOR_HOME/advisor.db``.

It holds bench runs, their points and capacity results, recommendations, applied changes (the audit log)
and the report outbox. Schema changes are numbered migrations applied in order and recorded in
``PRAGMA user_version``; each migration and each write runs in one transaction, so a crash never leaves half
a record. Stages own their SQL (``advisor/bench/results.py`` etc.); this module owns the connection,
the migrations and the transaction discipline.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from advisor.errors import AdvisorError, DataError, StorageError, storage_error
from advisor.paths import ensure_dir

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
    # 3: who runs a bench run (so a run whose process died can be found and marked abandoned, and its
    # server stopped), and the 'abandoned' status. SQLite cannot change a CHECK constraint in place: the
    # table is rebuilt as its documentation describes (foreign keys are off during migrations).
    """
    CREATE TABLE bench_runs_v3 (
        id TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        shape TEXT NOT NULL,
        target TEXT NOT NULL,
        mode TEXT NOT NULL DEFAULT 'open',
        slo_p99_ms REAL NOT NULL,
        max_error_rate REAL NOT NULL DEFAULT 0.001,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'abandoned')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        host_json TEXT NOT NULL DEFAULT '{}',
        config_json TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        log_tail TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        server_pid INTEGER
    );
    INSERT INTO bench_runs_v3 (id, model, shape, target, mode, slo_p99_ms, max_error_rate, status, started_at,
        finished_at, host_json, config_json, error, log_tail)
        SELECT id, model, shape, target, mode, slo_p99_ms, max_error_rate, status, started_at, finished_at,
        host_json, config_json, error, log_tail FROM bench_runs;
    DROP TABLE bench_runs;
    ALTER TABLE bench_runs_v3 RENAME TO bench_runs;
    """,
    # 4: the report outbox as `report send` uses it (the first table was never written): whole messages
    # keyed by (scenario, team, period, channel), their delivery state, and the periods already reported.
    """
    DROP TABLE report_outbox;
    CREATE TABLE report_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        scenario TEXT NOT NULL,
        team TEXT NOT NULL,
        period TEXT NOT NULL,
        channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
        recommendation_id TEXT,
        created_at TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        message_id TEXT NOT NULL,
        body BLOB NOT NULL,
        alerts_json TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'unknown')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        sent_at TEXT
    );
    CREATE TABLE report_runs (
        scenario TEXT NOT NULL,
        period TEXT NOT NULL,
        recommendation_id TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (scenario, period)
    );
    """,
    # 5: the audit trail as `advisor apply` writes it: one row per model and run, with who ran it, the
    # target's state before and after, the verification, and which change a rollback undid.
    """
    ALTER TABLE applied_changes ADD COLUMN run_id TEXT;
    ALTER TABLE applied_changes ADD COLUMN model TEXT;
    ALTER TABLE applied_changes ADD COLUMN actor TEXT;
    ALTER TABLE applied_changes ADD COLUMN before_json TEXT;
    ALTER TABLE applied_changes ADD COLUMN after_json TEXT;
    ALTER TABLE applied_changes ADD COLUMN verification TEXT;
    ALTER TABLE applied_changes ADD COLUMN rollback_of INTEGER REFERENCES applied_changes(id);
    """,
    # 6: LLM bench runs (advisor.bench.llm.store): one row per (run, shape, bucket) with the whole
    # LLMCapacity document (points and all), written when measured and rewritten as points arrive.
    """
    CREATE TABLE llm_bench_runs (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        model TEXT NOT NULL,
        shape TEXT NOT NULL,
        bucket TEXT,
        tool TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        capacity_rps REAL NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        result_json TEXT NOT NULL
    );
    CREATE INDEX llm_bench_runs_model ON llm_bench_runs (model, started_at);
    """,
]
WAL_ATTEMPTS = 200  # x 25 ms: how long an opener waits for another one switching a new store to WAL
ADVISOR_TABLES = frozenset({"bench_runs", "bench_points", "capacities", "recommendations"})


class Store:
    """A connection to the advisor database, migrated to the latest schema on open.

    Opening is safe when several processes open a new store at once: the journal mode switch is retried
    while another opener holds the lock, and the schema version is read and the migrations applied under
    one write lock (``BEGIN IMMEDIATE``), so each migration runs exactly once. ``read_only`` (or a store on
    a read-only file system) opens without writing anything; such a store must already be migrated. Every
    failure is an AdvisorError: a damaged or foreign database (DataError, exit 2), a machine that refuses
    (StorageError, exit 1: disk full, read-only, permission, a file where the folder should be).
    """

    def __init__(self, path: Path, *, read_only: bool = False, in_memory: bool = False) -> None:
        self.path = path
        if not in_memory and path.is_dir():
            raise StorageError(
                "the store's file is a folder",
                where=str(path),
                fix="move the folder, or choose another ADVISOR_HOME",
            )
        self.read_only = not in_memory and (read_only or (path.is_file() and not _writable(path)))
        try:
            if in_memory:
                self.conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            elif self.read_only:
                self.conn = _connect_read_only(path)
            else:
                ensure_dir(path.parent, "ADVISOR_HOME (the store's folder)")
                self.conn = _connect(path)
                self._check_version(self.schema_version, writable=True)  # before anything is written
                _enable_wal(self.conn)
                self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.row_factory = sqlite3.Row
            self._migrate()
            self.conn.execute("PRAGMA foreign_keys=ON")
        except AdvisorError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise self._failure(exc, "opening the store") from None

    @classmethod
    def for_reading(cls, path: Path) -> Store:
        """Read-only when the store is current (nothing is written, a full or read-only disk is fine);
        opened for writing only when it must first be migrated. Without a store yet: an empty one in memory
        (nothing is created on disk by reading)."""
        home = path.parent
        if home.exists() and not home.is_dir():
            raise StorageError(
                "ADVISOR_HOME is a file, not a folder",
                where=str(home),
                fix="move the file, or choose another folder",
            )
        if not path.exists():
            return cls(path, in_memory=True)
        try:
            return cls(path, read_only=True)
        except StorageError as exc:
            if "older schema" not in exc.what:
                raise
        return cls(path)

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Decide and apply the pending migrations under one write lock (module docstring)."""
        if self.read_only:
            self._check_version(self.schema_version, writable=False)
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            current = self.schema_version
            self._check_version(current, writable=True)
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in _split_sql(script):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise

    def _check_version(self, current: int, *, writable: bool) -> None:
        where = str(self.path)
        if current > len(MIGRATIONS):
            raise DataError(
                f"the store has schema version {current}, newer than this advisor ({len(MIGRATIONS)})",
                where=where,
                fix="upgrade advisor",
            )
        if current == 0:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not tables & ADVISOR_TABLES:
                raise DataError(
                    "this SQLite database belongs to another application (none of advisor's tables)",
                    where=where,
                    fix="point ADVISOR_HOME at a folder of advisor's own; the file is left as it is",
                )
        if not writable and current < len(MIGRATIONS):
            raise StorageError(
                f"the store is read-only and has an older schema ({current} < {len(MIGRATIONS)})",
                where=where,
                fix="run one advisor command with write access to upgrade it",
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all.

        A write the machine refuses (disk full, read-only) rolls back and raises StorageError.
        """
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc, "writing the store") from None
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
                raise self._failure(exc, "writing the store") from None
            raise

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        try:
            return [dict(row) for row in self.conn.execute(sql, params).fetchall()]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
                raise self._failure(exc, "reading the store") from None
            raise

    def _failure(self, exc: sqlite3.DatabaseError, doing: str) -> AdvisorError:
        """StorageError when the machine refuses; DataError when the file itself is damaged (SQLite's plain
        DatabaseError: "database disk image is malformed", "file is not a database")."""
        if isinstance(exc, sqlite3.OperationalError):
            return storage_error(exc, self.path, doing)
        if "not a database" in str(exc):
            what, fix = "is not a SQLite database", "move it aside or point ADVISOR_HOME elsewhere"
        else:
            what = f"is damaged ({exc})"
            fix = f"restore a backup, or recover what is readable with `sqlite3 {self.path.name} .recover`"
        return DataError(f"the store {what}", where=str(self.path), fix=f"{fix}; the file is left as it is")

    def close(self) -> None:
        self.conn.close()

    def _close_quietly(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction spans exactly one write.
    return sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Read-only. A WAL store needs its -shm file, which a read-only or full disk cannot create: then the
    file is opened ``immutable`` (nobody can be writing it there)."""
    if not path.is_file():
        raise StorageError("there is no store yet", where=str(path), fix="run a command that stores, first")
    base = f"file:{quote(str(path.resolve()))}?mode=ro"
    for uri in (base, base + "&immutable=1"):
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if uri.endswith("immutable=1"):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting while another process holds the lock to do the same (a new store)."""
    for _ in range(WAL_ATTEMPTS):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.025)
    conn.execute("PRAGMA journal_mode=WAL")


def _split_sql(script: str) -> list[str]:
    # executescript() would COMMIT implicitly; splitting keeps the migration inside our transaction.
    return [s.strip() for s in script.split(";") if s.strip()]


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
