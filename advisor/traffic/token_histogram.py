"""Request sizes drawn from a histogram of tokens per request, to a given mean, and written as a token trace.

An engine's histogram counts requests per cumulative bucket ``le`` (vLLM's ``vllm:request_prompt_tokens`` and
``vllm:request_generation_tokens`` have buckets 1, 2, 5, 10, 20, 50, … up to the engine's ``--max-model-len``:
``build_1_2_5_buckets`` in vLLM's ``vllm/v1/metrics/loggers.py``). Its increase over a range is the size
distribution of the requests served in it, to a bucket's width. This module turns those counts into a fixed
number of whole token counts, deterministically:

1. each bucket gets rows in proportion to its count (largest remainders, so the rows add up);
2. a bucket ``(lo, hi]`` spreads its rows over the whole numbers ``lo+1 … hi`` at the quantiles
   ``((j + 0.5) / n) ** a`` of the bucket: ``a = 1`` spreads them evenly, as ``histogram_quantile``'s
   linear interpolation assumes; one tilt ``a`` for all buckets is found by bisection so that the mean is
   the one asked for (the counters' tokens ÷ requests, which the buckets' widths blur);
3. rounding to whole tokens keeps the sum, so the mean is the one asked for to within ½ token ÷ rows.

Worked example: buckets ``le`` 100, 200, +Inf with cumulative counts 3, 4, 4 and mean 90, in 4 rows: three
rows in (0, 100], one in (100, 200]; evenly spread they would be 17.5, 50.5, 83.5 and 150.5 (mean 75.5), so
the tilt moves every row up within its bucket until the mean is 90 (sum 360).

Cumulative counts that fall as ``le`` rises (each bucket's increase is extrapolated on its own) are made
monotone first, as ``histogram_quantile`` does. The ``+Inf`` bucket has no upper bound: it is read as
``(lo, 2·lo]`` (vLLM's last finite bucket is at least the model's context, so none of vLLM's requests are in
it). Where the buckets cannot hold the mean at all (a histogram and counters that disagree), sizes are scaled
to it and the returned note says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from advisor.errors import InputError
from advisor.paths import ensure_dir, write_text
from advisor.traffic.profile import FloatArray, IntArray

TRACE_ROWS = 10_000  # rows of a drawn trace: the mean is exact to 0.5 / 10,000 tokens
TRACE_SEED = 0  # the fixed shuffle that pairs input and output sizes
_TILT_LOG2 = 20.0  # the tilt searched over 2**-20 … 2**20 (all rows at a bucket's top … at its bottom)


def bucket_counts(cumulative: Sequence[tuple[str, float]], where: str) -> tuple[FloatArray, FloatArray]:
    """Upper bounds and per-bucket counts from ``(le, cumulative count)`` pairs (any order; ``+Inf`` as
    Prometheus writes it). InputError when an ``le`` is not a number (not a histogram's buckets)."""
    pairs = []
    for le, count in cumulative:
        try:
            upper = float(le)
        except ValueError:
            raise InputError(
                f"bucket label le={le!r} is not a number", where=where, fix="name a histogram's base metric"
            ) from None
        pairs.append((upper, max(float(count), 0.0)))
    pairs.sort()
    upper_bounds = np.array([p[0] for p in pairs], dtype=np.float64)
    running = np.maximum.accumulate(np.array([p[1] for p in pairs], dtype=np.float64))
    counts: FloatArray = np.diff(running, prepend=0.0)
    return upper_bounds, counts


def sizes_from_histogram(
    upper_bounds: FloatArray, counts: FloatArray, mean: float, rows: int = TRACE_ROWS
) -> tuple[IntArray, str]:
    """``rows`` whole token counts (each >= 1) shaped like the histogram, whose mean is ``mean``.

    Sizes come sorted, bucket by bucket. The note is empty, or says how the sizes were scaled when the
    buckets cannot hold ``mean``. ``mean`` must be >= 1 and the histogram must count some request."""
    lows, highs, quantiles = _rows_in_buckets(upper_bounds, counts, rows)
    span = highs - lows

    def mean_at(log2_tilt: float) -> float:
        return float((lows + span * quantiles ** (2.0**log2_tilt)).mean())

    top, bottom = mean_at(-_TILT_LOG2), mean_at(_TILT_LOG2)
    note = ""
    if bottom <= mean <= top:
        lo, hi = -_TILT_LOG2, _TILT_LOG2  # mean_at falls as the tilt rises
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if mean_at(mid) < mean else (mid, hi)
        log2_tilt = (lo + hi) / 2
    else:
        log2_tilt = -_TILT_LOG2 if mean > top else _TILT_LOG2
        note = (
            f"the histogram's buckets hold means of {bottom:,.1f}-{top:,.1f} tokens, not the counters' "
            f"{mean:,.1f}: sizes scaled to it"
        )
    x = lows + span * quantiles ** (2.0**log2_tilt)
    if note:
        x = x * (mean / float(x.mean()))
    return whole_tokens(x, round(mean * rows)), note


def sizes_at_mean(mean: float, rows: int = TRACE_ROWS) -> IntArray:
    """``rows`` whole token counts as close to ``mean`` as whole numbers go (e.g. 812 and 813 for 812.4)."""
    return whole_tokens(np.full(rows, mean), round(mean * rows))


def whole_tokens(x: FloatArray, total: int) -> IntArray:
    """Whole numbers >= 1 near ``x`` adding up to ``total`` (at least ``len(x)``): ``x`` rounded down, then
    one more token to the rows with the largest fractional parts (or one less to the largest rows)."""
    if total < len(x):
        raise InputError(f"{total} tokens cannot give {len(x)} requests a token each")
    v: IntArray = np.maximum(np.floor(x), 1).astype(np.int64)
    k = total - int(v.sum())
    if k > 0:
        whole, extra = divmod(k, len(v))
        v += whole
        v[np.argsort(-(x - np.floor(x)), kind="stable")[:extra]] += 1
    while k < 0:
        room = np.flatnonzero(v > 1)
        take = room[np.argsort(-v[room], kind="stable")[:-k]]
        v[take] -= 1
        k += len(take)
    return v


def _rows_in_buckets(
    upper_bounds: FloatArray, counts: FloatArray, rows: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per row: its bucket's lowest and highest whole token count, and its quantile within the bucket."""
    total = float(counts.sum())
    if not total > 0:
        raise InputError("the histogram counts no request in the range", fix="widen --since")
    share = counts / total * rows
    per_bucket = np.floor(share).astype(np.int64)
    short = rows - int(per_bucket.sum())
    per_bucket[np.argsort(-(share - per_bucket), kind="stable")[:short]] += 1
    lower_bounds = np.concatenate(([0.0], upper_bounds[:-1]))
    lows, highs, quantiles = [], [], []
    for lower, upper, n in zip(lower_bounds, upper_bounds, per_bucket, strict=True):
        if n == 0:
            continue
        low = max(math.floor(lower) + 1, 1)
        high = 2 * low if math.isinf(upper) else max(math.floor(upper), low)
        lows.append(np.full(n, float(low)))
        highs.append(np.full(n, float(high)))
        quantiles.append((np.arange(n) + 0.5) / n)
    return np.concatenate(lows), np.concatenate(highs), np.concatenate(quantiles)


def pair_sizes(input_tokens: IntArray, output_tokens: IntArray) -> tuple[IntArray, IntArray]:
    """The two marginals paired at random, with a fixed seed (the histograms say nothing of the joint)."""
    rng = np.random.default_rng(TRACE_SEED)
    return input_tokens[rng.permutation(len(input_tokens))], output_tokens[
        rng.permutation(len(output_tokens))
    ]


def write_token_trace(input_tokens: IntArray, output_tokens: IntArray, path: Path) -> Path:
    """Write ``input_tokens,output_tokens`` (what :func:`advisor.traffic.tokens.read_token_trace` reads, so
    a scenario's ``tokens: {trace: FILE}`` can name it) atomically; the folder is created when missing."""
    ensure_dir(path.parent, "the token traces folder")
    frame = pd.DataFrame({"input_tokens": input_tokens, "output_tokens": output_tokens})
    return write_text(path, frame.to_csv(index=False), "the token trace")
