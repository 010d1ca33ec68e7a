"""The Scenario: what the user asks advisor (models, SLOs, traffic, today's deployment, candidates, policies).

One of the two contracts below every stage: it imports no stage, and every stage may import it. Modules:
``model`` (the pydantic model and :func:`load_scenario`), ``checks`` (names that must exist in the price
catalog and servers that must be usable), ``reports`` (the ``reports:`` section: teams, schedules,
alerts), ``live`` (the live traffic sources a model may name).
"""

from __future__ import annotations

from advisor.scenario.checks import KnownNames, check_names
from advisor.scenario.example import EXAMPLE_SCENARIO
from advisor.scenario.model import LLMModelSpec, ModelSpec, Scenario, load_scenario
from advisor.scenario.policies import ApplyPolicy
from advisor.scenario.reports import ReportsConfig

__all__ = [
    "EXAMPLE_SCENARIO",
    "ApplyPolicy",
    "KnownNames",
    "LLMModelSpec",
    "ModelSpec",
    "ReportsConfig",
    "Scenario",
    "check_names",
    "load_scenario",
]
