"""Dollars per million tokens: a deployment's cost over the tokens it serves, split between input and output.

The blended figure is OpenCost's (``opencost/opencost``, ``docs/inference-cost-tracking.md`` at 09c1571,
"Complete Example"): cost per second over tokens per second (prompt plus generated), × 10⁶. Its worked
example, $1.60/h over 100 prompt + 50 generated tokens/s = $2.96 per million, is a test.

The split between input and output follows OpenCost's inference cost tracking as ``../shared/llm/NOTES.md`` §5
describes it: the input tokens carry the share of the cost that the engine spends prefilling (prefill time
over prefill + decode time), the output tokens the rest; without timings, a fixed cost ratio of one output
token to one input token (1 unless told: no timing, no basis to weigh them). advisor has timings for every
plan (measured, or its performance prior's prefill and decode times), so the ratio is a last resort.
Prefix-cache hits are not modelled: every prompt token counts.
"""

from __future__ import annotations

from dataclasses import dataclass

MILLION = 1_000_000.0


@dataclass(frozen=True)
class TokenCost:
    """$/M input, output and blended tokens, and how the cost was split (``time`` or ``ratio``)."""

    usd_per_m_input: float | None
    usd_per_m_output: float | None
    usd_per_m_blended: float | None
    input_share: float
    split: str


def token_cost(
    usd_per_hour: float,
    input_tokens_per_s: float,
    output_tokens_per_s: float,
    *,
    prefill_s_per_s: float | None = None,
    decode_s_per_s: float | None = None,
    output_to_input_ratio: float = 1.0,
) -> TokenCost:
    """The cost of ``usd_per_hour`` over the token rates; split by prefill vs decode time when both are given
    (engine-seconds per second), else by ``output_to_input_ratio`` (the cost of one output token in input
    tokens). A side with no tokens has no $/M (None)."""
    usd_per_s = usd_per_hour / 3600.0
    total = input_tokens_per_s + output_tokens_per_s
    blended = usd_per_s / total * MILLION if total > 0 else None
    if prefill_s_per_s is not None and decode_s_per_s is not None and prefill_s_per_s + decode_s_per_s > 0:
        share, split = prefill_s_per_s / (prefill_s_per_s + decode_s_per_s), "time"
    else:
        weighted = input_tokens_per_s + output_to_input_ratio * output_tokens_per_s
        share, split = (input_tokens_per_s / weighted if weighted > 0 else 0.0), "ratio"
    per_in = usd_per_s * share / input_tokens_per_s * MILLION if input_tokens_per_s > 0 else None
    per_out = usd_per_s * (1 - share) / output_tokens_per_s * MILLION if output_tokens_per_s > 0 else None
    return TokenCost(per_in, per_out, blended, share, split)


def break_even_rps(
    usd_per_hour: float,
    input_tokens_per_request: float,
    output_tokens_per_request: float,
    api_usd_per_m_input: float,
    api_usd_per_m_output: float,
) -> float:
    """The request rate at which ``usd_per_hour`` of self-hosting costs what a per-token API charges."""
    per_request = (
        input_tokens_per_request * api_usd_per_m_input + output_tokens_per_request * api_usd_per_m_output
    ) / MILLION
    return usd_per_hour / 3600.0 / per_request if per_request > 0 else float("inf")
