"""The library's front door gives what the CLI prints, with or without the bench extra installed.

A process that cannot import the bench extra's packages (an import hook refuses them, as a
``pip install advisor`` without ``[bench]`` would) still recommends from Python and from the CLI with the
same capacities and totals as a full install, and says in one line what the measuring commands need.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

import advisor
import advisor.settings as settings_module
from advisor.cli import dashboard as dashboard_cli
from advisor.settings import BUNDLED_PRICING_DIR, BUNDLED_PROFILES_DIR, DASHBOARD_APP, Settings, shipped_dir
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


@pytest.mark.slow  # recommends the demo in fresh interpreters
def test_python_without_the_bench_extra_gives_the_cli_figures(
    tmp_path: Path, cli_document: dict[str, Any]
) -> None:
    got = _without_bench(
        """
        import advisor
        rec = advisor.recommend("examples/demo-scenario.yaml")
        loaded = {m.rsplit(".", 1)[-1] for m in sys.modules if m.startswith("advisor.bench.")}
        # the server checks
        assert loaded <= {"registry", "servers", "spec", "payloads", "measurements"}, loaded
        assert "psutil" not in sys.modules
        print(rec.model_dump_json())
        """,
        tmp_path / "home",
    )
    assert got.code == 0, got.stderr
    assert _figures(json.loads(got.stdout)) == _figures(cli_document)


@pytest.mark.slow  # recommends the demo in fresh interpreters
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


# ----- what a plain `pip install advisor` gets --------------------------------------------------------

# Folders at the top level of the repository that pyproject.toml maps into the wheel as advisor/<name>/.
SHIPPED = ("pricing_data", "load_profiles", "dashboards")
BASE_COMMANDS = (
    ["--help"],
    ["recommend", DEMO, "--json", "--no-store"],
    ["pricing", "show"],
    ["profile", "show"],
)
# Runs CLI commands in one process and writes, per third-party top-level module, the advisor modules that
# imported it (import statements anywhere in them, and importlib.import_module) to the file named first.
IMPORT_TRACER = textwrap.dedent(
    """
    import builtins, importlib, json, sys
    found = {}
    def note(importer, name):
        top = name.split(".")[0]
        ours = (importer or "").split(".")[0] == "advisor"
        if ours and top != "advisor" and top not in sys.stdlib_module_names:
            found.setdefault(top, set()).add(importer)
    def traced_import(name, globals=None, locals=None, fromlist=(), level=0, _import=builtins.__import__):
        if level == 0:
            note((globals or {}).get("__name__"), name)
        return _import(name, globals, locals, fromlist, level)
    def traced_import_module(name, package=None, _import_module=importlib.import_module):
        if not name.startswith("."):
            note(sys._getframe(1).f_globals.get("__name__"), name)
        return _import_module(name, package)
    builtins.__import__ = traced_import
    importlib.import_module = traced_import_module
    from advisor.cli.app import run
    statuses = [run(argv) for argv in json.loads(sys.argv[2])]
    with open(sys.argv[1], "w") as out:
        json.dump({"statuses": statuses, "imports": {k: sorted(v) for k, v in found.items()}}, out)
    """
)


def _distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _base_requirements() -> set[str]:
    """The distributions ``[project].dependencies`` in pyproject.toml names (no extras)."""
    requirements = _pyproject()["project"]["dependencies"]
    return {_distribution(re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0]) for req in requirements}


def _undeclared(imports: dict[str, list[str]], declared: set[str]) -> dict[str, list[str]]:
    """``imports`` (top-level module -> importers) whose distribution is not in ``declared``."""
    owners = importlib.metadata.packages_distributions()
    return {
        module: importers
        for module, importers in sorted(imports.items())
        if not {_distribution(d) for d in owners.get(module, [module])} & declared
    }


@pytest.mark.slow  # recommends the demo in fresh interpreters
def test_the_base_commands_import_only_declared_dependencies(tmp_path: Path) -> None:
    # A dependency that is only there because another one pulls it in today is one release away from
    # `ModuleNotFoundError` in a plain install (typer >= 0.20 stopped installing click).
    result = tmp_path / "imports.json"
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_TRACER, str(result), json.dumps(BASE_COMMANDS)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        env={**os.environ, "ADVISOR_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    traced = json.loads(result.read_text(encoding="utf-8"))
    assert traced["statuses"] == [0] * len(BASE_COMMANDS), proc.stderr[-3000:]
    assert {"typer", "pandas"} <= set(traced["imports"])  # the tracer sees them
    assert _undeclared(traced["imports"], _base_requirements()) == {}


def test_the_dependency_check_can_fail() -> None:
    imports = {"click": ["advisor.cli.app"], "yaml": ["advisor.yamlio"], "torch": ["advisor.x"]}
    assert _undeclared(imports, {"typer", "pyyaml"}) == {"click": ["advisor.cli.app"], "torch": ["advisor.x"]}
    assert "torch" not in _base_requirements() and "click" in _base_requirements()


def test_every_package_is_listed_for_the_wheel() -> None:
    # pyproject.toml lists the packages (setuptools cannot find a package under another name than its
    # folder's): each one under advisor/, each shipped folder and each of its folders that holds Python.
    setuptools = _pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {f"advisor.{name}": name for name in SHIPPED}
    expected = {
        ".".join(i.parent.relative_to(REPO_ROOT).parts) for i in (REPO_ROOT / "advisor").rglob("__init__.py")
    }
    for name in SHIPPED:
        folders = {p.parent for p in (REPO_ROOT / name).rglob("*.py")} | {REPO_ROOT / name}
        expected |= {".".join(("advisor", *f.relative_to(REPO_ROOT).parts)) for f in folders}
    assert "advisor.dashboards.views" in expected
    listed = set(setuptools["packages"])
    assert listed == expected, f"add to [tool.setuptools] packages: {sorted(expected - listed)}; " + (
        f"remove: {sorted(listed - expected)}"
    )


def test_the_checkout_reads_the_top_level_folders() -> None:
    # pytest imports advisor from the source tree, as an editable install does.
    assert Path(advisor.__file__).resolve().parent == REPO_ROOT / "advisor"
    for name in SHIPPED:
        assert (REPO_ROOT / name).is_dir(), name
        assert not (REPO_ROOT / "advisor" / name).exists(), f"advisor/{name} shadows the top-level {name}/"
        assert shipped_dir(name) == REPO_ROOT / name
    assert Settings().bundled_pricing_dir == BUNDLED_PRICING_DIR == REPO_ROOT / "pricing_data"
    assert Settings().profiles_dir == BUNDLED_PROFILES_DIR == REPO_ROOT / "load_profiles"
    assert dashboard_cli.APP == DASHBOARD_APP == REPO_ROOT / "dashboards" / "app.py"
    assert dashboard_cli.APP.is_file()


def test_an_installed_package_reads_its_own_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"
    (site / "advisor" / "dashboards").mkdir(parents=True)
    (site / "dashboards").mkdir()  # another distribution's top-level folder of the same name
    monkeypatch.setattr(settings_module, "PACKAGE_DIR", site / "advisor")
    assert shipped_dir("dashboards") == site / "advisor" / "dashboards"
    # No copy inside the package: a checkout, whose folder is the package's sibling.
    assert shipped_dir("load_profiles") == site / "load_profiles"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_built_wheel_in_a_fresh_venv_recommends_as_the_checkout_does(
    tmp_path: Path, cli_document: dict[str, Any]
) -> None:
    # What `pip install advisor` gives a user: the wheel built from a copy of the working tree (the build
    # must not write into the checkout), installed with its declared dependencies from the package index
    # into a fresh venv that sees nothing of this environment's site-packages, run outside the checkout.
    for name in SHIPPED:
        assert (REPO_ROOT / name).is_dir(), f"{name}/ belongs at the top level of the repository"
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT, src, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    sources = _shipped_files(src)
    wheels = tmp_path / "wheels"
    # This environment's setuptools builds it (no build isolation, so nothing is fetched for the build).
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(wheels), str(src))
    (wheel,) = wheels.glob("advisor-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        missing = sources - set(archive.namelist())
    assert not missing, f"files of the tree the wheel lacks: {sorted(missing)}"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(subprocess.check_output([python, "-c", purelib], text=True).strip())
    unreachable = _index_unreachable(tmp_path / "probe")
    if unreachable:
        pytest.skip(f"the package index is unreachable, so no dependencies can be installed: {unreachable}")
    # This environment's pip, run by the venv's interpreter (--python); dependencies from the index (pip's
    # cache makes a second run fast). Not byte-compiled: the commands below compile what they import.
    _pip("--python", python, "install", "--no-compile", str(wheel), timeout=1200)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(REPO_ROOT / DEMO, elsewhere / "demo-scenario.yaml")  # it names bundled profiles only
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ADVISOR_", "VIRTUAL_ENV"))}
    env["ADVISOR_HOME"] = str(elsewhere / "home")

    def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300)

    no_torch = run(python, "-c", "import torch")
    assert no_torch.returncode == 1 and "No module named 'torch'" in no_torch.stderr, no_torch.stderr
    paths = run(
        python, "-c", "import advisor, advisor.cli.dashboard as d; print(advisor.__file__); print(d.APP)"
    )
    assert paths.returncode == 0, paths.stderr
    package, app = (Path(line) for line in paths.stdout.splitlines())
    assert package.is_relative_to(site_packages), package
    # `advisor dashboard` runs this file (not started here); its pages import dashkit from beside it.
    assert app == site_packages / "advisor" / "dashboards" / "app.py" and app.is_file(), app
    assert (app.parent / "dashkit.py").is_file() and (app.parent / "views" / "overview.py").is_file()

    advisor_cli = venv / "bin" / "advisor"
    assert run(advisor_cli, "--help").returncode == 0
    rec = run(advisor_cli, "recommend", "demo-scenario.yaml", "--json", "--no-store")
    assert rec.returncode == 0, rec.stderr
    doc = json.loads(rec.stdout)
    assert doc["provenance"]["price_snapshot"].startswith("bundled")
    assert [m["model"] for m in doc["models"]] == [m["model"] for m in cli_document["models"]]
    checkout = _figures(cli_document)["totals"]
    for total in ("recommended_usd_per_month", "current_usd_per_month"):
        assert doc["totals"][total] == pytest.approx(checkout[total], rel=0.005), total
    prices = run(advisor_cli, "pricing", "show", "--json")
    assert prices.returncode == 0, prices.stderr
    assert Path(json.loads(prices.stdout)["snapshot"]) == site_packages / "advisor" / "pricing_data"
    profiles = run(advisor_cli, "profile", "show", "--json")
    assert profiles.returncode == 0, profiles.stderr
    bundled = [p for p in json.loads(profiles.stdout)["profiles"] if p["origin"] == "bundled"]
    assert {p["name"] for p in bundled} == {f.stem for f in (REPO_ROOT / "load_profiles").glob("*.yaml")}
    assert all(Path(p["path"]).parent == site_packages / "advisor" / "load_profiles" for p in bundled)


def _pip(*args: str, timeout: float = 600) -> None:
    """This environment's pip, quiet (no progress bars either); a failure shows the end of what it said."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.setdefault("PIP_DEFAULT_TIMEOUT", "60")  # per network read; pip's own default is 15 s
    command = [sys.executable, "-m", "pip", "--quiet", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stderr[-4000:]}"


