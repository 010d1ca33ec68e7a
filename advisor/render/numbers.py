"""The one way advisor writes money and numbers, for every surface (CLI, markdown, e-mail, dashboard).

``usd(1908.95)`` → ``$1,908.95``; ``usd(None)`` → ``—``; ``pct(68.37)`` → ``68.4%``; ``signed_usd(-12.5)``
→ ``−$12.50``; ``number(1234.5)`` → ``1,234.5``. Renderers turn the document's numbers into words with
these; nothing below ``render/`` formats a dollar amount.
"""

from __future__ import annotations

MISSING = "—"  # shown where a figure is unknown or does not apply


def usd(value: float | None, digits: int = 2) -> str:
    """A dollar amount, thousands separated: ``$1,908.95``; ``—`` for None."""
    return MISSING if value is None else f"${value:,.{digits}f}"


def signed_usd(value: float | None, digits: int = 2) -> str:
    """A change in dollars with its sign: ``+$3.10``, ``−$12.50`` (zero is ``+$0.00``); ``—`` for None."""
    if value is None:
        return MISSING
    return f"{'+' if value >= 0 else '−'}${abs(value):,.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A percentage: ``68.4%``; ``—`` for None."""
    return MISSING if value is None else f"{value:.{digits}f}%"


def number(value: float | None, digits: int = 1) -> str:
    """A plain number, thousands separated, trailing zeros dropped: ``1,234.5``, ``12``; ``—`` for None."""
    if value is None:
        return MISSING
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
