"""Output formats, shared by the CLI and every surface that shows a recommendation.

A small explicit registry: each :class:`Renderer` turns a :class:`~advisor.recommendation.Recommendation` into
text for one format. ``json`` is the document itself (stable key order), ``markdown`` a document for chat
and pull requests, ``table`` rich tables for a terminal (coloured only when asked, laid out for the width
given: below ``WIDE_COLUMNS`` the plan table splits in two so no model name is cut). Add a format by
registering it; nothing is discovered at import time.

A language model's figures as the dashboard's LLM page shows them: its tables in words (``llm_view``) and its
traffic against the plan's capacity and the prior's latencies against load (``llm_curves``, loaded on first
use).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from advisor.errors import NotFoundError, choices_hint
from advisor.lazy import lazy_names
from advisor.recommendation.model import Recommendation
from advisor.render.headline import headline
from advisor.render.levers import LEVER_HELP, LEVER_LABELS, lever_amount, lever_lines
from advisor.render.levers import METHOD as LEVER_METHOD
from advisor.render.llm import mix_words, per_m
from advisor.render.llm_view import (
    LLM_CAPACITY_WORDS,
    llm_baseline_table,
    llm_deployed_words,
    llm_mix_table,
    llm_model,
    llm_overview_rows,
    llm_routing_table,
    llm_serving_words,
    llm_token_prices,
    mean_request_tokens,
)
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

if TYPE_CHECKING:  # loaded on first use: they read scenarios, profiles and the LLM prior
    from advisor.render.llm_curves import (
        LATENCY_COLUMNS,
        LLMReplayView,
        llm_latency_curves,
        llm_replay,
        provisioned_rps,
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
    """Plain JSON with stable key order (pydantic models as their JSON form); a figure that is not a finite
    number (NaN: an hour with no data, say) is ``null``, as RFC 8259 has no NaN or Infinity."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    try:
        text = json.dumps(value, indent=2, sort_keys=True, default=_default, allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: the (rarer) slower path
        text = json.dumps(_finite(value), indent=2, sort_keys=True, default=_default, allow_nan=False)
    return text + "\n"


def _finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None, through dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, BaseModel):
        return _finite(value.model_dump(mode="json"))
    return value


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


_LAZY = dict.fromkeys(
    ("LATENCY_COLUMNS", "LLMReplayView", "llm_latency_curves", "llm_replay", "provisioned_rps"),
    "advisor.render.llm_curves",
)

__all__ = [
    "LATENCY_COLUMNS",
    "LEVER_HELP",
    "LEVER_LABELS",
    "LEVER_METHOD",
    "LLM_CAPACITY_WORDS",
    "RENDERERS",
    "WIDE_COLUMNS",
    "LLMReplayView",
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
    "llm_baseline_table",
    "llm_deployed_words",
    "llm_latency_curves",
    "llm_mix_table",
    "llm_model",
    "llm_overview_rows",
    "llm_replay",
    "llm_routing_table",
    "llm_serving_words",
    "llm_token_prices",
    "mean_request_tokens",
    "mix_words",
    "number",
    "pct",
    "per_m",
    "platform_choice",
    "pooling_note",
    "provisioned_rps",
    "register",
    "render",
    "signed_usd",
    "to_json",
    "usd",
    "what_if_table",
    "with_words",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
