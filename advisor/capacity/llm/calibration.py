"""The prior's efficiency factors, fitted to measurements: published ones per device, and the user's own.

A measurement is a closed-loop point (a device at a tensor-parallel degree, a model and dtype, request
sizes, a concurrency) with its TTFT and TPOT. :func:`fit_factors` finds the factors that make
:meth:`LLMPrior.at_concurrency` reproduce them, by least squares on the log of predicted over measured
(scipy's ``least_squares``, the shares bounded to [0.15, 1], the overhead to [0, 10] ms, the all-reduce to
[0, 100] µs): the bandwidth share, the per-step overhead and the all-reduce latency on TPOT, then the
compute share on the TTFT of single requests, alternately until both settle. :func:`published_factors`
fits every published point pooled (``data/llm_published.csv``, sources in ``data/SOURCES.md``), then each
device that has points its own bandwidth share; devices without points use the pooled factors.
:func:`held_out_errors` fits without each point in turn and predicts it: the error the README shows.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from advisor.capacity.llm.architecture import WeightsDtype, preset
from advisor.capacity.llm.devices import InstanceDevices, device_spec
from advisor.capacity.llm.prior import Estimate, LLMPrior, PriorFactors

DATA = Path(__file__).resolve().parent / "data" / "llm_published.csv"
POOLED = "*"
ROUNDS = 4


@dataclass(frozen=True)
class LLMMeasurement:
    """One closed-loop measurement: where, what, how loaded, and its TTFT and TPOT (ms)."""

    id: str
    source: str
    device: str
    memory_gib: float
    tp: int
    model: str
    dtype: WeightsDtype
    input_tokens: int
    output_tokens: int
    concurrency: int
    ttft_ms: float
    tpot_ms: float
    output_tokens_per_s: float | None = None
    engine: str = ""
    synchronized: bool = False

    def prior(self, factors: PriorFactors) -> LLMPrior:
        spec = device_spec(self.device)
        if spec is None:
            raise KeyError(f"no device row for {self.device}")
        devices = InstanceDevices(self.device, spec, self.tp, self.memory_gib)
        return LLMPrior(preset(self.model), self.dtype, devices, self.tp, factors)

    def predict(self, factors: PriorFactors) -> Estimate:
        return self.prior(factors).at_concurrency(
            self.input_tokens, self.output_tokens, self.concurrency, synchronized=self.synchronized
        )


@cache
def published_points() -> tuple[LLMMeasurement, ...]:
    with open(DATA, encoding="utf-8") as fh:
        return tuple(
            LLMMeasurement(
                id=r["id"],
                source=r["source"],
                device=r["device"],
                memory_gib=float(r["memory_gib"]),
                tp=int(r["tp"]),
                model=r["model"],
                dtype=WeightsDtype(r["dtype"]),
                input_tokens=int(r["input_tokens"]),
                output_tokens=int(r["output_tokens"]),
                concurrency=int(r["concurrency"]),
                ttft_ms=float(r["ttft_ms"]),
                tpot_ms=float(r["tpot_ms"]),
                output_tokens_per_s=float(r["output_tokens_per_s"]) if r["output_tokens_per_s"] else None,
                engine=r["engine"],
                synchronized=r["lengths"] == "fixed",
            )
            for r in csv.DictReader(fh)
        )


BOUNDS = {
    "bandwidth_efficiency": (0.15, 1.0),
    "compute_efficiency": (0.15, 1.0),
    "step_overhead_ms": (0.0, 10.0),
    "allreduce_us": (0.0, 100.0),
}


def _residuals(
    theta: np.ndarray, names: Sequence[str], points: Sequence[LLMMeasurement], base: PriorFactors, metric: str
) -> np.ndarray:
    factors = base.model_copy(update=dict(zip(names, (float(v) for v in theta), strict=True)))
    return np.asarray([math.log(getattr(p.predict(factors), metric) / getattr(p, metric)) for p in points])


def _fit(
    points: Sequence[LLMMeasurement], base: PriorFactors, names: Sequence[str], metric: str
) -> PriorFactors:
    from scipy.optimize import least_squares

    if not points:
        return base
    start = np.array([getattr(base, n) for n in names])
    lower, upper = zip(*(BOUNDS[n] for n in names), strict=True)
    res = least_squares(_residuals, start, bounds=(lower, upper), args=(names, points, base, metric))
    return base.model_copy(update={n: round(float(v), 4) for n, v in zip(names, res.x, strict=True)})


def fit_factors(
    points: Sequence[LLMMeasurement], base: PriorFactors | None = None, basis: str = ""
) -> PriorFactors:
    """Decode first: the bandwidth share and the per-step overhead that reproduce the points' TPOT; then
    prefill: the compute share that reproduces the TTFT of the points at concurrency 1 (at higher
    concurrency TTFT is mostly the others' prefills and queueing, which says less about the GPU)."""
    fitted = base or PriorFactors()
    single = [p for p in points if p.concurrency == 1]
    for _ in range(ROUNDS):  # TPOT under load carries the others' prefills: alternate until both settle
        fitted = _fit(points, fitted, ("bandwidth_efficiency", "step_overhead_ms", "allreduce_us"), "tpot_ms")
        fitted = _fit(single, fitted, ("compute_efficiency",), "ttft_ms")
    return fitted.model_copy(update={"basis": basis or f"fitted to {len(points)} measurements"})


def fit_device(points: Sequence[LLMMeasurement], pooled: PriorFactors, basis: str = "") -> PriorFactors:
    """A device's own bandwidth share on its points' TPOT, the rest kept from ``pooled``: one factor per
    device, so that a device with three points is not fitted three ways."""
    fitted = _fit(points, pooled, ("bandwidth_efficiency",), "tpot_ms")
    return fitted.model_copy(update={"basis": basis or fitted.basis})


@cache
def published_factors() -> dict[str, PriorFactors]:
    """Factors fitted to every published point pooled (``"*"``, for devices with none of their own), and per
    device its own bandwidth share on top."""
    points = published_points()
    pooled = fit_factors(points, basis=_basis(points, "every device pooled (no points of its own)"))
    out = {POOLED: pooled}
    for device in sorted({p.device for p in points}):
        own = [p for p in points if p.device == device]
        out[device] = fit_device(own, pooled, basis=_basis(own, device))
    return out


def factors_for(device: str) -> PriorFactors:
    table = published_factors()
    return table.get(device, table[POOLED])


def held_out_errors(
    points: Sequence[LLMMeasurement] | None = None,
) -> list[tuple[LLMMeasurement, Estimate, Estimate]]:
    """For each point: the prior's estimate with the default factors, and with factors fitted without it (the
    pooled fit on every other point, then its device's bandwidth share on the device's other points)."""
    points = list(points or published_points())
    out = []
    for p in points:
        others = [q for q in points if q is not p]
        pooled = fit_factors(others)
        own = [q for q in others if q.device == p.device]
        out.append((p, p.predict(PriorFactors()), p.predict(fit_device(own, pooled) if own else pooled)))
    return out


def _basis(points: Sequence[LLMMeasurement], what: str) -> str:
    sources = ", ".join(sorted({p.source for p in points}))
    where = "capacity/llm/data/SOURCES.md"
    return f"fitted to {len(points)} published measurements ({what}; sources {sources} in {where})"


CALIBRATED_BAND = 0.10
"""Assumption: what a device-level scale leaves of the prior's error on a shape of a measured device."""


@cache
def _published_tpot_errors() -> list[tuple[str, float]]:
    """Each published point's device and held-out |TPOT error| (fitted once a process)."""
    return [(p.device, abs(c.tpot_ms / p.tpot_ms - 1)) for p, _d, c in held_out_errors()]


@cache
def prior_band(device: str) -> float:
    """The prior's uncertainty on ``device``, a fraction: the median held-out TPOT error of its published
    points, or without any the 90th percentile over every device's (:func:`held_out_errors`)."""
    errors = _published_tpot_errors()
    own = sorted(e for d, e in errors if d == device)
    if own:
        return round(float(np.median(own)), 3)
    return round(float(np.percentile([e for _d, e in errors], 90)), 3)
