"""Parametric traffic profiles from YAML specs: diurnal, business hours, flat, spikes, nightly batch, square.

A spec names a time zone, a start, a length in days, a step and a list of *components* whose rates add up;
optional multiplicative noise, a rescale (to a peak rate or a monthly volume) and a repeat follow. Each
component ``kind`` is one generator in :data:`GENERATORS`, an explicit registry: a spec model plus a
function of the local calendar. Everything random is drawn from ``numpy.random.default_rng(seed)``, so a
spec always generates the same profile.

Example (``load_profiles/diurnal-business-api.yaml``)::

    name: diurnal-business-api
    timezone: America/New_York
    days: 7
    components:
      - kind: diurnal
        trough_rps: 8
        peak_rps: 60
        peak_hour: 14
        weekend_factor: 0.45
    noise_pct: 4
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from advisor.domain import InputModel
from advisor.traffic import ops
from advisor.traffic.profile import DEFAULT_STEP_S, MAX_STEPS, FloatArray, IntArray, TrafficProfile
from advisor.yamlio import load_yaml_model, register_union_tags

# Timestamps advisor handles (pandas' nanosecond range ends in 2262); far beyond any traffic on record.
EARLIEST_START = dt.date(1970, 1, 1)
LATEST_START = dt.date(2200, 1, 1)


class Weekday(IntEnum):
    mon = 0
    tue = 1
    wed = 2
    thu = 3
    fri = 4
    sat = 5
    sun = 6


WEEKDAYS = [Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu, Weekday.fri]
ALL_DAYS = list(Weekday)


class _Component(InputModel):
    @field_validator("days", mode="before", check_fields=False)
    @classmethod
    def _day_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            names = Weekday.__members__
            return [
                Weekday[v.lower()[:3]] if isinstance(v, str) and v.lower()[:3] in names else v for v in value
            ]
        return value


class FlatSpec(_Component):
    """A constant rate."""

    kind: Literal["flat"]
    rps: float = Field(ge=0)


class DiurnalSpec(_Component):
    """A daily cosine between a trough and a peak at ``peak_hour`` local time; weekends scaled."""

    kind: Literal["diurnal"]
    trough_rps: float = Field(ge=0)
    peak_rps: float = Field(ge=0)
    peak_hour: float = Field(default=14.0, ge=0, lt=24)
    sharpness: float = Field(
        default=1.0, gt=0, le=8, description="exponent on the cosine: >1 narrows the peak"
    )
    weekend_factor: float = Field(default=1.0, ge=0, description="multiplier on Saturday and Sunday")


class BusinessHoursSpec(_Component):
    """``business_rps`` between ``open_hour`` and ``close_hour`` on ``days``, else ``off_hours_rps``."""

    kind: Literal["business_hours"]
    business_rps: float = Field(ge=0)
    off_hours_rps: float = Field(default=0.0, ge=0)
    open_hour: float = Field(default=9.0, ge=0, lt=24)
    close_hour: float = Field(default=18.0, gt=0, le=24)
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    ramp_minutes: float = Field(default=30.0, ge=0, le=240, description="linear ramp centred on open/close")

    @model_validator(mode="after")
    def _order(self) -> BusinessHoursSpec:
        if self.close_hour <= self.open_hour:
            raise ValueError("close_hour must be after open_hour")
        return self


class SpikesSpec(_Component):
    """Bursts at random (Poisson) times: each adds ``spike_rps`` × U(1 ± jitter) for its duration."""

    kind: Literal["spikes"]
    spikes_per_day: float = Field(gt=0, le=1440)
    spike_rps: float = Field(gt=0)
    duration_minutes: float = Field(default=10.0, gt=0, le=1440)
    jitter: float = Field(default=0.5, ge=0, le=1)


class NightlyBatchSpec(_Component):
    """``batch_rps`` from ``start_hour`` local time on ``days`` for a while (may cross midnight)."""

    kind: Literal["nightly_batch"]
    batch_rps: float = Field(gt=0)
    start_hour: float = Field(default=1.0, ge=0, lt=24)
    duration_hours: float = Field(default=2.0, gt=0, le=24)
    days: list[Weekday] = Field(default_factory=lambda: list(ALL_DAYS), min_length=1)


class SquareSpec(_Component):
    """``high_rps`` for ``high_minutes`` of every ``period_minutes``, else ``low_rps`` (for what-if tests)."""

    kind: Literal["square"]
    low_rps: float = Field(ge=0)
    high_rps: float = Field(ge=0)
    period_minutes: float = Field(gt=0)
    high_minutes: float = Field(gt=0)
    offset_minutes: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _duty(self) -> SquareSpec:
        if self.high_minutes >= self.period_minutes:
            raise ValueError("high_minutes must be shorter than period_minutes")
        return self


Component = Annotated[
    FlatSpec | DiurnalSpec | BusinessHoursSpec | SpikesSpec | NightlyBatchSpec | SquareSpec,
    Field(discriminator="kind"),
]


class ScaleSpec(InputModel):
    """Rescale the generated profile: to a peak rate or to a monthly (730 h) volume, not both."""

    peak_rps: float | None = Field(default=None, gt=0)
    requests_per_month: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> ScaleSpec:
        if (self.peak_rps is None) == (self.requests_per_month is None):
            raise ValueError("give exactly one of peak_rps or requests_per_month")
        return self


PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
PROFILE_NAME_RULE = "use letters, digits, '-', '_' and '.', starting with a letter or digit (no folders)"


class ProfileSpec(InputModel):
    """A parametric profile: what ``load_profiles/*.yaml`` and ``advisor profile generate`` read."""

    name: str = Field(min_length=1, description="names the profile and its file: a name, never a path")

    @field_validator("name")
    @classmethod
    def _a_name(cls, value: str) -> str:
        if not PROFILE_NAME_RE.match(value) or ".." in value:
            raise ValueError(f"{value!r} cannot name a profile: {PROFILE_NAME_RULE}")
        return value

    description: str = ""
    timezone: str = "UTC"
    start: dt.date | dt.datetime = Field(
        default=dt.date(2024, 1, 1), description="local; 2024-01-01 is a Monday"
    )
    days: float = Field(default=7.0, gt=0, le=3660)
    step_s: int = Field(default=DEFAULT_STEP_S, ge=1, le=86400)
    seed: int = Field(default=0, ge=0, lt=2**63)
    noise_pct: float = Field(
        default=0.0, ge=0, lt=100, description="lognormal noise per step, mean-preserving"
    )
    components: list[Component] = Field(min_length=1)
    scale: ScaleSpec | None = None
    repeat_to: Literal["day", "week", "month", "year"] | None = None

    @field_validator("start")
    @classmethod
    def _plausible_start(cls, value: dt.date | dt.datetime) -> dt.date | dt.datetime:
        if not EARLIEST_START <= (value.date() if isinstance(value, dt.datetime) else value) <= LATEST_START:
            raise ValueError(f"start must lie between {EARLIEST_START} and {LATEST_START}")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> ProfileSpec:
        steps = self.days * 86400 / self.step_s
        if steps > MAX_STEPS:
            raise ValueError(
                f"{self.days:g} days at {self.step_s} s steps are {steps:,.0f} steps, more than the "
                f"{MAX_STEPS:,} advisor replays; use a coarser step_s or fewer days"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Paris") from None
        return value


@dataclass(frozen=True)
class Calendar:
    """Local time features of each step, shared by all generators of one spec."""

    hour: FloatArray  # local hour of day, fractional
    weekday: IntArray  # 0 = Monday, local
    step_s: int
    days: float

    @property
    def n(self) -> int:
        return int(self.hour.size)


GeneratorFn = Callable[[Any, Calendar, np.random.Generator], FloatArray]


def _flat(spec: FlatSpec, cal: Calendar, rng: np.random.Generator) -> FloatArray:
    return np.full(cal.n, spec.rps)


def _diurnal(spec: DiurnalSpec, cal: Calendar, rng: np.random.Generator) -> FloatArray:
    wave = ((1 + np.cos(2 * np.pi * (cal.hour - spec.peak_hour) / 24)) / 2) ** spec.sharpness
    rates = spec.trough_rps + (spec.peak_rps - spec.trough_rps) * wave
    return np.where(cal.weekday >= 5, rates * spec.weekend_factor, rates)


def _business_hours(spec: BusinessHoursSpec, cal: Calendar, rng: np.random.Generator) -> FloatArray:
    ramp_h = max(spec.ramp_minutes / 60, 1e-9)
    rise = (cal.hour - spec.open_hour) / ramp_h + 0.5
    fall = (spec.close_hour - cal.hour) / ramp_h + 0.5
    level = np.clip(np.minimum(rise, fall), 0, 1)
    level = np.where(np.isin(cal.weekday, [int(d) for d in spec.days]), level, 0.0)
    return spec.off_hours_rps + (spec.business_rps - spec.off_hours_rps) * level


def _spikes(spec: SpikesSpec, cal: Calendar, rng: np.random.Generator) -> FloatArray:
    count = int(rng.poisson(spec.spikes_per_day * cal.days))
    starts = rng.integers(0, cal.n, size=count)
    amps = spec.spike_rps * rng.uniform(1 - spec.jitter, 1 + spec.jitter, size=count)
    width = max(1, round(spec.duration_minutes * 60 / cal.step_s))
    delta = np.zeros(cal.n + 1)
    np.add.at(delta, starts, amps)
    np.add.at(delta, np.minimum(starts + width, cal.n), -amps)
    out: FloatArray = np.clip(np.cumsum(delta)[: cal.n], 0, None)
    return out


def _nightly_batch(spec: NightlyBatchSpec, cal: Calendar, rng: np.random.Generator) -> FloatArray:
    since_start = np.mod(cal.hour - spec.start_hour, 24)
    started_yesterday = cal.hour < spec.start_hour
    start_day = np.where(started_yesterday, (cal.weekday - 1) % 7, cal.weekday)
    active = (since_start < spec.duration_hours) & np.isin(start_day, [int(d) for d in spec.days])
    return np.where(active, spec.batch_rps, 0.0)


def _square(spec: SquareSpec, cal: Calendar, rng: np.random.Generator) -> FloatArray:
    minutes = np.arange(cal.n) * (cal.step_s / 60) - spec.offset_minutes
    phase = np.mod(minutes, spec.period_minutes)
    return np.where(phase < spec.high_minutes, spec.high_rps, spec.low_rps)


GENERATORS: dict[str, tuple[type[_Component], GeneratorFn]] = {
    "flat": (FlatSpec, _flat),
    "diurnal": (DiurnalSpec, _diurnal),
    "business_hours": (BusinessHoursSpec, _business_hours),
    "spikes": (SpikesSpec, _spikes),
    "nightly_batch": (NightlyBatchSpec, _nightly_batch),
    "square": (SquareSpec, _square),
}
register_union_tags(*GENERATORS)


def generate(spec: ProfileSpec) -> TrafficProfile:
    """The profile a spec describes: components summed, noise, then rescale and repeat if asked."""
    start = pd.Timestamp(spec.start)
    start = start.tz_localize(spec.timezone) if start.tzinfo is None else start.tz_convert(spec.timezone)
    n = max(1, round(spec.days * 86400 / spec.step_s))
    index = pd.date_range(start, periods=n, freq=pd.Timedelta(seconds=spec.step_s))
    cal = Calendar(
        hour=(index.hour + index.minute / 60 + index.second / 3600).to_numpy(dtype=np.float64),
        weekday=index.dayofweek.to_numpy(dtype=np.int64),
        step_s=spec.step_s,
        days=spec.days,
    )
    rng = np.random.default_rng(spec.seed)
    rates = np.zeros(n)
    for component in spec.components:
        _, fn = GENERATORS[component.kind]
        rates += fn(component, cal, rng)
    if spec.noise_pct > 0:
        sigma = spec.noise_pct / 100
        rates *= np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2)
    profile = TrafficProfile.from_array(
        spec.name,
        np.clip(rates, 0, None),
        start=index[0],
        step_s=spec.step_s,
        source=f"generated:{'+'.join(c.kind for c in spec.components)} seed={spec.seed}",
    )
    if spec.scale is not None:
        if spec.scale.peak_rps is not None:
            profile = ops.rescale_to_peak(profile, spec.scale.peak_rps)
        elif spec.scale.requests_per_month is not None:
            profile = ops.rescale_to_monthly_volume(profile, spec.scale.requests_per_month)
    if spec.repeat_to is not None:
        profile = ops.repeat_to(profile, spec.repeat_to)
    return profile


def load_spec(path: Path) -> ProfileSpec:
    """Read a generator spec; errors name the file, line and field."""
    return load_yaml_model(
        path, ProfileSpec, what="profile spec", fix="see load_profiles/*.yaml for examples of each kind"
    )


def generate_file(path: Path) -> TrafficProfile:
    profile = generate(load_spec(path))
    return profile.replace(source=f"{profile.source} ({path})")
