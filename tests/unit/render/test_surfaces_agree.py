"""Every surface shows the stored document's cost figures, to the cent: the CLI table, the markdown, a team
report and the dashboard's overview, on a recommendation where one model is held back by the churn guard
(it costs what runs today) and two share a node pool (each costs its plan less its pooling share).

The scenario: ``a`` (3 vCPU replicas, one per c6i.xlarge) and ``b`` (0.7 vCPU replicas) fill each other's
gaps on shared c6i nodes; ``c`` would save about $1,059/month but the scenario asks $1,100 for a change,
so it is kept as it runs (an m5.2xlarge fleet at $1,134.51/month).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

import advisor
from advisor import render
from advisor.recommendation import Action, Lever, LeverSaving, Recommendation
from advisor.render import RenderOptions
from advisor.render.email import render_report
from advisor.render.report import build_report
from advisor.scenario import ReportsConfig
from tests.dashboard_helpers import open_page, plotly_figures, values
from tests.optimize_helpers import model, scenario_dict, write_scenario

PERIOD = (dt.datetime(2026, 11, 23, tzinfo=dt.UTC), dt.datetime(2026, 11, 30, tzinfo=dt.UTC))


def _model(
    name: str, team: str, vcpu: float, mem: float, rps: float, shape: str, today: dict[str, Any]
) -> Any:
    return model(
        name, team=team, resources={"vcpu": vcpu, "memory_gib": mem},
        traffic={"profile": "flat", "peak_rps": rps}, capacities_rps={shape: 100},
        deploy={"kubernetes": {"namespace": team, "deployment": name}}, current={"platform": "ec2", **today},
    )  # fmt: skip


def held_and_pooled_scenario(path: Path) -> Path:
    return write_scenario(
        path,
        scenario_dict(
            _model("a", "risk", 3, 6, 500, "c6i.xlarge", {"instance_type": "m5.4xlarge", "count": 10}),
            _model("b", "growth", 0.7, 1, 500, "c6i.large", {"instance_type": "m5.4xlarge", "count": 5}),
            _model("c", "growth", 0.6, 1, 90, "c6i.large", {"instance_type": "m5.2xlarge", "count": 4}),
            name="surfaces",
            platforms=["ec2"],
            candidates={"families": ["c6i"], "max_size_vcpu": 8},
            min_replicas=2,
            churn_min_savings_usd_per_month=1100,
            reports={"schedule": {"cron": "0 8 * * MON"}},
        ),
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recommendation]:
    """(ADVISOR_HOME, the stored recommendation as a surface reads it back)."""
    root = tmp_path_factory.mktemp("surfaces")
    settings = advisor.Settings(home=root / "home")
    made = advisor.recommend(held_and_pooled_scenario(root / "surfaces.yaml"), settings=settings)
    advisor.save(made, settings)
    return settings.home, advisor.stored_recommendation(made.id, settings=settings)


def _effective(rec: Recommendation) -> dict[str, float]:
    out = {m.model: m.effective_usd_per_month for m in rec.models}
    assert all(v is not None for v in out.values()), out
    return {k: v for k, v in out.items() if v is not None}


def test_the_document_holds_one_held_back_and_two_pooled_models(stored: tuple[Path, Recommendation]) -> None:
    rec = stored[1]
    by = {m.model: m for m in rec.models}
    assert by["c"].action is Action.KEEP_CURRENT and by["c"].current is not None
    assert by["c"].cost is not None and by["c"].cost.usd_per_month < (by["c"].current.usd_per_month or 0)
    assert by["c"].effective_usd_per_month == by["c"].current.usd_per_month  # today's cost, not the plan's
    for name in ("a", "b"):
        m = by[name]
        assert m.action is Action.CHANGE and m.pooling_savings_usd_per_month > 0 and m.cost is not None
        assert m.effective_usd_per_month == pytest.approx(
            m.cost.usd_per_month - m.pooling_savings_usd_per_month
        )
    assert sum(_effective(rec).values()) == pytest.approx(rec.totals.recommended_usd_per_month, abs=0.005)


def _cells(text: str, row: str) -> list[str]:
    """The $ figures of the rows of ``text`` whose first cell is ``row`` (rich or markdown tables)."""
    found = [line for line in text.splitlines() if re.match(rf"^\W*{re.escape(row)}\W*[│|]", line)]
    return [cell for line in found for cell in re.findall(r"\$[\d,]+\.\d\d", line)]


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_the_cli_table_and_the_markdown_show_the_stored_effective_costs(
    stored: tuple[Path, Recommendation], fmt: str
) -> None:
    rec = stored[1]
    text = render.render(rec, fmt, RenderOptions(width=250)).split("## Savings by lever")[0]
    for name, usd in _effective(rec).items():
        # the savings table's "recommended" column is the row's last dollar figure
        assert _cells(text, name)[-1] == render.usd(usd), (name, _cells(text, name))
    total = [c for line in text.splitlines() if "total" in line for c in re.findall(r"\$[\d,]+\.\d\d", line)]
    assert render.usd(rec.totals.recommended_usd_per_month) in total
    assert f"for {render.usd(rec.totals.recommended_usd_per_month)}/month" in text


@pytest.mark.parametrize("team", ["risk", "growth", "fleet"])
def test_a_team_report_shows_the_stored_effective_costs(
    stored: tuple[Path, Recommendation], team: str
) -> None:
    rec = stored[1]
    content = build_report(rec, team, ReportsConfig(), previous=None, applied=[], period=PERIOD)
    mine = {m.model: m.effective_usd_per_month for m in rec.models if team == "fleet" or m.team == team}
    assert {line.model: line.recommended_usd for line in content.models} == mine
    assert content.projected_usd == pytest.approx(sum(v or 0.0 for v in mine.values()), abs=0.005)
    text = render_report(content).text
    assert f"Projected (recommended): {render.usd(content.projected_usd)}/month" in text
    for name, usd in mine.items():
        assert re.search(rf"- {name} \(.*\): today \$[\d,.]+, projected {re.escape(render.usd(usd))};", text)
    held = [line for line in content.models if line.model == "c"]
    assert all(line.saving_usd == 0 for line in held)  # nothing saved by a change that is not made
    if team == "fleet":
        assert content.projected_usd == pytest.approx(rec.totals.recommended_usd_per_month, abs=0.005)


def test_the_dashboard_overview_shows_the_stored_effective_costs(
    stored: tuple[Path, Recommendation], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, rec = stored
    monkeypatch.setenv("ADVISOR_HOME", str(home))
    at = open_page("overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Recommended ($/month)"] == render.usd(rec.totals.recommended_usd_per_month)
    _baselines, models = (d.value for d in at.dataframe)
    shown = dict(zip(models["model"], models["plan_usd_per_month"], strict=True))
    # each model's row is its own plan (effective cost + its pooling share); the shares are their own line
    own = {m.model: (m.effective_usd_per_month or 0.0) + m.pooling_savings_usd_per_month for m in rec.models}
    pooled = sum(m.pooling_savings_usd_per_month for m in rec.models)
    assert pooled > 0
    assert {k: render.usd(v) for k, v in shown.items()} == {
        **{k: render.usd(v) for k, v in own.items()},
        "Shared node pools (the models' shares)": render.usd(-pooled),
        "Total": render.usd(rec.totals.recommended_usd_per_month),
    }
    caption = " ".join(str(c.value) for c in at.caption)
    assert f"their recommended total {render.usd(rec.totals.recommended_usd_per_month)}/month" in caption
    headline = " ".join(str(m.value) for m in at.markdown)
    assert f"for {render.usd(rec.totals.recommended_usd_per_month)}/month" in headline


def _lever_figures(levers: list[LeverSaving]) -> dict[str, str]:
    return {render.LEVER_LABELS[p.lever]: render.lever_amount(p) for p in levers}


def test_every_surface_shows_the_stored_savings_by_lever(
    stored: tuple[Path, Recommendation], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, rec = stored
    fleet = rec.totals.savings_by_lever
    assert {p.lever for p in fleet if p.usd_per_month > 1.0} >= {Lever.INSTANCE_TYPE, Lever.INSTANCE_SHARING}
    # the CLI: one line per lever, as stored
    text = render.render(rec, "table", RenderOptions(width=250))
    for label, amount in _lever_figures(fleet).items():
        assert re.search(rf"^\s+{re.escape(label)}\s+{re.escape(amount)}/month", text, re.M), label
    # the markdown: the fleet's levers and each model's row
    md = render.render(rec, "markdown").split("## Savings by lever")[1].split("\n## ")[0]
    for label, amount in _lever_figures(fleet).items():
        assert f"| {label} | {amount} |" in md
    for m in rec.models:
        row = next((line for line in md.splitlines() if line.startswith(f"| {m.model} | ")), None)
        if not m.savings_by_lever:  # held back: no saving to split, no row
            assert m.action is Action.KEEP_CURRENT and row is None
            continue
        assert row is not None and all(v in row for v in _lever_figures(m.savings_by_lever).values()), row
    # a team report: its models' levers summed; the fleet's as stored
    for team in ("risk", "fleet"):
        content = build_report(rec, team, ReportsConfig(), previous=None, applied=[], period=PERIOD)
        mine = [m for m in rec.models if team == "fleet" or m.team == team]
        for p in content.levers:
            want = sum(q.usd_per_month for m in mine for q in m.savings_by_lever if q.lever is p.lever)
            if p.in_total:
                assert p.usd_per_month == pytest.approx(want, abs=0.005), (team, p.lever)
        report = render_report(content).text
        for label, amount in _lever_figures(content.levers).items():
            assert f"- {label}: {amount}/month" in report
    # the dashboard's waterfall
    monkeypatch.setenv("ADVISOR_HOME", str(home))
    at = open_page("overview")
    figures = plotly_figures(at)
    by_team = figures[0]["data"][1]  # the recommended bars: what each team pays, pooling share taken off
    assert sum(values(by_team, "y")) == pytest.approx(rec.totals.recommended_usd_per_month, abs=0.01)
    fall = next(f["data"][0] for f in figures if f["data"][0]["type"] == "waterfall")
    in_total = [p for p in fleet if p.in_total]
    assert values(fall, "x")[1 : 1 + len(in_total)] == pytest.approx([-p.usd_per_month for p in in_total])
