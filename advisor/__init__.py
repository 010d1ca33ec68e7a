"""advisor: a cost-analysis and right-sizing advisor for ML inference serving.

The library is the product; the ``advisor`` CLI and the notebook are thin layers over it. Pipeline: a
scenario (``advisor.scenario``) -> bench (measure capacity) -> capacity (estimate the rest) -> pricing +
traffic -> cost (replay a plan) -> optimize -> a recommendation (``advisor.recommendation``, stored) ->
render. The questions every surface asks have one function each::

    import advisor
    rec = advisor.recommend("examples/demo-scenario.yaml")      # scenario + stored bench results + prices
    print(render(rec, "markdown"))          # from advisor.render import render
    advisor.save(rec)                                           # into the store under ADVISOR_HOME

Every name loads on first use, so that ``import advisor`` costs nothing for the processes that only need a
piece (model servers, the load generator, the console script before its signal handlers are in place).
Each package (``advisor.scenario``, ``advisor.recommendation``, ``advisor.capacity``, ``advisor.cost``,
``advisor.optimize``, ``advisor.traffic``, ``advisor.pricing``, ``advisor.render``, ``advisor.bench``,
``advisor.api``) lists its public names in ``__all__``. Reading and storing recommendations
(``advisor.save``, ``advisor.stored_recommendation``) loads no optimiser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names
from advisor.version import __version__

if TYPE_CHECKING:
    from advisor.api import evidence_for, model_capacities, model_profile, recommend
    from advisor.domain import (
        SLO,
        Arch,
        FargateSize,
        InstanceType,
        InterruptionBand,
        Platform,
        Price,
        PurchaseOption,
        ReplicaResources,
    )
    from advisor.errors import AdvisorError, ConfigError, DataError, InputError, NotFoundError
    from advisor.optimize import RecommendOptions
    from advisor.pricing import Catalog
    from advisor.recommendation import Recommendation
    from advisor.recommendation.store import save, stored_recommendation, stored_recommendations
    from advisor.scenario import Scenario, load_scenario
    from advisor.settings import Settings, load_settings
    from advisor.store import Store

_DOMAIN = ("SLO", "Arch", "FargateSize", "InstanceType", "InterruptionBand", "Platform", "Price",
           "PurchaseOption", "ReplicaResources")  # fmt: skip
_ERRORS = ("AdvisorError", "ConfigError", "DataError", "InputError", "NotFoundError")
_LAZY = {
    **dict.fromkeys(
        (
            "SLO",
            "Arch",
            "FargateSize",
            "InstanceType",
            "InterruptionBand",
            "Platform",
            "Price",
            "PurchaseOption",
            "ReplicaResources",
        ),
        "advisor.domain",
    ),
    **dict.fromkeys(
        ("AdvisorError", "ConfigError", "DataError", "InputError", "NotFoundError"), "advisor.errors"
    ),
    "Settings": "advisor.settings",
    "load_settings": "advisor.settings",
    "evidence_for": "advisor.api",
    "model_capacities": "advisor.api",
    "model_profile": "advisor.api",
    "recommend": "advisor.api",
    # Reading and storing documents needs no optimiser: these load from the contracts' packages.
    "save": "advisor.recommendation.store",
    "stored_recommendation": "advisor.recommendation.store",
    "stored_recommendations": "advisor.recommendation.store",
    "RecommendOptions": "advisor.optimize",
    "Recommendation": "advisor.recommendation",
    "Scenario": "advisor.scenario",
    "load_scenario": "advisor.scenario",
    "Catalog": "advisor.pricing",
    "Store": "advisor.store",
}

__all__ = [
    "SLO",
    "AdvisorError",
    "Arch",
    "Catalog",
    "ConfigError",
    "DataError",
    "FargateSize",
    "InputError",
    "InstanceType",
    "InterruptionBand",
    "NotFoundError",
    "Platform",
    "Price",
    "PurchaseOption",
    "RecommendOptions",
    "Recommendation",
    "ReplicaResources",
    "Scenario",
    "Settings",
    "Store",
    "__version__",
    "evidence_for",
    "load_scenario",
    "load_settings",
    "model_capacities",
    "model_profile",
    "recommend",
    "save",
    "stored_recommendation",
    "stored_recommendations",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
