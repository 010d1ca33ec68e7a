"""Building CLI options from the models that own them, so defaults and help are written once.

``field_option(BenchConfig, "pool_users", "--users")`` is a Typer option whose default and help are the
model field's; the command passes the value straight back into the model. Also the small parsers every
command shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from advisor.errors import InputError

M = TypeVar("M", bound=BaseModel)


def field_option(model: type[BaseModel], name: str, *flags: str, **extra: Any) -> Any:
    """A Typer option with the default and the description of ``model.name`` (first letter capitalised)."""
    info = model.model_fields[name]
    text = info.description or name.replace("_", " ")
    return typer.Option(info.default, *flags, help=text[:1].upper() + text[1:] + ".", **extra)


def from_flags(
    model: type[M], flags: Mapping[str, str], build: Callable[..., M] | None = None, **values: Any
) -> M:
    """``model(**values)``, with a value the model refuses reported at its flag (``flags[field]``).

    ``advisor pricing cheapest --vcpu 0`` is then ``--vcpu: must be greater than 0`` instead of a pydantic
    traceback. ``build`` replaces the model's constructor (e.g. ``BenchConfig.quick``).
    """
    try:
        return (build or model)(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        flag = flags.get(field, field or "the options")
        got = values.get(field, err.get("input"))
        raise InputError(
            f"{got!r} is not a valid value: {str(err['msg']).lower()}", where=flag, fix=f"correct {flag}"
        ) from None


def positive(value: float | None, flag: str, *, maximum: float | None = None) -> float | None:
    """``value`` when it is a finite number above 0 (and at most ``maximum``); InputError at ``flag``."""
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0 or (maximum is not None and value > maximum):
        top = f" and at most {maximum:g}" if maximum is not None else ""
        raise InputError(f"{value!r} is not a positive finite number{top}", where=flag, fix=f"correct {flag}")
    return value


def split_list(value: str, flag: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; InputError naming ``flag`` when nothing is left."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise InputError("empty list", where=flag, fix=f"pass a comma-separated list to {flag}")
    return items


def parse_headers(pairs: list[str]) -> dict[str, str]:
    """``NAME:VALUE`` pairs of ``--header``."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep or not key.strip():
            raise InputError(
                f"not NAME:VALUE: {pair!r}", where="--header", fix="write e.g. Authorization:Bearer x"
            )
        out[key.strip()] = value.strip()
    return out
