"""The optimiser: the cheapest way to serve each model within its SLO, and the fleet around it.

Pure: numpy, pandas, scipy and pydantic only (plus advisor's capacity, cost and domain packages). Entry
points:

- :func:`recommend` runs the whole optimiser on a scenario (:mod:`advisor.scenario`) with bench evidence
  and prices, and returns a versioned recommendation (:mod:`advisor.recommendation`; ``advisor.recommend``
  wires it to the store and the price catalog);
- :func:`pack` (``advisor.optimize.packing``) places every model's replicas on the cheapest nodes found,
  with a certified lower bound;
- :func:`worth_changing` / :func:`assess_change` decide whether a saving justifies its disruption;
- :func:`recommend_commitment` sizes a Savings Plan for the always-on base load;
- :class:`ExecutorSpec` / :func:`parse_executor` say where the per-model searches run (this machine's
  cores or a Dask cluster); :func:`synthetic_fleet` is the seeded fleet the fleet-scale benchmark runs.
"""

from __future__ import annotations

from advisor.optimize.executor import EXECUTOR_HELP, ExecutorSpec, parse_executor
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
from advisor.optimize.processes import available_cores
from advisor.optimize.recommend import RecommendOptions, recommend
from advisor.optimize.synthetic import fleet_type_names, synthetic_fleet

__all__ = [
    "EXECUTOR_HELP",
    "ChangeAssessment",
    "CommitmentRecommendation",
    "ExecutorSpec",
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
    "available_cores",
    "disruption_fraction",
    "fleet_type_names",
    "karpenter_like_ffd",
    "load_savings_plan_rates",
    "node_types_from_offers",
    "pack",
    "parse_executor",
    "recommend",
    "recommend_commitment",
    "savings_plan_rate",
    "synthetic_fleet",
    "worth_changing",
]
