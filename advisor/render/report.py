"""What a cost report says, per team and for the fleet, from a stored recommendation and the one the
previous report was made from.

Figures. The **projected cost** of a team is the sum of its models' effective costs as the recommendation
stores them (``effective_usd_per_month``: a changed model's plan less its pooling share, a held-back model
at today's cost), so that a team's figures add up to the fleet's totals; **today** is what its current
deployments cost at the same traffic. The change against the previous report is explained per
model: traffic (requests per month), the plan (platform, shape, bounds, purchase mix) and prices (the
sources behind the model's cost). The **top actions** are the three largest monthly savings among the
team's changes, each with its SLO risk. Alerts: a spend change of at least ``alerts.spend_change_pct``
against the previous report, the highest budget threshold the projected cost reaches, and a language model
whose $/M blended tokens rose by ``alerts.usd_per_m_tokens_rise_pct`` or more. Language models are lines
like the others (their mix and $/M tokens as the plan), in every sum. **Where the
saving comes from**: the saving against today by lever, the fleet's as the document stores them, a team's
its models' summed (:func:`advisor.recommendation.levers.fleet_levers`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from advisor.recommendation.levers import LeverSaving, fleet_levers
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import ModelRecommendation, Recommendation
from advisor.render.llm import mix_words
from advisor.render.numbers import usd
from advisor.scenario.reports import FLEET, ReportsConfig

TOP_ACTIONS = 3


@dataclass(frozen=True)
class ModelLine:
    model: str
    team: str
    action: str
    plan: str
    today_usd: float | None
    recommended_usd: float | None
    saving_usd: float | None
    minutes_over_slo_per_month: float | None
    within_slo_budget: bool | None
    link: str | None = None


@dataclass(frozen=True)
class Change:
    model: str
    previous_usd: float | None
    current_usd: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Alert:
    kind: str  # spend_change | budget | usd_per_m_tokens
    message: str


@dataclass(frozen=True)
class ReportContent:
    """One report: a team's (or the fleet's, ``team == "fleet"``) figures for one period."""

    scenario: str
    team: str
    period_start: dt.datetime
    period_end: dt.datetime
    recommendation_id: str
    models: list[ModelLine]
    projected_usd: float
    today_usd: float | None
    baselines_usd: dict[str, float]
    previous_usd: float | None
    previous_recommendation_id: str | None
    changes: list[Change]
    top_actions: list[ModelLine]
    slo_risks: list[ModelLine]
    warnings: list[str]
    applied: list[dict[str, Any]]
    alerts: list[Alert]
    budget_usd: float | None
    link: str | None
    prices_as_of: str
    teams: list[tuple[str, float, float | None]] = field(default_factory=list)  # fleet: (team, usd, today)
    levers: list[LeverSaving] = field(default_factory=list)  # the saving against today by lever

    @property
    def delta_usd(self) -> float | None:
        return None if self.previous_usd is None else self.projected_usd - self.previous_usd

    @property
    def delta_pct(self) -> float | None:
        if self.previous_usd is None or self.previous_usd <= 0:
            return None
        return 100.0 * (self.projected_usd - self.previous_usd) / self.previous_usd

    @property
    def title(self) -> str:
        who = "Fleet summary" if self.team == FLEET else f"Team {self.team}"
        return f"{who} · {self.scenario}"


def _plan_text(m: ModelRecommendation) -> str:
    p = m.plan
    if p is None:
        return m.reason or m.action.value
    purchase = (
        "on-demand"
        if p.spot_pct_above_base <= 0
        else f"{p.on_demand_base_nodes} OD + {p.spot_pct_above_base:g}% spot"
    )
    return f"{p.platform.value} {p.shape} ×{p.replicas_min}–{p.replicas_max}, {purchase}"


def _link(config: ReportsConfig, page: str, **query: str) -> str | None:
    if config.dashboard_url is None:
        return None
    return f"{str(config.dashboard_url).rstrip('/')}/{page}?{urlencode(query)}"


def model_line(m: ModelRecommendation, rec: Recommendation, config: ReportsConfig) -> ModelLine:
    today = m.current.usd_per_month if m.current is not None else None
    cost = m.effective_usd_per_month
    risk = m.slo_risk
    return ModelLine(
        model=m.model,
        team=m.team,
        action=m.action.value,
        plan=_plan_text(m),
        today_usd=today,
        recommended_usd=cost,
        saving_usd=None if today is None or cost is None else today - cost,
        minutes_over_slo_per_month=risk.minutes_over_slo_per_month if risk else None,
        within_slo_budget=risk.within_budget if risk else None,
        link=_link(config, "model", scenario=rec.scenario, model=m.model),
    )


def explain(previous: ModelRecommendation | None, current: ModelRecommendation) -> tuple[str, ...]:
    """Why a model's cost moved since the previous report: traffic, plan, prices."""
    if previous is None:
        return ("new in this report",)
    reasons = []
    if previous.cost is not None and current.cost is not None:
        before, after = previous.cost.requests_per_month, current.cost.requests_per_month
        if before > 0 and abs(after / before - 1) >= 0.01:
            reasons.append(
                f"traffic {100 * (after / before - 1):+.0f}% ({before / 1e6:,.1f}M → {after / 1e6:,.1f}M"
                " requests/month)"
            )
        gone = sorted(set(previous.cost.price_sources) - set(current.cost.price_sources))
        if gone:
            reasons.append(f"prices: {len(gone)} source(s) changed ({'; '.join(current.cost.price_sources)})")
    if _plan_text(previous) != _plan_text(current):
        reasons.append(f"plan: {_plan_text(previous)} → {_plan_text(current)}")
    return tuple(reasons) or ("no change in traffic, plan or prices",)


