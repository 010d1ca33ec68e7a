"""A store seeded as `make demo` leaves it (the demo recommendation, bench runs), language-model
recommendations for the LLM page, and AppTest helpers."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from streamlit.testing.v1 import AppTest

import advisor
from advisor.bench.measurements import CapacityResult, LoadMode, PointResult, RunStatus
from advisor.bench.results import import_result
from advisor.settings import Settings
from advisor.store import Store
from tests.helpers import REPO_ROOT

APP = REPO_ROOT / "dashboards" / "app.py"
DEMO = REPO_ROOT / "examples" / "demo-scenario.yaml"
PAGES = {
    "overview": "views/overview.py",
    "model": "views/model.py",
    "llm": "views/llm.py",
    "bench": "views/bench.py",
    "what-if": "views/whatif.py",
    "history": "views/history.py",
}
# Bench runs of a model outside the demo scenario, so they leave its recommendation as it is.
BENCH_MODEL = "bench-ranker"


def bench_result(run_id: str, shape: str, capacity: float, slo_ms: float = 100.0) -> CapacityResult:
    """A completed run whose p99 crosses the SLO just above ``capacity`` (as `bench import` stores it)."""
    points = []
    for seq, share in enumerate((0.25, 0.5, 0.75, 1.0, 1.25)):
        rate = capacity * share
        p99 = slo_ms * (0.3 + 0.7 * share**4)
        points.append(
            PointResult(
                seq=seq,
                mode=LoadMode.OPEN,
                target_rps=rate,
                # over capacity a server completes less than it did at capacity: the achieved order is not
                # the offered one (the charts are drawn in offered order)
                achieved_rps=rate * 0.99 if share <= 1 else capacity * 0.9,
                requests=int(rate * 30),
                errors=0,
                error_rate=0.0,
                p50_ms=p99 / 3,
                p90_ms=p99 / 1.5,
                p95_ms=p99 / 1.2,
                p99_ms=p99,
                server_cpu_pct=80 * share,
                generator_cpu_pct=20 * share,
                duration_s=30.0,
                valid=True,
                passed=p99 <= slo_ms,
            )
        )
    return CapacityResult(
        run_id=run_id,
        model=BENCH_MODEL,
        shape=shape,
        status=RunStatus.COMPLETED,
        slo_p99_ms=slo_ms,
        max_error_rate=0.001,
        capacity_rps=capacity,
        p99_ms_at_capacity=slo_ms,
        points=points,
    )


def seed_store(home: Path) -> advisor.Recommendation:
    """The demo recommendation (capacities as the scenario gives them) and two bench runs, in ``home``."""
    settings = Settings(home=home)
    rec = advisor.recommend(DEMO, settings=settings)
    advisor.save(rec, settings)
    with Store(settings.db_path) as store:
        import_result(store, bench_result("run-c7a", "c7a.large", 120.0), target="imported")
        import_result(store, bench_result("run-c7g", "c7g.large", 95.0), target="imported")
    return rec


# A language model as a scenario lists it (issue 22's keys): fixed request sizes, three GPU types to mix,
# today's deployment and a per-token API to compare with.
CHAT: dict[str, Any] = {
    "name": "chat",
    "team": "assistants",
    "llm": {"model": "llama-3.1-8b", "dtype": "bf16", "engine": "vllm"},
    "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 100},
    "traffic": {"profile": "diurnal-business-api", "peak_rps": 6},
    "tokens": {"input": 1000, "output": 130},
    "instance_types": ["g5.xlarge", "g6e.xlarge", "p5.4xlarge"],
    "current": {"platform": "ec2", "instance_type": "p4d.24xlarge", "count": 1},
    "per_token_api": {
        "name": "Bedrock", "usd_per_m_input": 0.22, "usd_per_m_output": 0.22, "source": "test prices",
    },
}  # fmt: skip
LLM_ONLY = "chat"  # the scenario of the language model alone
MIXED = "demo-with-chat"  # the demo's four models and the language model


def llm_scenarios(folder: Path) -> tuple[Path, Path]:
    """Write the language model alone (scenario ``chat``) and the demo with it (``demo-with-chat``, beside
    copies of the demo's files) under ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    alone = folder / "chat.yaml"
    alone.write_text(
        yaml.safe_dump({"name": LLM_ONLY, "region": "us-east-1", "models": [CHAT]}, sort_keys=False)
    )
    demo = yaml.safe_load(DEMO.read_text())
    demo["name"] = MIXED
    demo["models"].append(CHAT)
    for extra in DEMO.parent.iterdir():
        if extra.is_file() and extra.name != DEMO.name:
            (folder / extra.name).write_bytes(extra.read_bytes())
    mixed = folder / "demo-with-chat.yaml"
    mixed.write_text(yaml.safe_dump(demo, sort_keys=False))
    return alone, mixed


def seed_llm(
    home: Path, folder: Path, clock: Callable[[], dt.datetime] | None = None
) -> tuple[advisor.Recommendation, advisor.Recommendation]:
    """Recommend and store the scenarios of :func:`llm_scenarios` (written under ``folder``) in ``home``:
    (the language model alone, the demo with it); ``clock`` dates them (now unless given)."""
    settings = Settings(home=home)
    timing: dict[str, Any] = {} if clock is None else {"clock": clock}
    out = []
    for path in llm_scenarios(folder):
        rec = advisor.recommend(path, settings=settings, **timing)
        advisor.save(rec, settings)
        out.append(rec)
    return out[0], out[1]


def open_page(page: str, **query: str) -> AppTest:
    """Run the app, then switch to ``page`` with ``query`` in the URL; returns the app after the run."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page != "overview":
        at.switch_page(PAGES[page])
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def plotly_figures(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures of the page, as their JSON."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def recommendation_count(home: Path) -> int:
    with Store.for_reading(home / "advisor.db") as store:
        return int(store.query("SELECT COUNT(*) AS n FROM recommendations")[0]["n"])


def values(trace: dict[str, Any], key: str) -> list[Any]:
    """A trace's ``x``/``y`` as a list, decoding plotly's typed-array form ({"dtype", "bdata"})."""
    raw = trace.get(key, [])
    if isinstance(raw, dict) and "bdata" in raw:
        decoded: list[Any] = np.frombuffer(
            base64.b64decode(raw["bdata"]), dtype=np.dtype(raw["dtype"])
        ).tolist()
        return decoded
    return list(raw)


SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")  # static_peak, usd_per_month


def identifiers_shown(at: AppTest) -> list[str]:
    """The snake_case identifiers a page shows in its tables (drawn on a canvas, out of a browser test's
    reach: their headers as shown, the column's label else its name, and their text cells) and metrics."""
    shown: list[str] = []
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        for column in frame.value.columns:
            conf = config.get(str(column), {})
            if not conf.get("hidden"):
                shown.append(conf.get("label") or str(column))
        cells = frame.value.select_dtypes(include="object")
        shown += [v for col in cells.columns for v in cells[col].dropna() if isinstance(v, str)]
    for table in at.table:
        shown += [str(v) for v in table.value.to_numpy().ravel()] + [str(c) for c in table.value.columns]
    shown += [m.label for m in at.metric] + [str(m.value) for m in at.metric]
    return sorted({s for text in shown for s in SNAKE.findall(text)})
