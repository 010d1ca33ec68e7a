"""The library's front door: one function per question the surfaces (CLI, notebook, dashboard) ask.

It wires the stages (pricing, traffic, capacity, optimiser) and renders the headline; ``advisor.api.whatif``
re-runs the optimiser on a varied scenario. Surfaces that show what is stored (reports, apply, insights)
do not import it.

Each wires the pure stages to the outside world the same way for every caller: settings (from the
environment unless given), the price catalog in force, and the bench results in the store under
``ADVISOR_HOME``. ``advisor recommend SCENARIO`` is :func:`recommend` followed by :func:`save`; a
notebook gets the very same figures from ``advisor.recommend("scenario.yaml")``.

Reading never creates anything: without a store there is simply no bench evidence.
"""

from __future__ import annotations

from advisor.api.front import (
    check_scenario,
    evidence_for,
    model_capacities,
    model_profile,
    recommend,
)
from advisor.api.whatif import WhatIf, cost_change, save_what_if, varied_scenario, what_if
from advisor.recommendation.store import save, stored_recommendation, stored_recommendations

__all__ = [
    "WhatIf",
    "check_scenario",
    "cost_change",
    "evidence_for",
    "model_capacities",
    "model_profile",
    "recommend",
    "save",
    "save_what_if",
    "stored_recommendation",
    "stored_recommendations",
    "varied_scenario",
    "what_if",
]
