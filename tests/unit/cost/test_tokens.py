"""$/M tokens: OpenCost's worked example to the cent, the prefill/decode split, a per-token API's
break-even."""

from __future__ import annotations

import pytest

from advisor.cost.tokens import break_even_rps, token_cost


def test_opencosts_worked_example_to_the_cent() -> None:
    # opencost/opencost at 09c157118b83da84b86d34f4a0cf7fbccf7c36c7, docs/inference-cost-tracking.md,
    # "Complete Example": 2 of a node's 4 GPUs at $3.20/h = $1.60/h; 100 prompt + 50 generated tokens/s
    # -> $2.96 per million
    cost = token_cost(0.5 * 3.20, 100, 50)
    assert round(cost.usd_per_m_blended, 2) == 2.96  # type: ignore[arg-type]


def test_the_split_follows_prefill_and_decode_time() -> None:
    cost = token_cost(3.6, 1000, 100, prefill_s_per_s=0.25, decode_s_per_s=0.75)
    assert cost.split == "time" and cost.input_share == pytest.approx(0.25)
    usd_per_s = 3.6 / 3600
    assert cost.usd_per_m_input == pytest.approx(usd_per_s * 0.25 / 1000 * 1e6)
    assert cost.usd_per_m_output == pytest.approx(usd_per_s * 0.75 / 100 * 1e6)
    # the two sides add up to the whole bill
    spent = (cost.usd_per_m_input * 1000 + cost.usd_per_m_output * 100) / 1e6  # type: ignore[operator]
    assert spent == pytest.approx(usd_per_s)


def test_without_timings_a_fixed_ratio_splits_and_an_idle_side_has_no_price() -> None:
    even = token_cost(3.6, 100, 100)
    assert even.split == "ratio" and even.usd_per_m_input == pytest.approx(even.usd_per_m_output)
    heavy = token_cost(3.6, 100, 100, output_to_input_ratio=4.0)
    assert heavy.usd_per_m_output == pytest.approx(4 * heavy.usd_per_m_input)  # type: ignore[operator]
    idle = token_cost(3.6, 0, 0)
    assert idle.usd_per_m_blended is None and idle.usd_per_m_input is None


def test_break_even_against_a_per_token_api() -> None:
    # $3.60/h against $0.30/M input and $0.60/M output at 1000 in + 200 out a request: $0.00042 a request
    rps = break_even_rps(3.6, 1000, 200, 0.30, 0.60)
    assert rps == pytest.approx(0.001 / 0.00042)
