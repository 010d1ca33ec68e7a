"""The ``advisor`` command line: a thin layer over the library (see advisor.cli.app)."""

from __future__ import annotations

from advisor.cli.app import main

__all__ = ["main"]