def _alerts(
    content_usd: float,
    previous: float | None,
    budget: float | None,
    thresholds: tuple[float, ...],
    config: ReportsConfig,
    who: str,
) -> list[Alert]:
    alerts = []
    rule = config.alerts.spend_change_pct
    if rule is not None and previous is not None and previous > 0:
        change = 100.0 * (content_usd - previous) / previous
        if abs(change) >= rule:
            alerts.append(
                Alert(
                    "spend_change",
                    f"{who}: projected cost {change:+.1f}% since the last report "
                    f"({usd(previous)} → {usd(content_usd)}/month; rule: ±{rule:g}%)",
                )
            )
    if budget is not None:
        reached = [t for t in thresholds if content_usd >= budget * t / 100.0]
        if reached:
            alerts.append(
                Alert(
                    "budget",
                    f"{who}: projected {usd(content_usd)}/month is "
                    f"{100 * content_usd / budget:.0f}% of the {usd(budget)} budget "
                    f"(threshold {max(reached):g}% reached)",
                )
            )
    return alerts


def token_alerts(
    models: list[LLMModelRecommendation], before: dict[str, LLMModelRecommendation], config: ReportsConfig
) -> list[Alert]:
    """A language model whose $/M blended tokens rose by ``alerts.usd_per_m_tokens_rise_pct`` or more since
    the last report."""
    rule = config.alerts.usd_per_m_tokens_rise_pct
    out = []
    for m in models:
        prev = before.get(m.model)
        was = prev.tokens.usd_per_m_blended if prev is not None else None
        now = m.tokens.usd_per_m_blended
        if rule is None or was is None or now is None or was <= 0:
            continue
        rise = 100.0 * (now - was) / was
        if rise >= rule:
            text = (
                f"{m.model}: $/M blended tokens {rise:+.1f}% since the last report (${was:,.3f} → ${now:,.3f}"
            )
            out.append(Alert("usd_per_m_tokens", f"{text}; rule: +{rule:g}%)"))
    return out


def _warnings(rec: Recommendation, models: list[str]) -> list[str]:
    """The document's warnings that concern ``models`` or no model in particular."""
    others = [m.model for m in rec.models if m.model not in models]
    mine = [w for w in rec.warnings if any(m in w for m in models) or not any(o in w for o in others)]
    return mine


