"""The Streamlit dashboard, page by page, through streamlit.testing's AppTest on a store seeded with the
demo recommendation: the figures shown are the stored document's, the what-if moves cost the way it
must and stores nothing until saved, an empty or broken store is a message in the page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import advisor
from advisor import render
from advisor.insights import model_replay
from advisor.store import Store
from tests.dashboard_helpers import (
    BENCH_MODEL,
    DEMO,
    PAGES,
    identifiers_shown,
    open_page,
    plotly_figures,
    recommendation_count,
    texts,
    values,
)


def usd(value: float | None) -> str:
    assert value is not None
    return f"${value:,.2f}"


@pytest.fixture(scope="module")
def seeded(seeded_demo_store: tuple[Path, advisor.Recommendation]) -> tuple[Path, advisor.Recommendation]:
    return seeded_demo_store  # made once per session (tests/conftest.py); each test copies the folder


@pytest.fixture
def demo(
    seeded: tuple[Path, advisor.Recommendation], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[advisor.Recommendation]:
    """This test's own copy of the seeded store as ADVISOR_HOME; the stored demo recommendation."""
    home = tmp_path / "dash-home"
    shutil.copytree(seeded[0], home)
    monkeypatch.setenv("ADVISOR_HOME", str(home))
    yield seeded[1]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_an_empty_store_shows_what_to_run(page: str) -> None:
    at = open_page(page)
    hints = texts(at, "info")
    expected = "No bench run in the store yet" if page == "bench" else "No recommendation in the store yet"
    assert any(expected in h for h in hints), hints
    assert any("make demo" in h for h in hints)
    assert not at.error


def test_the_overview_shows_the_stored_totals(demo: advisor.Recommendation) -> None:
    at = open_page("overview")
    t = demo.totals
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Today ($/month)"] == usd(t.current_usd_per_month)
    assert metrics["Recommended ($/month)"] == usd(t.recommended_usd_per_month)
    assert metrics["With the Savings Plan ($/month)"] == usd(t.with_commitment_usd_per_month)
    within = sum(1 for m in demo.models if m.slo_risk is not None and m.slo_risk.within_budget)
    assert metrics["Within the SLO budget"] == f"{within} of {len(demo.models)} models"
    baselines, models = (d.value for d in at.dataframe)
    shown = dict(zip(baselines["plan"], baselines["usd_per_month"], strict=True))
    assert shown["Static on-demand at peak"] == pytest.approx(t.baselines_usd_per_month["static_peak"])
    assert shown["Recommended"] == pytest.approx(t.recommended_usd_per_month)
    saves = dict(zip(baselines["plan"], baselines["saves"], strict=True))
    assert saves["Recommended"] == "—"  # the reference row: no "recommended saves 0 %"
    assert saves["Today"] == render.pct(t.savings_vs_current_pct)
    assert list(models["model"]) == [m.model for m in demo.models] + ["Total"]
    rows, total = models.iloc[:-1], models.iloc[-1]
    assert rows["plan_usd_per_month"].sum() == pytest.approx(t.recommended_usd_per_month)  # no pooling here
    assert total["plan_usd_per_month"] == pytest.approx(t.recommended_usd_per_month)
    assert total["today_usd_per_month"] == pytest.approx(t.current_usd_per_month)
    assert set(texts(at, "warning")) == {render.code_spans(w) for w in demo.warnings}


def test_the_overview_opens_with_the_cost_charts_and_the_lever_waterfall(
    demo: advisor.Recommendation,
) -> None:
    at = open_page("overview")
    by_team, by_model, levers = plotly_figures(at)
    teams = {m.team for m in demo.models}
    today, recommended = (by_team["data"][i] for i in (0, 1))
    assert (today["name"], recommended["name"]) == ("Today", "Recommended")
    assert set(values(today, "x")) == teams
    team_totals = dict(zip(values(recommended, "x"), values(recommended, "y"), strict=True))
    for team in teams:
        mine = [m for m in demo.models if m.team == team]
        assert team_totals[team] == pytest.approx(sum(m.effective_usd_per_month or 0.0 for m in mine))
    assert set(values(by_model["data"][0], "x")) == {m.model for m in demo.models}
    fall = levers["data"][0]
    assert fall["type"] == "waterfall"
    x, y = values(fall, "y"), values(fall, "x")  # drawn across: the steps down the y axis
    parts = demo.totals.savings_by_lever
    assert x[0] == "Today" and y[0] == pytest.approx(demo.totals.current_usd_per_month)
    assert x[1:6] == [render.LEVER_LABELS[p.lever] for p in parts if p.in_total]
    assert y[1:6] == pytest.approx([-p.usd_per_month for p in parts if p.in_total])
    assert x[6] == "Recommended" and x[-2:] == ["Savings Plan", "With the Savings Plan"]
    assert fall["text"][6] == usd(demo.totals.recommended_for_current_models_usd_per_month)


