"""Scheduled minimums for traffic with a daily pattern: raise the floor ahead of known peaks and batches.

A nightly batch that jumps from 2 to 150 requests/s in a minute cannot be followed by an autoscaler whose
replicas take minutes to start: without a schedule, the plan must keep the batch's replicas all day. With
one, the floor rises shortly before the batch and falls after it.

:func:`daily_schedules` reads the profile day by day (the worst day at each time of day, in 15-minute slots),
finds the windows where the demand needs more replicas than the flat minimum, and proposes one
:class:`~advisor.cost.replay.schedules.ScheduledMinimum` per window: from one scale-up delay (plus a slot)
before the window to its end, holding the most replicas the window needs. Windows that cover more than half
the day are left to the flat minimum (a schedule would buy little there). The right-sizing search replays the
scheduled plans beside the flat ones, and keeps whichever is cheaper within the SLO budget.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from advisor.recommendation.scaling import ScheduledMinimum
from advisor.traffic.profile import TrafficProfile

SLOT_S = 900  # cron granularity the schedules use: quarter hours
MAX_WINDOWS = 4  # per day; more would be a shape, better followed by the autoscaler
MAX_WINDOW_SHARE = 0.5  # of the day


def daily_schedules(
    profile: TrafficProfile,
    per_replica_rps: float,
    minimum: int,
    maximum: int,
    lead_s: float,
) -> list[ScheduledMinimum]:
    """Scheduled minimums for ``profile`` (module docstring); empty when there is no daily window to lift."""
    step = profile.step_s
    per_day = 86_400 // step
    if 86_400 % step or SLOT_S % step or profile.steps < 2 * per_day or per_replica_rps <= 0:
        return []
    offset: int = profile.memo("seconds_after_midnight", lambda: _seconds_after_midnight(profile))
    if offset % SLOT_S:
        return []
    need = np.ceil(_slot_peaks(profile) / per_replica_rps - 1e-9)
    slots = need.size
    hot = need > minimum
    if not hot.any() or hot.mean() > MAX_WINDOW_SHARE:
        return []
    runs = _circular_runs(hot)
    if len(runs) > MAX_WINDOWS:
        return []
    lead = math.ceil(lead_s / SLOT_S) + 1
    first_slot = offset // SLOT_S
    out = []
    zone: str = profile.memo("zone_name", lambda: zone_name(profile))
    for start, length in runs:
        window = [(start + k) % slots for k in range(length)]
        replicas = int(min(maximum, need[window].max()))
        rise = (start - lead + first_slot) % slots
        fall = (start + length + first_slot) % slots
        out.append(_scheduled(_cron(rise), _cron(fall), zone, max(replicas, 1)))
    return out


def _slot_peaks(profile: TrafficProfile) -> np.ndarray:
    """The worst day's peak in each slot of the day (kept on the profile: every plan of a model asks)."""

    def build() -> np.ndarray:
        per_day = 86_400 // profile.step_s
        days = profile.steps // per_day
        worst = profile.rps[: days * per_day].reshape(days, per_day).max(axis=0)
        peaks: np.ndarray = worst.reshape(-1, SLOT_S // profile.step_s).max(axis=1)
        return peaks

    out: np.ndarray = profile.memo(("daily_slot_peaks", SLOT_S), build)
    return out


@functools.lru_cache(maxsize=4096)
def _scheduled(start: str, end: str, zone: str, replicas: int) -> ScheduledMinimum:
    """A validated (frozen) schedule, shared by every plan that proposes the same one: validating the cron
    expressions and the zone is most of the cost, and models with the same daily shape repeat them."""
    return ScheduledMinimum(start=start, end=end, timezone=zone, min_replicas=replicas)


def _circular_runs(hot: np.ndarray) -> list[tuple[int, int]]:
    """(first slot, length) of each run of True, where the day wraps around midnight."""
    n = hot.size
    if hot.all():
        return [(0, n)]
    begin = int(np.flatnonzero(~hot)[0])  # start scanning at a cold slot, so no run is split
    runs: list[tuple[int, int]] = []
    start, length = -1, 0
    for k in range(1, n + 1):
        i = (begin + k) % n
        if hot[i]:
            if length == 0:
                start = i
            length += 1
        elif length:
            runs.append((start, length))
            length = 0
    if length:
        runs.append((start, length))
    return sorted(runs)


def _cron(slot: int) -> str:
    minutes = slot * SLOT_S // 60
    return f"{minutes % 60} {minutes // 60} * * *"


def _seconds_after_midnight(profile: TrafficProfile) -> int:
    first = profile.index[0]
    return int(first.hour * 3600 + first.minute * 60 + first.second)


def zone_name(profile: TrafficProfile) -> str:
    """The IANA name of the profile's time zone (UTC when it has none)."""
    tz = profile.index.tz
    name = getattr(tz, "key", None) or (str(tz) if tz is not None else "UTC")
    return "UTC" if name in ("UTC", "utc", "+00:00") else name
