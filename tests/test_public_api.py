"""The library's front door gives what the CLI prints, with or without the bench extra installed.

A process that cannot import the bench extra's packages (an import hook refuses them, as a
``pip install advisor`` without ``[bench]`` would) still recommends from Python and from the CLI with the
same capacities and totals as a full install, and says in one line what the measuring commands need.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

import pytest

import advisor
from tests.helpers import REPO_ROOT, CliResult, assert_one_line_error, run_cli

DEMO = "examples/demo-scenario.yaml"
BENCH_EXTRA = ("locust", "gevent", "fastapi", "uvicorn", "sklearn", "psutil", "kubernetes_validate", "torch")
WITHOUT_BENCH = textwrap.dedent(
    f"""
    import importlib.abc, sys
    class _NoBenchExtra(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BENCH_EXTRA!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None
    sys.meta_path.insert(0, _NoBenchExtra())
    """
)


def _without_bench(code: str, home: Path) -> CliResult:
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_BENCH + textwrap.dedent(code)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        env={**os.environ, "ADVISOR_HOME": str(home)},
    )  # fmt: skip
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _figures(doc: dict[str, Any]) -> dict[str, Any]:
    models = {
        m["model"]: (
            m["action"],
            m["plan"]
            and (
                m["plan"]["shape"],
                m["plan"]["capacity"]["rps_per_replica"],
                m["plan"]["capacity"]["basis"],
            ),
            m["cost"] and m["cost"]["usd_per_month"],
        )
        for m in doc["models"]
    }
    return {"models": models, "totals": doc["totals"]}


@pytest.fixture(scope="module")
def cli_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("home")
    result = run_cli("recommend", DEMO, "--json", "--no-store", env={"ADVISOR_HOME": str(home)})
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_python_without_the_bench_extra_gives_the_cli_figures(
    tmp_path: Path, cli_document: dict[str, Any]
) -> None:
    got = _without_bench(
        """
        import advisor
        rec = advisor.recommend("examples/demo-scenario.yaml")
        loaded = {m.rsplit(".", 1)[-1] for m in sys.modules if m.startswith("advisor.bench.")}
        assert loaded <= {"registry", "targets", "spec", "payloads", "measurements"}, loaded  # the server checks
        assert "psutil" not in sys.modules
        print(rec.model_dump_json())
        """,
        tmp_path / "home",
    )
    assert got.code == 0, got.stderr
    assert _figures(json.loads(got.stdout)) == _figures(cli_document)


def test_the_cli_without_the_bench_extra_recommends_and_says_what_measuring_needs(
    tmp_path: Path, cli_document: dict[str, Any]
) -> None:
    main = "from advisor.cli import main\nsys.exit(main({argv!r}))"
    got = _without_bench(main.format(argv=["recommend", DEMO, "--json", "--no-store"]), tmp_path / "home")
    assert got.code == 0, got.stderr
    assert _figures(json.loads(got.stdout)) == _figures(cli_document)
    bench = _without_bench(main.format(argv=["recommend", DEMO, "--bench"]), tmp_path / "home")
    assert_one_line_error(bench, "--bench needs the bench extra", "advisor[bench]")
    run = _without_bench(main.format(argv=["bench", "run", "--model", "synthetic", "--slo-p99-ms", "100"]),
                         tmp_path / "home")  # fmt: skip
    assert_one_line_error(run, "needs the bench extra", "psutil")
    show = _without_bench(main.format(argv=["bench", "show"]), tmp_path / "home")
    assert show.code == 0 and "No bench runs stored yet" in show.stdout, show.stderr


def test_the_blocker_really_blocks(tmp_path: Path) -> None:
    got = _without_bench("import psutil", tmp_path)
    assert got.code == 1 and "No module named 'psutil'" in got.stderr


def test_the_public_names_resolve() -> None:
    for name in advisor.__all__:
        assert getattr(advisor, name) is not None, name
    with pytest.raises(AttributeError):
        advisor.no_such_name  # noqa: B018


@pytest.mark.slow
def test_a_wheel_install_outside_the_checkout_recommends_from_the_bundled_snapshot(
    tmp_path: Path, cli_document: dict[str, Any]
) -> None:
    # A copy of the working tree (the build must not write into the checkout), installed with pip, not
    # editable, into a fresh venv; its dependencies come from this environment through a .pth path (appended
    # after the venv's own site-packages, so the installed advisor is the one found).
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT, src, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(subprocess.check_output([venv / "bin" / "python", "-c", purelib], text=True).strip())
    (site_packages / "_advisor_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # This environment's pip, run by the venv's interpreter (--python), so the build uses its setuptools.
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
           "--no-deps", "--no-build-isolation", "--no-index", str(src)]  # fmt: skip
    built = subprocess.run(pip, timeout=300, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(REPO_ROOT / DEMO, elsewhere / "demo.yaml")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "ADVISOR_HOME": str(elsewhere / "home")
    }

    def advisor_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [venv / "bin" / "advisor", *args],
            capture_output=True,
            text=True,
            cwd=elsewhere,
            env=env,
            timeout=300,
        )

    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import advisor; print(advisor.__file__)"],
        capture_output=True, text=True, cwd=elsewhere, env=env, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(site_packages), where
    rec = advisor_cli("recommend", "demo.yaml", "--json", "--no-store")
    assert rec.returncode == 0, rec.stderr
    doc = json.loads(rec.stdout)
    assert doc["provenance"]["price_snapshot"].startswith("bundled")
    assert _figures(doc) == _figures(cli_document)
    prices = advisor_cli("pricing", "show", "--json")
    assert prices.returncode == 0, prices.stderr
    assert Path(json.loads(prices.stdout)["snapshot"]).is_relative_to(site_packages)
    profiles = advisor_cli("profile", "show", "--json")
    assert {p["name"] for p in json.loads(profiles.stdout)["profiles"]} >= {"flat", "nightly-batch"}


_NOT_SOURCE = (
    ".venv",
    ".git",
    ".advisor",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)
