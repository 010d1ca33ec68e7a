"""The document's words, written from its numbers: the headline (``summary``), each model's
``platform_choice`` and its churn decision (``churn.note``, and ``reason`` when the change is held back).

The optimiser stores numbers and enums; :func:`with_words` fills these text fields from them when the
front door (``advisor.recommend``) returns a document, so that JSON readers get the sentences every surface
prints, written once, by the renderers.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping

from advisor.domain import Platform
from advisor.recommendation.model import (
    Action,
    ChurnCheck,
    ChurnRule,
    ModelRecommendation,
    PlatformCost,
    Recommendation,
)
from advisor.render.headline import headline
from advisor.render.numbers import usd

# An identifier or a path someone types (a scenario key, a field path, a file): shown as code, never as words.
_IDENTIFIER = re.compile(r"(?<![`\w./-])([\w./-]*[A-Za-z0-9]_[\w./-]*[\w/])(?![`\w])")


def code_spans(text: str) -> str:
    """``text`` for markdown, its identifiers and paths as code (``bench_shapes`` → `` `bench_shapes` ``), so
    that a page's words are words and what a user types is set apart as such; code already marked stays."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else _IDENTIFIER.sub(r"`\1`", p) for p in parts)


def html_code_spans(text: str) -> str:
    """``text`` escaped for HTML, its identifiers and paths (and markdown code) as ``<code>``."""
    parts = re.split(r"`([^`]*)`", text)  # odd items were marked as code
    out = []
    for i, part in enumerate(parts):
        escaped = html.escape(part, quote=False)
        out.append(f"<code>{escaped}</code>" if i % 2 else _IDENTIFIER.sub(r"<code>\1</code>", escaped))
    return "".join(out)


# Cost components as a platform comparison names them ($/month).
_COMPONENT_GROUPS = (
    ("compute", ("compute_on_demand", "compute_spot", "spot_interruptions")),
    ("load balancer", ("load_balancer_hours", "load_balancer_capacity_units")),
    ("data processing", ("data_processing",)),
)


COMPONENT_LABELS = {
    "compute_on_demand": "On-demand instances",
    "compute_spot": "Spot instances",
    "spot_interruptions": "Spot interruptions",
    "load_balancer_hours": "Load balancer hours",
    "load_balancer_capacity_units": "Load balancer capacity units",
    "data_processing": "Data processing (SageMaker)",
}


def component_label(key: str) -> str:
    """A cost component in words (``compute_on_demand`` → "On-demand instances")."""
    return COMPONENT_LABELS.get(key, key.replace("_", " ").capitalize())


def component_text(by_component: Mapping[str, float], platform: Platform) -> str:
    """``instances $143.20 + data processing $9.31`` (compute is "instances" on SageMaker, "tasks" on
    Fargate); components that cost nothing are left out."""
    parts = []
    for label, keys in _COMPONENT_GROUPS:
        value = sum(by_component.get(k, 0.0) for k in keys)
        if value <= 0 and label != "compute":
            continue
        if label == "compute":
            label = {Platform.SAGEMAKER: "instances", Platform.FARGATE: "tasks"}.get(platform, "nodes")
        parts.append(f"{label} {usd(value)}")
    return " + ".join(parts)


def _platform_line(c: PlatformCost) -> str:
    slo = "" if c.within_budget else f", {c.minutes_over_slo_pct:.2f}% of minutes over the SLO"
    premium = ""
    if c.instance_premium_vs_ec2 is not None:
        how = "estimated from the median premium" if c.premium_estimated else "list price"
        premium = f"; instance at {c.instance_premium_vs_ec2:.2f}x EC2, {how}"
    return (
        f"{c.platform.value} {c.shape} {usd(c.usd_per_month)}/month "
        f"({component_text(c.by_component, c.platform)}{premium}{slo})"
    )


def platform_choice(m: ModelRecommendation) -> str | None:
    """Why the plan's platform: ``ec2 c7g.large $118.29/month (nodes $95.10 + load balancer $23.19), against
    sagemaker ml.c7g.large ...``; None when no other platform was a candidate."""
    if not m.platform_costs:
        return m.platform_choice  # a document stored before the numbers were: its own words
    best, *others = m.platform_costs
    return f"{_platform_line(best)}, against " + "; ".join(_platform_line(c) for c in others)


def churn_note(c: ChurnCheck) -> str:
    """The churn guard's decision on one model, in words (the rule that decided, with its figures)."""
    payback = c.payback_days if c.payback_days is not None else math.inf
    match c.rule:
        case None:  # a document stored before the rule was: its own words
            return c.note
        case ChurnRule.SLO_MISSED:
            return "the current deployment misses the SLO budget: change regardless of churn"
        case ChurnRule.NO_SAVING:
            return "the current deployment is already at least as cheap"
        case ChurnRule.UNDER_MINIMUM:
            minimum = usd(c.min_savings_usd_per_month)
            return f"saves {usd(c.savings_usd_per_month)}/month, under the {minimum} minimum for a change"
        case ChurnRule.SLOW_PAYBACK:
            limit = "" if c.max_payback_days is None else f", over the {c.max_payback_days:g}-day limit"
            rollout = f"the roll-out ({usd(c.rollout_usd)} of replicas running twice)"
            return f"{rollout} pays back in {payback:.1f} days{limit}"
        case ChurnRule.NO_RESTARTS:
            return "no replica restarts (autoscaling settings only)"
    score = math.inf if c.score is None else c.score
    verdict = f"{'>=' if c.passed else '<'} {c.threshold:g}, {'worth it' if c.passed else 'not worth it'}"
    return (
        f"saves {c.savings_fraction:.1%} of the cost and restarts {c.disruption_fraction:.1%} of the "
        f"replicas: score {score:.2f} {verdict} (of this model's cost and replicas); "
        f"pays back in {payback:.2g} days"
    )


def _model_words(m: ModelRecommendation) -> ModelRecommendation:
    update: dict[str, object] = {"platform_choice": platform_choice(m)}
    if m.churn is not None:
        note = churn_note(m.churn)
        update["churn"] = m.churn.model_copy(update={"note": note})
        if m.action is Action.KEEP_CURRENT:
            update["reason"] = note
    return m.model_copy(update=update)


def with_words(rec: Recommendation) -> Recommendation:
    """``rec`` with its text fields written from its numbers (:func:`headline`, :func:`platform_choice`,
    :func:`churn_note`)."""
    models = [_model_words(m) for m in rec.models]
    return rec.model_copy(update={"models": models, "summary": headline(models, rec.totals, rec.llm_models)})
