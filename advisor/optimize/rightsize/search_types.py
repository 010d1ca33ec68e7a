"""The values the right-sizing search passes around: its options, its jobs, their replays, its answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from advisor.cost.result import CostResult, Screened
from advisor.optimize.rightsize.candidates import ShapeCandidate
from advisor.optimize.rightsize.ec2_scaling import Ec2Scaling
from advisor.recommendation.plan import Plan


@dataclass(frozen=True)
class Job:
    """One plan to replay: a candidate, a target step, a minimum raised to a demand quantile, a spot share."""

    candidate: ShapeCandidate
    step: float
    min_quantile: float | None = None
    spot_pct: int = 0
    scheduled: bool = False  # the minimum raised on a daily schedule (advisor.optimize.rightsize.scheduling)


@dataclass(frozen=True)
class SearchOptions:
    """How hard to search; defaults keep one model within a few tens of milliseconds."""

    slo_budget_pct_minutes: float = 0.1
    min_replicas: int = 2
    min_on_demand_base: int = 1
    refine_top: int = 2
    spot_top: int = 2
    alternatives: int = 3
    seed: int = 0
    defer: bool = True  # leave unreplayed the plans whose cost floor rules them out (rightsize.deferral)
    image_gib: float | None = None  # the model's image, for the start-up of a new replica
    ec2_scaling: Ec2Scaling | None = None  # what scales EC2 plans on the model's deploy target


R = TypeVar("R", CostResult, Screened)


@dataclass
class Evaluated(Generic[R]):
    """A replayed plan and whether it keeps the SLO budget (worst over the seeds it was replayed with): as the
    search screened it (:data:`Screening`) or as its confirmation priced it in full (:data:`Confirmed`)."""

    candidate: ShapeCandidate
    plan: Plan
    result: R
    minutes_over_slo_pct: float
    within_budget: bool
    seeds: tuple[int, ...]
    job: Job
    pool_reclaims: int = 0  # whole-pool spot reclaims drawn over all the seeds

    @property
    def usd_per_month(self) -> float:
        return self.result.usd_per_month


Confirmed = Evaluated[CostResult]
Screening = Evaluated[Screened]


@dataclass
class RightsizeResult:
    """The answer for one model: the best plan in budget and the next alternatives, or why there is none."""

    model: str
    best: Confirmed | None
    alternatives: list[Confirmed] = field(default_factory=list)
    plans_replayed: int = 0
    reason: str | None = None
    fix: str | None = None
