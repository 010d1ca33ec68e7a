"""Savings Plan commitment for the always-on base load, shown apart from the on-demand/spot plan.

A Savings Plan is an hourly commitment ``c`` ($/h, at Savings Plans rates) for one or three years. Each
hour, usage up to what ``c`` buys is charged at the discounted rate and the rest at on-demand rates
(AWS, "Understanding how Savings Plans apply to your AWS usage"). With a discount ``d``, ``c`` covers
``c / (1 - d)`` $/h of on-demand-equivalent usage, so an hour with on-demand spend ``h`` costs

    c + max(0, h - c / (1 - d))          (c is paid even when h is lower)

:func:`recommend_commitment` takes the on-demand-equivalent spend of a plan over its traffic profile (a
numpy array of $/h at a fixed step; pass only the on-demand part: spot capacity is priced separately),
rolls it up to billing hours and recommends:

- ``base`` (default): commit to the lowest hourly spend, the load that is always on. The commitment is
  used in full every hour, so it can never cost more than on-demand over the profile.
- ``breakeven``: the commitment that minimises the profile's total cost. An extra dollar of commitment
  pays back in every hour where usage exceeds the covered level, so the optimum covers the level that
  usage exceeds in a share (1 - d) of hours; it earns more but idles in troughs.

Discount rates are data (``pricing_data/commitments/savings_plans.csv``, with sources); figures advisor
generalised from a single observation are flagged ``estimated``. Worked example: spend 10 $/h for 12
hours and 4 $/h for 12 hours, 20 % off: base covers 4 $/h for 3.20 $/h, saving 0.80 $/h every hour:
0.80 x 730 = 584 $/month.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from advisor.domain import FrozenModel as _Value
from advisor.errors import DataError, InputError, NotFoundError
from advisor.settings import BUNDLED_PRICING_DIR

SAVINGS_PLANS_CSV = BUNDLED_PRICING_DIR / "commitments" / "savings_plans.csv"
SECONDS_PER_HOUR = 3600
HOURS_PER_MONTH = 730  # the AWS Pricing Calculator's month ("x 730 hours in a month")
HOURS_PER_YEAR = 8760  # 365 x 24: the hours a 1-year term bills

PlanType = Literal["compute", "ec2_instance"]
PaymentOption = Literal["no_upfront", "partial_upfront", "all_upfront"]
_REQUIRED = ("plan_type", "term_years", "payment_option", "scope", "discount_pct", "estimated", "source")


class SavingsPlanRate(_Value):
    """A Savings Plans discount off on-demand, with where it comes from."""

    plan_type: PlanType
    term_years: Literal[1, 3]
    payment_option: PaymentOption
    discount_pct: float = Field(ge=0, lt=100)
    estimated: bool
    source: str
    as_of: dt.date | None = None
    note: str = ""
    region: str | None = None
    instance_type: str | None = None


class CommitmentRecommendation(_Value):
    """A Savings Plan commitment and its effect, separate from the on-demand/spot plan. Money in USD."""

    plan_type: PlanType
    term_years: int
    payment_option: PaymentOption
    strategy: Literal["base", "breakeven"]
    discount_pct: float
    discount_estimated: bool
    discount_source: str
    hours: int = Field(description="billing hours in the profile")
    commitment_usd_per_hour: float = Field(description="what to commit to, at Savings Plans rates")
    covered_on_demand_usd_per_hour: float = Field(
        description="on-demand-equivalent usage the commitment buys"
    )
    coverage_pct: float = Field(description="share of on-demand-equivalent spend the plan covers")
    utilisation_pct: float = Field(description="share of the commitment actually used")
    on_demand_usd_per_month: float = Field(description="the profile's spend without the plan")
    with_commitment_usd_per_month: float
    saving_usd_per_month: float
    effective_discount_pct: float = Field(description="saving / spend without the plan")
    term_commitment_usd: float = Field(description="commitment x hours in the term: what the term obliges")
    reason: str


def load_savings_plan_rates(path: Path = SAVINGS_PLANS_CSV) -> list[SavingsPlanRate]:
    """The rows of the Savings Plans data file. A missing or malformed file raises DataError (file:line)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"Savings Plans rates cannot be read ({exc.__class__.__name__})", where=str(path),
            fix="reinstall advisor (the file ships in pricing_data/commitments/)",
        ) from None  # fmt: skip
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"Savings Plans rates lack column(s) {', '.join(missing)}", where=str(path))
    rates: list[SavingsPlanRate] = []
    for line, row in enumerate(frame.to_dict("records"), start=2):
        if row["scope"] == "maximum":
            continue  # caps, read by published_maximum_pct
        try:
            rates.append(
                SavingsPlanRate(
                    plan_type=row["plan_type"],
                    term_years=int(row["term_years"]),
                    payment_option=row["payment_option"],
                    discount_pct=float(row["discount_pct"]),
                    estimated=row["estimated"].strip().lower() == "true",
                    source=row["source"],
                    as_of=dt.date.fromisoformat(row["as_of"]) if row.get("as_of") else None,
                    note=row.get("note", ""),
                    region=row.get("region") or None,
                    instance_type=row.get("instance_type") or None,
                )
            )
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"bad Savings Plans row ({' '.join(str(exc).split())[:160]})", where=f"{path}:{line}",
                fix="fix the row or restore the file from the repository",
            ) from None  # fmt: skip
    return rates


