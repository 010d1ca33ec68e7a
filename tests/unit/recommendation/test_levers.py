"""Savings by lever on the demo: the parts sum to the saving against today, to the cent, per model and for
the fleet, and each step's figure is reproduced by replaying the step's stored plan (issue 25, item 1)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from advisor import Recommendation, Settings, render
from advisor.cost import resolve_prices
from advisor.cost.simulate import simulate
from advisor.optimize.recommend import recommend
from advisor.pricing.catalog import Catalog
from advisor.recommendation.levers import IN_TOTAL, Lever, LeverSaving, fleet_levers, total_saving
from advisor.recommendation.model import Action
from advisor.render.email import render_report
from advisor.render.report import build_report
from advisor.scenario import ReportsConfig, load_scenario
from advisor.traffic.profile import HOURS_PER_MONTH
from advisor.traffic.scenario import load_model_profile
from tests.helpers import REPO_ROOT
from tests.optimize_helpers import model, scenario

CENT = 0.005


@pytest.fixture(scope="module")
def rec(golden_demo: Recommendation) -> Recommendation:
    return golden_demo


def test_each_models_levers_sum_to_its_saving_against_today(rec: Recommendation) -> None:
    checked = 0
    for m in rec.models:
        if m.action not in (Action.CHANGE, Action.NEW) or m.current is None:
            assert m.savings_by_lever == [], m.model
            continue
        assert [p.lever for p in m.savings_by_lever] == list(IN_TOTAL), m.model
        assert m.current.usd_per_month is not None and m.effective_usd_per_month is not None
        saving = m.current.usd_per_month - m.effective_usd_per_month
        assert abs(total_saving(m.savings_by_lever) - saving) < CENT, m.model
        # The waterfall: each level is the one before less the lever, ending at the effective cost.
        level = m.current.usd_per_month
        for part in m.savings_by_lever:
            level -= part.usd_per_month
            assert abs(part.usd_per_month_after - level) < CENT, (m.model, part.lever)
        assert abs(level - m.effective_usd_per_month) < CENT, m.model
        checked += 1
    assert checked == 4  # every demo model changes from what runs today


def test_the_fleets_levers_are_the_models_summed_and_make_up_the_total(rec: Recommendation) -> None:
    t = rec.totals
    assert t.current_usd_per_month is not None and t.recommended_for_current_models_usd_per_month is not None
    levers = t.savings_by_lever
    assert [p.lever for p in levers] == [*IN_TOTAL, Lever.COMMITMENT]
    assert (
        abs(total_saving(levers) - (t.current_usd_per_month - t.recommended_for_current_models_usd_per_month))
        < CENT
    )
    for part in levers[:-1]:
        per_model = sum(
            p.usd_per_month for m in rec.models for p in m.savings_by_lever if p.lever is part.lever
        )
        assert abs(part.usd_per_month - per_model) < CENT, part.lever
    commitment = levers[-1]
    assert rec.commitment is not None and not commitment.in_total
    assert commitment.usd_per_month == pytest.approx(rec.commitment.savings_usd_per_month)
    # The demo's levers are not all in one place: at least three carry a saving.
    assert sum(1 for p in levers if p.in_total and p.usd_per_month > 1.0) >= 3


def test_each_step_is_its_stored_plan_replayed(rec: Recommendation) -> None:
    path = REPO_ROOT / "examples" / "demo-scenario.yaml"
    scenario = load_scenario(path)
    settings = Settings()
    catalog = Catalog.load(settings)
    seed = rec.provenance.seed
    replayed = 0
    for i, spec in enumerate(scenario.models):
        m = rec.model(spec.name)
        assert m.current is not None and m.cost is not None and m.plan is not None
        profile = load_model_profile(spec, settings, path.parent, f"models.{i}")
        before = m.current.usd_per_month
        assert before is not None
        for part in m.savings_by_lever:
            if part.lever is Lever.SPOT:  # its step's plan is the recommended plan
                assert part.plan is None
                after = simulate(m.plan.plan, profile, resolve_prices(m.plan.plan, catalog), seed=seed)
                assert after.usd_per_month == pytest.approx(m.cost.usd_per_month, rel=1e-9)
                assert part.usd_per_month == pytest.approx(before - m.cost.usd_per_month, abs=CENT)
                before = m.cost.usd_per_month
            elif part.lever is Lever.INSTANCE_SHARING:
                assert part.plan is None
                assert part.usd_per_month == pytest.approx(m.pooling_savings_usd_per_month, abs=CENT)
            else:
                assert part.plan is not None and not part.plan.purchase.uses_spot, (m.model, part.lever)
                got = simulate(part.plan, profile, resolve_prices(part.plan, catalog), seed=seed)
                assert part.usd_per_month == pytest.approx(before - got.usd_per_month, abs=CENT), (
                    m.model,
                    part.lever,
                )
                before = got.usd_per_month
                replayed += 1
    assert replayed == 3 * 4


def test_the_steps_change_one_thing_at_a_time(rec: Recommendation) -> None:
    for m in rec.models:
        assert m.plan is not None
        plan = m.plan.plan
        steps = {p.lever: p.plan for p in m.savings_by_lever}
        static, scaled, shared = (steps[lv] for lv in list(IN_TOTAL)[:3])
        assert static is not None and scaled is not None and shared is not None
        assert static.platform is plan.platform and static.shape == plan.shape
        assert static.autoscaling.min_replicas == static.autoscaling.max_replicas
        assert scaled.autoscaling == plan.autoscaling and scaled.load_balancer == static.load_balancer
        assert shared.autoscaling == plan.autoscaling and shared.load_balancer == plan.effective_load_balancer
        assert shared.purchase.spot_pct_above_base == 0


def test_fleet_levers_without_a_current_cost_are_empty() -> None:
    part = LeverSaving(lever=Lever.SPOT, usd_per_month=5.0, usd_per_month_after=1.0)
    assert fleet_levers([[part]], None) == []
    got = fleet_levers([[part], [part]], 20.0)
    assert [p.usd_per_month for p in got if p.lever is Lever.SPOT] == [10.0]
    assert got[-1].usd_per_month_after == 10.0


def test_a_model_with_its_own_balancer_today_saves_by_sharing_the_scenarios(tmp_path: Path) -> None:
    """Today on its own ALB (``current.load_balancer: own``), recommended behind the shared one: the third
    lever is the balancer hours it no longer pays alone; the same model sharing today saves nothing there."""
    settings = Settings(home=tmp_path / "home")
    catalog = Catalog.load(settings)
    today = {"platform": "ec2", "instance_type": "m5.2xlarge", "count": 3}
    got = {}
    for how in ("own", "shared"):
        sc = scenario(
            model("a", current={**today, "load_balancer": how}),
            model("b", current=today),
            load_balancer={"kind": "application", "shared": True},
        )
        rec = recommend(sc, catalog, settings)
        got[how] = {p.lever: p.usd_per_month for p in rec.model("a").savings_by_lever}
        assert rec.model("a").plan is not None
        assert rec.model("a").plan.plan.effective_load_balancer.shared_by == 2  # type: ignore[union-attr]
    assert got["shared"][Lever.LOAD_BALANCER_SHARING] == pytest.approx(0.0, abs=1e-9)
    # An ALB is billed per hour whether or not it is shared: alone the model pays all of it, shared half.
    alb_usd_per_month = catalog.load_balancer("us-east-1").usd_per_hour * HOURS_PER_MONTH
    assert got["own"][Lever.LOAD_BALANCER_SHARING] == pytest.approx(alb_usd_per_month / 2, rel=1e-6)
    # The rest of the way is the same plan: the other levers do not move.
    for lever in (Lever.AUTOSCALING, Lever.SPOT):
        assert got["own"][lever] == pytest.approx(got["shared"][lever], abs=0.005)


def test_the_demos_cli_markdown_and_team_report_show_the_stored_levers(rec: Recommendation) -> None:
    """(The dashboard's waterfall on the demo: tests/integration/test_dashboard.py.)"""
    figures = {render.LEVER_LABELS[p.lever]: render.lever_amount(p) for p in rec.totals.savings_by_lever}
    cli = render.render(rec, "table", render.RenderOptions(width=200))
    md = render.render(rec, "markdown")
    for label, amount in figures.items():
        assert re.search(rf"^\s+{re.escape(label)}\s+{re.escape(amount)}/month", cli, re.M), label
        assert f"| {label} | {amount} |" in md
    period = (dt.datetime(2026, 11, 23, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    content = build_report(rec, "search", ReportsConfig(), previous=None, applied=[], period=period)
    search = [m for m in rec.models if m.team == "search"]
    text = render_report(content).text
    for p in content.levers:
        want = sum(q.usd_per_month for m in search for q in m.savings_by_lever if q.lever is p.lever)
        assert p.usd_per_month == pytest.approx(want, abs=CENT)
        assert f"- {render.LEVER_LABELS[p.lever]}: {render.lever_amount(p)}/month" in text
    assert total_saving(content.levers) == pytest.approx(
        sum((m.current.usd_per_month or 0) - (m.effective_usd_per_month or 0) for m in search if m.current),
        abs=CENT,
    )
