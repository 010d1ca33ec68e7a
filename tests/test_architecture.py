"""Dependencies point one way: cost/ and optimize/ stay pure (no cloud SDKs, load generators or UIs)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "advisor"
FORBIDDEN_IN_PURE = {
    "boto3",
    "botocore",
    "locust",
    "streamlit",
    "kubernetes",
    "fastapi",
    "uvicorn",
    "requests",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_pure_packages_import_nothing_from_the_edges() -> None:
    offenders = {}
    for pure in ("cost", "optimize"):
        for path in (PACKAGE / pure).rglob("*.py"):
            bad = _imports(path) & FORBIDDEN_IN_PURE
            if bad:
                offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert offenders == {}


def test_the_check_itself_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import boto3\nfrom locust.env import Environment\n")
    assert _imports(sample) & FORBIDDEN_IN_PURE == {"boto3", "locust"}
