"""Request logs (one row per request, with its arrival time) bucketed into a traffic profile.

The arrival column is the first column named like a timestamp (``TIMESTAMP``, ``time``, ``arrival``...),
else the first column. Each request is counted in the step its arrival falls in; steps are aligned to
whole multiples of the step since the Unix epoch, from the step holding the first arrival to the one
holding the last. The rate of a step is its count ÷ step, so the profile's total equals the number of
rows exactly. Arrival order does not matter (logs merged from several servers are rarely sorted);
duplicates are distinct requests. Unreadable or missing timestamps and mixed time zones are errors that
name the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from advisor.errors import InputError
from advisor.traffic.profile import DEFAULT_STEP_S, TrafficProfile
from advisor.traffic.timestamps import TIMESTAMP_COLUMNS, find_column, parse_timestamps, read_table


def read_request_log(
    path: Path,
    *,
    name: str | None = None,
    step_s: int = DEFAULT_STEP_S,
    timezone: str | None = None,
    column: str | None = None,
) -> TrafficProfile:
    """Bucket the arrivals of a request-log CSV into requests/s per ``step_s`` (see module docstring).

    ``timezone`` is the zone of naive timestamps and of the profile (UTC if None). Raises InputError
    naming ``path:line`` for the first bad row.
    """
    if step_s < 1:
        raise InputError(f"step must be >= 1 s, got {step_s}", where="--step")
    frame, lines = read_table(path)
    if column is not None:
        col = find_column(frame, (column.lower(),))
        if col is None:
            raise InputError(
                f"no column {column!r}", where=f"{path}:1", fix=f"columns are: {', '.join(frame.columns)}"
            )
    else:
        col = find_column(frame, TIMESTAMP_COLUMNS) or str(frame.columns[0])
    if frame.empty:
        raise InputError("the log has a header but no requests", where=f"{path}:2", fix="add request rows")
    times = parse_timestamps(frame[col], lines, path, timezone=timezone)
    ns = times.asi8
    step_ns = step_s * 1_000_000_000
    origin = (int(ns.min()) // step_ns) * step_ns
    counts = np.bincount((ns - origin) // step_ns).astype(np.float64)
    start = pd.Timestamp(origin, unit="ns", tz="UTC").tz_convert(times.tz)
    return TrafficProfile.from_array(
        name or path.stem,
        counts / step_s,
        start=start,
        step_s=step_s,
        source=f"request-log:{path} ({len(ns)} requests)",
    )
