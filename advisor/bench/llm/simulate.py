"""Ground truth for the synthetic LLM server: its engine under Poisson load, simulated, and its capacity.

The synthetic LLM server (:mod:`advisor.bench.servers.reference.synthetic_llm`) runs the engine of
:mod:`advisor.bench.llm.engine` in real time. Here the same engine runs over a long Poisson arrival sequence
with no clock, and the metrics follow advisor's definitions (:data:`advisor.bench.llm.records.DEFINITIONS`)
exactly, with the intended send time as the arrival: TTFT = first token − arrival; TPOT = (last token − first
token) / (output tokens − 1), over the requests with two tokens or more; percentiles over requests (numpy's
linear interpolation, as the bench reports them). What the server adds on top (HTTP, the event loop's wake-up
lateness, the network) is a few milliseconds, which the integration test bounds.

Method: for each seed, ``requests`` standard exponential gaps and request sizes (drawn uniformly with
replacement from the given ``(input, output)`` pairs) are drawn once and reused at every rate, only scaled by
``1 / rate`` (common random numbers), so the metrics are smooth in the rate and the bisection is well defined.
The first ``WARMUP_SHARE`` of each sequence (the engine starts empty) and the last ``COOLDOWN_SHARE`` (the
load thins out as arrivals stop) are left out; the rest of every seed is pooled.

:func:`true_capacity` bisects the rate between 0 and the engine's saturation throughput
(:meth:`~advisor.bench.llm.engine.EngineConfig.saturation_rps`, an upper bound on any capacity) until the
bracket is narrower than ``rel_tol`` of its upper end: the true capacity lies in ``[capacity_rps,
capacity_high_rps)`` up to simulation noise. Above capacity the backlog grows for the whole simulated window,
so the p99 of a long simulation is far over the bound and a failing rate is rarely misjudged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from advisor.bench.llm.engine import EngineConfig, schedule
from advisor.domain import FrozenModel
from advisor.errors import InputError

DEFAULT_REQUESTS = 20_000
DEFAULT_SEEDS = 3
DEFAULT_SEED = 20240611
DEFAULT_REL_TOL = 0.01
DEFAULT_QUANTILE = 0.99
WARMUP_SHARE = 0.05
COOLDOWN_SHARE = 0.05
MIN_RATE_SHARE = 1e-3
"""Below this share of the saturation rate the bisection gives up: the capacity is reported as 0."""

Sizes = Sequence[tuple[int, int]]
"""Request sizes to draw from, uniformly with replacement: ``(input tokens, output tokens)`` pairs; a single
pair means every request has that size. A bucket's truth is computed from the pairs of that bucket."""


class SimulatedPoint(FrozenModel):
    """One simulated open-loop point: the metrics of the measured requests, pooled over the seeds (ms).

    The ``*_p99_ms`` fields are the ``quantile`` percentile (0.99 unless told); the TPOT fields are None when
    no request has two tokens or more.
    """

    rate_rps: float = Field(gt=0)
    requests: int = Field(ge=0, description="measured requests (all seeds, warm-up and cool-down left out)")
    quantile: float = DEFAULT_QUANTILE
    ttft_p50_ms: float
    ttft_p99_ms: float
    tpot_p50_ms: float | None
    tpot_p99_ms: float | None
    e2e_p99_ms: float

    def meets(self, slo_ttft_p99_ms: float | None, slo_tpot_p99_ms: float | None) -> bool:
        """Both bounds met (an unset bound, or a TPOT with no multi-token request, is met)."""
        if slo_ttft_p99_ms is not None and self.ttft_p99_ms > slo_ttft_p99_ms:
            return False
        return slo_tpot_p99_ms is None or self.tpot_p99_ms is None or self.tpot_p99_ms <= slo_tpot_p99_ms


class SimulatedCapacity(FrozenModel):
    """The highest Poisson rate meeting both bounds, to the bisection tolerance, and how it was found.

    ``capacity_rps`` passed; ``capacity_high_rps`` failed (None when even the saturation rate passed, so the
    capacity is the saturation throughput). ``capacity_rps`` is 0 with a ``reason`` when no rate passes.
    """

    capacity_rps: float = Field(ge=0)
    capacity_high_rps: float | None = Field(default=None, ge=0)
    saturation_rps: float = Field(gt=0, description="the engine's throughput with these sizes, batch full")
    slo_ttft_p99_ms: float | None
    slo_tpot_p99_ms: float | None
    quantile: float
    rel_tol: float = Field(description="bisection stopped when high - low <= rel_tol x high")
    requests: int = Field(description="simulated requests per seed and rate")
    seeds: int
    probes: int = Field(description="rates simulated")
    at_capacity: SimulatedPoint | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Draws:
    """One seed's random numbers: exponential gaps (rate 1) and request sizes."""

    unit_gaps_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


