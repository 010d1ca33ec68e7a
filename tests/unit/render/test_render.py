"""Output formats: the registry, tables that fit the terminal, and the CLI's --format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor import Recommendation
from advisor.render import RENDERERS, WIDE_COLUMNS, RenderOptions, render
from tests.helpers import assert_one_line_error, run_cli

LONG_NAMES = (
    "fraud-scorer-eu-payments-v2",
    "search-embedder-multilingual",
    "churn-predictor",
    "doc-reranker-gpu",
)


@pytest.fixture(scope="module")
def rec(golden_demo: Recommendation) -> Recommendation:
    base = golden_demo  # made once per session (tests/conftest.py)
    models = [m.model_copy(update={"model": name}) for m, name in zip(base.models, LONG_NAMES, strict=True)]
    return base.model_copy(update={"models": models})


@pytest.mark.parametrize("width", [80, 100, 120, 160, WIDE_COLUMNS - 1, WIDE_COLUMNS, 240])
def test_tables_keep_every_model_name_whole_at_any_width(rec: Recommendation, width: int) -> None:
    text = render(rec, "table", RenderOptions(width=width))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for name in LONG_NAMES:
        assert any(name in line for line in lines), (name, width)
    # narrow terminals get the plan split in two tables; wide ones one table with everything
    assert ("Cost and risk" in text) == (width < WIDE_COLUMNS)
    assert "What to run" in text and "What it saves" in text
    assert "\x1b[" not in text  # no colour unless asked


def test_colour_only_when_asked(rec: Recommendation) -> None:
    assert "\x1b[" in render(rec, "table", RenderOptions(width=120, color=True))


def test_every_registered_format_renders_the_document(rec: Recommendation) -> None:
    assert set(RENDERERS) >= {"json", "markdown", "table"}
    assert Recommendation.model_validate(json.loads(render(rec, "json"))) == rec
    assert render(rec, "markdown").startswith("# Recommendation for `demo`")
    with pytest.raises(Exception, match="did you mean markdown"):
        render(rec, "markdwon")


def test_the_cli_formats(tmp_path: Path) -> None:
    env = {"ADVISOR_HOME": str(tmp_path / "home")}
    scenario = "examples/demo-scenario.yaml"
    md = run_cli("recommend", scenario, "--format", "markdown", "--no-store", env=env)
    assert md.code == 0 and md.stdout.startswith("# Recommendation for `demo`"), md.stderr
    table = run_cli("recommend", scenario, "--format", "table", "--no-store", env=env)
    assert table.code == 0 and "What to run" in table.stdout and "stored as" not in table.stdout
    assert_one_line_error(run_cli("recommend", scenario, "--format", "yaml", env=env), "--format", "json")
