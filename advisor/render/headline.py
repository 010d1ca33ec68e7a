"""The recommendation's headline in words, from the numbers the document stores.

``4 model(s) for $1,908.95/month, 68.4% less than today's $6,037.83/month``: the recommended total (the sum
of the models' stored effective costs), the change against what runs today, what the churn guard held
back, and how many models cannot be recommended. The CLI, the markdown, the dashboard and the document's
``summary`` field all show this line.
"""

from __future__ import annotations

from collections.abc import Sequence

from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import Action, ModelRecommendation, Totals
from advisor.render.numbers import usd


def headline(
    models: list[ModelRecommendation], totals: Totals, llm_models: Sequence[LLMModelRecommendation] = ()
) -> str:
    """One line on what the recommendation costs and saves (``models``, ``totals`` and ``llm_models`` of one
    document; language models are always served: one that cannot be fails the recommendation)."""
    served = [m for m in models if m.action is not Action.CANNOT_RECOMMEND]
    cannot = len(models) - len(served)
    if not served and not llm_models:
        return f"cannot recommend: no plan meets the SLO for any of the {len(models)} model(s)"
    count = len(served) + len(llm_models)
    text = f"{count} model(s) for {usd(totals.recommended_usd_per_month)}/month"
    if totals.savings_vs_current_pct is not None and totals.current_usd_per_month is not None:
        pct, today = totals.savings_vs_current_pct, totals.current_usd_per_month
        running = len([m for m in served if m.current is not None])
        running += len([m for m in llm_models if m.current_usd_per_month is not None])
        change = f"{pct:.1f}% less" if pct >= 0 else f"{-pct:.1f}% more"
        if running == count:
            text += f", {change} than today's {usd(today)}/month"
        else:  # today's cost covers only the models that run today: compare those alone
            new = totals.recommended_for_current_models_usd_per_month or 0.0
            versus = f"{usd(new)} against {usd(today)}/month ({change})"
            text += f"; the {running} model(s) running today: {versus}"
    held = totals.held_back_savings_usd_per_month
    if held > 0:
        text += f"; {usd(held)}/month more held back by the churn guard ({totals.held_back_models} model(s))"
    if cannot:
        text += f"; {cannot} model(s) cannot be recommended"
    return text
