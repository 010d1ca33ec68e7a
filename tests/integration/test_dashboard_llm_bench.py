"""The bench page's LLM section through Streamlit's AppTest: stored LLM runs with their capacity sentence,
TTFT/TPOT/E2E charts against the offered rate with the SLO bounds and the capacity, the per-bucket capacity
grid, imported runs' warnings; and the page with only one kind of run, or none."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import advisor
from advisor.bench.llm import DEFINITIONS
from advisor.bench.llm.store import save
from advisor.bench.results import import_result
from advisor.store import Store
from tests.dashboard_helpers import (
    bench_result,
    identifiers_shown,
    open_page,
    plotly_figures,
    texts,
    values,
)
from tests.llm_bench_helpers import BUCKETS, llm_result, seed_llm_runs

SENTENCE = (
    "4.2 req/s (5.25 req/s failed), 1,260 input + 84 output tokens/s at p99 TTFT ≤ 2000 ms, p99 TPOT ≤ 100 ms"
)


@pytest.fixture
def home() -> Path:
    return Path(advisor.load_settings().home)  # ADVISOR_HOME: this test's own (tests/conftest.py)


def _hlines(fig: dict[str, Any]) -> dict[str, set[float]]:
    """The horizontal lines of each chart (by its y axis: y is TTFT, y2 TPOT, y3 E2E)."""
    out: dict[str, set[float]] = {}
    for s in fig["layout"]["shapes"]:
        if s["y0"] == s["y1"] and s["xref"].endswith("domain"):
            out.setdefault(s["yref"], set()).add(s["y0"])
    return out


def _vlines(fig: dict[str, Any]) -> set[float]:
    return {s["x0"] for s in fig["layout"]["shapes"] if s["x0"] == s["x1"] and s["yref"].endswith("domain")}


def _subheaders(at: Any) -> list[str]:
    return [str(h.value) for h in at.subheader]


def test_only_llm_runs_show_capacity_slo_lines_and_the_bucket_grid(home: Path) -> None:
    whole, _ = seed_llm_runs(home)
    at = open_page("bench")
    assert not at.error and not any("No bench run" in t for t in texts(at, "info"))
    assert _subheaders(at) == ["LLM runs (token streaming)"]  # no request/response section
    assert not identifiers_shown(at)
    runs = at.dataframe[0].value
    assert set(runs["id"]) == {"llm-g5", "llm-g6-buckets"} | {f"llm-g6-buckets#{b}" for b in BUCKETS}
    assert list(runs.columns) == [
        "id",
        "model",
        "shape",
        "bucket",
        "tool",
        "status",
        "capacity_rps",
        "started_at",
    ]
    assert set(runs["bucket"]) == {"all", *BUCKETS}

    page = " ".join(texts(at, "markdown"))
    assert f"**g5.xlarge**, all sizes (advisor, run `llm-g5`): {SENTENCE}" in page
    assert "in 1k-2k x out 100-250 (vllm, run `llm-g6-buckets`): 2.5 req/s" in page
    assert texts(at, "warning") == ["llm-g6-buckets (vllm, all sizes): vLLM's TPOT mapped"]
    assert DEFINITIONS["ttft"] in " ".join(texts(at, "caption"))

    chart, heatmap = plotly_figures(at)
    assert _hlines(chart) == {"y": {2000.0}, "y2": {100.0}}  # TTFT and TPOT bounds; no E2E bound was set
    assert _vlines(chart) == {4.2, 3.0}
    notes = {a["text"] for a in chart["layout"]["annotations"]}
    assert {"TTFT SLO p99 ≤ 2000 ms", "TPOT SLO p99 ≤ 100 ms", "g5.xlarge: 4.2 req/s"} <= notes
    traces = {t["name"]: t for t in chart["data"]}
    ttft = traces["TTFT p99 g5.xlarge all sizes (llm-g5)"]
    assert values(ttft, "x") == [p.offered_rps for p in whole.points]
    assert values(ttft, "y") == pytest.approx([p.ttft_ms.ci_estimate for p in whole.points])
    bounded = [p.ttft_ms for p in whole.points if p.ttft_ms.ci_high is not None]
    assert len(bounded) == len(whole.points)  # 500 requests a point bound both sides of the p99
    highs = [
        t.ci_high - t.ci_estimate for t in bounded if t.ci_high is not None and t.ci_estimate is not None
    ]
    assert values(ttft["error_y"], "array") == pytest.approx(highs)  # the 95 % interval as error bars
    assert (
        "TPOT p50 g5.xlarge all sizes (llm-g5)" in traces and "E2E p99 g5.xlarge all sizes (llm-g5)" in traces
    )
    tokens = traces["output tokens/s g5.xlarge all sizes (llm-g5)"]
    assert values(tokens, "y") == pytest.approx([p.output_tokens_per_s for p in whole.points])

    grid = at.dataframe[1].value.set_index("input tokens")
    assert list(grid.index) == ["250-500", "1k-2k"] and list(grid.columns) == ["25-100", "100-250"]
    assert grid.loc["250-500", "25-100"] == 8.0 and grid.loc["250-500", "100-250"] == 5.0
    assert grid.loc["1k-2k", "100-250"] == 2.5 and math.isnan(grid.loc["1k-2k", "25-100"])
    assert heatmap["data"][0]["type"] == "heatmap" and heatmap["data"][0]["y"] == ["250-500", "1k-2k"]
    assert at.get("download_button")[0].proto.label == "Export LLM points as CSV"


def test_the_run_picker_narrows_the_charts(home: Path) -> None:
    seed_llm_runs(home)
    at = open_page("bench")
    at.multiselect(key="llm_bench_runs").set_value(["llm-g6-buckets"]).run()
    (chart, _heatmap) = plotly_figures(at)
    assert _vlines(chart) == {3.0}
    assert all("llm-g5" not in t["name"] for t in chart["data"])
    assert "run `llm-g5`" not in " ".join(texts(at, "markdown"))
    at.multiselect(key="llm_bench_runs").set_value(["llm-g5"]).run()
    assert len(plotly_figures(at)) == 1 and len(at.dataframe) == 1  # no bucket, no grid


def test_an_e2e_bound_is_drawn_in_the_e2e_chart(home: Path) -> None:
    with Store(advisor.load_settings().db_path) as store:
        save(store, llm_result("llm-e2e", "g5.xlarge", 4.2, e2e_ms=5000.0), target="imported")
    at = open_page("bench")
    (chart,) = plotly_figures(at)
    assert _hlines(chart) == {"y": {2000.0}, "y2": {100.0}, "y3": {5000.0}}
    assert "E2E SLO p99 ≤ 5000 ms" in {a["text"] for a in chart["layout"]["annotations"]}
    assert "p99 E2E ≤ 5000 ms" in " ".join(texts(at, "markdown"))


def test_both_kinds_of_run_show_side_by_side(home: Path) -> None:
    seed_llm_runs(home)
    with Store(advisor.load_settings().db_path) as store:
        import_result(store, bench_result("run-c7a", "c7a.large", 120.0), target="imported")
    at = open_page("bench")
    assert not at.error
    assert _subheaders(at) == ["Request/response runs", "LLM runs (token streaming)"]
    assert set(at.dataframe[0].value["id"]) == {"run-c7a"}
    assert "c7a.large: 120 requests/s at p99 ≤ 100 ms" in " ".join(texts(at, "markdown"))
    assert SENTENCE in " ".join(texts(at, "markdown"))
    assert len(plotly_figures(at)) == 3  # the classic chart, the LLM chart, the bucket heatmap
    at.sidebar.selectbox(key="bench_model").set_value("bench-ranker").run()
    assert _subheaders(at) == [] and len(plotly_figures(at)) == 1  # the model filter hides the LLM runs


def test_no_llm_run_leaves_the_request_response_page_as_it_was(home: Path) -> None:
    with Store(advisor.load_settings().db_path) as store:
        import_result(store, bench_result("run-c7a", "c7a.large", 120.0), target="imported")
    at = open_page("bench")
    assert not at.error and _subheaders(at) == []
    assert len(plotly_figures(at)) == 1 and at.get("download_button")[0].proto.label == "Export points as CSV"


def test_no_run_at_all_is_a_hint_naming_both_kinds() -> None:
    at = open_page("bench")
    (hint,) = texts(at, "info")
    assert "No bench run in the store yet" in hint and "--slo-ttft-p99-ms" in hint and "bench import" in hint
