"""The store under faults: many first openers at once, old schemas, foreign files, full disks, read-only
homes, a file where the home should be. Each refusal is one line; nothing stored is lost."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.errors import DataError, StorageError
from advisor.store import MIGRATIONS, Store
from tests.helpers import REPO_ROOT, run_cli

OPENERS, ROUNDS = 4, 25


def _open_and_write(path: str, barrier: mp.synchronize.Barrier, me: int, errors: mp.Queue) -> None:  # type: ignore[type-arg]
    barrier.wait()
    try:
        with Store(Path(path)) as store, store.transaction() as conn:
            conn.execute(
                "INSERT INTO recommendations VALUES (?, '2026-12-01', 'demo', '1', '{}')", (f"rec-{me}",)
            )
    except Exception as exc:  # the test counts them
        errors.put(f"{type(exc).__name__}: {exc}")


def test_many_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    errors: mp.Queue[str] = ctx.Queue()
    for r in range(ROUNDS):
        path = tmp_path / f"round{r}" / "advisor.db"
        barrier = ctx.Barrier(OPENERS)
        procs = [
            ctx.Process(target=_open_and_write, args=(str(path), barrier, i, errors)) for i in range(OPENERS)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        with Store(path) as store:
            assert store.schema_version == len(MIGRATIONS)
            assert len(store.query("SELECT id FROM recommendations")) == OPENERS, r
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == [], f"{len(failures)} of {OPENERS * ROUNDS} opens failed: {failures[:3]}"


def _v2_store(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        for statement in (s for s in script.split(";") if s.strip()):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute(
        "INSERT INTO bench_runs (id, model, shape, target, slo_p99_ms, status, started_at)"
        " VALUES ('r1', 'm', 'c6i.large', 'http://u:pw@h/x', 100, 'completed', 'now')"
    )
    conn.execute(
        "INSERT INTO bench_points (run_id, seq, mode, achieved_rps, requests, errors, error_rate, duration_s,"
        " valid, measured_at) VALUES ('r1', 0, 'open', 10, 100, 0, 0, 5, 1, 'now')"
    )
    conn.close()


def test_an_old_store_is_migrated_in_place_keeping_its_runs_and_points(tmp_path: Path) -> None:
    path = tmp_path / "advisor.db"
    _v2_store(path)
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.query("SELECT id, status FROM bench_runs") == [{"id": "r1", "status": "completed"}]
        assert len(store.query("SELECT * FROM bench_points WHERE run_id = 'r1'")) == 1
        assert store.query("PRAGMA foreign_key_check") == []
        with store.transaction() as conn:
            conn.execute("UPDATE bench_runs SET status = 'abandoned' WHERE id = 'r1'")
        with store.transaction() as conn:  # the points still cascade with their run
            conn.execute("DELETE FROM bench_runs WHERE id = 'r1'")
        assert store.query("SELECT * FROM bench_points") == []


def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DataError, match="another application"):
        Store(path)
    assert path.read_bytes() == before


def test_a_full_database_is_a_storage_error_and_keeps_what_was_there(tmp_path: Path) -> None:
    with Store(tmp_path / "advisor.db") as store:
        with store.transaction() as conn:
            conn.execute("INSERT INTO recommendations VALUES ('kept', 'now', 'demo', '1', '{}')")
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own 'database or disk is full'
        with pytest.raises(StorageError, match="disk is full") as err, store.transaction() as conn:
            conn.execute(
                "INSERT INTO recommendations VALUES ('big', 'now', 'demo', '1', ?)", ("x" * 200_000,)
            )
        assert err.value.exit_code == 1
        assert [r["id"] for r in store.query("SELECT id FROM recommendations")] == ["kept"]


def test_a_home_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    for args in (("recommend", "examples/demo-scenario.yaml"), ("bench", "show")):
        result = run_cli(*args, env={"ADVISOR_HOME": str(home)})
        assert result.code == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1
        assert str(home) in result.stderr and "file" in result.stderr
    assert home.read_text() == "not a folder"
    devnull = run_cli(
        "recommend", "examples/demo-scenario.yaml", "--no-store", env={"ADVISOR_HOME": "/dev/null"}
    )
    assert devnull.code == 0, devnull.stderr  # nothing to store, nothing to read: no store needed


# ----- real mounts: a tiny tmpfs (full disk) and a read-only bind mount ----------------------------------


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "tiny"
    where.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture(scope="module")
def read_only_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A seeded home, mounted read-only: one for the module, as nothing can write to it."""
    folder = tmp_path_factory.mktemp("read-only")
    src, where = folder / "src", folder / "ro"
    src.mkdir()
    where.mkdir()
    seeded = run_cli("recommend", "examples/demo-scenario.yaml", "--json", env={"ADVISOR_HOME": str(src)})
    assert seeded.code == 0, seeded.stderr
    if not (_mount("--bind", str(src), str(where)) and _mount("-o", "remount,ro,bind", str(where))):
        subprocess.run(["umount", "-l", str(where)], check=False)
        pytest.skip("cannot make a read-only bind mount here (needs root and mount rights)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_prints_the_recommendation_and_says_it_was_not_stored(tiny_disk: Path) -> None:
    home = tiny_disk / "home"
    env = {"ADVISOR_HOME": str(home)}
    assert run_cli("recommend", "examples/demo-scenario.yaml", "--json", env=env).code == 0
    filler = tiny_disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k", "count=1000"], capture_output=True)
    result = run_cli("recommend", "examples/demo-scenario.yaml", "--json", env=env)
    assert result.code == 1, result.stderr
    assert '"schema_version"' in result.stdout  # the computed document is not lost
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disk is full" in errors[0] and "Traceback" not in result.stderr
    assert "printed" in errors[0]
    with Store(home / "advisor.db", read_only=True) as store:
        assert len(store.query("SELECT id FROM recommendations")) == 1  # the first one is intact


def test_read_only_commands_work_on_a_read_only_store(read_only_home: Path) -> None:
    env = {"ADVISOR_HOME": str(read_only_home)}
    shown = run_cli("bench", "show", env=env)
    assert shown.code == 0, shown.stderr
    again = run_cli("recommend", "examples/demo-scenario.yaml", "--no-store", "--json", env=env)
    assert again.code == 0, again.stderr
    stored = run_cli("recommend", "examples/demo-scenario.yaml", "--json", env=env)
    assert stored.code == 1 and "read-only" in stored.stderr and '"schema_version"' in stored.stdout
    assert "move the file aside" not in stored.stderr and "Traceback" not in stored.stderr


def test_a_new_home_on_a_read_only_file_system_is_one_line(read_only_home: Path) -> None:
    result = run_cli(
        "recommend", "examples/demo-scenario.yaml", env={"ADVISOR_HOME": str(read_only_home / "new")}
    )
    assert result.code == 1 and "read-only" in result.stderr and "Traceback" not in result.stderr


assert REPO_ROOT.is_dir()
