"""The walkthrough notebook runs top to bottom on the current interpreter (so it cannot rot)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "walkthrough.ipynb"

pytestmark = pytest.mark.slow  # a Jupyter kernel runs the whole walkthrough


@pytest.fixture
def kernel_on_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``python3`` kernelspec that starts this very interpreter, found first through JUPYTER_PATH.

    CI's fresh venv may have no kernelspec installed, or a user-level ``python3`` pointing at another
    Python; JUPYTER_PATH comes first in Jupyter's search order, so this one wins either way.
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "advisor tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no deprecation warning about Jupyter's path migration
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return "python3"


def test_walkthrough_executes_without_errors(kernel_on_this_interpreter: str) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name=kernel_on_this_interpreter,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert errors == []
    text = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert "What to run" in text and "fraud-scorer" in text
    assert "example-tabular" in text  # the stored bench runs are shown
