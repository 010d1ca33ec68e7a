"""The optimiser: multi-model bin-packing onto node pools, the churn guard, and Savings Plan commitments.

Pure: numpy, pandas, scipy and pydantic only (plus advisor's domain types and errors). Entry points:

- :func:`pack` places every model's replicas on the cheapest nodes found, with a certified lower bound;
- :func:`worth_changing` / :func:`assess_change` decide whether a saving justifies its disruption;
- :func:`recommend_commitment` sizes a Savings Plan for the always-on base load;
- :func:`recommend` runs the whole optimiser on a :class:`Scenario` (see :func:`load_scenario`) and returns
  a versioned :class:`Recommendation`.
"""

from __future__ import annotations

from advisor.optimize.churn import ChangeAssessment, assess_change, disruption_fraction, worth_changing
from advisor.optimize.commitments import (
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
    PackingOptions,
    PackingPlan,
    PackingResult,
    PlacedNode,
    Pool,
    karpenter_like_ffd,
    node_types_from_offers,
    pack,
)
from advisor.optimize.recommend import RecommendOptions, recommend
from advisor.optimize.recommendation import Recommendation
from advisor.optimize.scenario import Scenario, load_scenario

__all__ = [
    "ChangeAssessment",
    "CommitmentRecommendation",
    "InfeasibleModel",
    "ModelDemand",
    "ModelPlacement",
    "NodeType",
    "PackingOptions",
    "PackingPlan",
    "PackingResult",
    "PlacedNode",
    "Pool",
    "RecommendOptions",
    "Recommendation",
    "SavingsPlanRate",
    "Scenario",
    "assess_change",
    "disruption_fraction",
    "karpenter_like_ffd",
    "load_savings_plan_rates",
    "load_scenario",
    "node_types_from_offers",
    "pack",
    "recommend",
    "recommend_commitment",
    "savings_plan_rate",
    "worth_changing",
]
