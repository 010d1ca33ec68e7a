"""Request sizes of LLM traffic: token traces, size distributions and the input × output bucket grid.

A request to a language model has two sizes, its prompt (input tokens) and its answer (output tokens), and
both drive what it costs to serve: prefill grows with the input, decode time and KV-cache use with both.
This module reads them from request traces, draws them from distributions, and sorts them into buckets.

Traces: the Azure LLM inference traces 2023 (``TIMESTAMP``, ``ContextTokens``, ``GeneratedTokens``; Patel
et al., Splitwise, ISCA 2024) and BurstGPT (``Timestamp`` in seconds, ``Request tokens``, ``Response
tokens``; HPMLL/BurstGPT, arXiv 2401.17644; its failed requests have 0 response tokens and are dropped).

Buckets: input and output lengths are cut at Mélange's edges (Griggs et al., arXiv 2404.14527):
25, 100, 250, 500, 1k, 2k, 4k, 8k tokens. A bucket is labelled ``"in 1k-2k x out 250-500"``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from advisor.errors import InputError
from advisor.traffic.timestamps import find_column, parse_timestamps, read_table

MELANGE_EDGES: tuple[int, ...] = (25, 100, 250, 500, 1000, 2000, 4000, 8000)
"""Bucket edges in tokens (Mélange, arXiv 2404.14527, §6 and ``melange/config/example.json``)."""

# lower-cased, as advisor.traffic.timestamps.find_column compares them
_INPUT_COLUMNS = ("contexttokens", "request tokens", "input_tokens", "prompt_tokens", "input_len")
_OUTPUT_COLUMNS = ("generatedtokens", "response tokens", "output_tokens", "completion_tokens", "output_len")
_TIME_COLUMNS = ("timestamp", "time", "arrival", "arrival_time")


@dataclass(frozen=True)
class TokenTrace:
    """Per request: input and output tokens, and arrival seconds from the first request (when known)."""

    path: Path
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    arrival_s: np.ndarray | None

    def __len__(self) -> int:
        return len(self.input_tokens)

    @property
    def duration_s(self) -> float:
        if self.arrival_s is None or len(self.arrival_s) < 2:
            return 0.0
        return float(self.arrival_s[-1] - self.arrival_s[0])

    def select(self, mask: np.ndarray) -> TokenTrace:
        arrival = None if self.arrival_s is None else self.arrival_s[mask]
        return TokenTrace(self.path, self.input_tokens[mask], self.output_tokens[mask], arrival)


def _fmt_edge(tokens: int) -> str:
    return f"{tokens // 1000}k" if tokens >= 1000 and tokens % 1000 == 0 else str(tokens)


def range_labels(edges: Sequence[int] = MELANGE_EDGES) -> list[str]:
    """``["<25", "25-100", ..., "4k-8k", ">=8k"]``: one label per interval the edges cut."""
    labels = [f"<{_fmt_edge(edges[0])}"]
    labels += [f"{_fmt_edge(a)}-{_fmt_edge(b)}" for a, b in itertools.pairwise(edges)]
    labels.append(f">={_fmt_edge(edges[-1])}")
    return labels


def bucket_index(tokens: np.ndarray, edges: Sequence[int] = MELANGE_EDGES) -> np.ndarray:
    """Index into :func:`range_labels` for each token count (an edge belongs to the bucket above it)."""
    return np.searchsorted(np.asarray(edges), np.asarray(tokens), side="right")


def bucket_label(input_tokens: int, output_tokens: int, edges: Sequence[int] = MELANGE_EDGES) -> str:
    labels = range_labels(edges)
    i = int(bucket_index(np.asarray([input_tokens]), edges)[0])
    o = int(bucket_index(np.asarray([output_tokens]), edges)[0])
    return f"in {labels[i]} x out {labels[o]}"


@dataclass(frozen=True)
class BucketGrid:
    """Shares of requests per (input bucket, output bucket); rows are input buckets, columns output ones."""

    labels: list[str]
    counts: np.ndarray  # shape (len(labels), len(labels)), int

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def shares(self) -> np.ndarray:
        return self.counts / self.total if self.total else self.counts.astype(float)

    def cells(self, min_share: float = 0.0) -> list[tuple[str, float, int, int]]:
        """(bucket label, share, input index, output index) of the non-empty cells, largest share first."""
        shares = self.shares()
        out = [
            (f"in {self.labels[i]} x out {self.labels[o]}", float(shares[i, o]), i, o)
            for i in range(len(self.labels))
            for o in range(len(self.labels))
            if self.counts[i, o] > 0 and shares[i, o] >= min_share
        ]
        return sorted(out, key=lambda c: (-c[1], c[2], c[3]))


def bucket_grid(trace: TokenTrace, edges: Sequence[int] = MELANGE_EDGES) -> BucketGrid:
    labels = range_labels(edges)
    n = len(labels)
    flat = bucket_index(trace.input_tokens, edges) * n + bucket_index(trace.output_tokens, edges)
    counts = np.bincount(flat, minlength=n * n).reshape(n, n)
    return BucketGrid(labels, counts)


def in_bucket(trace: TokenTrace, label: str, edges: Sequence[int] = MELANGE_EDGES) -> TokenTrace:
    """The requests of one bucket (by its label); InputError naming the known labels when it is empty."""
    grid = bucket_grid(trace, edges)
    for cell, _share, i, o in grid.cells():
        if cell == label:
            mask = (bucket_index(trace.input_tokens, edges) == i) & (
                bucket_index(trace.output_tokens, edges) == o
            )
            return trace.select(mask)
    known = ", ".join(c[0] for c in grid.cells()[:5])
    raise InputError(
        f"no request of {trace.path.name} falls in bucket {label!r}",
        where="--bucket",
        fix=f"use one of the trace's buckets, e.g. {known}",
    )


def read_token_trace(path: Path) -> TokenTrace:
    """Read an Azure-style or BurstGPT-style trace (see the module docstring); InputError names the line.

    Requests with 0 output tokens (BurstGPT's failures) are dropped; negative or non-integer counts are
    errors. Arrival times are kept when the file has a timestamp column (seconds from the first request).
    """
    frame, lines = read_table(path)
    cin = find_column(frame, _INPUT_COLUMNS)
    cout = find_column(frame, _OUTPUT_COLUMNS)
    if cin is None or cout is None:
        raise InputError(
            "not a token trace: no input/output token columns",
            where=str(path),
            fix="give columns ContextTokens and GeneratedTokens (Azure) or Request tokens and Response tokens"
            " (BurstGPT)",
        )
    tin = _counts(frame[cin], lines, path, cin)
    tout = _counts(frame[cout], lines, path, cout)
    keep = tout > 0
    if not keep.any():
        raise InputError("no request with output tokens", where=str(path), fix="check the trace's columns")
    arrival = _arrivals(frame, lines, path)
    trace = TokenTrace(path, tin, tout, arrival).select(keep)
    if trace.arrival_s is not None:
        order = np.argsort(trace.arrival_s, kind="stable")
        start = trace.arrival_s[order[0]]
        trace = TokenTrace(
            path, trace.input_tokens[order], trace.output_tokens[order], trace.arrival_s[order] - start
        )
    return trace


def _counts(column: pd.Series, lines: np.ndarray, path: Path, name: str) -> np.ndarray:
    values = pd.to_numeric(column.str.strip(), errors="coerce")
    bad = values.isna() | (values < 0) | (values != values.round())
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{name} is not a whole number of tokens: {column.iloc[row]!r}",
            where=f"{path}:{lines[row]}",
            fix="token counts are integers >= 0",
        )
    counts: np.ndarray = values.to_numpy(dtype=np.int64)
    return counts


def _arrivals(frame: pd.DataFrame, lines: np.ndarray, path: Path) -> np.ndarray | None:
    col = find_column(frame, _TIME_COLUMNS)
    if col is None:
        return None
    numeric = pd.to_numeric(frame[col].str.strip(), errors="coerce")
    if not numeric.isna().any():  # BurstGPT: seconds
        seconds: np.ndarray = numeric.to_numpy(dtype=float)
        return seconds
    index = parse_timestamps(frame[col], lines, path, timezone=None)
    offsets: np.ndarray = (index.asi8 - index.asi8.min()).astype(float) / 1e9
    return offsets


class SizeSampler:
    """Draws (input, output) token counts per request, reproducibly from a seed."""

    def __init__(
        self,
        *,
        kind: str,
        input_tokens: float | None = None,
        output_tokens: float | None = None,
        input_stddev: float = 0.0,
        output_stddev: float = 0.0,
        input_range: tuple[int, int] | None = None,
        output_range: tuple[int, int] | None = None,
        trace: TokenTrace | None = None,
    ) -> None:
        self.kind = kind
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.input_stddev = input_stddev
        self.output_stddev = output_stddev
        self.input_range = input_range
        self.output_range = output_range
        self.trace = trace

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` input and ``n`` output token counts, each at least 1."""
        rng = np.random.default_rng(seed)
        if self.kind == "trace":
            assert self.trace is not None
            idx = rng.integers(0, len(self.trace), size=n)
            return self.trace.input_tokens[idx].copy(), self.trace.output_tokens[idx].copy()
        if self.kind == "uniform":
            assert self.input_range is not None and self.output_range is not None
            tin = rng.integers(self.input_range[0], self.input_range[1] + 1, size=n)
            tout = rng.integers(self.output_range[0], self.output_range[1] + 1, size=n)
        else:
            assert self.input_tokens is not None and self.output_tokens is not None
            tin = np.rint(rng.normal(self.input_tokens, self.input_stddev, size=n))
            tout = np.rint(rng.normal(self.output_tokens, self.output_stddev, size=n))
            if self.kind == "fixed":
                tin = np.full(n, round(self.input_tokens))
                tout = np.full(n, round(self.output_tokens))
        return np.maximum(tin, 1).astype(np.int64), np.maximum(tout, 1).astype(np.int64)

    def mean_tokens(self) -> tuple[float, float]:
        tin, tout = self.sample(4096, seed=0)
        return float(tin.mean()), float(tout.mean())
