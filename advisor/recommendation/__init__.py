"""The Recommendation: what advisor answers, versioned and stored, and the values it is made of.

One of the two contracts below every stage: it imports no stage, and every stage and surface may import it.
Every figure a surface shows is a number or an enum here (each model's effective cost, the pooling share,
the guardrails in force, the facts an applier needs); surfaces render it and never recompute it.

Modules: ``model`` (the document and its JSON schema, ``recommendation.schema.json``), ``plan`` (the cost
model's plan of one model: shape, capacity, purchase mix, autoscaling, load balancer), ``scaling``
(balancing algorithm, scheduled minimums), ``pools`` (node pools, taints, tolerations), ``migrate``
(older schema versions read as the current one), ``levers`` (the saving against today by lever),
``store`` (saving and loading documents in the store).
"""

from __future__ import annotations

from advisor.recommendation.levers import Lever, LeverSaving
from advisor.recommendation.migrate import load_document
from advisor.recommendation.model import (
    SCHEMA_PATH,
    SCHEMA_VERSION,
    Action,
    Comparison,
    ModelRecommendation,
    PlanSummary,
    Recommendation,
    Totals,
    new_recommendation_id,
)
from advisor.recommendation.plan import Capacity, CapacityProvenance, Plan, load_plan

__all__ = [
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "Action",
    "Capacity",
    "CapacityProvenance",
    "Comparison",
    "Lever",
    "LeverSaving",
    "ModelRecommendation",
    "Plan",
    "PlanSummary",
    "Recommendation",
    "Totals",
    "load_document",
    "load_plan",
    "new_recommendation_id",
]
