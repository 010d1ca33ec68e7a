"""The seams hold: dependencies point one way, no import cycle, small modules and functions, public API only.

- the pipeline order (:data:`LAYERS`): every package of advisor sits in one layer, and no module imports a
  package of a later layer — the two contracts (scenario, recommendation) below every stage, the stages in
  pipeline order, then the renderers, the front door, the surfaces and the CLI;
- the surfaces that show what is stored (reports, apply, insights, the dashboard's pages) never reach the
  optimiser, directly or through what they import; the dashboard's what-if page alone asks the front door
  (``advisor.api``) for a new recommendation, which is what a what-if is;
- ``capacity/``, ``cost/`` and ``optimize/`` are pure: no cloud SDK, load generator, UI or web library, and
  nothing from the CLI, the harness, the store or the surfaces;
- (imports anywhere in a file count, including those inside functions and under ``TYPE_CHECKING``)
- advisor's modules import each other without a cycle;
- no module has more than 450 lines and no function more than 100;
- the notebook, the benchmarks and the dashboard import only ``advisor`` and its packages, and from them
  only names in their ``__all__`` (never ``advisor.cli``, nor a module like
  ``advisor.optimize.rightsize.candidates``).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

REPO = REPO_ROOT
PACKAGE = REPO / "advisor"
PURE = ("capacity", "cost", "optimize")
THIRD_PARTY_EDGES = {
    "boto3", "botocore", "locust", "gevent", "streamlit", "plotly", "kubernetes", "kubernetes_validate",
    "fastapi", "uvicorn", "requests", "httpx", "psutil", "sklearn", "torch", "moto", "jinja2",
    "css_inline", "aiosmtpd", "rich", "typer",
}  # fmt: skip
# croniter is not an edge: a core dependency, with which the cost model reads scheduled minimums' windows.
ADVISOR_EDGES = (
    "advisor.cli",
    "advisor.bench",
    "advisor.store",
    "advisor.recommendation.store",
    "advisor.api",
    "advisor.render",
    "advisor.report",
    "advisor.apply",
    "advisor.insights",
)
# The pipeline, bottom to top. A module may import its own layer's packages and earlier layers', never a
# later layer's. The umbrella package ``advisor`` itself (lazy re-exports) sits above them all.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("advisor.errors", "advisor.paths", "advisor.version", "advisor.lazy", "advisor.redact", "advisor.domain",
     "advisor.yamlio", "advisor.settings", "advisor.store", "advisor.signals", "advisor.platforms"),
    ("advisor.scenario",),
    ("advisor.recommendation",),
    ("advisor.pricing", "advisor.traffic"),
    ("advisor.bench",),
    ("advisor.capacity",),
    ("advisor.cost",),
    ("advisor.optimize",),
    ("advisor.render",),
    ("advisor.api",),
    ("advisor.insights", "advisor.report", "advisor.apply"),
    ("advisor.cli", "advisor.__main__"),
)  # fmt: skip
SURFACES = ("advisor.insights", "advisor.report", "advisor.apply")
OPTIMISER = ("advisor.optimize", "advisor.api")  # the optimiser, and the front door that runs it
WHAT_IF_PAGE = "dashboards/views/whatif.py"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 100


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    """(module, names) for every absolute import in ``tree``; ``import x.y`` gives ("x.y", [])."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]


def _targets(module: str, names: list[str], known: set[str]) -> set[str]:
    """The advisor modules an import loads by name: ``from a.b import c`` is a.b.c when that is a module."""
    subs = {f"{module}.{n}" for n in names if f"{module}.{n}" in known}
    return subs if subs and len(subs) == len(names) else subs | ({module} if module in known else set())


# ----- purity -------------------------------------------------------------------------------------------


def _impure(path: Path) -> list[str]:
    bad = []
    for module, names in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if module.split(".")[0] in THIRD_PARTY_EDGES:
            bad.append(module)
        full = [f"{module}.{n}" for n in names] if module == "advisor" else [module]
        bad += [m for m in full if any(m == e or m.startswith(e + ".") for e in ADVISOR_EDGES)]
    return sorted(set(bad))


def test_pure_packages_import_nothing_from_the_edges() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): bad
        for pure in PURE
        for path in (PACKAGE / pure).rglob("*.py")
        if (bad := _impure(path))
    }
    assert offenders == {}


def test_the_purity_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text(
        "import boto3\nfrom advisor import store\n\ndef f():\n    from advisor.cli.output import console\n"
        "    from advisor.bench.runner import run_server\n"
    )
    assert _impure(sample) == ["advisor.bench.runner", "advisor.cli.output", "advisor.store", "boto3"]


# ----- the pipeline order -------------------------------------------------------------------------------