def test_the_model_table_filters_by_team_and_action(demo: advisor.Recommendation) -> None:
    at = open_page("overview")
    at.multiselect(key="teams").set_value(["search"]).run()
    models = at.dataframe[1].value.iloc[:-1]  # the last row is the total of those shown
    assert sorted(models["model"]) == sorted(m.model for m in demo.models if m.team == "search")
    assert list(models["page"]) == [f"/model?scenario=demo&model={name}" for name in models["model"]]
    assert at.dataframe[1].value.iloc[-1]["plan_usd_per_month"] == pytest.approx(
        models["plan_usd_per_month"].sum()
    )
    assert at.multiselect(key="actions").options == [
        "change"
    ]  # in words: "keep as today", never keep_current
    at.multiselect(key="teams").set_value([]).run()
    at.multiselect(key="actions").set_value(["change"]).run()
    assert len(at.dataframe[1].value) == 1 + sum(1 for m in demo.models if m.action.value == "change")


def test_the_model_page_shows_the_plan_its_replay_and_provenance(demo: advisor.Recommendation) -> None:
    at = open_page("model", model="doc-reranker")
    m = demo.model("doc-reranker")
    assert m.plan is not None and m.cost is not None
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["$/month"] == usd(m.cost.usd_per_month)
    assert metrics["Replicas"] == f"{m.plan.replicas_min}–{m.plan.replicas_max}"
    assert metrics["Platform"] == m.plan.platform.value
    traffic, levers, breakdown, comparison = plotly_figures(at)
    fall = levers["data"][0]
    assert values(fall, "x")[1:6] == pytest.approx([-p.usd_per_month for p in m.savings_by_lever])
    traces = {t["name"]: t for t in traffic["data"]}
    view = model_replay(demo, "doc-reranker")
    assert max(values(traces["demand"], "y")) == pytest.approx(view.frame["demand_rps"].max())
    assert len(values(traces["overloaded minute"], "x")) == int(view.frame["overloaded"].sum())
    assert max(values(traces["provisioned (billed)"], "y")) == pytest.approx(
        view.frame["provisioned_capacity_rps"].max()
    )
    bars = breakdown["data"][0]
    assert sum(values(bars, "x")) == pytest.approx(m.cost.usd_per_month, abs=0.05)
    names = values(comparison["data"][0], "y")
    assert "Recommended" in names and "Today" in names and "Static on-demand at peak" in names
    assert "On-demand instances" in values(bars, "y")
    page = " ".join(texts(at, "markdown") + texts(at, "caption"))
    assert "given in the scenario" in page and "karpenter-pricing" in page
    assert "min 6 00:30–04:00 UTC" in str(at.table[0].value)
    assert not at.error


def test_the_model_page_says_when_the_scenario_file_is_gone(
    demo: advisor.Recommendation, tmp_path: Path
) -> None:
    moved = tmp_path / "moved-scenario.yaml"
    shutil.copy(DEMO, moved)
    rec = advisor.recommend(moved)
    advisor.save(rec)
    moved.unlink()
    at = open_page("model", model="fraud-scorer")
    errors = texts(at, "error")
    assert len(errors) == 1 and f"scenario file {moved} of recommendation {rec.id} not found" in errors[0]
    assert "start the dashboard in the directory" in errors[0]
    assert {m.label for m in at.metric} >= {"Platform", "$/month"}  # the stored plan is still shown


def test_the_bench_page_plots_runs_against_the_slo_and_exports_csv(demo: advisor.Recommendation) -> None:
    at = open_page("bench")
    runs = at.dataframe[0].value
    assert set(runs["id"]) == {"run-c7a", "run-c7g"} and set(runs["model"]) == {BENCH_MODEL}
    (fig,) = plotly_figures(at)
    names = [t["name"] for t in fig["data"]]
    assert any(n.startswith("p99 c7a.large") for n in names) and any("generator CPU" in n for n in names)
    for trace in fig["data"]:  # each curve in offered-rate order, though the saturated point achieved less
        xs = values(trace, "x")
        assert xs == sorted(xs), (trace["name"], xs)
    lines = [s for s in fig["layout"]["shapes"]]
    assert {round(s["y0"], 3) for s in lines if s["type"] == "line" and s["y0"] == s["y1"]} == {100.0}
    assert {round(s["x0"], 3) for s in lines if s["x0"] == s["x1"]} == {120.0, 95.0}
    assert "c7a.large: 120 requests/s at p99 ≤ 100 ms" in " ".join(texts(at, "markdown"))
    button = at.get("download_button")[0].proto
    assert button.label == "Export points as CSV"
    at.multiselect(key="bench_runs").set_value(["run-c7g"]).run()
    (fig,) = plotly_figures(at)
    assert all("c7a" not in t["name"] for t in fig["data"])


