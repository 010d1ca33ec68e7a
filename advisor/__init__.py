"""advisor: a cost-analysis and right-sizing advisor for ML inference serving.

The library is the product; the ``advisor`` CLI, the dashboard and the reports are thin layers over it.
Pipeline: bench (measure capacity) -> pricing + traffic -> cost (replay a plan) -> optimize (recommend).
"""

from __future__ import annotations

from advisor.domain import (
    SLO,
    InstanceType,
    InterruptionBand,
    Platform,
    Price,
    PurchaseOption,
    ReplicaResources,
)
from advisor.errors import AdvisorError
from advisor.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "SLO",
    "AdvisorError",
    "InstanceType",
    "InterruptionBand",
    "Platform",
    "Price",
    "PurchaseOption",
    "ReplicaResources",
    "Settings",
    "__version__",
]
