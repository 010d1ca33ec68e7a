"""The LLM optimiser: the cheapest GPU mix for a language model's request-size buckets (Mélange's MILP)."""

from __future__ import annotations

from advisor.optimize.llm.mix import Mix, MixCandidate, best_single, solve_mix

__all__ = ["Mix", "MixCandidate", "best_single", "solve_mix"]
