"""The optimiser: the cheapest way to serve each model within its SLO, and the fleet around it.

Pure: numpy, pandas, scipy and pydantic only (plus advisor's capacity, cost and domain packages). Entry
points:

- :func:`recommend` runs the whole optimiser on a scenario (:mod:`advisor.scenario`) with bench evidence
  and prices, and returns a versioned recommendation (:mod:`advisor.recommendation`; ``advisor.recommend``
  wires it to the store and the price catalog);
- :func:`pack` (``advisor.optimize.packing``) places every model's replicas on the cheapest nodes found,
  with a certified lower bound;
- :func:`worth_changing` / :func:`assess_change` decide whether a saving justifies its disruption;
- :func:`recommend_commitment` sizes a Savings Plan for the always-on base load.
"""

from __future__ import annotations

from advisor.optimize.fleet.churn import ChangeAssessment, assess_change, disruption_fraction, worth_changing
from advisor.optimize.fleet.commitments import (
    CommitmentRecommendation,
    SavingsPlanRate,
    load_savings_plan_rates,
    recommend_commitment,
    savings_plan_rate,
)
from advisor.optimize.packing import (
    InfeasibleModel,
    ModelDemand,
    ModelPlacement,
    NodeType,
    PackingLayout,
    PackingOptions,
    PackingResult,
    PlacedNode,
    Pool,
    karpenter_like_ffd,
    node_types_from_offers,
    pack,
)
from advisor.optimize.recommend import RecommendOptions, recommend

__all__ = [
    "ChangeAssessment",
    "CommitmentRecommendation",
    "InfeasibleModel",
    "ModelDemand",
    "ModelPlacement",
    "NodeType",
    "PackingLayout",
    "PackingOptions",
    "PackingResult",
    "PlacedNode",
    "Pool",
    "RecommendOptions",
    "SavingsPlanRate",
    "assess_change",
    "disruption_fraction",
    "karpenter_like_ffd",
    "load_savings_plan_rates",
    "node_types_from_offers",
    "pack",
    "recommend",
    "recommend_commitment",
    "savings_plan_rate",
    "worth_changing",
]
