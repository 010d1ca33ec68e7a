"""The document's words, written from its numbers: the headline (``summary``) and each model's
``platform_choice``. The optimiser stores numbers and enums; :func:`with_words` fills these text fields
from them when the front door (``advisor.recommend``) returns a document, so that JSON readers get the
sentences every surface prints, written once, by the renderers.
"""

from __future__ import annotations

from collections.abc import Mapping

from advisor.domain import Platform
from advisor.recommendation.model import ModelRecommendation, PlatformCost, Recommendation
from advisor.render.headline import headline
from advisor.render.numbers import usd

# Cost components as a platform comparison names them ($/month).
_COMPONENT_GROUPS = (
    ("compute", ("compute_on_demand", "compute_spot", "spot_interruptions")),
    ("load balancer", ("load_balancer_hours", "load_balancer_capacity_units")),
    ("data processing", ("data_processing",)),
)


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


def with_words(rec: Recommendation) -> Recommendation:
    """``rec`` with its text fields written from its numbers (:func:`headline`, :func:`platform_choice`)."""
    models = [m.model_copy(update={"platform_choice": platform_choice(m)}) for m in rec.models]
    return rec.model_copy(update={"models": models, "summary": headline(models, rec.totals)})