def _layer(module: str) -> int | None:
    """The layer of ``module`` (by its longest package prefix in :data:`LAYERS`); None when unplaced."""
    best: tuple[int, int] | None = None
    for i, layer in enumerate(LAYERS):
        for package in layer:
            if (module == package or module.startswith(package + ".")) and (
                best is None or len(package) > best[1]
            ):
                best = (i, len(package))
    return None if best is None else best[0]


def _order_violations(graph: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for each import of a later layer; unplaced modules as ``module: no layer``."""
    out = []
    for module, targets in sorted(graph.items()):
        if module == "advisor":
            continue
        mine = _layer(module)
        if mine is None:
            out.append(f"{module}: no layer")
            continue
        out += [f"{module} -> {t}" for t in sorted(targets) if t != "advisor" and (_layer(t) or 0) > mine]
    return out


def test_no_package_imports_a_later_stage() -> None:
    assert _order_violations(_graph()) == []


def test_the_order_check_can_fail() -> None:
    graph = {
        "advisor.cost.simulate": {"advisor.optimize.recommend", "advisor.recommendation.plan"},
        "advisor.recommendation.model": {"advisor.scenario.model", "advisor.cost.replay.balancing"},
        "advisor.scenario.model": {"advisor.recommendation.model"},
        "advisor.newstage.thing": set(),
        "advisor.render.table": {"advisor.recommendation.model"},
    }
    assert _order_violations(graph) == [
        "advisor.cost.simulate -> advisor.optimize.recommend",
        "advisor.newstage.thing: no layer",
        "advisor.recommendation.model -> advisor.cost.replay.balancing",
        "advisor.scenario.model -> advisor.recommendation.model",
    ]


# ----- surfaces read the stored recommendation --------------------------------------------------------


def _reach(starts: set[str], graph: dict[str, set[str]]) -> set[str]:
    """Every advisor module ``starts`` load, directly or through what they import."""
    seen: set[str] = set()
    todo = [s for s in starts if s in graph]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += [t for t in graph[module] if t not in seen and t != "advisor"]
    return seen


def _optimiser_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == o or m.startswith(o + ".") for o in OPTIMISER))


def _dashboard_imports(code: str, graph: dict[str, set[str]]) -> set[str]:
    """The advisor modules a dashboard file loads: its imports, and ``advisor.NAME`` by the lazy table."""
    import advisor

    known = set(graph)
    tree = ast.parse(code)
    out: set[str] = set()
    for module, names in _imports(tree):
        if module.split(".")[0] == "advisor":
            out |= _targets(module, names, known)
            if module == "advisor":  # from advisor import NAME: a lazy name loads its own module
                out |= {advisor._LAZY[n] for n in names if n in advisor._LAZY}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "advisor"
        ):
            out.add(advisor._LAZY.get(node.attr, f"advisor.{node.attr}"))
    return out - {"advisor"}


def _surface_offenders(graph: dict[str, set[str]], dashboards: dict[str, str]) -> dict[str, list[str]]:
    out = {}
    for module in sorted(graph):
        surface = any(module == s or module.startswith(s + ".") for s in SURFACES)
        if surface and (bad := _optimiser_in(_reach({module}, graph))):
            out[module] = bad
    for where, code in dashboards.items():
        if where != WHAT_IF_PAGE and (bad := _optimiser_in(_reach(_dashboard_imports(code, graph), graph))):
            out[where] = bad
    return out


def _dashboard_files() -> dict[str, str]:
    return {
        str(p.relative_to(REPO)): p.read_text(encoding="utf-8")
        for p in sorted((REPO / "dashboards").rglob("*.py"))
    }


def test_surfaces_never_reach_the_optimiser() -> None:
    files = _dashboard_files()
    assert WHAT_IF_PAGE in files and len(files) > 3
    assert _surface_offenders(_graph(), files) == {}


def test_the_surface_check_can_fail() -> None:
    graph = {
        "advisor.report.runner": {"advisor.render.email"},
        "advisor.render.email": {"advisor.api.front"},
        "advisor.api.front": {"advisor.optimize.recommend"},
        "advisor.optimize.recommend": set(),
        "advisor.apply.runner": {"advisor.recommendation.model"},
        "advisor.recommendation.model": set(),
        "advisor.insights.replay": {"advisor.optimize.rightsize.search"},
        "advisor.optimize.rightsize.search": set(),
    }
    dashboards = {
        "dashboards/views/overview.py": "import advisor\nrec = advisor.recommend('s.yaml')\n",
        "dashboards/views/model.py": "from advisor.recommendation import Recommendation\n",
        WHAT_IF_PAGE: "from advisor.api import what_if\n",
    }
    graph["advisor.recommendation"] = set()
    graph["advisor.api"] = {"advisor.api.front"}
    assert _surface_offenders(graph, dashboards) == {
        "advisor.insights.replay": ["advisor.optimize.rightsize.search"],
        "advisor.report.runner": ["advisor.api.front", "advisor.optimize.recommend"],
        "dashboards/views/overview.py": ["advisor.api", "advisor.api.front", "advisor.optimize.recommend"],
    }


# ----- cycles -------------------------------------------------------------------------------------------


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for module, names in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            edges |= _targets(module, names, known)
        graph[name] = edges - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycle_in_advisor() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    known = {"advisor.optimize", "advisor.optimize.packing", "advisor.domain"}
    assert _targets("advisor.optimize", ["packing"], known) == {"advisor.optimize.packing"}
    assert _targets("advisor.domain", ["SLO"], known) == {"advisor.domain"}


# ----- sizes --------------------------------------------------------------------------------------------


def _oversized(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    out = []
    if len(text.splitlines()) > MAX_MODULE_LINES:
        out.append(f"{len(text.splitlines())} lines")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                out.append(f"{node.name}: {length} lines")
    return out


def test_no_module_or_function_is_too_long() -> None:
    offenders = {str(p.relative_to(PACKAGE)): bad for p in PACKAGE.rglob("*.py") if (bad := _oversized(p))}
    assert offenders == {}


def test_the_size_check_can_fail(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text("def f():\n" + "    x = 1\n" * 120 + "\n" * 400)
    assert _oversized(long) == [f"{len(long.read_text().splitlines())} lines", "f: 121 lines"]


# ----- the public API -----------------------------------------------------------------------------------


def _public_packages() -> set[str]:
    return {
        _module_name(p.parent / "__init__.py")
        for p in PACKAGE.rglob("__init__.py")
        if not _module_name(p).startswith(("advisor.cli", "advisor.bench.servers.reference"))
    }


def _source_files() -> Iterator[tuple[str, str]]:
    """(where, code) of every benchmark, dashboard page and notebook code cell."""
    for folder in ("benchmarks", "dashboards"):
        for path in sorted((REPO / folder).rglob("*.py")):
            yield str(path.relative_to(REPO)), path.read_text(encoding="utf-8")
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                yield f"{path.relative_to(REPO)} cell {i}", "".join(cell["source"])


def _private_uses(code: str, public: set[str]) -> list[str]:
    bad = []
    for module, names in _imports(ast.parse(code)):
        if module.split(".")[0] != "advisor":
            continue
        if module not in public:
            bad.append(module)
            continue
        exported = set(getattr(importlib.import_module(module), "__all__", ()))
        bad += [f"{module}.{n}" for n in names if n not in exported]
    return bad


def test_notebook_benchmarks_and_dashboard_use_only_the_public_api() -> None:
    public = _public_packages()
    offenders = {where: bad for where, code in _source_files() if (bad := _private_uses(code, public))}
    assert offenders == {}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("from advisor.cli.recommend import recommend", ["advisor.cli.recommend"]),
        (
            "from advisor.optimize.rightsize.candidates import prefilter",
            ["advisor.optimize.rightsize.candidates"],
        ),
        ("from advisor.optimize import prefilter", ["advisor.optimize.prefilter"]),
        ("import advisor.store", ["advisor.store"]),
        ("from advisor import recommend, Settings\nimport advisor.cost", []),
    ],
)
def test_the_public_api_check_can_fail(code: str, expected: list[str]) -> None:
    assert _private_uses(code, _public_packages()) == expected


# ----- the layout as the README explains it -------------------------------------------------------------


def _readme_paths(text: str) -> set[str]:
    """Every ``advisor/...`` folder the first column of the README's architecture tables names."""
    section = text.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    out = set()
    for row in section.splitlines():
        cells = row.split("|")
        if len(cells) < 3:
            continue
        out |= {path.rstrip("/") for path in re.findall(r"`(advisor/[\w/]+?)/?`", cells[1])}
    return out


def _packages_on_disk() -> set[str]:
    return {str(p.parent.relative_to(REPO)) for p in PACKAGE.rglob("__init__.py")} - {"advisor"}


def test_the_readme_explains_every_package_and_names_none_that_does_not_exist() -> None:
    named = _readme_paths((REPO / "README.md").read_text(encoding="utf-8"))
    assert _packages_on_disk() - named == set()
    assert {p for p in named if not (REPO / p).is_dir()} == set()


def test_the_readme_check_can_fail() -> None:
    rows = ["| `advisor/cost/`, `advisor/cost/replay/` | the cost model |", "| `advisor/gone/` | x |"]
    text = "## Architecture\n\n" + "\n".join(rows) + "\n## Next"
    named = _readme_paths(text)
    assert named == {"advisor/cost", "advisor/cost/replay", "advisor/gone"}
    assert {p for p in named if not (REPO / p).is_dir()} == {"advisor/gone"}
    assert _packages_on_disk() - named  # most packages are missing from this README
