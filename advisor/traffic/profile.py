"""The traffic profile: requests per second at a fixed step, anchored in a time zone.

A :class:`TrafficProfile` is the one shape every traffic source is turned into (CSV files, request logs,
CloudWatch metrics, parametric generators) and the one the cost model replays. It is a value: the rate
array is read-only, operations (``advisor.traffic.ops``) return new profiles.

Conventions:

- ``rps[i]`` is the mean arrival rate (requests/s) over ``[start + i*step, start + (i+1)*step)``, so the
  requests in a step are ``rps[i] * step_s`` and the profile's total is ``sum(rps) * step_s``.
- ``start`` is a tz-aware timestamp; the profile's time zone is ``start``'s. Generators use it for local
  hours (business hours, nightly batches); the replay only needs the step.
- A month is 730 hours (AWS's billing convention, 8,760 h / 12). Monthly figures derived from a profile of
  another length scale by ``730 / duration_hours``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from advisor.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
HOURS_PER_MONTH = 730.0  # AWS pricing convention: 8,760 hours a year / 12
DEFAULT_STEP_S = 60


class ProfileSummary(BaseModel):
    """Headline figures of a profile (what ``advisor profile show`` prints)."""

    model_config = ConfigDict(frozen=True)

    name: str
    source: str
    timezone: str
    start: str
    end: str
    step_s: int
    steps: int
    duration_hours: float
    total_requests: float
    requests_per_month: float
    mean_rps: float
    peak_rps: float
    min_rps: float
    p50_rps: float
    p90_rps: float
    p99_rps: float
    peak_to_mean: float | None


MAX_STEPS = 6_000_000  # a year at 6 s steps, ten years at 1 minute: every replay of it fits in memory


def check_steps(steps: float, where: str) -> int:
    """``steps`` as an int, or InputError when a profile would have more than :data:`MAX_STEPS`."""
    if steps > MAX_STEPS:
        raise InputError(
            f"the profile would have {steps:,.0f} steps, more than the {MAX_STEPS:,} advisor replays",
            where=where,
            fix="use a coarser step (e.g. 60 s) or a shorter span",
        )
    return int(steps)


@dataclass(frozen=True, eq=False)
class TrafficProfile:
    """Requests/s at a fixed step. Build with :meth:`from_array` or :meth:`from_series`."""

    name: str
    rps: FloatArray
    start: pd.Timestamp
    step_s: int = DEFAULT_STEP_S
    source: str = ""
    # Per-profile memo for derived arrays the replay reuses across calls (e.g. the autoscaler's dead band).
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if int(self.step_s) != self.step_s or self.step_s < 1:
            raise InputError(
                f"step must be a whole number of seconds >= 1, got {self.step_s}", where=self.name
            )
        check_steps(self.rps.size, self.name)
        if self.rps.ndim != 1 or self.rps.size == 0:
            raise InputError("a profile needs at least one step of rates", where=self.name)
        if not np.all(np.isfinite(self.rps)):
            raise InputError("rates must be finite numbers", where=self.name, fix="fill or drop NaN steps")
        if np.any(self.rps < 0):
            raise InputError("rates must not be negative", where=self.name)
        if self.start.tzinfo is None:
            raise InputError("a profile's start must carry a time zone", where=self.name)

    # ----- construction ---------------------------------------------------------------------------------
    @classmethod
    def from_array(
        cls,
        name: str,
        rps: Any,
        *,
        start: str | pd.Timestamp = "2024-01-01T00:00:00Z",
        step_s: int = DEFAULT_STEP_S,
        timezone: str | None = None,
        source: str = "",
    ) -> TrafficProfile:
        """A profile from rates (requests/s per step); a naive ``start`` is local to ``timezone`` (UTC)."""
        ts = pd.Timestamp(start)
        if ts.tzinfo is None:
            ts = ts.tz_localize(timezone or "UTC")
        elif timezone is not None:
            ts = ts.tz_convert(timezone)
        arr = np.array(rps, dtype=np.float64, copy=True).reshape(-1)
        arr.setflags(write=False)
        return cls(name=name, rps=arr, start=ts, step_s=int(step_s), source=source)

    @classmethod
    def from_series(cls, name: str, series: pd.Series, *, step_s: int, source: str = "") -> TrafficProfile:
        """A profile from a rate series on a regular tz-aware DatetimeIndex with spacing ``step_s``."""
        index = series.index
        if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
            raise InputError("a profile series needs a tz-aware DatetimeIndex", where=name)
        if len(index) > 1:
            diffs = np.diff(index.asi8)
            if np.any(diffs != step_s * 1_000_000_000):
                raise InputError(f"series is not on a regular {step_s} s grid", where=name)
        return cls.from_array(
            name, series.to_numpy(dtype=np.float64), start=index[0], step_s=step_s, source=source
        )

    def replace(self, **changes: Any) -> TrafficProfile:
        """A copy with some fields changed (``rps`` is copied and frozen)."""
        fields: dict[str, Any] = {
            "name": self.name,
            "rps": self.rps,
            "start": self.start,
            "step_s": self.step_s,
            "source": self.source,
        }
        fields.update(changes)
        rps = np.array(fields.pop("rps"), dtype=np.float64, copy=True).reshape(-1)
        rps.setflags(write=False)
        return TrafficProfile(rps=rps, **fields)

    # ----- shape ----------------------------------------------------------------------------------------
    @property
    def timezone(self) -> str:
        return str(self.start.tz)

    @property
    def steps(self) -> int:
        return int(self.rps.size)

    @property
    def duration_s(self) -> float:
        return float(self.steps * self.step_s)

    @property
    def duration_hours(self) -> float:
        return self.duration_s / 3600.0

    @property
    def end(self) -> pd.Timestamp:
        """The exclusive end of the last step."""
        return self.start + pd.Timedelta(seconds=self.duration_s)

    @property
    def index(self) -> pd.DatetimeIndex:
        """The steps' timestamps (built once: a pandas index is immutable)."""
        step = pd.Timedelta(seconds=self.step_s)
        index: pd.DatetimeIndex = self.memo(
            "index", lambda: pd.date_range(self.start, periods=self.steps, freq=step)
        )
        return index

    @property
    def series(self) -> pd.Series:
        """Rates as a pandas Series on the profile's tz-aware index."""
        return pd.Series(self.rps, index=self.index, name="rps")

    @property
    def requests(self) -> FloatArray:
        """Requests arriving in each step."""
        out: FloatArray = self.rps * self.step_s
        return out

    # ----- statistics -----------------------------------------------------------------------------------
    @property
    def total_requests(self) -> float:
        total: float = self.memo(
            "total_requests", lambda: float(self.rps.sum(dtype=np.float64) * self.step_s)
        )
        return total

    @property
    def mean_rps(self) -> float:
        return float(self.rps.mean())

    @property
    def peak_rps(self) -> float:
        return float(self.rps.max())

    @property
    def peak_to_mean(self) -> float | None:
        """Peak ÷ mean rate; None for an all-zero profile."""
        mean = self.mean_rps
        return self.peak_rps / mean if mean > 0 else None

    @property
    def requests_per_month(self) -> float:
        """Total requests scaled to a 730-hour month."""
        return self.total_requests * HOURS_PER_MONTH / self.duration_hours

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the per-step rate, over time (not over requests)."""
        if not 0 <= q <= 100:
            raise InputError(f"percentile must be within 0-100, got {q}")
        return float(np.percentile(self.rps, q))

    def summary(self) -> ProfileSummary:
        return ProfileSummary(
            name=self.name,
            source=self.source,
            timezone=self.timezone,
            start=self.start.isoformat(),
            end=self.end.isoformat(),
            step_s=self.step_s,
            steps=self.steps,
            duration_hours=self.duration_hours,
            total_requests=self.total_requests,
            requests_per_month=self.requests_per_month,
            mean_rps=self.mean_rps,
            peak_rps=self.peak_rps,
            min_rps=float(self.rps.min()),
            p50_rps=self.percentile(50),
            p90_rps=self.percentile(90),
            p99_rps=self.percentile(99),
            peak_to_mean=self.peak_to_mean,
        )

    def forget(self) -> TrafficProfile:
        """Drop what :meth:`memo` keeps (derived arrays, often several times the profile's own size)."""
        self._memo.clear()
        return self

    def memo(self, key: Any, compute: Any) -> Any:
        """Cache ``compute()`` under ``key`` for this profile (profiles are immutable, so it stays valid)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def __repr__(self) -> str:
        return (
            f"TrafficProfile(name={self.name!r}, steps={self.steps}, step_s={self.step_s}, "
            f"start={self.start.isoformat()}, peak_rps={self.peak_rps:.3g}, mean_rps={self.mean_rps:.3g})"
        )
