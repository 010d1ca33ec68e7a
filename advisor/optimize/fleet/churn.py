"""Churn guard: recommend a change only when its saving is worth the disruption it causes.

This follows Karpenter's ``Balanced`` consolidation policy (karpenter core v1.14; RFC "Balanced
Consolidation Policy", kubernetes-sigs/karpenter core#2962): a move is scored as

    score = savings_fraction / disruption_fraction

where ``savings_fraction`` is the saving as a share of what the pool costs now, and
``disruption_fraction`` is the disruption the move causes as a share of the pool's total disruption cost
(each default-priority pod counts 1). The move is approved when ``score >= 1 / k``; Karpenter's default
``k = 2`` gives the threshold 0.5 used here.

The disruption measure advisor uses is the share of running replicas that must restart elsewhere:
replicas whose (model, instance type) slot shrinks or disappears between the current and the proposed
placement. Node identities are not known across plans, so (model, type) is the unit; a change that keeps
every model on the same types with the same counts disrupts nothing.

Worked example: a pool costs $10,000/month; the proposal costs $9,000 (savings_fraction 0.10) and moves
30 of 100 replicas (disruption_fraction 0.30). Score = 0.10 / 0.30 = 0.33 < 0.5: not worth it. Moving
only 15 replicas for the same saving scores 0.67: worth it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import Field

from advisor.domain import FrozenModel
from advisor.errors import InputError

KARPENTER_BALANCED_THRESHOLD = 0.5  # 1/k with k = 2, Karpenter's Balanced default (core v1.14)


class ChangeAssessment(FrozenModel):
    """Why a change is, or is not, worth making."""

    savings_usd_per_month: float
    savings_fraction: float = Field(
        description="saving / current cost; negative when the proposal costs more"
    )
    disruption_fraction: float = Field(ge=0, le=1, description="share of replicas that restart elsewhere")
    score: float = Field(description="savings_fraction / disruption_fraction (inf when nothing is disrupted)")
    threshold: float
    worth: bool
    reason: str


def assess_change(
    current_usd_per_month: float,
    proposed_usd_per_month: float,
    disruption: float,
    threshold: float = KARPENTER_BALANCED_THRESHOLD,
) -> ChangeAssessment:
    """Score a change from ``current`` to ``proposed`` ($/month) disrupting ``disruption`` (0-1) of the pool.

    A change that saves nothing is never worth it; a saving that disrupts nothing always is. Bad inputs
    (negative or non-finite costs, disruption outside [0, 1], negative threshold) raise InputError.
    """
    _check(current_usd_per_month, "current_usd_per_month")
    _check(proposed_usd_per_month, "proposed_usd_per_month")
    if not (0.0 <= disruption <= 1.0) or math.isnan(disruption):
        raise InputError(
            f"disruption {disruption!r} is not a fraction",
            where="disruption",
            fix="pass a share between 0 and 1",
        )
    if threshold < 0 or not math.isfinite(threshold):
        raise InputError(f"threshold {threshold!r} is invalid", where="threshold", fix="pass a number >= 0")
    saving = current_usd_per_month - proposed_usd_per_month
    # From nothing, any saving is impossible and any cost is a pure loss; keep the fraction finite.
    fraction = saving / current_usd_per_month if current_usd_per_month > 0 else min(saving, 0.0)
    if saving <= 0:
        return ChangeAssessment(
            savings_usd_per_month=saving,
            savings_fraction=fraction,
            disruption_fraction=disruption,
            score=-math.inf if disruption == 0 else fraction / disruption,
            threshold=threshold,
            worth=False,
            reason=f"the proposal saves nothing ({saving:+.2f} $/month)",
        )
    score = math.inf if disruption == 0 else fraction / disruption
    worth = score >= threshold
    verdict = "worth it" if worth else "not worth it"
    return ChangeAssessment(
        savings_usd_per_month=saving,
        savings_fraction=fraction,
        disruption_fraction=disruption,
        score=score,
        threshold=threshold,
        worth=worth,
        reason=(
            f"saves {fraction:.1%} of the cost and restarts {disruption:.1%} of the replicas: "
            f"score {score:.2f} {'>=' if worth else '<'} {threshold:g}, {verdict}"
        ),
    )


def worth_changing(
    current_usd_per_month: float,
    proposed_usd_per_month: float,
    disruption: float,
    threshold: float = KARPENTER_BALANCED_THRESHOLD,
) -> bool:
    """True when (saving / current cost) / disruption >= ``threshold`` (Karpenter Balanced: 0.5).

    ``disruption`` is the share of running replicas that must restart elsewhere, in [0, 1]; see
    :func:`disruption_fraction`. See :func:`assess_change` for the numbers behind the answer.
    """
    return assess_change(current_usd_per_month, proposed_usd_per_month, disruption, threshold).worth


def disruption_fraction(
    current: Mapping[str, Mapping[str, int]], proposed: Mapping[str, Mapping[str, int]]
) -> float:
    """Share of the currently running replicas that restart when moving from ``current`` to ``proposed``.

    Both map model -> instance type -> replica count. Replicas of a model on a type whose count drops
    (or that disappears) must move; models absent from ``proposed`` are retired, which counts as
    disruption too. Returns 0.0 when nothing runs today.
    """
    total = 0
    moved = 0
    for model, by_type in current.items():
        target = proposed.get(model, {})
        for itype, count in by_type.items():
            if count < 0:
                raise InputError(f"negative replica count {count}", where=f"current[{model!r}][{itype!r}]")
            total += count
            moved += max(count - max(target.get(itype, 0), 0), 0)
    return moved / total if total else 0.0


def _check(value: float, name: str) -> None:
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name} is {value!r}", where=name, fix="pass a finite cost >= 0 in $/month")