def _size_array(sizes: Sizes) -> np.ndarray:
    arr = np.asarray(list(sizes), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != 2:
        raise InputError(
            "request sizes must be a non-empty list of (input tokens, output tokens) pairs",
            where="sizes",
            fix="e.g. [(512, 128)] or the pairs of one bucket of a trace",
        )
    if arr[:, 0].min() < 0 or arr[:, 1].min() < 1:
        raise InputError("input tokens must be >= 0 and output tokens >= 1", where="sizes")
    return arr


def _draws(sizes: np.ndarray, requests: int, seeds: int, seed: int) -> list[_Draws]:
    if requests < 100 or seeds < 1:
        raise InputError(f"simulate at least 100 requests and 1 seed, not {requests} and {seeds}")
    out = []
    for i in range(seeds):
        rng = np.random.default_rng([seed, i])
        picks = sizes[rng.integers(0, len(sizes), size=requests)]
        out.append(_Draws(rng.standard_exponential(requests), picks[:, 0].copy(), picks[:, 1].copy()))
    return out


def _simulate(config: EngineConfig, rate_rps: float, draws: list[_Draws], quantile: float) -> SimulatedPoint:
    ttft, tpot, e2e = [], [], []
    for d in draws:
        arrivals_ms = np.cumsum(d.unit_gaps_s) * (1000.0 / rate_rps)
        sched = schedule(config, arrivals_ms, d.input_tokens, d.output_tokens)
        n = len(arrivals_ms)
        keep = slice(int(n * WARMUP_SHARE), n - int(n * COOLDOWN_SHARE))
        ttft.append(sched.ttft_ms[keep])
        e2e.append(sched.e2e_ms[keep])
        per_request = sched.tpot_ms[keep]
        tpot.append(per_request[~np.isnan(per_request)])
    ttft_all, tpot_all, e2e_all = np.concatenate(ttft), np.concatenate(tpot), np.concatenate(e2e)
    q = quantile * 100.0
    return SimulatedPoint(
        rate_rps=rate_rps,
        requests=len(ttft_all),
        quantile=quantile,
        ttft_p50_ms=float(np.percentile(ttft_all, 50)),
        ttft_p99_ms=float(np.percentile(ttft_all, q)),
        tpot_p50_ms=float(np.percentile(tpot_all, 50)) if tpot_all.size else None,
        tpot_p99_ms=float(np.percentile(tpot_all, q)) if tpot_all.size else None,
        e2e_p99_ms=float(np.percentile(e2e_all, q)),
    )


def simulate_point(
    config: EngineConfig,
    rate_rps: float,
    sizes: Sizes,
    *,
    requests: int = DEFAULT_REQUESTS,
    seeds: int = DEFAULT_SEEDS,
    seed: int = DEFAULT_SEED,
    quantile: float = DEFAULT_QUANTILE,
) -> SimulatedPoint:
    """The engine under Poisson arrivals at ``rate_rps`` (req/s) with sizes drawn from ``sizes``.

    Above saturation the numbers describe a backlog that grew for the whole simulated window (they grow with
    ``requests``); InputError for a non-positive rate or empty sizes.
    """
    if not rate_rps > 0 or not math.isfinite(rate_rps):
        raise InputError(f"the rate must be a positive number of requests/s, not {rate_rps}")
    return _simulate(config, rate_rps, _draws(_size_array(sizes), requests, seeds, seed), quantile)


def true_capacity(
    engine_config: EngineConfig,
    slo_ttft_p99_ms: float | None,
    slo_tpot_p99_ms: float | None,
    sizes: Sizes,
    *,
    requests: int = DEFAULT_REQUESTS,
    seeds: int = DEFAULT_SEEDS,
    seed: int = DEFAULT_SEED,
    rel_tol: float = DEFAULT_REL_TOL,
    quantile: float = DEFAULT_QUANTILE,
) -> SimulatedCapacity:
    """The highest Poisson rate (req/s) whose p99 TTFT and p99 TPOT meet the bounds (None: unbounded).

    Bisection between 0 and the saturation rate to ``rel_tol`` (see the module docstring). Returns capacity 0
    with a reason when an isolated request already misses a bound or no rate above ``MIN_RATE_SHARE`` of
    saturation passes; the saturation rate itself (``capacity_high_rps`` None) when even it passes.
    InputError when neither bound is set, a bound is not positive, or the sizes take the engine no time.
    """
    if slo_ttft_p99_ms is None and slo_tpot_p99_ms is None:
        raise InputError(
            "a capacity needs a TTFT or a TPOT bound", fix="set slo_ttft_p99_ms or slo_tpot_p99_ms"
        )
    for name, bound in (("slo_ttft_p99_ms", slo_ttft_p99_ms), ("slo_tpot_p99_ms", slo_tpot_p99_ms)):
        if bound is not None and not (bound > 0 and math.isfinite(bound)):
            raise InputError(f"{name} must be a positive number of ms, not {bound}", where=name)
    if not 0 < rel_tol < 1:
        raise InputError(f"rel_tol must be within (0, 1), not {rel_tol}", where="rel_tol")
    size_arr = _size_array(sizes)
    saturation = engine_config.saturation_rps(float(size_arr[:, 0].mean()), float(size_arr[:, 1].mean()))
    if not math.isfinite(saturation):
        raise InputError(
            "these request sizes take the engine no time (one output token and no prefill cost)",
            where="sizes",
            fix="give a prefill cost or requests of two tokens or more",
        )
    result = {
        "saturation_rps": saturation,
        "slo_ttft_p99_ms": slo_ttft_p99_ms,
        "slo_tpot_p99_ms": slo_tpot_p99_ms,
        "quantile": quantile,
        "rel_tol": rel_tol,
        "requests": requests,
        "seeds": seeds,
    }
    q = quantile * 100.0
    isolated_ttft = float(np.percentile([engine_config.isolated_ttft_ms(int(i)) for i in size_arr[:, 0]], q))
    multi_token = bool((size_arr[:, 1] >= 2).any())
    isolated_tpot = engine_config.isolated_tpot_ms()
    if slo_ttft_p99_ms is not None and isolated_ttft > slo_ttft_p99_ms:
        return SimulatedCapacity(
            capacity_rps=0.0,
            probes=0,
            reason=f"an isolated request's TTFT p{q:g} is {isolated_ttft:.1f} ms, over the bound",
            **result,
        )
    if slo_tpot_p99_ms is not None and multi_token and isolated_tpot > slo_tpot_p99_ms:
        return SimulatedCapacity(
            capacity_rps=0.0,
            probes=0,
            reason=f"an isolated request's TPOT is {isolated_tpot:.1f} ms, over the bound",
            **result,
        )

    draws = _draws(size_arr, requests, seeds, seed)
    lo, hi, probes = 0.0, saturation, 0
    best: SimulatedPoint | None = None
    while hi - lo > rel_tol * hi:
        if hi < MIN_RATE_SHARE * saturation:
            return SimulatedCapacity(
                capacity_rps=0.0,
                capacity_high_rps=hi,
                probes=probes,
                reason=f"no rate above {MIN_RATE_SHARE:g} x saturation ({saturation:.3g} req/s) meets them",
                **result,
            )
        mid = (lo + hi) / 2
        point = _simulate(engine_config, mid, draws, quantile)
        probes += 1
        if point.meets(slo_ttft_p99_ms, slo_tpot_p99_ms):
            lo, best = mid, point
        else:
            hi = mid
    if hi == saturation:  # no probe failed: the saturation rate itself may pass
        top = _simulate(engine_config, saturation, draws, quantile)
        probes += 1
        if top.meets(slo_ttft_p99_ms, slo_tpot_p99_ms):
            return SimulatedCapacity(
                capacity_rps=saturation,
                probes=probes,
                at_capacity=top,
                reason="the bounds do not bind below saturation: the capacity is the engine's throughput",
                **result,
            )
    return SimulatedCapacity(capacity_rps=lo, capacity_high_rps=hi, probes=probes, at_capacity=best, **result)
