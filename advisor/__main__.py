"""``python -m advisor``: the same as the ``advisor`` console script."""

from __future__ import annotations

from advisor.cli.entry import console

console()