def published_maximum_pct(plan_type: PlanType, path: Path = SAVINGS_PLANS_CSV) -> float | None:
    """AWS's published cap for the plan type (66 % Compute, 72 % EC2 Instance), or None if not on file."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = frame[(frame["scope"] == "maximum") & (frame["plan_type"] == plan_type)]
    return float(rows.iloc[0]["discount_pct"]) if len(rows) else None


def savings_plan_rate(
    plan_type: PlanType = "compute",
    term_years: int = 1,
    payment_option: PaymentOption = "no_upfront",
    *,
    instance_type: str | None = None,
    region: str | None = None,
    rates: list[SavingsPlanRate] | None = None,
) -> SavingsPlanRate:
    """The discount to use: the instance's own observed rate when on file, else the typical (estimated) one.

    Raises NotFoundError when neither exists (e.g. 1-year all upfront), saying to pass a discount.
    """
    table = load_savings_plan_rates() if rates is None else rates
    same = [
        r
        for r in table
        if (r.plan_type, r.term_years, r.payment_option) == (plan_type, term_years, payment_option)
    ]
    if instance_type is not None:
        for rate in same:
            if rate.instance_type == instance_type and (region is None or rate.region == region):
                return rate
    for rate in same:
        if rate.instance_type is None:
            return rate
    known = sorted({f"{r.plan_type}/{r.term_years}y/{r.payment_option}" for r in table})
    raise NotFoundError(
        "Savings Plan",
        f"{plan_type}/{term_years}y/{payment_option}",
        known=known,
        where="savings_plans.csv",
        fix="on file: " + ", ".join(known) + "; or build a SavingsPlanRate with your own discount_pct",
    )


def hourly_spend(on_demand_usd_per_hour: np.ndarray, step_seconds: float = SECONDS_PER_HOUR) -> np.ndarray:
    """Roll a $/h series at ``step_seconds`` up to billing hours (the mean rate within each whole hour).

    Steps shorter than an hour must divide it (a trailing partial hour is dropped); longer steps must be
    whole hours (each value is repeated). Negative, NaN or empty input raises InputError with the index.
    """
    spend = np.asarray(on_demand_usd_per_hour, dtype=float).ravel()
    if spend.size == 0:
        raise InputError(
            "the spend series is empty", where="on_demand_usd_per_hour", fix="pass at least one hour"
        )
    bad = np.flatnonzero(~np.isfinite(spend) | (spend < 0))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"spend {spend[i]!r} $/h is not a finite amount >= 0",
            where=f"on_demand_usd_per_hour[{i}]",
            fix="pass on-demand-equivalent $/h values >= 0",
        )
    if step_seconds <= 0 or not math.isfinite(step_seconds):
        raise InputError(
            f"step {step_seconds!r} s is invalid", where="step_seconds", fix="pass a step > 0 seconds"
        )
    if step_seconds >= SECONDS_PER_HOUR:
        repeat = step_seconds / SECONDS_PER_HOUR
        if abs(repeat - round(repeat)) > 1e-9:
            raise InputError(
                f"step {step_seconds:g} s is not a whole number of hours",
                where="step_seconds",
                fix="resample the profile to a step that divides an hour or is whole hours",
            )
        out: np.ndarray = np.repeat(spend, round(repeat))
        return out
    per_hour = SECONDS_PER_HOUR / step_seconds
    if abs(per_hour - round(per_hour)) > 1e-9:
        raise InputError(
            f"step {step_seconds:g} s does not divide an hour",
            where="step_seconds",
            fix="resample the profile to 60 s, 300 s or another divisor of 3600 s",
        )
    n = round(per_hour)
    whole = spend.size // n
    if whole == 0:
        raise InputError(
            f"the series covers {spend.size * step_seconds:g} s, less than one billing hour",
            where="on_demand_usd_per_hour",
            fix="pass at least one hour of spend",
        )
    hourly: np.ndarray = spend[: whole * n].reshape(whole, n).mean(axis=1)
    return hourly


def cost_with_commitment(
    hourly: np.ndarray, commitment_usd_per_hour: float, discount_pct: float
) -> np.ndarray:
    """$ paid in each billing hour with the commitment: c + max(0, h - c / (1 - d))."""
    covered = commitment_usd_per_hour / (1 - discount_pct / 100)
    out: np.ndarray = commitment_usd_per_hour + np.maximum(hourly - covered, 0.0)
    return out


def recommend_commitment(
    on_demand_usd_per_hour: np.ndarray,
    *,
    step_seconds: float = SECONDS_PER_HOUR,
    rate: SavingsPlanRate | None = None,
    strategy: Literal["base", "breakeven"] = "base",
) -> CommitmentRecommendation:
    """Recommend a Savings Plan commitment ($/h) for the on-demand-equivalent spend series.

    ``rate`` defaults to the 1-year no-upfront Compute Savings Plan discount on file (an estimate; see the
    data file). A profile whose cheapest hour spends nothing gets a zero commitment with the reason.
    """
    chosen = savings_plan_rate() if rate is None else rate
    d = chosen.discount_pct / 100
    hourly = hourly_spend(on_demand_usd_per_hour, step_seconds)
    covered = float(hourly.min()) if strategy == "base" else _breakeven_level(hourly, d)
    commitment = covered * (1 - d)
    paid = cost_with_commitment(hourly, commitment, chosen.discount_pct)
    total = float(hourly.sum())
    used = float(np.minimum(hourly, covered).sum())
    od_month = float(hourly.mean()) * HOURS_PER_MONTH
    with_month = float(paid.mean()) * HOURS_PER_MONTH
    saving = od_month - with_month
    label = (
        f"{chosen.term_years}-year {chosen.payment_option.replace('_', ' ')} "
        f"{'Compute' if chosen.plan_type == 'compute' else 'EC2 Instance'} Savings Plan, "
        f"{chosen.discount_pct:g} % off{' (estimated)' if chosen.estimated else ''}"
    )
    if covered <= 0:
        reason = (
            "some hours of the profile spend nothing on demand: there is no always-on base to commit to"
            if strategy == "base"
            else f"with {label}, no commitment beats paying on demand for this profile"
        )
    elif strategy == "base":
        reason = (
            f"always-on base: the lowest hourly on-demand spend over {hourly.size} h is {covered:.4f} $/h; "
            f"committing {commitment:.4f} $/h ({label}) covers it in every hour"
        )
    else:
        reason = (
            f"break-even: covering {covered:.4f} $/h of usage ({label}) minimises the profile's cost; "
            f"the commitment is {used / (covered * hourly.size):.0%} used"
        )
    return CommitmentRecommendation(
        plan_type=chosen.plan_type,
        term_years=chosen.term_years,
        payment_option=chosen.payment_option,
        strategy=strategy,
        discount_pct=chosen.discount_pct,
        discount_estimated=chosen.estimated,
        discount_source=chosen.source,
        hours=int(hourly.size),
        commitment_usd_per_hour=commitment,
        covered_on_demand_usd_per_hour=covered,
        coverage_pct=100 * used / total if total > 0 else 0.0,
        utilisation_pct=100 * used / (covered * hourly.size) if covered > 0 else 0.0,
        on_demand_usd_per_month=od_month,
        with_commitment_usd_per_month=with_month,
        saving_usd_per_month=saving,
        effective_discount_pct=100 * saving / od_month if od_month > 0 else 0.0,
        term_commitment_usd=commitment * HOURS_PER_YEAR * chosen.term_years,
        reason=reason,
    )


def _breakeven_level(hourly: np.ndarray, d: float) -> float:
    """The covered level x minimising sum_h [x (1 - d) + max(0, h - x)], over 0 and the hourly values."""
    s = np.sort(hourly)
    n = s.size
    suffix = np.concatenate([np.cumsum(s[::-1])[::-1], [0.0]])  # suffix[j] = sum of s[j:]
    idx = np.arange(n)
    # For x = s[j]: sum of max(0, h - x) = sum(s[j+1:]) - (n - j - 1) * s[j]  (ties contribute 0).
    cost = n * s * (1 - d) + suffix[idx + 1] - (n - idx - 1) * s
    best = int(np.argmin(cost))
    # Zero commitment costs sum(s); keep it when nothing beats it.
    return float(s[best]) if cost[best] < float(s.sum()) - 1e-12 else 0.0
