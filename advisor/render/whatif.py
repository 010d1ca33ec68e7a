"""A what-if beside the stored plan it varies, figure by figure, as the dashboard's what-if page shows it."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from advisor.recommendation.model import ModelRecommendation
from advisor.render.markdown import action_words
from advisor.render.numbers import usd


def what_if_table(stored: ModelRecommendation, varied: ModelRecommendation) -> pd.DataFrame:
    """Stored plan against the what-if's, one row per figure: figure, stored, what-if (as text)."""
    rows = [{"figure": label, "stored": get(stored), "what-if": get(varied)} for label, get in _FIGURES]
    return pd.DataFrame(rows, columns=["figure", "stored", "what-if"])


def _usd(m: ModelRecommendation) -> str:
    return usd(m.cost.usd_per_month if m.cost is not None else None)


_FIGURES: list[tuple[str, Callable[[ModelRecommendation], str]]] = [
    ("action", lambda m: action_words(m.action)),
    ("platform", lambda m: m.plan.platform.value if m.plan else "—"),
    ("instance types", lambda m: ", ".join(m.plan.instance_types) if m.plan else "—"),
    ("replicas", lambda m: f"{m.plan.replicas_min}–{m.plan.replicas_max}" if m.plan else "—"),
    ("purchase", lambda m: (f"{m.plan.on_demand_base_nodes} on-demand + {m.plan.spot_pct_above_base:g}% spot"
                            if m.plan and m.plan.spot_pct_above_base > 0 else "on-demand")),
    ("$/month", _usd),
    ("min over SLO/month", lambda m: f"{m.slo_risk.minutes_over_slo_per_month:,.1f}" if m.slo_risk else "—"),
    ("p99 (ms)", lambda m: f"{m.slo_risk.p99_ms_estimate:,.0f}" if m.slo_risk and m.slo_risk.p99_ms_estimate
     else "—"),
]  # fmt: skip
