"""The embedded SQLite store: migrations, WAL, atomic writes, and refusal of damaged or newer files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from advisor.errors import DataError, StorageError
from advisor.store import MIGRATIONS, Store


def test_new_store_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "a" / "advisor.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"bench_runs", "bench_points", "capacities", "recommendations", "applied_changes",
                "report_outbox"} <= tables  # fmt: skip


def test_reopening_keeps_data_and_does_not_remigrate(tmp_path: Path) -> None:
    path = tmp_path / "advisor.db"
    with Store(path) as store, store.transaction() as conn:
        conn.execute("INSERT INTO recommendations VALUES ('r1', '2026-11-28', 'demo', '1', '{}')")
    with Store(path) as store:
        assert store.query("SELECT id FROM recommendations") == [{"id": "r1"}]


def test_a_failed_write_leaves_no_half_record(tmp_path: Path) -> None:
    with Store(tmp_path / "advisor.db") as store:
        with pytest.raises(RuntimeError), store.transaction() as conn:
            conn.execute(
                "INSERT INTO bench_runs (id, model, shape, target, slo_p99_ms, status, started_at) "
                "VALUES ('run1', 'm', 'c6i.large', 'x', 200, 'running', 'now')"
            )
            raise RuntimeError("crash between the run and its points")
        assert store.query("SELECT * FROM bench_runs") == []


def test_constraints_reject_bad_status(tmp_path: Path) -> None:
    with (
        Store(tmp_path / "advisor.db") as store,
        pytest.raises(sqlite3.IntegrityError),
        store.transaction() as conn,
    ):
        conn.execute(
            "INSERT INTO bench_runs (id, model, shape, target, slo_p99_ms, status, started_at) "
            "VALUES ('r', 'm', 's', 't', 1, 'bogus', 'now')"
        )


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "advisor.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DataError, match="newer"):
        Store(path)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "advisor.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="not a SQLite database"):
        Store(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


@pytest.mark.parametrize("opening", [Store, Store.for_reading])
def test_a_folder_where_the_store_file_goes_is_said_to_be_one(tmp_path: Path, opening: object) -> None:
    path = tmp_path / "advisor.db"
    (path / "inside").mkdir(parents=True)
    with pytest.raises(StorageError, match="the store's file is a folder") as caught:
        opening(path)  # type: ignore[operator]
    assert caught.value.exit_code == 1 and caught.value.where == str(path)
    assert [p.name for p in path.iterdir()] == ["inside"]
