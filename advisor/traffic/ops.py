"""Operations on traffic profiles: rescale, resample, repeat, slice.

Every function returns a new :class:`TrafficProfile`; none mutates its input. Rates are requests/s; volumes
are requests. A month is 730 hours (see ``advisor.traffic.profile``).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from advisor.domain import MAX_RPS
from advisor.errors import InputError
from advisor.traffic.profile import HOURS_PER_MONTH, TrafficProfile, check_steps

HOURS_PER_YEAR = 8760.0
Horizon = Literal["day", "week", "month", "year"]
HORIZON_HOURS: dict[str, float] = {
    "day": 24.0,
    "week": 168.0,
    "month": HOURS_PER_MONTH,
    "year": HOURS_PER_YEAR,
}


def rescale_to_peak(profile: TrafficProfile, peak_rps: float) -> TrafficProfile:
    """The same shape with its highest step at ``peak_rps``. An all-zero profile cannot be rescaled."""
    if peak_rps < 0 or not math.isfinite(peak_rps):
        raise InputError(f"peak rate must be a finite number >= 0, got {peak_rps}", where="--peak-rps")
    current = profile.peak_rps
    if current <= 0:
        raise InputError(
            "cannot rescale an all-zero profile", where=profile.name, fix="use a profile with traffic"
        )
    return profile.replace(
        rps=profile.rps * (peak_rps / current), source=f"{profile.source}; peak={peak_rps:g} rps"
    )


def rescale_to_monthly_volume(profile: TrafficProfile, requests_per_month: float) -> TrafficProfile:
    """The same shape carrying ``requests_per_month`` requests per 730-hour month."""
    if requests_per_month < 0 or not math.isfinite(requests_per_month):
        raise InputError(
            f"monthly volume must be a finite number >= 0, got {requests_per_month}",
            where="--monthly-requests",
        )
    current = profile.requests_per_month
    if current <= 0:
        raise InputError(
            "cannot rescale an all-zero profile", where=profile.name, fix="use a profile with traffic"
        )
    factor = requests_per_month / current
    return profile.replace(
        rps=profile.rps * factor, source=f"{profile.source}; {requests_per_month:.4g} req/month"
    )


def resample(profile: TrafficProfile, step_s: int) -> TrafficProfile:
    """The profile at another step; the total number of requests is kept exactly.

    Coarser steps (a whole multiple of the current step) average the rates, dropping a trailing partial
    step; finer steps (a whole divisor) repeat each rate. Any other ratio raises InputError.
    """
    if step_s < 1:
        raise InputError(f"step must be >= 1 s, got {step_s}", where="--step")
    if step_s == profile.step_s:
        return profile
    if step_s % profile.step_s == 0:
        k = step_s // profile.step_s
        whole = profile.steps // k
        if whole == 0:
            raise InputError(
                f"a {step_s} s step is longer than the whole profile ({profile.duration_s:g} s)",
                where="--step",
            )
        rates = profile.rps[: whole * k].reshape(whole, k).mean(axis=1)
    elif profile.step_s % step_s == 0:
        check_steps(profile.steps * (profile.step_s // step_s), "--step")
        rates = np.repeat(profile.rps, profile.step_s // step_s)
    else:
        raise InputError(
            f"cannot resample a {profile.step_s} s profile to {step_s} s",
            where="--step",
            fix="use a whole multiple or divisor of the current step",
        )
    return profile.replace(rps=rates, step_s=step_s)


def repeat_to(profile: TrafficProfile, hours: float | Horizon) -> TrafficProfile:
    """Tile the profile (a day, a week...) until it lasts ``hours`` (or 'month' = 730 h, 'year' = 8,760 h).

    The last copy is cut at the requested length. Tiling a whole week keeps weekday alignment; tiling a
    single day repeats that day's pattern for every day.
    """
    target_h = HORIZON_HOURS[hours] if isinstance(hours, str) else float(hours)
    if target_h <= 0:
        raise InputError(f"length must be positive, got {target_h} h", where="--repeat-to")
    steps = check_steps(round(target_h * 3600 / profile.step_s), "--repeat-to")
    if steps < 1:
        raise InputError(f"{target_h} h is shorter than one {profile.step_s} s step", where="--repeat-to")
    reps = -(-steps // profile.steps)
    rates = np.tile(profile.rps, reps)[:steps]
    return profile.replace(rps=rates, source=f"{profile.source}; repeated to {target_h:g} h")


def transform(
    profile: TrafficProfile,
    *,
    peak_rps: float | None = None,
    monthly_requests: float | None = None,
    repeat: str | None = None,
    step_s: int | None = None,
    where: str = "--peak-rps/--monthly-requests",
) -> TrafficProfile:
    """Resample, rescale (to a peak rate or a monthly volume, not both) and repeat, in that order.

    What ``--step``, ``--peak-rps``, ``--monthly-requests`` and ``--repeat-to`` mean on every command, and
    what a scenario's ``traffic:`` block does to its profile. ``where`` names the options in errors.
    """
    if peak_rps is not None and monthly_requests is not None:
        raise InputError("give a peak rate or a monthly volume, not both", where=where)
    for value, flag, top in (
        (peak_rps, "--peak-rps", MAX_RPS),
        (monthly_requests, "--monthly-requests", None),
    ):
        if value is not None and not (math.isfinite(value) and value > 0 and (top is None or value <= top)):
            bound = f" and at most {top:g}" if top is not None else ""
            raise InputError(
                f"{value!r} is not a positive finite number{bound}", where=flag, fix=f"correct {flag}"
            )
    if step_s is not None:
        profile = resample(profile, step_s)
    if peak_rps is not None:
        profile = rescale_to_peak(profile, peak_rps)
    if monthly_requests is not None:
        profile = rescale_to_monthly_volume(profile, monthly_requests)
    if repeat is not None:
        if repeat not in HORIZON_HOURS:
            raise InputError(
                f"unknown length {repeat!r}", where="--repeat-to", fix="use day, week, month or year"
            )
        profile = repeat_to(profile, HORIZON_HOURS[repeat])
    return profile


def window(profile: TrafficProfile, start: str | pd.Timestamp, end: str | pd.Timestamp) -> TrafficProfile:
    """The steps whose start lies in ``[start, end)``; naive bounds are read in the profile's time zone."""
    lo, hi = (_in_tz(t, profile) for t in (start, end))
    idx = profile.index
    mask = (idx >= lo) & (idx < hi)
    if not mask.any():
        raise InputError(f"no step of {profile.name} lies in [{lo}, {hi})", where=profile.name)
    first = int(np.argmax(mask))
    return profile.replace(rps=profile.rps[mask], start=idx[first])


def percentiles(profile: TrafficProfile, qs: tuple[float, ...] = (50, 90, 95, 99, 99.9)) -> dict[str, float]:
    """Rate percentiles over time, keyed ``p50``, ``p99.9``..."""
    return {f"p{q:g}": profile.percentile(q) for q in qs}


def hourly_shape(profile: TrafficProfile) -> dict[str, list[float]]:
    """Mean rate by local hour of day, for weekdays and weekends."""
    series = profile.series
    local = series.index
    out: dict[str, list[float]] = {}
    for label, mask in (("weekday", local.dayofweek < 5), ("weekend", local.dayofweek >= 5)):
        part = series[mask]
        if part.empty:
            continue
        means = part.groupby(part.index.hour).mean()
        out[label] = [float(means.get(h, math.nan)) for h in range(24)]
    return out


def _in_tz(value: str | pd.Timestamp, profile: TrafficProfile) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize(profile.start.tz) if ts.tzinfo is None else ts.tz_convert(profile.start.tz)