def _index_unreachable(dest: Path) -> str | None:
    """Why pip cannot fetch from its package index (its own configuration: index, proxy, certificates), or
    None when it can: one small, always-available distribution, bypassing pip's cache."""
    probe = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check", "download",
             "--no-deps", "--no-cache-dir", "--timeout", "20", "--retries", "1", "--dest", str(dest),
             INDEX_PROBE]  # fmt: skip
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        return f"`pip download {INDEX_PROBE}` did not finish in 180 s"
    if done.returncode == 0:
        return None
    lines = done.stderr.splitlines()
    # The network's complaint (refused, name resolution, TLS...) if pip printed one, else its last error.
    said = [x for x in lines if "connection" in x.lower()][-1:] or [x for x in lines if "ERROR" in x][-1:]
    return f"`pip download {INDEX_PROBE}` failed: {(said or ['(no message)'])[0].strip()[:400]}"


def _shipped_files(tree: Path) -> set[str]:
    """Where each file of ``tree``'s advisor/ and shipped folders lies in the wheel (no bytecode)."""
    files = set()
    for top in ("advisor", *SHIPPED):
        for path in (tree / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                inside = path.relative_to(tree)
                files.add(inside.as_posix() if top == "advisor" else f"advisor/{inside.as_posix()}")
    return files


INDEX_PROBE = "croniter"  # a base dependency of advisor, a few dozen KiB
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
