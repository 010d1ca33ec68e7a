"""The LLM optimiser: the cheapest GPU mix for a language model's request-size buckets (Mélange's MILP), at
each traffic level, carried over the day's curve (:func:`plan_llm`); a language model's what-if knobs
(:class:`LLMWhatIf`, :func:`vary_llm`)."""

from __future__ import annotations

from advisor.optimize.llm.mix import Mix, MixCandidate, best_single, solve_mix, undominated
from advisor.optimize.llm.plan import (
    CurveCost,
    LLMOption,
    LLMPlan,
    SizeBucket,
    fixed_sizes,
    llm_options,
    plan_llm,
    replica_start_s,
    size_buckets,
)
from advisor.optimize.llm.whatif import LLMWhatIf, vary_llm

__all__ = [
    "CurveCost",
    "LLMOption",
    "LLMPlan",
    "LLMWhatIf",
    "Mix",
    "MixCandidate",
    "SizeBucket",
    "best_single",
    "fixed_sizes",
    "llm_options",
    "plan_llm",
    "replica_start_s",
    "size_buckets",
    "solve_mix",
    "undominated",
    "vary_llm",
]
