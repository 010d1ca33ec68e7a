"""Reading the snapshot's CSV cells: blanks and NaN as None, numbers, dates."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import pandas as pd

P = ParamSpec("P")
T = TypeVar("T")


def num(value: object) -> float:
    """A number cell; 0 when blank."""
    v = opt_num(value)
    return 0.0 if v is None else v


def opt_num(value: object) -> float | None:
    """A number cell; None when blank or not a number."""
    if value is None:
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def text_or_none(value: object) -> str | None:
    """A text cell, stripped; None when blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def date_of(value: object) -> dt.date:
    """An ``as_of`` cell (ISO date, maybe with a time)."""
    return dt.date.fromisoformat(str(value)[:10])


def kept(method: Callable[P, T]) -> Callable[P, T]:
    """Keep a catalog look-up's answers on the catalog (it never changes once loaded): a fleet asks for the
    same few dozen types thousands of times, and each ``.loc`` look-up costs tens of microseconds. Errors
    are not kept."""

    @functools.wraps(method)
    def look_up(*args: P.args, **kwargs: P.kwargs) -> T:
        key = (method.__name__, *args[1:], *sorted(kwargs.items()))
        answers: dict[tuple[object, ...], Any] = vars(args[0]).setdefault("_kept_answers", {})
        if key not in answers:
            answers[key] = method(*args, **kwargs)
        out: T = answers[key]
        return out

    return look_up


def rows_by_key(frame: pd.DataFrame) -> dict[Any, dict[str, Any]]:
    """A table's rows as plain dicts by index key, in one pass: a look-up is then a dict's, where a
    ``.loc`` one costs 0.1-0.3 ms (a fleet's candidate types ask hundreds before the first model)."""
    return dict(zip(frame.index, frame.to_dict("records"), strict=True))


class RegionalRows:
    """The rows of a table indexed by (region, key), as :func:`rows_by_key` of one region at a time, built
    when the region is first asked for (a whole table's dicts take 60-90 ms; a region's, a few)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._by_region: dict[str, dict[Any, dict[str, Any]]] = {}

    def get(self, region: str, key: Any) -> dict[str, Any] | None:
        rows = self._by_region.get(region)
        if rows is None:
            try:
                part = self._frame.xs(region, level=0)
            except KeyError:
                part = self._frame.iloc[:0]
            rows = self._by_region[region] = rows_by_key(part)
        return rows.get(key)
