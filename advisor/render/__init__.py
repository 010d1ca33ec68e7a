"""Output formats, shared by the CLI and every surface that shows a recommendation.

A small explicit registry: each :class:`Renderer` turns a :class:`~advisor.recommendation.Recommendation` into
text for one format. ``json`` is the document itself (stable key order), ``markdown`` a document for chat
and pull requests, ``table`` rich tables for a terminal (coloured only when asked, laid out for the width
given: below ``WIDE_COLUMNS`` the plan table splits in two so no model name is cut). Add a format by
registering it; nothing is discovered at import time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from advisor.errors import NotFoundError, choices_hint
from advisor.recommendation.model import Recommendation
from advisor.render.headline import headline
from advisor.render.levers import LEVER_HELP, LEVER_LABELS, lever_amount, lever_lines
from advisor.render.levers import METHOD as LEVER_METHOD
from advisor.render.markdown import action_words, baseline_label, pooling_note, recommendation_markdown
from advisor.render.numbers import number, pct, signed_usd, usd
from advisor.render.table import WIDE_COLUMNS, recommendation_table
from advisor.render.whatif import what_if_table
from advisor.render.words import (
    churn_note,
    code_spans,
    component_label,
    html_code_spans,
    platform_choice,
    with_words,
)


@dataclass(frozen=True)
class RenderOptions:
    """How the text will be shown: columns available and whether ANSI colour is welcome."""

    width: int = 120
    color: bool = False


@dataclass(frozen=True)
class Renderer:
    name: str
    description: str
    render: Callable[[Recommendation, RenderOptions], str]


def to_json(value: Any) -> str:
    """Plain JSON with stable key order (pydantic models as their JSON form; NaN never appears)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value, indent=2, sort_keys=True, default=_default) + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


RENDERERS: dict[str, Renderer] = {}


def register(renderer: Renderer) -> None:
    RENDERERS[renderer.name] = renderer


register(
    Renderer("json", "the Recommendation document (schema advisor.recommendation)", lambda r, _o: to_json(r))
)
register(Renderer("markdown", "a Markdown document", lambda r, _o: recommendation_markdown(r)))
register(Renderer("table", "tables for a terminal", lambda r, o: recommendation_table(r, o.width, o.color)))


def check_format(fmt: str) -> str:
    """``fmt`` if it is a registered format; NotFoundError with the closest names otherwise."""
    if fmt not in RENDERERS:
        raise NotFoundError(
            "output format", fmt, known=RENDERERS, where="--format", fix=choices_hint(fmt, RENDERERS)
        )
    return fmt


def render(rec: Recommendation, fmt: str, options: RenderOptions = RenderOptions()) -> str:
    """``rec`` in format ``fmt``; NotFoundError (with the known formats) for an unknown one."""
    return RENDERERS[check_format(fmt)].render(rec, options)


__all__ = [
    "LEVER_HELP",
    "LEVER_LABELS",
    "LEVER_METHOD",
    "RENDERERS",
    "WIDE_COLUMNS",
    "RenderOptions",
    "Renderer",
    "action_words",
    "baseline_label",
    "check_format",
    "churn_note",
    "code_spans",
    "component_label",
    "headline",
    "html_code_spans",
    "lever_amount",
    "lever_lines",
    "number",
    "pct",
    "platform_choice",
    "pooling_note",
    "register",
    "render",
    "signed_usd",
    "to_json",
    "usd",
    "what_if_table",
    "with_words",
]
