"""Reading the snapshot's CSV cells: blanks and NaN as None, numbers, dates."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

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
