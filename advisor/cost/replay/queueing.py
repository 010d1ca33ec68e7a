"""The replay's queue: one plan's M/G/c tables over per-replica load, per replica class of the balancer.

The formulas (Erlang C with the Allen–Cunneen correction, calibration of the service time from a capacity
and its SLO) are :mod:`advisor.capacity.queueing`'s; this module tabulates them for the vectorised replay.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from advisor.capacity.queueing import (
    P99_TAIL,
    RHO_BINS,
    FloatArray,
    calibrate_service_time_ms,
)
from advisor.cost.replay.balancing import REPLICA_CLASSES, replica_classes, wait_at
from advisor.errors import ConfigError
from advisor.recommendation.scaling import Balancing


@dataclass(frozen=True)
class QueueModel:
    """One plan's queue, with tables over per-replica load ρ (and replica classes) for the vectorised replay.

    ``rho`` = arrivals per replica ÷ (c/S). Bin ``b < RHO_BINS`` holds ρ in [b/B, (b+1)/B) and is evaluated at
    its upper edge (conservative); bin ``RHO_BINS`` holds overload (ρ ≥ 1 or no replica at all). Where the
    load balancer's algorithm makes the replica count matter (``advisor.cost.replay.balancing``) the tables
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

    def _wait(self, flat: npt.NDArray[np.intp] | None = None) -> tuple[FloatArray, FloatArray]:
        """(C, decay per ms) at the flat bins ``flat`` (none of them an overload bin), or as whole tables
        (classes × ρ bins) when None (``advisor.cost.replay.balancing.wait_at``).

        C does not depend on the service time, and the decay only through the factor 1/S, so both come
        from tables shared by every plan with the same balancing, servers, classes and SCV
        (:func:`_wait_tables`): a plan's totals index them instead of evaluating Erlang C again.
        """
        c_table, rate_table = _wait_tables(self.balancing, self.servers, int(self.classes.size), self.scv)
        mu = 1.0 / self.service_time_ms
        if flat is None:
            shape = (-1, RHO_BINS + 1)
            return c_table.reshape(shape)[:, :-1], rate_table.reshape(shape)[:, :-1] * mu
        return c_table[flat], rate_table[flat] * mu

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
        held = np.flatnonzero(requests_per_bin > 0)  # few of the many bins hold requests
        out: npt.NDArray[np.intp] = held[held % (RHO_BINS + 1) != RHO_BINS]
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
        weighted = weights * c
        budget = tail * total - overload

        def over(x_ms: float) -> float:
            t = max(x_ms - self.service_time_ms, 0.0)
            return float((weighted * np.exp(-decay * t)).sum()) - budget

        if over(self.service_time_ms) <= 0:
            return self.service_time_ms
        hi = self.service_time_ms * 2
        for _ in range(200):
            if over(hi) <= 0:
                break
            hi *= 2
        else:  # pragma: no cover - only for loads within one bin of saturation
            return None
        from scipy.optimize import brentq  # here: scipy.optimize takes half a second to import

        return float(brentq(over, self.service_time_ms, hi, xtol=1e-6 * self.service_time_ms))


@functools.lru_cache(maxsize=64)
def _wait_tables(
    balancing: Balancing, servers: int, n_classes: int, scv: float
) -> tuple[FloatArray, FloatArray]:
    """(C, decay × S) over every flat bin (classes × (ρ bins + overload)), read-only; the overload bins hold
    C = 1 and no decay. At most 24 classes × 2,049 bins: 0.8 MB for the largest pair."""
    classes = replica_classes(balancing, REPLICA_CLASSES[n_classes - 1] if n_classes > 1 else 1)
    # each bin at its upper edge, except the last (ρ → 1) at its midpoint
    edges = (np.arange(RHO_BINS, dtype=np.float64) + 1.0) / RHO_BINS
    edges[-1] = 1.0 - 0.5 / RHO_BINS
    counts = np.repeat(classes.astype(np.float64)[:, None], RHO_BINS, axis=1)
    rho = np.broadcast_to(edges, counts.shape)
    # at S = 1 ms (mu = 1/ms) the decay is the factor every plan scales by its own 1/S
    c, rate = wait_at(balancing, servers, 1.0, scv, counts, rho)
    c_table = np.hstack([c, np.ones((c.shape[0], 1))]).ravel()
    rate_table = np.hstack([rate, np.zeros((rate.shape[0], 1))]).ravel()
    for table in (c_table, rate_table):
        table.setflags(write=False)  # shared through the cache
    return c_table, rate_table


@functools.lru_cache(maxsize=256)
def _class_lookup(balancing: Balancing, max_replicas: int) -> npt.NDArray[np.intp]:
    classes = replica_classes(balancing, max_replicas)
    counts = np.arange(max(max_replicas, int(classes[-1])) + 1)
    out: npt.NDArray[np.intp] = np.maximum(np.searchsorted(classes, counts, side="right") - 1, 0)
    return out


@functools.lru_cache(maxsize=256)
def _class_offsets(balancing: Balancing, max_replicas: int) -> npt.NDArray[np.int32]:
    out: npt.NDArray[np.int32] = (_class_lookup(balancing, max_replicas) * (RHO_BINS + 1)).astype(np.int32)
    out.setflags(write=False)  # shared through the cache
    return out
