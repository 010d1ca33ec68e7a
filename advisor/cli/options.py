"""Building CLI options from the models that own them, so defaults and help are written once.

``field_option(BenchConfig, "pool_users", "--users")`` is a Typer option whose default and help are the
model field's; the command passes the value straight back into the model. Also the small parsers every
command shares.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import BaseModel

from advisor.errors import InputError


def field_option(model: type[BaseModel], name: str, *flags: str, **extra: Any) -> Any:
    """A Typer option with the default and the description of ``model.name`` (first letter capitalised)."""
    info = model.model_fields[name]
    text = info.description or name.replace("_", " ")
    return typer.Option(info.default, *flags, help=text[:1].upper() + text[1:] + ".", **extra)


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
