"""Shared output helpers: rich consoles and JSON emission for ``--json`` flags."""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console

# Piped output (CI logs, `make demo | tee`) would otherwise wrap tables at 80 columns.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def print_json(payload: Any) -> None:
    """Machine-readable output on stdout: plain JSON, no colour, stable key order."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    print(json.dumps(payload, indent=2, sort_keys=True, default=_default))


def warn(message: str) -> None:
    err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
