"""Prices and platform facts: the bundled snapshot, refreshed snapshots, and queries over them.

:class:`Catalog` answers specs and prices (EC2 on-demand and spot, SageMaker, Fargate, load balancers) with
their source and date; :func:`compare_rows` sets several types side by side; :func:`load_snapshot` reads a
snapshot folder. :func:`refresh_snapshot` (through boto3) and :class:`AwsClients` are loaded on first use, so
that importing this package never imports an AWS SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names
from advisor.pricing.catalog import Catalog, ShapeOffer
from advisor.pricing.compare import compare_rows, try_price
from advisor.pricing.fargate import describe_valid_sizes, smallest_fargate_size, validate_fargate_size
from advisor.pricing.snapshot import Snapshot, current_snapshot_dir, load_snapshot

if TYPE_CHECKING:
    from advisor.pricing.aws import AwsClients
    from advisor.pricing.refresh import refresh_snapshot

_LAZY = {"AwsClients": "advisor.pricing.aws", "refresh_snapshot": "advisor.pricing.refresh"}

__all__ = [
    "AwsClients",
    "Catalog",
    "ShapeOffer",
    "Snapshot",
    "compare_rows",
    "current_snapshot_dir",
    "describe_valid_sizes",
    "load_snapshot",
    "refresh_snapshot",
    "smallest_fargate_size",
    "try_price",
    "validate_fargate_size",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
