"""Profile CSV files: ``timestamp,rps`` (a rate per step) or ``timestamp,count`` (requests per step).

Reading checks every row and names the file and line of the first problem: a missing or unreadable value, a
negative or infinite rate, duplicate or unsorted timestamps, mixed time zones, spacing that is not a whole
number of steps, and gaps. Gaps and missing values are errors unless a fill policy is given explicitly:

- ``zero``: missing steps carried no traffic (what a request counter with no requests reports);
- ``ffill``: repeat the last known rate (a scraper that missed samples);
- ``interpolate``: linear between the known neighbours.

The step is the most common spacing between rows unless given.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from advisor.errors import InputError
from advisor.paths import ensure_dir, write_text
from advisor.traffic.profile import FloatArray, IntArray, TrafficProfile, check_steps
from advisor.traffic.timestamps import TIMESTAMP_COLUMNS, find_column, parse_timestamps, read_table

RATE_COLUMNS = ("rps", "requests_per_second", "rate")
COUNT_COLUMNS = ("count", "requests", "invocations", "requestcount")


class FillPolicy(StrEnum):
    """What to do with gaps and missing values in a profile CSV."""

    NONE = "none"
    ZERO = "zero"
    FFILL = "ffill"
    INTERPOLATE = "interpolate"


def is_profile_table(columns: list[str]) -> bool:
    """True when a CSV header names a rate or count column (else it is read as a request log)."""
    lowered = {c.strip().lower() for c in columns}
    return bool(lowered & set(RATE_COLUMNS + COUNT_COLUMNS))


def read_profile_csv(
    path: Path,
    *,
    name: str | None = None,
    step_s: int | None = None,
    timezone: str | None = None,
    fill: FillPolicy | str = FillPolicy.NONE,
) -> TrafficProfile:
    """Read a ``timestamp,rps`` or ``timestamp,count`` file into a profile (see the module docstring).

    Raises InputError naming ``path:line`` for the first bad row.
    """
    policy = FillPolicy(fill)
    frame, lines = read_table(path)
    ts_col = find_column(frame, TIMESTAMP_COLUMNS)
    rate_col = find_column(frame, RATE_COLUMNS)
    count_col = find_column(frame, COUNT_COLUMNS) if rate_col is None else None
    if ts_col is None or (rate_col is None and count_col is None):
        raise InputError(
            f"header {','.join(frame.columns)!r} has no timestamp and rps/count columns",
            where=f"{path}:1",
            fix="start the file with a header 'timestamp,rps' or 'timestamp,count'",
        )
    if frame.empty:
        raise InputError("the file has a header but no data rows", where=f"{path}:2", fix="add data rows")
    value_col = rate_col or count_col
    assert value_col is not None
    times = parse_timestamps(frame[ts_col], lines, path, timezone=timezone)
    values = _parse_values(frame[value_col], lines, path, allow_missing=policy is not FillPolicy.NONE)
    ns = times.asi8
    _check_order(ns, lines, path)
    step = step_s if step_s is not None else _infer_step(ns, lines, path)
    step_ns = step * 1_000_000_000
    offsets = ns - ns[0]
    if np.any(offsets % step_ns != 0):
        pos = int(np.argmax(offsets % step_ns != 0))
        gap = (ns[pos] - ns[pos - 1]) / 1e9
        raise InputError(
            f"timestamp is {gap:g} s after the previous row, not a whole number of {step} s steps",
            where=f"{path}:{lines[pos]}",
            fix="put rows on a regular grid, or pass --step",
        )
    slots = (offsets // step_ns).astype(np.int64)
    n = check_steps(int(slots[-1]) + 1, str(path))
    grid = np.full(n, np.nan)
    grid[slots] = values
    if n > len(slots) and policy is FillPolicy.NONE:
        jumps = np.diff(slots)
        pos = int(np.argmax(jumps > 1)) + 1
        raise InputError(
            f"gap of {int(jumps[pos - 1]) - 1} missing step(s) of {step} s between line {lines[pos - 1]} "
            f"and this line",
            where=f"{path}:{lines[pos]}",
            fix="add the missing rows, or pass --fill zero|ffill|interpolate",
        )
    grid = _fill(grid, policy)
    rates = grid / step if count_col is not None else grid
    return TrafficProfile.from_array(
        name or path.stem,
        rates,
        start=times[0],
        step_s=step,
        source=f"csv:{path}" + (f" (fill={policy.value})" if policy is not FillPolicy.NONE else ""),
    )


def write_profile_csv(profile: TrafficProfile, path: Path) -> Path:
    """Write ``timestamp,rps`` (ISO 8601 timestamps with their UTC offset) atomically; returns the path.

    The folder is created when missing; StorageError (one line) when the path is a folder or the machine
    refuses the write."""
    ensure_dir(path.parent, "the profiles folder")
    frame = pd.DataFrame({"timestamp": profile.index.strftime("%Y-%m-%dT%H:%M:%S%z"), "rps": profile.rps})
    return write_text(path, frame.to_csv(index=False, float_format="%.6g"), "the profile")


def _parse_values(raw: pd.Series, lines: IntArray, path: Path, *, allow_missing: bool) -> FloatArray:
    text = raw.fillna("").astype(str).str.strip()
    missing = text.str.lower().isin(["", "nan", "na", "null", "none"]).to_numpy()
    values: FloatArray = pd.to_numeric(text.where(~missing, "nan"), errors="coerce").to_numpy(
        dtype=np.float64
    )
    unreadable = np.isnan(values) & ~missing
    if unreadable.any():
        pos = int(np.argmax(unreadable))
        raise InputError(
            f"cannot read {text.iloc[pos]!r} as a number",
            where=f"{path}:{lines[pos]}",
            fix="write a plain number",
        )
    if missing.any() and not allow_missing:
        pos = int(np.argmax(missing))
        raise InputError(
            "missing value (NaN or empty)",
            where=f"{path}:{lines[pos]}",
            fix="write a number, or pass --fill zero|ffill|interpolate",
        )
    if np.isinf(values).any():
        pos = int(np.argmax(np.isinf(values)))
        raise InputError("infinite value", where=f"{path}:{lines[pos]}", fix="write a finite number")
    negative = values < 0
    if negative.any():
        pos = int(np.argmax(negative))
        raise InputError(
            f"negative value {values[pos]:g}", where=f"{path}:{lines[pos]}", fix="rates and counts are >= 0"
        )
    return values


def _check_order(ns: IntArray, lines: IntArray, path: Path) -> None:
    diffs = np.diff(ns)
    if (diffs == 0).any():
        pos = int(np.argmax(diffs == 0)) + 1
        raise InputError(
            f"duplicate timestamp (same as line {lines[pos - 1]})",
            where=f"{path}:{lines[pos]}",
            fix="keep one row per timestamp (sum the counts)",
        )
    if (diffs < 0).any():
        pos = int(np.argmax(diffs < 0)) + 1
        raise InputError(
            f"timestamps are not sorted (this row is earlier than line {lines[pos - 1]})",
            where=f"{path}:{lines[pos]}",
            fix="sort the rows by timestamp",
        )


def _infer_step(ns: IntArray, lines: IntArray, path: Path) -> int:
    if ns.size < 2:
        raise InputError(
            "one row is not enough to tell the step", where=f"{path}:{lines[0]}", fix="pass --step SECONDS"
        )
    diffs = np.diff(ns)
    values, counts = np.unique(diffs, return_counts=True)
    step_ns = int(values[np.argmax(counts)])
    if step_ns % 1_000_000_000:
        raise InputError(
            f"the most common spacing ({step_ns / 1e9:g} s) is not a whole number of seconds",
            where=str(path),
            fix="pass --step SECONDS",
        )
    return step_ns // 1_000_000_000


def _fill(grid: FloatArray, policy: FillPolicy) -> FloatArray:
    if policy is FillPolicy.NONE or not np.isnan(grid).any():
        return grid
    out: FloatArray
    if policy is FillPolicy.ZERO:
        out = np.nan_to_num(grid, nan=0.0)
    elif policy is FillPolicy.FFILL:
        out = pd.Series(grid).ffill().bfill().to_numpy(dtype=np.float64)
    else:
        out = pd.Series(grid).interpolate(method="linear", limit_direction="both").to_numpy(dtype=np.float64)
    return out
