"""Helpers for the bench tests: synthetic windows (from a latency curve or a simulated M/D/k queue)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from advisor.bench.measurements import WindowStats
from advisor.bench.search import CapacitySearch, SearchConfig
from advisor.domain import SLO


def window(
    rate: float,
    p99_ms: float,
    *,
    duration_s: float = 4.0,
    error_rate: float = 0.0,
    base_ms: int = 5,
    name: str = "w0",
) -> WindowStats:
    """A window of ``rate * duration`` requests whose Locust-style p99 is exactly ``p99_ms`` (an int)."""
    n = max(round(rate * duration_s), 1)
    top = n - int(n * 0.99)  # the fewest requests at the top that make it the p99 (see percentile_ms)
    hist = {base_ms: n - top} if n > top else {}
    hist[round(p99_ms)] = hist.get(round(p99_ms), 0) + top
    failures = round(n * error_rate)
    return WindowStats(
        name=name, duration_s=duration_s, requests=n, failures=failures, histogram=hist, max_ms=float(p99_ms)
    )


def run_curve(
    curve: Callable[[float], float],
    slo_ms: float,
    config: SearchConfig,
    *,
    errors: Callable[[float], float] = lambda r: 0.0,
    ceiling: float | None = None,
) -> CapacitySearch:
    """Drive a search to the end against a deterministic latency curve p99(rate)."""
    search = CapacitySearch(SLO(latency_p99_ms=slo_ms), config, ceiling_rps=ceiling)
    while (rate := search.next_rate()) is not None:
        p99 = curve(rate)
        windows = [window(rate, p99, error_rate=errors(rate), name=f"w{i}") for i in range(2)]
        search.record(rate, windows)
    return search


def _locust_round(ms: np.ndarray) -> np.ndarray:
    out = np.where(ms < 100, np.round(ms), np.where(ms < 1000, np.round(ms, -1), np.round(ms, -2)))
    return out.astype(int)


def mdk_windows(
    slots: int,
    service_s: float,
    rate: float,
    *,
    warmup_s: float,
    window_s: float,
    windows: int,
    rng: np.random.Generator,
    drain_s: float = 1.0,
) -> list[WindowStats]:
    """What the harness would see from an ideal M/D/k server: one point, starting from an empty queue."""
    span = warmup_s + window_s * windows
    arrivals = np.cumsum(rng.standard_exponential(int(rate * span * 1.5) + 50) / rate)
    arrivals = arrivals[arrivals < span]
    starts = np.empty_like(arrivals)
    for r in range(slots):
        a = arrivals[r::slots]
        steps = np.arange(a.size) * service_s
        starts[r::slots] = steps + np.maximum.accumulate(a - steps)
    done = starts + service_s
    latency_ms = (done - arrivals) * 1000
    out = []
    for i in range(windows):
        sel = (arrivals >= warmup_s + i * window_s) & (arrivals < warmup_s + (i + 1) * window_s)
        values, counts = np.unique(_locust_round(latency_ms[sel]), return_counts=True)
        failures = int(np.sum(done[sel] > span + drain_s))
        out.append(
            WindowStats(
                name=f"w{i}",
                duration_s=window_s,
                requests=int(sel.sum()),
                failures=failures,
                histogram={int(v): int(c) for v, c in zip(values, counts, strict=True)},
                max_ms=float(latency_ms[sel].max()) if sel.any() else 0.0,
            )
        )
    return out
