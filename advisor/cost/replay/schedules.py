"""Scheduled minimums: a floor of replicas raised ahead of a known peak or batch, and lowered after it.

A :class:`ScheduledMinimum` holds ``min_replicas`` from each ``start`` to the next ``end`` (cron
expressions in an IANA time zone), as a KEDA cron trigger (``start``, ``end``, ``timezone``,
``desiredReplicas``), an EC2 Auto Scaling scheduled action pair (``Recurrence`` + ``TimeZone``, MinSize up,
then back) or an Application Auto Scaling scheduled action (``cron(...)`` with ``MinCapacity``) takes it.
The replay raises the autoscaler's minimum to the largest schedule in force at every step
(:func:`minimum_by_step`); the autoscaler still scales above it with demand.

Occurrences are listed with croniter (the library KEDA's own cron scaler mirrors in Go) over the profile's
span, once per schedule, not once per step: a year of daily windows is 365 look-ups, then one vectorised
``searchsorted`` marks the steps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from croniter import croniter

from advisor.recommendation.scaling import ScheduledMinimum

MAX_OCCURRENCES = 100_000  # a minutely cron over a year is 525,600: far more than any schedule needs


def minimum_by_step(schedules: Sequence[ScheduledMinimum], index: pd.DatetimeIndex, base: int) -> np.ndarray:
    """The minimum in force at each step of ``index``: ``base``, raised by every schedule open there."""
    out = np.full(len(index), float(base), dtype=np.float32)
    if not schedules or len(index) == 0:
        return out
    times = _epoch_seconds(index)
    first, last = _as_utc(index[0]), _as_utc(index[-1])
    for s in schedules:
        opens, closes = _windows(s.start, s.end, s.timezone, first, last)
        if not opens:
            continue
        lo = np.searchsorted(times, np.asarray(opens), side="left")
        hi = np.searchsorted(times, np.asarray(closes), side="left")
        mark = np.zeros(len(index) + 1, dtype=np.int32)
        np.add.at(mark, lo, 1)
        np.add.at(mark, hi, -1)
        active = np.cumsum(mark[:-1]) > 0
        out[active] = np.maximum(out[active], np.float32(s.min_replicas))
    return out


@lru_cache(maxsize=1024)
def _windows(
    start: str, end: str, timezone: str, first: dt.datetime, last: dt.datetime
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(open, close) epoch seconds of every window that overlaps [first, last] (cached: the search replays
    many plans with the same windows and other minimums)."""
    zone = ZoneInfo(timezone)
    # Start a week early, so that a window already open at the first step counts.
    begin = (first - dt.timedelta(days=8)).astimezone(zone)
    starts, ends = croniter(start, begin), croniter(end, begin)
    closed: dt.datetime = ends.get_next(dt.datetime)
    opens: list[float] = []
    closes: list[float] = []
    for _ in range(MAX_OCCURRENCES):
        opened: dt.datetime = starts.get_next(dt.datetime)
        if opened > last:
            break
        while closed <= opened:  # each window closes at the first end after it opened (one pass over ends)
            closed = ends.get_next(dt.datetime)
        if closed >= first:
            opens.append(opened.timestamp())
            closes.append(closed.timestamp())
    return tuple(opens), tuple(closes)


def _as_utc(stamp: pd.Timestamp) -> dt.datetime:
    ts = stamp if stamp.tzinfo is not None else stamp.tz_localize("UTC")
    out: dt.datetime = ts.tz_convert("UTC").to_pydatetime()
    return out


def _epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    idx = index if index.tz is not None else index.tz_localize("UTC")
    stamps: np.ndarray = idx.tz_convert("UTC").asi8.astype(np.float64) / 1e9
    return stamps
