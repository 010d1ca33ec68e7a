"""The queueing model behind the p99 estimate and the share of requests served over the SLO.

Model: each replica is a queue with ``c`` servers (its concurrency: worker processes or batch slots), fed
Poisson arrivals under a random split, with a service time of mean ``S``. Latency = S + waiting time W.
Round-robin and least-outstanding-requests balancing change the fleet's queue (``advisor.cost.balancing``).

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from advisor.cost.balancing import Balancing, replica_classes, wait_at
from advisor.errors import ConfigError

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
    return float(brentq(excess, lo, hi, xtol=s_max * 1e-12))


@dataclass(frozen=True)
class QueueModel:
    """One plan's queue, with tables over per-replica load ρ (and replica classes) for the vectorised replay.

    ``rho`` = arrivals per replica ÷ (c/S). Bin ``b < RHO_BINS`` holds ρ in [b/B, (b+1)/B) and is evaluated
    at its upper edge (conservative); bin ``RHO_BINS`` holds overload (ρ ≥ 1 or no replica at all). Where
    the load balancer's algorithm makes the replica count matter (``advisor.cost.balancing``) the tables
    repeat per replica class: flat index = class × (RHO_BINS + 1) + ρ bin.
    """

    servers: int
    service_time_ms: float
    scv: float
    slo_p99_ms: float
    calibrated: bool
    balancing: Balancing = Balancing.RANDOM
    max_replicas: int = 1

    @classmethod
    def for_capacity(
        cls,
        capacity_rps: float,
        servers: int,
        slo_p99_ms: float,
        service_time_ms: float | None,
        scv: float,
        balancing: Balancing = Balancing.RANDOM,
        max_replicas: int = 1,
    ) -> QueueModel:
        """The model of a replica with measured ``capacity_rps``; S calibrated when not given.

        The calibration is of one replica under Poisson load (how capacity is measured); the balancing only
        changes how the fleet's replicas queue.
        """
        if service_time_ms is None:
            s = calibrate_service_time_ms(capacity_rps, slo_p99_ms, servers, scv)
            return cls(servers, s, scv, slo_p99_ms, True, balancing, max_replicas)
        if capacity_rps * service_time_ms / 1000.0 >= servers:
            raise ConfigError(
                f"capacity {capacity_rps:g} rps needs over {servers} server(s) at {service_time_ms:g} ms",
                where="capacity",
                fix="raise capacity.concurrency, lower service_time_ms, or leave service_time_ms empty",
            )
        return cls(servers, service_time_ms, scv, slo_p99_ms, False, balancing, max_replicas)

    @property
    def max_rps(self) -> float:
        """Arrival rate (per replica) at which the queue becomes unstable."""
        return self.servers / self.service_time_ms * 1000.0

    @property
    def classes(self) -> npt.NDArray[np.int64]:
        """The replica count each class is evaluated at."""
        return replica_classes(self.balancing, self.max_replicas)

    @property
    def n_bins(self) -> int:
        return int(self.classes.size) * (RHO_BINS + 1)

    def replica_class(self, ready: Any) -> npt.NDArray[np.intp]:
        """The class of each ready-replica count (0 for none), through a table over the whole counts."""
        counts = np.asarray(ready)
        lookup = _class_lookup(self.balancing, self.max_replicas)
        index = np.minimum(counts, lookup.size - 1).astype(np.int32)  # counts are whole and >= 0
        out: npt.NDArray[np.intp] = lookup[index]
        return out

    def class_offsets(self, ready: Any) -> npt.NDArray[np.int32]:
        """Where each ready-replica count's class starts in the flat bins: class × (RHO_BINS + 1)."""
        table = _class_offsets(self.balancing, self.max_replicas)
        out: npt.NDArray[np.int32] = np.take(table, np.asarray(ready).astype(np.int32), mode="clip")
        return out

    def bin_edges(self) -> FloatArray:
        """The load each bin is evaluated at: its upper edge, except the last (ρ → 1) at its midpoint."""
        edges = (np.arange(RHO_BINS, dtype=np.float64) + 1.0) / RHO_BINS
        edges[-1] = 1.0 - 0.5 / RHO_BINS
        return edges

    def _wait(self, flat: npt.NDArray[np.intp] | None = None) -> tuple[FloatArray, FloatArray]:
        """(C, decay per ms) at the flat bins ``flat`` (none of them an overload bin), or as whole tables
        (classes × ρ bins) when None (``advisor.cost.balancing.wait_at``)."""
        edges = self.bin_edges()
        if flat is None:
            counts = np.repeat(self.classes.astype(np.float64)[:, None], RHO_BINS, axis=1)
            rho = np.broadcast_to(edges, counts.shape)
        else:
            counts = self.classes.astype(np.float64)[flat // (RHO_BINS + 1)]
            rho = edges[flat % (RHO_BINS + 1)]
        return wait_at(self.balancing, self.servers, self.service_time_ms, self.scv, counts, rho)

    @functools.cache  # noqa: B019 - models are frozen values and few per run, so the cache stays small
    def tail_table(self, t_ms: float) -> FloatArray:
        """P(latency > t_ms) per bin (the last bin of each class = overload = 1), flat over classes."""
        c, decay = self._wait()
        if t_ms < self.service_time_ms:
            body = np.ones_like(c)
        else:
            with np.errstate(over="ignore"):
                body = np.clip(c * np.exp(-decay * (t_ms - self.service_time_ms)), 0.0, 1.0)
        table = np.hstack([body, np.ones((body.shape[0], 1))]).ravel()
        table.setflags(write=False)  # shared through the cache
        return table

    def requests_over(self, requests_per_bin: FloatArray, t_ms: float) -> float:
        """Requests slower than ``t_ms``, given how many arrived in each bin (only the bins used are
        evaluated: the tables over every class are never built for a plan's totals)."""
        grid = requests_per_bin.reshape(-1, RHO_BINS + 1)
        overload = float(grid[:, -1].sum())
        flat = self._used(requests_per_bin)
        if flat.size == 0:
            return overload
        if t_ms < self.service_time_ms:
            return float(requests_per_bin.sum())
        c, decay = self._wait(flat)
        with np.errstate(over="ignore"):
            tail = np.clip(c * np.exp(-decay * (t_ms - self.service_time_ms)), 0.0, 1.0)
        return overload + float(requests_per_bin[flat] @ tail)

    def _used(self, requests_per_bin: FloatArray) -> npt.NDArray[np.intp]:
        """The flat indices of the bins that hold requests, overload bins left out."""
        flat = np.flatnonzero(requests_per_bin > 0)
        out: npt.NDArray[np.intp] = flat[flat % (RHO_BINS + 1) != RHO_BINS]
        return out

    def p99_table(self) -> FloatArray:
        """p99 latency (ms) per bin; ``inf`` in each class's overload bin; flat over classes."""
        c, decay = self._wait()
        with np.errstate(divide="ignore", invalid="ignore"):
            extra = np.where(c > P99_TAIL, np.log(np.maximum(c, 1e-300) / P99_TAIL) / decay, 0.0)
        p99 = self.service_time_ms + extra
        return np.hstack([p99, np.full((p99.shape[0], 1), np.inf)]).ravel()

    def mixture_quantile_ms(self, requests_per_bin: FloatArray, tail: float = P99_TAIL) -> float | None:
        """The latency exceeded by ``tail`` of all requests, given how many arrived in each bin.

        None when the overload bins alone hold at least ``tail`` of the requests (p99 unbounded).
        """
        total = float(requests_per_bin.sum())
        if total <= 0:
            return self.service_time_ms
        grid = requests_per_bin.reshape(-1, RHO_BINS + 1)
        overload = float(grid[:, -1].sum())
        if overload >= tail * total:
            return None
        flat = self._used(requests_per_bin)
        weights = requests_per_bin[flat]
        c, decay = self._wait(flat)
        budget = tail * total - overload

        def over(x_ms: float) -> float:
            t = max(x_ms - self.service_time_ms, 0.0)
            return float((weights * c * np.exp(-decay * t)).sum()) - budget

        if over(self.service_time_ms) <= 0:
            return self.service_time_ms
        hi = self.service_time_ms * 2
        for _ in range(200):
            if over(hi) <= 0:
                break
            hi *= 2
        else:  # pragma: no cover - only for loads within one bin of saturation
            return None
        return float(brentq(over, self.service_time_ms, hi, xtol=1e-6 * self.service_time_ms))


@functools.lru_cache(maxsize=256)
def _class_lookup(balancing: Balancing, max_replicas: int) -> npt.NDArray[np.intp]:
    classes = replica_classes(balancing, max_replicas)
    counts = np.arange(max(max_replicas, int(classes[-1])) + 1)
    out: npt.NDArray[np.intp] = np.maximum(np.searchsorted(classes, counts, side="right") - 1, 0)
    return out


@functools.lru_cache(maxsize=256)
def _class_offsets(balancing: Balancing, max_replicas: int) -> npt.NDArray[np.int32]:
    out: npt.NDArray[np.int32] = (_class_lookup(balancing, max_replicas) * (RHO_BINS + 1)).astype(np.int32)
    return out
