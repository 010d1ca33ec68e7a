"""The dashboard with language models, through Streamlit's AppTest: the LLM model page shows the stored $/M
tokens and monthly cost as the CLI writes them, its traffic against the capacity the plan provisions (the
optimiser's rule, read back from the document), the prior's TTFT/TPOT with the SLO lines, the mix and the
baselines; the overview's total counts the language model; every page opens on a recommendation of language
models alone and of classic models alone; a language model's what-if re-plans and stores nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

import advisor
from advisor import render
from advisor.capacity.llm import WeightsDtype, preset
from advisor.optimize.llm import LLMWhatIf, fixed_sizes, llm_options, plan_llm, vary_llm
from advisor.pricing.catalog import Catalog
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.traffic import resolve_profile
from tests.dashboard_helpers import (
    CHAT,
    LLM_ONLY,
    MIXED,
    PAGES,
    identifiers_shown,
    open_page,
    plotly_figures,
    recommendation_count,
    seed_llm,
    texts,
    values,
)

Seeded = tuple[Path, advisor.Recommendation, advisor.Recommendation, advisor.Recommendation]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """A home with the demo (classic models alone), the language model alone and the demo with it; made
    once for the module, copied by each test."""
    root = tmp_path_factory.mktemp("llm-dash")
    home = root / "home"
    classic = advisor.recommend("examples/demo-scenario.yaml", settings=advisor.Settings(home=home))
    advisor.save(classic, advisor.Settings(home=home))
    alone, mixed = seed_llm(home, root / "scenarios")
    return home, classic, alone, mixed


@pytest.fixture
def stored(seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    home = tmp_path / "dash-home"
    shutil.copytree(seeded[0], home)
    monkeypatch.setenv("ADVISOR_HOME", str(home))
    yield home, *seeded[1:]


def _chat(rec: advisor.Recommendation) -> LLMModelRecommendation:
    (m,) = rec.llm_models
    return m


def test_the_llm_page_shows_the_stored_token_prices_and_monthly_cost(stored: Seeded) -> None:
    rec = stored[2]
    m = _chat(rec)
    at = open_page("llm", scenario=LLM_ONLY, model="chat")
    assert not at.error
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["$/month"] == render.usd(m.usd_per_month)
    assert metrics["$/M input tokens"] == render.per_m(m.tokens.usd_per_m_input)
    assert metrics["$/M output tokens"] == render.per_m(m.tokens.usd_per_m_output)
    assert metrics["$/M blended tokens"] == render.per_m(m.tokens.usd_per_m_blended)
    assert metrics["Today ($/month)"] == render.usd(m.current_usd_per_month)
    assert metrics["$/M blended tokens"].startswith("$0.") and metrics["$/month"].startswith("$")
    baselines, mix, routing = (d.value for d in at.dataframe)
    assert list(baselines["plan"]) == [
        "Recommended", "Best single type", "Peak mix all month", "On SageMaker", "Per-token API", "Today",
    ]  # fmt: skip
    assert list(baselines["usd_per_month"]) == pytest.approx(
        [m.usd_per_month, *(b.usd_per_month for b in m.baselines)]
    )
    assert list(baselines["usd_per_m_blended"]) == [
        render.per_m(x) for x in (m.tokens.usd_per_m_blended, *(b.usd_per_m_blended for b in m.baselines))
    ]
    today = next(b for b in m.baselines if b.name == "current")
    saves = dict(zip(baselines["plan"], baselines["saves"], strict=True))
    assert saves["Today"] == render.pct(100 * (today.usd_per_month - m.usd_per_month) / today.usd_per_month)
    assert list(mix["instance_type"]) == [g.instance_type for g in m.groups]
    assert list(mix["min_instances"]) == [g.min_instances for g in m.groups]
    assert list(mix["max_instances"]) == [g.max_instances for g in m.groups]
    assert sum(mix["usd_per_month"]) == pytest.approx(m.usd_per_month)  # instance-hours × price, summed
    assert list(routing["bucket"]) == [r.bucket for r in m.routing]
    assert (
        list(routing["routed_to"])
        == ["100% g6e.xlarge tp1"]
        == [", ".join(f"{v:.0%} {k}" for k, v in r.to.items()) for r in m.routing]
    )
    assert m.deployment is not None  # what apply runs, at its own $/month beside the plan's
    deployed = next(x.value for x in at.markdown if x.value.startswith("As deployed"))
    assert render.usd(m.deployment.usd_per_month) in deployed and render.usd(m.usd_per_month) in deployed
    assert all(f"{g.min_replicas}–{g.max_replicas} x {g.option}" in deployed for g in m.deployment.groups)
    assert not identifiers_shown(at)


def test_the_llm_page_draws_traffic_against_the_capacity_the_plan_provisions(stored: Seeded) -> None:
    rec = stored[2]
    m = _chat(rec)
    at = open_page("llm", scenario=LLM_ONLY, model="chat")
    traffic, prices, levers, latency = plotly_figures(at)
    view = render.llm_replay(rec, "chat")
    assert view.matches_stored and view.overloaded_steps == 0
    by_axis: dict[str, dict[str, Any]] = {}
    for trace in traffic["data"]:
        by_axis.setdefault(trace["yaxis"], {})[trace["name"]] = trace
    assert sorted(by_axis) == ["y", "y2", "y3"]  # requests/s, input tokens/s, output tokens/s
    demand = np.array(values(by_axis["y"]["demand"], "y"))
    provisioned = np.array(values(by_axis["y"]["provisioned capacity"], "y"))
    assert demand.max() == pytest.approx(m.peak_rps) and provisioned.max() == pytest.approx(m.peak_rps)
    assert (provisioned + 1e-9 >= demand).all()
    levels = {round(m.peak_rps * k / m.levels, 9) for k in range(1, m.levels + 1)}
    assert {round(v, 9) for v in provisioned} <= levels
    tokens_in, tokens_out = render.mean_request_tokens(m)
    assert max(values(by_axis["y2"]["demand"], "y")) == pytest.approx(m.peak_rps * tokens_in)
    assert max(values(by_axis["y3"]["provisioned capacity"], "y")) == pytest.approx(m.peak_rps * tokens_out)
    # the replayed month carries the tokens the plan was priced for
    assert view.input_tokens_per_month == pytest.approx(m.input_tokens_per_month)
    assert values(prices["data"][0], "x") == pytest.approx(
        [m.tokens.usd_per_m_blended, *(b.usd_per_m_blended for b in m.baselines)]
    )
    fall = levers["data"][0]
    assert values(fall, "x")[1:3] == pytest.approx([-p.usd_per_month for p in m.savings_by_lever])
    hlines = {(s["yref"], s["y0"]) for s in latency["layout"]["shapes"] if s["y0"] == s["y1"]}
    assert hlines == {("y", m.slo_ttft_p99_ms), ("y2", m.slo_tpot_p99_ms)}  # the SLO lines: TTFT, TPOT
    vlines = {round(s["x0"], 9) for s in latency["layout"]["shapes"] if s["x0"] == s["x1"]}
    bucket = m.routing[0].bucket
    assert vlines == {
        round(g.capacity_rps_per_instance[bucket] / g.replicas_per_instance, 9) for g in m.groups
    }
    assert {t["name"] for t in latency["data"]} == {g.option for g in m.groups}
    page = " ".join(texts(at, "caption"))
    assert "diurnal-business-api" in page and f"of {m.levels} up to the peak" in page


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_pages_capacity_curve_is_the_optimisers(seed: int) -> None:
    """:func:`render.provisioned_rps` reads back, from the peak, levels and lead the document stores, the
    rate the optimiser's plan serves at every step (``plan_llm``'s curve), on noisy profiles."""
    rng = np.random.default_rng(seed)
    base = resolve_profile("diurnal-business-api", advisor.Settings())
    rps = base.rps * rng.uniform(0.5, 1.5, base.rps.size) * rng.uniform(0.5, 20)
    catalog = Catalog.load(advisor.Settings())
    itypes = [catalog.instance(n) for n in CHAT["instance_types"]]
    buckets = fixed_sizes(1000, 130)
    options = llm_options(
        preset("llama-3.1-8b"), WeightsDtype.BF16, itypes,
        lambda n: catalog.on_demand("us-east-1", n).usd_per_hour, buckets, 2000, 100,
    )  # fmt: skip
    plan = plan_llm(rps, base.step_s, buckets, options, levels=int(rng.integers(4, 16)))
    got = render.provisioned_rps(rps, base.step_s, plan.peak_rps, len(plan.levels), plan.lead_s)
    assert got == pytest.approx(plan.curve.served_rps)


def test_the_overview_total_includes_the_language_model(stored: Seeded) -> None:
    mixed = stored[3]
    m = _chat(mixed)
    t = mixed.totals
    classic = sum(x.effective_usd_per_month or 0.0 for x in mixed.models)
    assert t.recommended_usd_per_month == pytest.approx(classic + m.effective_usd_per_month)
    at = open_page("overview", scenario=MIXED)
    assert not at.error
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["Recommended ($/month)"] == render.usd(t.recommended_usd_per_month)
    assert metrics["Today ($/month)"] == render.usd(t.current_usd_per_month)
    models = at.dataframe[1].value
    assert list(models["model"]) == [x.model for x in mixed.models] + ["chat", "Total"]
    chat = models[models["model"] == "chat"].iloc[0]
    assert chat["plan_usd_per_month"] == pytest.approx(m.effective_usd_per_month)
    assert chat["today_usd_per_month"] == pytest.approx(m.current_usd_per_month)
    assert chat["page"] == f"/llm?scenario={MIXED}&model=chat"
    total = models.iloc[-1]
    assert total["plan_usd_per_month"] == pytest.approx(t.recommended_usd_per_month)
    assert total["today_usd_per_month"] == pytest.approx(t.current_usd_per_month)
    by_team = plotly_figures(at)[0]
    recommended = by_team["data"][1]
    teams = dict(zip(values(recommended, "x"), values(recommended, "y"), strict=True))
    assert teams["assistants"] == pytest.approx(m.effective_usd_per_month)
    assert f"{len(mixed.models) + 1} of {len(mixed.models) + 1} models" in " ".join(texts(at, "caption"))
    assert not identifiers_shown(at)


def test_history_totals_include_the_language_model(stored: Seeded) -> None:
    mixed = stored[3]
    at = open_page("history", scenario=MIXED)
    history = at.dataframe[0].value
    assert list(history["recommended_usd_per_month"]) == pytest.approx(
        [mixed.totals.recommended_usd_per_month]
    )
    assert list(history["current_usd_per_month"]) == pytest.approx([mixed.totals.current_usd_per_month])


VISITS: dict[str, dict[str, str]] = {
    "overview": {},
    "model": {"model": "fraud-scorer"},
    "llm": {"model": "chat"},
    "bench": {},
    "what-if": {},
    "history": {},
}


@pytest.mark.parametrize("scenario", [LLM_ONLY, "demo", MIXED])
@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_page_opens_with_language_models_alone_classic_alone_and_both(
    page: str, scenario: str, stored: Seeded
) -> None:
    at = open_page(page, scenario=scenario, **VISITS[page])
    assert not at.error, texts(at, "error")
    assert not identifiers_shown(at), identifiers_shown(at)
    hints = " ".join(texts(at, "info"))
    if page == "llm" and scenario == "demo":
        assert "No language model in the latest recommendation of demo" in hints
    if page == "model" and scenario == LLM_ONLY:
        assert "language models (chat): see the LLM model page" in hints
    if page == "llm" and scenario != "demo":
        assert {x.label for x in at.metric} >= {"$/M blended tokens", "$/month"}


def test_the_llm_page_keeps_the_stored_figures_when_the_scenario_file_is_gone(
    stored: Seeded, tmp_path: Path
) -> None:
    moved = tmp_path / "moved.yaml"
    shutil.copy(Path(stored[2].scenario_file or ""), moved)
    rec = advisor.recommend(moved)
    advisor.save(rec)
    moved.unlink()
    at = open_page("llm", scenario=LLM_ONLY, model="chat")
    errors = texts(at, "error")
    assert len(errors) == 1 and f"scenario file {moved} of recommendation {rec.id} not found" in errors[0]
    metrics = {x.label: x.value for x in at.metric}
    assert metrics["$/M blended tokens"] == render.per_m(_chat(rec).tokens.usd_per_m_blended)
    # prices, levers and the prior's latencies (a preset's: no scenario file needed); the traffic needs it
    assert len(plotly_figures(at)) == 3


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def test_an_llm_what_if_re_plans_through_the_library_and_stores_nothing(stored: Seeded) -> None:
    home, _, alone, _ = stored
    m = _chat(alone)
    before = recommendation_count(home)
    at = open_page("what-if", scenario=LLM_ONLY, model="chat")
    assert not at.error and at.number_input(key="ttft").value == m.slo_ttft_p99_ms
    at.number_input(key="llm_scale").set_value(4.0)
    at.button[0].click().run()
    assert not at.error and not at.exception, texts(at, "error")
    metrics = {x.label: x for x in at.metric}
    assert metrics["Stored plan ($/month)"].value == render.usd(m.usd_per_month)
    varied = _money(metrics["What-if ($/month)"].value)
    assert varied > 2 * m.usd_per_month  # four times the requests: more GPU instances at the peak
    assert metrics["What-if ($/month)"].delta.startswith("+")
    table = at.table[0].value
    assert table.loc["$/month", "stored"] == render.usd(m.usd_per_month)
    assert table.loc["$/month", "what-if"] == metrics["What-if ($/month)"].value
    assert table.loc["peak requests/s", "what-if"] == "24"
    assert recommendation_count(home) == before  # a what-if is not stored
    assert any("what-if" in h.value.lower() for h in at.subheader)
    # longer prompts on the same traffic cost more per request, less per token
    at.number_input(key="llm_scale").set_value(1.0)
    at.selectbox(key="llm_sizes").set_value("fixed sizes (below)")
    at.number_input(key="tokens_in").set_value(4000)
    at.button[0].click().run()
    table = at.table[0].value
    assert _money(table.loc["$/month", "what-if"]) > m.usd_per_month
    assert _money(table.loc["$/M input tokens", "what-if"]) < _money(table.loc["$/M input tokens", "stored"])
    assert not identifiers_shown(at)


def test_the_llm_what_if_knobs_vary_only_the_language_models_entry() -> None:
    """``vary_llm``, which the what-if page calls: the traffic's own scale (a peak, a monthly volume, or the
    stored peak where the entry names neither), the two SLO bounds, fixed sizes; bad knobs are errors."""
    scenario = advisor.Scenario.model_validate({"name": "s", "models": [{**CHAT, "traffic": {
        "profile": "diurnal-business-api", "monthly_requests": 1e6}}]})  # fmt: skip
    change = LLMWhatIf(traffic_scale=3, slo_tpot_p99_ms=50, input_tokens=4000, output_tokens=200)
    (spec,) = vary_llm(scenario, "chat", change, peak_rps=6).llm_models
    assert spec.traffic.monthly_requests == 3e6 and spec.traffic.peak_rps is None
    assert (spec.slo.ttft_p99_ms, spec.slo.tpot_p99_ms) == (2000, 50)
    assert (spec.tokens.input, spec.tokens.output, spec.tokens.trace) == (4000, 200, None)
    assert (
        spec.instance_types == tuple(CHAT["instance_types"])
        and spec.current == scenario.llm_models[0].current
    )
    bare = advisor.Scenario.model_validate({"name": "s", "models": [{**CHAT, "traffic": {
        "profile": "diurnal-business-api"}}]})  # fmt: skip
    (spec,) = vary_llm(bare, "chat", LLMWhatIf(traffic_scale=2), peak_rps=6).llm_models
    assert spec.traffic.peak_rps == 12
    assert change.describe("chat") == (
        "chat traffic ×3; chat p99 TPOT ≤ 50 ms; chat requests of 4000 input and 200 output tokens"
    )
    with pytest.raises(advisor.NotFoundError, match="chat"):
        vary_llm(scenario, "chta", change, peak_rps=6)
    with pytest.raises(ValidationError, match="both input_tokens and output_tokens"):
        LLMWhatIf(input_tokens=10)
