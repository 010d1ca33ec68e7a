"""Shared fixtures: an isolated ADVISOR_HOME per test (CLI helpers are in tests/helpers.py); the slow marker
on every integration test."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import advisor
from advisor.settings import Settings
from tests.helpers import REPO_ROOT

INTEGRATION = Path(__file__).resolve().parent / "integration"
GOLDEN_CLOCK = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration/ starts or drives a real server or process (moto, SMTP, Prometheus,
    model servers, load generators, forked store openers, Streamlit's AppTest): all are ``slow``, so that
    ``make check`` (``pytest -m "not slow"``) runs the unit tests and the quick end-to-end ones."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # No test may read or write the developer's own .advisor/ folder.
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ADVISOR_CONFIG", raising=False)
    yield


@pytest.fixture(scope="session")
def golden_demo(tmp_path_factory: pytest.TempPathFactory) -> advisor.Recommendation:
    """The demo scenario's recommendation as the golden files hold it (capacities as given in the file, no
    bench results, a fixed clock and id), made once: test_golden compares it, test_render renders it. The
    document is frozen, so a test can only read it."""
    cwd = Path.cwd()
    os.chdir(REPO_ROOT)  # the document records the scenario path as given
    try:
        return advisor.recommend(
            Path("examples/demo-scenario.yaml"),
            settings=Settings(home=tmp_path_factory.mktemp("golden") / "home"),
            clock=lambda: GOLDEN_CLOCK,
            new_id=lambda _t: "rec-golden",
        )
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="session")
def seeded_demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, advisor.Recommendation]:
    """A home as `make demo` leaves it (tests/dashboard_helpers.py's ``seed_store``) and its stored demo
    recommendation, made once for the dashboard tests. A test copies the folder before using it."""
    from tests.dashboard_helpers import seed_store  # imports Streamlit: only the tests that need it pay

    home = tmp_path_factory.mktemp("seeded") / "home"
    return home, seed_store(home)
