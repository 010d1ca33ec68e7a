"""Shared output helpers: rich consoles and JSON emission for ``--json`` flags."""

from __future__ import annotations

import sys
from typing import Any

from advisor.recommendation.model import Recommendation
from advisor.render import RenderOptions, render, to_json
from advisor.render.console import console, err_console

__all__ = ["console", "err_console", "print_json", "print_rendered", "warn"]


def print_json(payload: Any) -> None:
    """Machine-readable output on stdout: plain JSON, no colour, stable key order."""
    sys.stdout.write(to_json(payload))


def print_rendered(rec: Recommendation, fmt: str) -> None:
    """A recommendation on stdout in ``fmt``: tables fitted to the terminal (coloured on a terminal only)."""
    options = RenderOptions(width=console.width, color=console.is_terminal)
    sys.stdout.write(render(rec, fmt, options))


def warn(message: str) -> None:
    err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)
