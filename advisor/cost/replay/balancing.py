"""How the load balancer spreads requests over the ready replicas, and what that does to the queue.

Three algorithms, as the platforms name them:

- ``random``: each request to a replica drawn at random — kube-proxy's iptables mode (probability rules per
  endpoint), SageMaker's default ``RANDOM`` routing, NLB's flow hash per connection. A replica then sees
  Poisson arrivals at λ/R: the per-replica M/G/c queue of ``advisor.cost.replay.queueing``, whatever R is.
- ``round_robin``: request i to replica i mod R — ALB's default ``load_balancing.algorithm.type`` and IPVS's
  ``rr``. A replica sees every R-th arrival of a Poisson stream: Erlang-R inter-arrival times, squared
  coefficient of variation c_a² = 1/R, so less waiting than random; the Allen–Cunneen approximation scales
  the wait by (c_a² + c_s²)/2 instead of (1 + c_s²)/2.
- ``least_outstanding_requests``: to the replica with the fewest requests in flight — ALB's
  ``least_outstanding_requests`` and SageMaker's ``LEAST_OUTSTANDING_REQUESTS``. No replica idles while
  another has a queue, which is the central queue of R·c servers (M/G/(R·c)): the best of the three, and the
  closer to it the more replicas.

Waiting-time tail, per (replica count, per-replica load ρ): P(W > t) ≈ C(n, a) · exp(−2(nμ − λ)t / (c_a² +
c_s²)) with n servers fed λ (Erlang C through the Poisson form of Erlang B, B = pmf(n; a) / cdf(n; a), so
thousands of servers cost no loop). The replica count enters through classes: the replay puts each step in
the class of its ready replicas, evaluated at the class's lowest count (conservative: fewer replicas
spread no better).

Backlogs (``advisor.cost.replay.backlog``): behind least-outstanding-requests a burst's backlog waits for
whichever replica frees first, so every ready replica drains it; behind random and round-robin splits requests
queue at the replica they were sent to, and only the replicas that were overloaded hold and drain it, while
new replicas take their even share of new arrivals.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln, pdtr

from advisor.recommendation.scaling import Balancing

FloatArray = npt.NDArray[np.float64]
REPLICA_CLASSES = (
    1,
    2,
    3,
    4,
    5,
    6,
    8,
    10,
    12,
    16,
    20,
    24,
    32,
    40,
    48,
    64,
    96,
    128,
    192,
    256,
    384,
    512,
    768,
    1024,
)


@functools.lru_cache(maxsize=512)
def replica_classes(balancing: Balancing, max_replicas: int) -> npt.NDArray[np.int64]:
    """The replica counts the classes are evaluated at; one class when the count does not matter
    (read-only: shared through the cache)."""
    if balancing is Balancing.RANDOM:
        out = np.ones(1, dtype=np.int64)
    else:
        top = max(1, max_replicas)
        out = np.asarray([k for k in REPLICA_CLASSES if k <= top], dtype=np.int64)
    out.setflags(write=False)
    return out


def erlang_c_poisson(servers: npt.NDArray[np.floating], offered: FloatArray) -> FloatArray:
    """Erlang C for arrays of server counts and offered loads (broadcast), without a loop over servers."""
    n = np.asarray(servers, dtype=np.float64)
    a = np.asarray(offered, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_pmf = n * np.log(np.maximum(a, 1e-300)) - a - gammaln(n + 1.0)
        b = np.exp(log_pmf) / np.maximum(pdtr(n, a), 1e-300)
        rho = a / n
        c = b / (1.0 - rho + rho * b)
    return np.where(rho >= 1.0, 1.0, np.clip(np.nan_to_num(c, nan=1.0), 0.0, 1.0))


def wait_at(
    balancing: Balancing,
    servers: int,
    service_time_ms: float,
    scv: float,
    counts: FloatArray,
    rho: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """(C, decay per ms) at pairs of replica counts and per-replica loads ρ (arrays of one shape).

    The probability a request waits over t ms is C · exp(−decay · t).
    """
    mu = 1.0 / service_time_ms
    lam_replica = rho * servers * mu  # arrivals per ms at one replica
    if balancing is Balancing.LEAST_OUTSTANDING_REQUESTS:
        n, lam, ca2 = servers * counts, lam_replica * counts, np.ones_like(counts)
    else:
        n, lam = np.full_like(counts, float(servers)), lam_replica
        ca2 = 1.0 / counts if balancing is Balancing.ROUND_ROBIN else np.ones_like(counts)
    c = erlang_c_poisson(n, lam / mu)
    decay = 2.0 * (n * mu - lam) / np.maximum(ca2 + scv, 1e-9)
    return c, decay
