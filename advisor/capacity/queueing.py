"""Queueing formulas: what latency a replica's capacity implies at a load, and the capacity a latency allows.

The M/G/c model behind every p99 advisor estimates (capacity/ calibrates service times with it; the cost
replay's :class:`advisor.cost.replay.queueing.QueueModel` tabulates it over loads). Model and sources:


Model: each replica is a queue with ``c`` servers (its concurrency: worker processes or batch slots), fed
Poisson arrivals under a random split, with a service time of mean ``S``. Latency = S + waiting time W.
Round-robin and least-outstanding-requests balancing change the fleet's queue
(``advisor.cost.replay.balancing``).

Which model, and why: **M/D/c, approximated through Erlang C.** Inference on fixed-shape inputs has an
almost constant service time (the same FLOPs per request), so deterministic service (M/D/c) is the right
reference. M/D/c has no closed form that vectorises (Crommelin's formula needs a root search per load),
while M/M/c (Erlang C) does: P(W > t) = C(c, a) · exp(−(cμ − λ)·t). We use the Allen–Cunneen/Kingman
correction, which scales the waiting time by (c_a² + c_s²)/2 with c_a² = 1 for Poisson arrivals:

    P(W > t) ≈ C(c, a) · exp(−2(cμ − λ)·t / (1 + c_s²))

c_s² = 0 gives M/D/c (waits half those of M/M/c, the classic result for a single server and a good
approximation for several: Tijms, *A First Course in Stochastic Models*, 2003, §5.1 and §9.5; Allen,
*Probability, Statistics, and Queueing Theory*, 1990); c_s² = 1 gives exact Erlang C, for variable-length
work such as LLM generation. The plan's ``capacity.service_time_scv`` chooses.

Calibration: capacity is measured as the highest rate with p99 ≤ SLO. When the plan gives no service time,
S is solved so that the model's p99 at exactly the capacity equals the SLO; the model then agrees with the
measurement at the one point measured and interpolates elsewhere.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
P99_TAIL = 0.01
RHO_BINS = 2048  # resolution of the per-replica load grid used for tail tables


def erlang_c(servers: int, offered_load: Any) -> FloatArray:
    """Probability an arrival waits in M/M/c with ``servers`` and ``offered_load`` a = λ/μ (Erlangs).

    Vectorised over ``offered_load``; 1.0 where a ≥ servers (unstable: everybody waits).
    """
    a = np.asarray(offered_load, dtype=np.float64)
    b = np.ones_like(a)
    for k in range(1, servers + 1):  # Erlang B recursion, numerically stable
        b = a * b / (k + a * b)
    rho = a / servers
    with np.errstate(divide="ignore", invalid="ignore"):
        c = b / (1.0 - rho + rho * b)
    return np.where(rho >= 1.0, 1.0, np.clip(c, 0.0, 1.0))


def wait_tail(
    servers: int, service_time_ms: float, arrival_rps: Any, t_ms: Any, scv: float = 0.0
) -> FloatArray:
    """P(W > t): the probability a request waits over ``t_ms`` (module docstring); 1.0 if unstable."""
    lam = np.asarray(arrival_rps, dtype=np.float64) / 1000.0  # per ms
    mu = 1.0 / service_time_ms
    a = lam / mu
    c = erlang_c(servers, a)
    decay = 2.0 * (servers * mu - lam) / (1.0 + scv)
    with np.errstate(over="ignore", invalid="ignore"):
        tail = c * np.exp(-decay * np.maximum(np.asarray(t_ms, dtype=np.float64), 0.0))
    return np.where(a >= servers, 1.0, np.clip(tail, 0.0, 1.0))


def _erlang_c_scalar(servers: int, a: float) -> float:
    """:func:`erlang_c` for one load, in plain floats (the calibration calls it thousands of times)."""
    if a >= servers:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    rho = a / servers
    return min(1.0, max(0.0, b / (1.0 - rho + rho * b)))


def latency_quantile_ms(
    arrival_rps: float, servers: int, service_time_ms: float, scv: float = 0.0, q: float = 0.99
) -> float:
    """The ``q`` latency quantile (ms) of one replica at ``arrival_rps``; ``inf`` when it is overloaded."""
    mu = 1.0 / service_time_ms
    lam = arrival_rps / 1000.0
    if lam >= servers * mu:
        return math.inf
    c = _erlang_c_scalar(servers, lam / mu)
    tail = 1.0 - q
    if c <= tail:
        return service_time_ms
    decay = 2.0 * (servers * mu - lam) / (1.0 + scv)
    return service_time_ms + math.log(c / tail) / decay


def p99_latency_ms(arrival_rps: float, servers: int, service_time_ms: float, scv: float = 0.0) -> float:
    """p99 latency (ms) of one replica with ``servers`` slots at ``arrival_rps``; ``inf`` if overloaded."""
    return latency_quantile_ms(arrival_rps, servers, service_time_ms, scv, 0.99)


def max_utilisation_for_slo(
    service_time_ms: float, slo_p99_ms: float, servers: int = 1, scv: float = 0.0
) -> float:
    """The highest utilisation ρ = λ·S/c at which a replica's p99 stays within ``slo_p99_ms``.

    Returns 0.0 when the SLO is infeasible (the service time alone reaches it). Multiply by c/S to get
    the capacity in requests/ms; the optimiser uses it to pick target utilisations for unmeasured shapes.
    """
    if service_time_ms >= slo_p99_ms:
        return 0.0
    top = servers / service_time_ms * 1000.0  # rps at ρ = 1
    lo, hi = 0.0, 1.0  # p99 is non-decreasing in ρ: bisect on "within the SLO" (it may equal S on a range)
    for _ in range(80):
        mid = (lo + hi) / 2
        if p99_latency_ms(mid * top, servers, service_time_ms, scv) <= slo_p99_ms:
            lo = mid
        else:
            hi = mid
    return lo


@functools.lru_cache(maxsize=4096)
def calibrate_service_time_ms(
    capacity_rps: float, slo_p99_ms: float, servers: int, scv: float = 0.0
) -> float:
    """The service time S (ms) at which the model's p99 at ``capacity_rps`` equals ``slo_p99_ms``."""
    s_max = min(slo_p99_ms, servers / capacity_rps * 1000.0)

    def excess(s: float) -> float:
        value = p99_latency_ms(capacity_rps, servers, s, scv)
        return (value if math.isfinite(value) else 10 * slo_p99_ms) - slo_p99_ms

    lo, hi = s_max * 1e-9, s_max * (1 - 1e-12)
    if excess(hi) <= 0:  # pragma: no cover - defensive; excess(hi) > 0 by construction
        return hi
    from scipy.optimize import brentq  # here: scipy.optimize takes half a second to import

    return float(brentq(excess, lo, hi, xtol=s_max * 1e-12))