def test_the_what_if_doubles_traffic_raises_cost_and_stores_only_when_saved(
    demo: advisor.Recommendation,
) -> None:
    home = Path(advisor.load_settings().home)
    before = recommendation_count(home)
    at = open_page("what-if", model="doc-reranker")
    at.number_input(key="scale").set_value(2.0)
    at.button[0].click().run()
    assert not at.error and not at.exception
    metrics = {m.label: m for m in at.metric}
    stored = demo.model("doc-reranker").cost
    assert stored is not None and metrics["Stored plan"].value == usd(stored.usd_per_month)
    varied = float(metrics["What-if"].value.strip("$").replace(",", ""))
    assert varied > stored.usd_per_month * 1.1  # twice the traffic on GPUs: more replicas at the peak
    assert metrics["What-if"].delta.startswith("+")
    assert recommendation_count(home) == before  # nothing stored by a what-if
    at.button(key="save").click().run()
    assert recommendation_count(home) == before + 1
    saved = advisor.stored_recommendation(scenario="demo")
    assert saved.summary.startswith(f"What-if of {demo.id} (doc-reranker traffic ×2)")
    assert saved.model("doc-reranker").cost.usd_per_month == pytest.approx(varied, abs=0.01)  # type: ignore[union-attr]
    assert Path(saved.scenario_file or "").is_file()
    view = model_replay(saved, "doc-reranker")  # the saved what-if replays at its own traffic
    assert view.matches_stored
    assert view.frame["demand_rps"].max() == pytest.approx(
        2 * model_replay(demo, "doc-reranker").frame["demand_rps"].max()
    )


def test_the_what_if_without_spot_never_costs_less(demo: advisor.Recommendation) -> None:
    at = open_page("what-if", model="search-embedder")
    at.selectbox(key="spot").set_value("not allowed")
    at.button[0].click().run()
    metrics = {m.label: m.value for m in at.metric}
    stored = demo.model("search-embedder")
    assert stored.plan is not None and stored.plan.spot_pct_above_base > 0 and stored.cost is not None
    varied = float(metrics["What-if"].replace("$", "").replace(",", ""))
    assert varied > stored.cost.usd_per_month
    table = at.table[0].value
    assert table.loc["purchase", "what-if"] == "on-demand"
    assert not identifiers_shown(at)  # the what-if's answer too is in words


def test_history_shows_each_recommendation_and_applied_changes(demo: advisor.Recommendation) -> None:
    settings = advisor.load_settings()
    later = advisor.recommend("examples/demo-scenario.yaml", settings=settings)
    advisor.save(later, settings)
    with Store(settings.db_path) as store, store.transaction() as conn:
        conn.execute(
            "INSERT INTO applied_changes (created_at, recommendation_id, target, action, dry_run, status)"
            " VALUES ('2026-12-01T12:00:00+00:00', ?, 'kubernetes search/doc-reranker', 'scale', 0,"
            " 'verified')",
            (demo.id,),
        )
    at = open_page("history")
    history = at.dataframe[0].value
    assert list(history["id"]) == [later.id, demo.id]  # newest first
    assert list(history["recommended_usd_per_month"]) == pytest.approx(
        [later.totals.recommended_usd_per_month, demo.totals.recommended_usd_per_month]
    )
    changes = at.dataframe[1].value
    assert list(changes["recommendation_id"]) == [demo.id] and list(changes["status"]) == ["verified"]
    assert not identifiers_shown(at)
    (fig,) = plotly_figures(at)
    assert len(values(fig["data"][1], "y")) == 2


@pytest.mark.parametrize("page", ["overview", "model", "history"])
def test_a_damaged_store_is_one_message_in_the_page(page: str, tmp_path: Path) -> None:
    db = Path(advisor.load_settings().db_path)
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database" * 100)
    at = open_page(page)
    errors = texts(at, "error")
    assert len(errors) == 1 and "advisor.db" in errors[0], errors
    assert db.read_bytes() == b"this is not a database" * 100  # nothing was written over it


VISITS = {
    "overview": {},
    "model": {"model": "search-embedder"},
    "bench": {},
    "what-if": {"model": "fraud-scorer"},
    "history": {},
}


@pytest.mark.parametrize("page", sorted(VISITS))
def test_every_table_on_every_page_is_headed_and_filled_in_words(
    page: str, demo: advisor.Recommendation
) -> None:
    """The tables are drawn on a canvas, out of the browser test's reach: their headers as shown (the
    column's label, else its name) and their text cells, read from what the page sends."""
    at = open_page(page, scenario=demo.scenario, **VISITS[page])
    found = identifiers_shown(at)
    assert not found, (page, found)
    assert at.dataframe or page == "what-if"  # the pages checked do show tables
