"""The queue model per load-balancing algorithm against a per-request discrete-event simulation.

R replicas of one slot with a fixed service time get Poisson arrivals spread at random, round robin, or to
the replica with the fewest requests in flight (a central queue: the next free replica takes the oldest
request). The simulation counts every request's latency; the model's p99 at the same replica count and
load must agree within the stated tolerance (the waiting time from 10 % under to 35 % over the simulated,
the p99 within 25 %), and order the three the same way.
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from advisor.capacity.queueing import RHO_BINS
from advisor.cost.replay.queueing import QueueModel
from advisor.recommendation.scaling import Balancing

SERVICE_MS = 50.0


def simulate_p99(balancing: Balancing, replicas: int, rho: float, requests: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    rate_per_ms = rho * replicas / SERVICE_MS
    arrivals = np.cumsum(rng.exponential(1.0 / rate_per_ms, requests))
    if balancing is Balancing.LEAST_OUTSTANDING_REQUESTS:
        free = [0.0] * replicas  # when each replica is next free; FIFO central queue
        heapq.heapify(free)
        done = np.empty(requests)
        for i, a in enumerate(arrivals):
            start = max(a, heapq.heappop(free))
            done[i] = start + SERVICE_MS
            heapq.heappush(free, done[i])
    else:
        target = (
            rng.integers(0, replicas, requests)
            if balancing is Balancing.RANDOM
            else np.arange(requests) % replicas
        )
        done = np.empty(requests)
        for r in range(replicas):
            a = arrivals[target == r]
            k = np.arange(1, a.size + 1)
            # one FIFO server, fixed service: done_k = max over j <= k of a_j + (k - j + 1) S
            done[target == r] = np.maximum.accumulate(a - (k - 1) * SERVICE_MS) + k * SERVICE_MS
    latency = (done - arrivals)[requests // 10 :]  # without the warm-up
    return float(np.percentile(latency, 99))


def model_p99(balancing: Balancing, replicas: int, rho: float) -> float:
    queue = QueueModel(1, SERVICE_MS, 0.0, 1000.0, False, balancing, replicas)
    hist = np.zeros(queue.n_bins)
    cls = int(queue.replica_class(np.asarray([replicas]))[0])
    assert queue.classes[cls] == (1 if balancing is Balancing.RANDOM else replicas)
    hist[cls * (RHO_BINS + 1) + int(rho * RHO_BINS)] = 1.0
    p99 = queue.mixture_quantile_ms(hist)
    assert p99 is not None
    return p99


@pytest.mark.parametrize(("replicas", "rho"), [(4, 0.6), (8, 0.75), (16, 0.85)])
def test_p99_per_balancing_matches_a_per_request_simulation(replicas: int, rho: float) -> None:
    model = {b: model_p99(b, replicas, rho) for b in Balancing}
    simulated = {b: simulate_p99(b, replicas, rho, 200_000, seed=replicas) for b in Balancing}
    for b in Balancing:
        # the waiting part, which is what the balancing changes (the service time is the same for all)
        # Allen-Cunneen errs on the long side: at most 35 % over the simulated wait, at most 10 % under it
        wait_model, wait_sim = model[b] - SERVICE_MS, simulated[b] - SERVICE_MS
        assert 0.9 * wait_sim <= wait_model <= 1.35 * wait_sim, (b, wait_model, wait_sim)
        assert model[b] == pytest.approx(simulated[b], rel=0.25), b
    assert (
        model[Balancing.RANDOM] > model[Balancing.ROUND_ROBIN] > model[Balancing.LEAST_OUTSTANDING_REQUESTS]
    )
    # with a fixed service time, round robin is the central queue exactly (FIFO M/D/c serves cyclically)
    assert simulated[Balancing.RANDOM] > simulated[Balancing.ROUND_ROBIN]
    assert simulated[Balancing.ROUND_ROBIN] == pytest.approx(simulated[Balancing.LEAST_OUTSTANDING_REQUESTS])