def build_report(
    rec: Recommendation,
    team: str,
    config: ReportsConfig,
    *,
    previous: Recommendation | None,
    applied: list[dict[str, Any]],
    period: tuple[dt.datetime, dt.datetime],
) -> ReportContent:
    """The report of ``team`` (or ``"fleet"``) from ``rec``, compared with ``previous`` (None: first)."""
    chosen = [m for m in rec.models if team == FLEET or m.team == team]
    chosen_llm = [m for m in rec.llm_models if team == FLEET or m.team == team]
    lines = [model_line(m, rec, config) for m in chosen] + [llm_line(m) for m in chosen_llm]
    projected = sum(line.recommended_usd or 0.0 for line in lines)
    today = (
        sum(line.today_usd for line in lines if line.today_usd is not None)
        if any(line.today_usd is not None for line in lines)
        else None
    )
    before = {m.model: m for m in previous.models} if previous is not None else {}
    prev_models = [m for m in before.values() if team == FLEET or m.team == team]
    before_llm = {m.model: m for m in previous.llm_models} if previous is not None else {}
    prev_llm = [m for m in before_llm.values() if team == FLEET or m.team == team]
    previous_usd = (
        sum(m.effective_usd_per_month or 0.0 for m in prev_models)
        + sum(m.effective_usd_per_month for m in prev_llm)
        if previous is not None
        else None
    )
    changes = [
        Change(
            m.model,
            before[m.model].effective_usd_per_month if m.model in before else None,
            m.effective_usd_per_month,
            explain(before.get(m.model), m),
        )
        for m in chosen
    ] + [llm_change(before_llm.get(m.model), m) for m in chosen_llm]
    baselines: dict[str, float] = {}
    for name in {b.name for m in chosen for b in m.baselines}:
        values = [next((b.usd_per_month for b in m.baselines if b.name == name), None) for m in chosen]
        if values and all(v is not None for v in values):
            baselines[name] = float(sum(v for v in values if v is not None))
    actions = sorted(
        (x for x in lines if x.action == "change" and (x.saving_usd or 0) > 0),
        key=lambda x: -(x.saving_usd or 0.0),
    )[:TOP_ACTIONS]
    team_cfg = config.teams.get(team)
    budget = team_cfg.budget_usd_per_month if team_cfg is not None else None
    thresholds = team_cfg.budget_thresholds_pct if team_cfg is not None else ()
    who = "fleet" if team == FLEET else f"team {team}"
    teams = sorted({m.team for m in rec.models} | {m.team for m in rec.llm_models})
    return ReportContent(
        scenario=rec.scenario,
        team=team,
        period_start=period[0],
        period_end=period[1],
        recommendation_id=rec.id,
        models=lines,
        projected_usd=projected,
        today_usd=today,
        baselines_usd=dict(sorted(baselines.items())),
        previous_usd=previous_usd,
        previous_recommendation_id=previous.id if previous is not None else None,
        changes=changes,
        top_actions=actions,
        slo_risks=[x for x in lines if x.within_slo_budget is False],
        warnings=_warnings(rec, [m.model for m in chosen]),
        applied=applied,
        alerts=_alerts(projected, previous_usd, budget, thresholds, config, who)
        + token_alerts(chosen_llm, before_llm, config),
        budget_usd=budget,
        link=_link(config, "overview", scenario=rec.scenario),
        prices_as_of=f"{rec.provenance.prices_as_of_oldest}–{rec.provenance.prices_as_of_newest}",
        teams=[
            (
                t,
                sum(m.effective_usd_per_month or 0.0 for m in rec.models if m.team == t)
                + sum(m.effective_usd_per_month for m in rec.llm_models if m.team == t),
                _sum_or_none(
                    [m.current.usd_per_month if m.current else None for m in rec.models if m.team == t]
                    + [m.current_usd_per_month for m in rec.llm_models if m.team == t]
                ),
            )
            for t in teams
        ]
        if team == FLEET
        else [],
        levers=_levers(rec, chosen, chosen_llm, today, team),
    )


def _levers(
    rec: Recommendation,
    chosen: list[ModelRecommendation],
    chosen_llm: list[LLMModelRecommendation],
    today: float | None,
    team: str,
) -> list[LeverSaving]:
    """The fleet's levers as the document stores them; a team's, its models' summed by the same rule."""
    if team == FLEET:
        return list(rec.totals.savings_by_lever)
    with_today = [
        m.savings_by_lever for m in chosen if m.current is not None and m.current.usd_per_month is not None
    ]
    with_today += [m.savings_by_lever for m in chosen_llm if m.current_usd_per_month is not None]
    return fleet_levers(with_today, today if with_today else None)


def llm_line(m: LLMModelRecommendation) -> ModelLine:
    """A language model's line: its mix over the day and $/M tokens as the plan."""
    today = m.current_usd_per_month
    blended = m.tokens.usd_per_m_blended
    per_m = f"; ${blended:,.3f}/M tokens" if blended is not None else ""
    return ModelLine(
        model=m.model,
        team=m.team,
        action=m.action,
        plan=f"{m.platform} {mix_words(m)}{per_m}",
        today_usd=today,
        recommended_usd=m.effective_usd_per_month,
        saving_usd=None if today is None else today - m.effective_usd_per_month,
        minutes_over_slo_per_month=None,
        within_slo_budget=None,
    )


def llm_change(previous: LLMModelRecommendation | None, current: LLMModelRecommendation) -> Change:
    """Why a language model's cost moved: new, or its $/M blended tokens and tokens a month before and now."""
    if previous is None:
        reasons: tuple[str, ...] = ("new in this report",)
    else:
        before, after = previous.tokens.usd_per_m_blended, current.tokens.usd_per_m_blended
        tokens = (previous.input_tokens_per_month + previous.output_tokens_per_month) / 1e6
        now = (current.input_tokens_per_month + current.output_tokens_per_month) / 1e6
        reasons = (
            f"$/M blended tokens {before or 0:,.3f} → {after or 0:,.3f};"
            f" {tokens:,.0f}M → {now:,.0f}M tokens/month",
        )
    return Change(
        current.model,
        previous.effective_usd_per_month if previous else None,
        current.effective_usd_per_month,
        reasons,
    )


def _sum_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(sum(known)) if known else None
