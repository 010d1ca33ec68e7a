"""Request sizes drawn from a histogram's bucket counts: shaped like the histogram, at the counters' mean,
whole tokens, deterministic; and the token trace they are written to reads back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.errors import InputError
from advisor.traffic.token_histogram import (
    bucket_counts,
    pair_sizes,
    sizes_at_mean,
    sizes_from_histogram,
    whole_tokens,
    write_token_trace,
)
from advisor.traffic.tokens import read_token_trace

# vLLM's build_1_2_5_buckets(2048): the buckets of vllm:request_prompt_tokens for --max-model-len 2048
VLLM_EDGES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


def _bounds(edges: tuple[int, ...] = VLLM_EDGES) -> np.ndarray:
    return np.array([*edges, np.inf], dtype=np.float64)


def _in_bucket(sizes: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Requests per bucket (le: a size equal to an upper bound is in that bucket)."""
    return np.bincount(np.searchsorted(upper, sizes, side="left"), minlength=len(upper))


def test_bucket_counts_are_per_bucket_sorted_and_made_monotone() -> None:
    upper, counts = bucket_counts([("+Inf", 10), ("200", 9.0), ("100", 3), ("500", 8.7)], "--x")
    assert upper.tolist() == [100, 200, 500, np.inf]
    # 8.7 < 9 (each bucket's increase extrapolated on its own): cumulative made monotone first
    assert counts.tolist() == pytest.approx([3, 6, 0, 1])
    with pytest.raises(InputError, match="le='abc' is not a number"):
        bucket_counts([("abc", 1.0)], "--input-tokens-histogram")


def test_the_worked_example_of_the_module_docstring() -> None:
    upper, counts = bucket_counts([("100", 3), ("200", 4), ("+Inf", 4)], "--x")
    even, note = sizes_from_histogram(upper, counts, 75.5, rows=4)  # the mean of an even spread
    assert even.tolist() == [17, 50, 84, 151] and not note
    sizes, note = sizes_from_histogram(upper, counts, 90.0, rows=4)
    assert sizes.sum() == 360 and not note
    assert all(1 <= s <= 100 for s in sizes[:3]) and 101 <= sizes[3] <= 200  # rows stay in their buckets


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 5_000), min_size=len(VLLM_EDGES) + 1, max_size=len(VLLM_EDGES) + 1),
    where=st.floats(0.02, 0.98),
    rows=st.integers(50, 3_000),
)
def test_drawn_sizes_keep_the_buckets_and_hit_the_mean(counts: list[int], where: float, rows: int) -> None:
    counts[0] = 0  # tokens per request start at 1: (0, 1] is the first bucket vLLM fills
    counts[-1] = 0  # vLLM's +Inf bucket stays empty (its last finite bucket is the context)
    counts[5] += 1  # some request
    upper, per_bucket = _bounds(), np.array(counts, dtype=np.float64)
    # a mean between all requests at their bucket's bottom and all at its top
    lo_mean = float(np.sum(per_bucket * np.concatenate(([1.0], np.array(VLLM_EDGES[:-1]) + 1, [2001]))))
    hi_mean = float(np.sum(per_bucket * np.array([*VLLM_EDGES, 4002])))
    mean = (lo_mean + where * (hi_mean - lo_mean)) / per_bucket.sum()
    sizes, note = sizes_from_histogram(upper, per_bucket, mean, rows)
    assert len(sizes) == rows and sizes.min() >= 1
    assert abs(sizes.sum() - round(mean * rows)) == 0  # the mean to 0.5 / rows tokens
    if not note:  # (a bucket too small for a row of its own can leave the mean out of reach)
        expected = per_bucket / per_bucket.sum() * rows
        assert np.all(np.abs(_in_bucket(sizes, upper) - expected) < 1.0 + 1e-9)  # largest remainders
    again, _ = sizes_from_histogram(upper, per_bucket, mean, rows)
    assert np.array_equal(sizes, again)  # deterministic


def test_a_mean_the_buckets_cannot_hold_is_reached_by_scaling_and_said() -> None:
    upper, counts = bucket_counts([("10", 5), ("20", 10), ("+Inf", 10)], "--x")
    sizes, note = sizes_from_histogram(upper, counts, 300.0, rows=1_000)
    assert sizes.sum() == 300_000 and "not the counters' 300.0: sizes scaled" in note
    with pytest.raises(InputError, match="counts no request"):
        sizes_from_histogram(upper, np.zeros(3), 10.0)


def test_sizes_at_a_mean_are_its_two_neighbouring_whole_numbers() -> None:
    sizes = sizes_at_mean(812.4, rows=10_000)
    assert set(sizes.tolist()) == {812, 813} and sizes.sum() == 8_124_000


def test_whole_tokens_keep_the_sum_in_both_directions() -> None:
    x = np.array([1.0, 1.2, 7.9, 30.5])
    assert whole_tokens(x, 41).tolist() == [
        1,
        1,
        8,
        31,
    ]  # rounded down, then up where the fraction is largest
    assert whole_tokens(x, 45).tolist() == [2, 2, 9, 32]
    # below 1 counts as 1 ([1, 1, 1, 3]); the one token too many comes off the largest row
    assert whole_tokens(x * 0.1, 5).tolist() == [1, 1, 1, 2]
    with pytest.raises(InputError, match="cannot give 4 requests a token each"):
        whole_tokens(x, 3)


def test_pairing_is_a_fixed_shuffle_of_each_marginal(tmp_path: Path) -> None:
    tin, tout = np.arange(1, 1001), np.arange(1001, 2001)
    a_in, a_out = pair_sizes(tin, tout)
    b_in, b_out = pair_sizes(tin, tout)
    assert np.array_equal(a_in, b_in) and np.array_equal(a_out, b_out)
    assert sorted(a_in.tolist()) == tin.tolist() and sorted(a_out.tolist()) == tout.tolist()
    assert abs(np.corrcoef(a_in, a_out)[0, 1]) < 0.1  # independent: the histograms are marginals
    path = write_token_trace(a_in, a_out, tmp_path / "traces" / "t.csv")
    assert path.read_text().splitlines()[0] == "input_tokens,output_tokens"
    trace = read_token_trace(path)
    assert np.array_equal(trace.input_tokens, a_in) and np.array_equal(trace.output_tokens, a_out)
