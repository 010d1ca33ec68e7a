"""Ground truth for servers of known capacity: the M/D/k queue (Poisson arrivals, fixed service, k slots).

The synthetic reference server (:mod:`advisor.bench.servers.reference.synthetic`) has ``k`` worker slots and a
fixed service time ``s``: it saturates at ``k / s`` requests/s, and under open-loop Poisson load it *is* an
M/D/k FCFS queue. Its SLO-bounded capacity is the highest arrival rate whose p99 response time (wait +
service) stays under the SLO. That is what the harness must find, so the tests and benchmarks compare against
it.

Method (exact recursion, Monte Carlo over arrivals, fixed seed). With FCFS and identical deterministic
service, customers start in arrival order and finish in start order, so customer ``i`` starts when it arrives
or when customer ``i - k`` finishes, whichever is later::

    start[i] = max(a[i], start[i - k] + s)

Each residue class ``i mod k`` is then a Lindley recursion, which unrolls to a running maximum::

    start[j] = j*s + max_{m <= j} (a[m] - m*s)      (j, m indexing one residue class)

so a million customers cost one ``numpy.maximum.accumulate`` per class. The p99 is taken over customers after
a warm-up share; the same exponential draws are reused for every rate (common random numbers), which makes
p99 monotone in the rate and the bisection for the capacity well defined.
"""

from __future__ import annotations

import numpy as np

DEFAULT_CUSTOMERS = 400_000
DEFAULT_SEED = 20240611
WARMUP_SHARE = 0.05


def mdk_response_times_s(
    slots: int,
    service_s: float,
    rate_rps: float,
    *,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """Response times (s) of ``customers`` Poisson arrivals at ``rate_rps`` through an M/D/``slots`` queue.

    The first ``WARMUP_SHARE`` of customers is dropped (the queue starts empty). At or above saturation
    (``rate_rps >= slots / service_s``) the queue never settles and the times grow without bound; the
    function still returns them, so callers see the explosion rather than an error.
    """
    if slots < 1 or service_s <= 0 or rate_rps <= 0:
        raise ValueError("slots >= 1, service_s > 0 and rate_rps > 0 are required")
    gaps = np.random.default_rng(seed).standard_exponential(customers) / rate_rps
    arrivals = np.cumsum(gaps)
    starts = np.empty_like(arrivals)
    for r in range(slots):
        a = arrivals[r::slots]
        steps = np.arange(a.size) * service_s
        starts[r::slots] = steps + np.maximum.accumulate(a - steps)
    response = starts + service_s - arrivals
    return response[int(customers * WARMUP_SHARE) :]


def mdk_p99_ms(slots: int, service_s: float, rate_rps: float, **kwargs: int) -> float:
    """p99 response time (ms) of the M/D/k queue at ``rate_rps``; grows without bound at saturation."""
    return float(np.percentile(mdk_response_times_s(slots, service_s, rate_rps, **kwargs), 99)) * 1000.0


def mdk_capacity_rps(
    slots: int,
    service_s: float,
    slo_p99_ms: float,
    *,
    rel_tol: float = 1e-3,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
) -> float:
    """Highest Poisson arrival rate (req/s) at which the M/D/k p99 response time is <= ``slo_p99_ms``.

    Returns 0.0 when the SLO is below the service time itself (no rate can meet it). Bisection between 0 and
    the saturation rate ``slots / service_s`` to ``rel_tol``.
    """
    if slo_p99_ms <= service_s * 1000.0:
        return 0.0
    lo, hi = 0.0, slots / service_s
    while hi - lo > rel_tol * hi:
        mid = (lo + hi) / 2
        if mdk_p99_ms(slots, service_s, mid, customers=customers, seed=seed) <= slo_p99_ms:
            lo = mid
        else:
            hi = mid
    return lo
