"""Savings by lever: where a model's (and the fleet's) saving against today comes from.

The saving against what runs today is split into the levers that cut an inference bill, by a **fixed order
of steps**, each a plan replayed by the cost model (:mod:`advisor.optimize.rightsize.levers` builds and
replays them):

1. ``instance_type``: today's deployment → the recommended platform and shape, on-demand, a static count
   sized for the peak (right-sizing, CPU vs GPU, a managed-service premium avoided or paid);
2. ``autoscaling``: → the recommended autoscaling bounds, target and scheduled minimums, still on-demand;
3. ``load_balancer_sharing``: → the recommended load balancer (sharing the scenario's balancer instead of
   one of the model's own, or as today);
4. ``spot``: → the recommended purchase mix: this step's plan is the recommended plan itself;
5. ``instance_sharing``: the model's share of the shared node pools' saving (the packer's, not a replay);
6. ``commitment`` (fleet only, ``in_total`` false): the Savings Plan for the always-on base, a purchase
   shown apart from the totals as everywhere else.

Each lever's figure is the cost before its step less the cost after it, so the parts add up to the saving
exactly (a telescoping sum); a step that makes a plan dearer is a negative part, shown as such. A fixed
order rather than Shapley values: every figure is then the difference of two plans a reader can replay,
while a Shapley value averages over 2⁵ orders, most of them plans nobody would run (spot on today's
over-provisioned static fleet); the order follows how teams adopt the levers.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import Field

from advisor.domain import FrozenModel as _Out
from advisor.recommendation.plan import Plan


class Lever(StrEnum):
    INSTANCE_TYPE = "instance_type"
    AUTOSCALING = "autoscaling"
    LOAD_BALANCER_SHARING = "load_balancer_sharing"
    SPOT = "spot"
    INSTANCE_SHARING = "instance_sharing"
    COMMITMENT = "commitment"


IN_TOTAL = tuple(lv for lv in Lever if lv is not Lever.COMMITMENT)


class LeverSaving(_Out):
    """One lever's part of a saving against today: the cost before its step less the cost after it."""

    lever: Lever
    usd_per_month: float = Field(description="saving of this step (negative: the step costs more)")
    usd_per_month_after: float = Field(description="the cost after this step (the waterfall's next level)")
    in_total: bool = Field(
        default=True, description="part of the saving against today (false: the commitment, shown apart)"
    )
    plan: Plan | None = Field(
        default=None,
        description="the step's plan, replayed for this figure; None where the step's plan is the "
        "recommended plan itself (spot) or the step is no plan (instance sharing, commitment)",
    )


def fleet_levers(
    per_model: Sequence[Sequence[LeverSaving]], current_usd_per_month: float | None
) -> list[LeverSaving]:
    """The fleet's levers: each lever summed over the models (those with a saving against today), the
    waterfall levels from the fleet's current cost down. Empty without a current cost."""
    if current_usd_per_month is None:
        return []
    sums: dict[Lever, float] = dict.fromkeys(IN_TOTAL, 0.0)
    for levers in per_model:
        for part in levers:
            if part.in_total:
                sums[part.lever] += part.usd_per_month
    level = current_usd_per_month
    out = []
    for lever, usd in sums.items():
        level -= usd
        out.append(LeverSaving(lever=lever, usd_per_month=usd, usd_per_month_after=level))
    return out


def with_commitment(levers: list[LeverSaving], saving_usd_per_month: float) -> list[LeverSaving]:
    """``levers`` and the Savings Plan's saving, apart from the total (``in_total`` false)."""
    if not levers:
        return levers
    after = levers[-1].usd_per_month_after - saving_usd_per_month
    return [
        *levers,
        LeverSaving(
            lever=Lever.COMMITMENT,
            usd_per_month=saving_usd_per_month,
            usd_per_month_after=after,
            in_total=False,
        ),
    ]


def total_saving(levers: Sequence[LeverSaving]) -> float:
    """The saving against today the levers make up (the commitment apart)."""
    return sum(p.usd_per_month for p in levers if p.in_total)
