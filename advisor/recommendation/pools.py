"""Node pools as the recommendation states them: the pool, and the Kubernetes taints and tolerations that
keep its models on it. The packer (:mod:`advisor.optimize.packing`) fills them in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from advisor.domain import FrozenModel as _Value


class Taint(_Value):
    key: str
    value: str
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Toleration(_Value):
    key: str
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Pool(_Value):
    """A node pool kept apart for inference: its instance mix, cost, and the labels/taints of its nodes."""

    name: str
    kind: Literal["shared", "dedicated"]
    accelerated: bool
    models: list[str]
    node_counts: dict[str, int] = Field(description="instance type -> nodes")
    usd_per_hour: float
    node_labels: dict[str, str]
    taints: list[Taint]
