"""What the optimiser learnt about one model: a frozen outcome per model, served or not.

The per-model stage (:mod:`advisor.optimize.rightsize.per_model`) turns a scenario model into a
:class:`ModelInputs`
(its traffic, its capacities, what runs today) and then into either :class:`Served` (the best plan within
the SLO budget, the alternatives, the baselines and the bounds) or :class:`Unservable` (why, and what would
fix it). The fleet stage and the document builder only read these values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from advisor.capacity import ModelCapacities
from advisor.optimize.rightsize.compare import CurrentCost
from advisor.optimize.rightsize.search_types import Confirmed
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
    best: Confirmed
    alternatives: tuple[Confirmed, ...]
    plans_replayed: int
    allowed_types: Mapping[str, float]  # EC2 type -> capacity per replica, for pooling
    baselines: tuple[Comparison, ...]
    fluid_bound_usd_per_month: float | None
    floor_bound_usd_per_month: float | None
    levers: tuple[LeverSaving, ...] = ()  # today → the plan, by lever (no pooling share); () without today
    on_demand_usd_hourly: np.ndarray | None = None  # on-demand spend per billing hour (commitments)


@dataclass(frozen=True)
class Unservable:
    """No plan can be recommended: the reason and the fix, for the document."""

    inputs: ModelInputs
    reason: str
    fix: str
    plans_replayed: int = 0


ModelOutcome = Served | Unservable


def detached(outcome: ModelOutcome) -> ModelOutcome:
    """``outcome`` holding figures only: every replay result's per-step inputs dropped
    (:meth:`advisor.cost.result.CostResult.detach_series`), the profile's derived arrays forgotten, and the
    candidates' spot pools looked up
    (:meth:`~advisor.optimize.rightsize.candidates.ShapeCandidate.resolved`), so that a fleet's outcomes stay
    small and travel between processes. The fleet stage and the document read figures only."""
    outcome.inputs.profile.forget()
    current = outcome.inputs.current
    if current is not None and current.result is not None:
        current.result.detach_series()
    if isinstance(outcome, Served):
        for ev in (outcome.best, *outcome.alternatives):
            ev.result.detach_series()
            ev.candidate = ev.candidate.resolved()
            ev.job = replace(ev.job, candidate=ev.candidate)
    return outcome
