"""Every malformed input of the corpus (tests/input_corpus.py) gets one clear line, a non-zero exit, no
traceback, and leaves the store and ADVISOR_HOME as they were.

The commands run in this process, as the console script runs them (:func:`advisor.cli.main`), against a
home seeded with bench runs, an imported profile and a stored recommendation. Warnings are errors here
(pytest's filterwarnings), so a numpy RuntimeWarning printed before an error line counts as a failure too.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from advisor.cli import main
from tests.helpers import REPO_ROOT, run_cli
from tests.input_corpus import Case, all_cases, damaged_store_cases
from tests.optimize_helpers import store_bench_run

# Some 400 commands: a sweep for make test, not the fast path before each commit.
pytestmark = pytest.mark.slow

CASES = all_cases()


@pytest.fixture(scope="module")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("seeded") / "home"
    env = {"ADVISOR_HOME": str(home)}
    assert run_cli("recommend", "examples/demo-scenario.yaml", "--json", env=env).code == 0
    imported = run_cli("profile", "import", str(REPO_ROOT / "tests" / "data" / "profile_ok.csv"), env=env)
    assert imported.code == 0, imported.stderr
    from advisor.store import Store

    with Store(home / "advisor.db") as store:
        store_bench_run(store, run_id="seed-1", label="tabular", shape="c7a.medium", slo_p99_ms=50,
                        capacity_rps=300.0, point_p99s_ms=[12.0, 30.0])  # fmt: skip
    return home


def digest(home: Path) -> str:
    """Everything a command could have changed in ``home``: the store's rows and every other file."""
    h = hashlib.sha256()
    db = home / "advisor.db"
    if db.is_file():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            for line in conn.iterdump():
                h.update(line.encode())
        finally:
            conn.close()
    for path in sorted(p for p in home.rglob("*") if p.is_file() and not p.name.startswith("advisor.db")):
        h.update(str(path.relative_to(home)).encode() + path.read_bytes())
    return h.hexdigest()


def _materialise(case: Case, where: Path) -> list[str]:
    for name, content in case.files.items():
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return [a.replace("{dir}", str(where)) for a in case.argv]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_malformed_input_is_one_line_and_changes_nothing(
    case: Case,
    seeded_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = _materialise(case, tmp_path)
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("ADVISOR_HOME", str(seeded_home))
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.replace("{dir}", str(tmp_path)))
    before = digest(seeded_home)
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]  # the error alone: no warning ahead of it
    assert code in (1, 2), (code, out.out[-500:], out.err[-1000:])
    assert "Traceback" not in out.out + out.err
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err[-2000:]
    assert "internal error" not in lines[0], lines[0]
    if case.needle:
        assert case.needle in lines[0], (case.needle, lines[0])
    if case.id.startswith("scenario:"):  # a bad scenario field, wherever it is found, is named with its line
        assert "s.yaml:" in lines[0], lines[0]
    assert digest(seeded_home) == before, "the store or ADVISOR_HOME changed"


@pytest.mark.parametrize(("name", "content"), list(damaged_store_cases()))
def test_a_damaged_store_is_refused_and_kept_as_it_is(name: str, content: bytes, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "advisor.db").write_bytes(content)
    env = {"ADVISOR_HOME": str(home)}
    for args in (
        ("bench", "show"),
        ("recommend", "examples/demo-scenario.yaml"),
        ("bench", "import", "x.json"),
    ):
        result = run_cli(*args, env=env)
        assert result.code in (1, 2) and "Traceback" not in result.stderr, (name, args, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr
        assert (home / "advisor.db").read_bytes() == content, (name, args)


# how a recommendation row is damaged (an SQL expression for its body) and what the error line says
NEWER = "json_set(body_json, '$.schema_version', 'advisor.recommendation/99')"
STORED_DAMAGE = {
    "not-json": ("'{garbage'", "is damaged (Expecting property name"),
    "empty-document": ("'{}'", "is damaged (id: Field required"),
    "newer-schema": (NEWER, "stored by another version of advisor (schema advisor.recommendation/99"),
}


@pytest.mark.parametrize("damage", sorted(STORED_DAMAGE))
def test_a_stored_recommendation_that_cannot_be_read_is_named_and_kept(
    damage: str, seeded_home: Path, tmp_path: Path
) -> None:
    """A recommendation row that is damaged, or written by a newer advisor, is a data error naming the row
    (not an internal error), for every command that reads it; the row stays as it is."""
    home = tmp_path / "home"
    shutil.copytree(seeded_home, home)
    value, needle = STORED_DAMAGE[damage]
    conn = sqlite3.connect(home / "advisor.db")
    with conn:
        (rec_id,) = conn.execute("SELECT id FROM recommendations").fetchone()
        conn.execute(f"UPDATE recommendations SET body_json = {value}")
    conn.close()
    before = digest(home)
    env = {"ADVISOR_HOME": str(home)}
    scenario = str(REPO_ROOT / "examples" / "demo-scenario.yaml")
    for args in (("apply",), ("apply", rec_id, "--json"), ("report", "preview", scenario, "--team", "risk")):
        result = run_cli(*args, env=env)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.code == 2 and "Traceback" not in result.stderr, (args, result.stderr)
        assert len(errors) == 1 and "internal error" not in errors[0], (args, result.stderr)
        assert f"recommendation {rec_id}" in errors[0] and needle in errors[0], (args, errors[0])
        assert digest(home) == before, args


def test_the_corpus_is_large_and_covers_every_input() -> None:
    kinds = {c.id.split(":")[0] for c in CASES}
    assert len(CASES) >= 300
    assert {"scenario", "scenario-file", "plan", "profile-csv", "spec", "bench-import", "bench-run",
            "bench-payload", "pricing", "config-file", "env", "home-flag", "usage"} <= kinds  # fmt: skip
