"""Multi-model bin-packing onto node pools, with a certified lower bound (a closed subsystem).

:func:`pack` places every model's replicas on the cheapest nodes found (aggregated MILP with HiGHS,
first-fit-decreasing realisation, pattern stage, shared vs dedicated); :func:`karpenter_like_ffd` is the
first-fit-decreasing baseline; :func:`node_types_from_offers` builds candidate node types from the catalog's
offers. Pool names, labels and taints are defined once, in :mod:`advisor.optimize.packing.labels`.

Modules: ``types`` (inputs and outputs), ``problem`` (the arrays and infeasible pairs), ``milp`` (LP bound and
MILP), ``realise`` and ``exact`` (concrete nodes), ``patterns`` (the pattern stage), ``solve`` (the entry
points), ``labels``.
"""

from __future__ import annotations

from advisor.optimize.packing.problem import node_types_from_offers
from advisor.optimize.packing.solve import karpenter_like_ffd, pack
from advisor.optimize.packing.types import (
    InfeasibleModel,
    ModelDemand,
    ModelPlacement,
    NodeType,
    PackingLayout,
    PackingOptions,
    PackingResult,
    PlacedNode,
    Resources,
)
from advisor.recommendation.pools import Pool, Taint, Toleration

__all__ = [
    "InfeasibleModel",
    "ModelDemand",
    "ModelPlacement",
    "NodeType",
    "PackingLayout",
    "PackingOptions",
    "PackingResult",
    "PlacedNode",
    "Pool",
    "Resources",
    "Taint",
    "Toleration",
    "karpenter_like_ffd",
    "node_types_from_offers",
    "pack",
]
