"""What the optimiser learnt about one model: a frozen outcome per model, served or not.

The per-model stage (:mod:`advisor.optimize.rightsize.per_model`) turns a scenario model into a
:class:`ModelInputs`
(its traffic, its capacities, what runs today) and then into either :class:`Served` (the best plan within
the SLO budget, the alternatives, the baselines and the bounds) or :class:`Unservable` (why, and what would
fix it). The fleet stage and the document builder only read these values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from advisor.capacity import ModelCapacities
from advisor.optimize.rightsize.compare import CurrentCost
from advisor.optimize.rightsize.search_types import Evaluated
from advisor.recommendation.levers import LeverSaving
from advisor.recommendation.model import Comparison
from advisor.scenario.model import ModelSpec
from advisor.traffic.profile import TrafficProfile


@dataclass(frozen=True)
class ModelInputs:
    """One scenario model with its traffic, its capacities and its current deployment priced."""

    index: int
    spec: ModelSpec
    profile: TrafficProfile
    caps: ModelCapacities
    current: CurrentCost | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def where(self) -> str:
        """The model's field path in the scenario file, for errors."""
        return f"models.{self.index}"


@dataclass(frozen=True)
class Served:
    """The cheapest confirmed plan within the SLO budget, and what it is compared with."""

    inputs: ModelInputs
    best: Evaluated
    alternatives: tuple[Evaluated, ...]
    plans_replayed: int
    allowed_types: Mapping[str, float]  # EC2 type -> capacity per replica, for pooling
    baselines: tuple[Comparison, ...]
    fluid_bound_usd_per_month: float | None
    floor_bound_usd_per_month: float | None
    levers: tuple[LeverSaving, ...] = ()  # today → the plan, by lever (no pooling share); () without today


@dataclass(frozen=True)
class Unservable:
    """No plan can be recommended: the reason and the fix, for the document."""

    inputs: ModelInputs
    reason: str
    fix: str
    plans_replayed: int = 0


ModelOutcome = Served | Unservable
