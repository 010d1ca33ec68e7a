"""Parsing timestamp columns of user files, with the file and line of the first bad row in every error.

Shared by the profile CSV reader and the request-log reader. Accepted forms: ISO 8601 with or without a UTC
offset (``2024-03-01T12:00:00Z``, ``2024-03-01 12:00:00.123456+01:00``, ``2023-11-16 18:17:03.9799600``) and
Unix epoch seconds. All rows of a file must agree on whether they carry an offset: a file that mixes
offset-aware and naive timestamps is ambiguous and is rejected. Different offsets (a local-time file across
a daylight-saving change) are fine: they are converted to absolute instants.
"""

from __future__ import annotations

import io
import re
import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd

from advisor.errors import InputError
from advisor.paths import read_text
from advisor.traffic.profile import IntArray

_OFFSET_RE = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?|\s?UTC)$"
_EPOCH_RE = r"^\d{9,11}(?:\.\d+)?$"
TIMESTAMP_COLUMNS = ("timestamp", "time", "ts", "datetime", "date", "arrival", "arrival_time", "time_stamp")


def read_table(path: Path) -> tuple[pd.DataFrame, IntArray]:
    """Read a CSV as strings, dropping blank lines; returns the frame and each row's 1-based line number.

    Raises InputError for a missing, empty or malformed file (naming the line pandas stopped at).
    """
    if not path.is_file():
        raise InputError("file not found", where=str(path), fix="pass an existing CSV file")
    text = read_text(path, "CSV file")
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, skip_blank_lines=False, keep_default_na=False, na_values=[]
        )
    except pd.errors.EmptyDataError:
        raise InputError(
            "the file is empty", where=f"{path}:1", fix="add a header row and data rows"
        ) from None
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        where = f"{path}:{match.group(1)}" if match else str(path)
        raise InputError(
            f"malformed CSV ({str(exc).strip().splitlines()[-1]})",
            where=where,
            fix="give every row the same columns",
        ) from None
    except UnicodeDecodeError:
        raise InputError(
            "not a UTF-8 text file", where=str(path), fix="export the data as UTF-8 CSV"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = np.arange(len(frame), dtype=np.int64) + 2  # line 1 is the header
    blank = (frame.fillna("").astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1).to_numpy()
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        lines = lines[~blank]
    return frame, lines


def find_column(frame: pd.DataFrame, candidates: tuple[str, ...]) -> str | None:
    """The first column whose lower-cased name is one of ``candidates``."""
    lowered = {str(c).lower(): str(c) for c in frame.columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


EPOCH_RANGE_S = (0.0, 7_258_118_400.0)  # 1970-01-01 .. 2200-01-01


def check_timezone(name: str, where: str = "--timezone") -> str:
    """``name`` when it is an IANA time zone; InputError naming ``where`` otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(
            f"unknown time zone {name!r}", where=where, fix="use an IANA name such as UTC or Europe/Paris"
        ) from None
    return name


def parse_timestamps(
    raw: pd.Series,
    lines: IntArray,
    path: Path,
    *,
    timezone: str | None,
) -> pd.DatetimeIndex:
    """Parse a column of timestamps into a tz-aware index (``timezone``, default UTC).

    Naive timestamps are read as local times in ``timezone``; offset-aware ones are converted to it.
    Raises InputError naming ``path:line`` for an empty or unparseable value, a file mixing naive and
    offset-aware timestamps, or a naive local time that does not exist or is ambiguous (DST changes).
    """
    tz = check_timezone(timezone or "UTC")
    text = raw.fillna("").astype(str).str.strip()
    empty = (text == "").to_numpy()
    if empty.any():
        pos = int(np.argmax(empty))
        raise InputError("missing timestamp", where=f"{path}:{lines[pos]}", fix="give every row a timestamp")
    if text.str.match(_EPOCH_RE).all():
        seconds = text.astype(float).to_numpy()
        out = (seconds < EPOCH_RANGE_S[0]) | (seconds > EPOCH_RANGE_S[1])
        if out.any():
            pos = int(np.argmax(out))
            raise InputError(
                f"epoch {text.iloc[pos]} s is outside 1970-2200", where=f"{path}:{lines[pos]}",
                fix="write Unix epoch seconds (e.g. 1709294400) or ISO 8601",
            )  # fmt: skip
        parsed = pd.to_datetime(seconds, unit="s", utc=True)
        return pd.DatetimeIndex(parsed).as_unit("ns").tz_convert(tz)
    cleaned = text.str.replace(r"\s?UTC$", "Z", regex=True)
    readable = pd.to_datetime(cleaned, format="ISO8601", errors="coerce", utc=True)  # naive read as UTC here
    years = pd.DatetimeIndex(readable).year
    bad = readable.isna().to_numpy() | np.asarray((years < 1970) | (years >= 2200), dtype=bool)
    if bad.any():
        pos = int(np.argmax(bad))
        raise InputError(
            f"cannot read timestamp {text.iloc[pos]!r} (a date from 1970 to 2199)",
            where=f"{path}:{lines[pos]}",
            fix="use ISO 8601 (2024-03-01T12:00:00Z) or Unix epoch seconds",
        )
    aware = text.str.contains(_OFFSET_RE, regex=True).to_numpy()
    if aware.any() and not aware.all():
        first_kind = bool(aware[0])
        pos = int(np.argmax(aware != first_kind))
        kinds = ("with a UTC offset", "without one") if first_kind else ("without a UTC offset", "with one")
        raise InputError(
            f"mixed time zones: line {lines[0]} has a timestamp {kinds[0]}, this line {kinds[1]}",
            where=f"{path}:{lines[pos]}",
            fix="give every timestamp an offset (2024-03-01T12:00:00Z) or none (and pass --timezone)",
        )
    if aware.all():
        return pd.DatetimeIndex(readable).as_unit("ns").tz_convert(tz)
    index = pd.DatetimeIndex(pd.to_datetime(cleaned, format="ISO8601")).as_unit("ns")
    try:
        localized = index.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    except Exception as exc:  # unknown time zone name
        raise InputError(
            f"unknown time zone {tz!r} ({exc})", where="--timezone", fix="use an IANA name"
        ) from None
    bad = np.asarray(localized.isna())
    if bad.any():
        pos = int(np.argmax(bad))
        raise InputError(
            f"local time {text.iloc[pos]!r} does not exist or is ambiguous in {tz} (daylight-saving change)",
            where=f"{path}:{lines[pos]}",
            fix="write timestamps with UTC offsets",
        )
    return localized
