"""``bench estimate`` for LLMs: what the prior says a model does on each shape, at concurrencies and an SLO.

One :class:`ShapeEstimate` per instance type: the tensor-parallel degree (the smallest that fits, unless
told), what one device holds (weights, KV cache, the batch the request size allows), TTFT, TPOT and output
tokens/s at each concurrency (closed loop, :meth:`LLMPrior.at_concurrency`), and with an SLO the capacity of
one replica and of the whole instance under Poisson arrivals. Every figure is the prior's (``method:
"prior"``), with the factors' basis: calibrated on published measurements of that device, or pooled over the
other devices'.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from advisor.capacity.llm.architecture import LLMArchitecture, WeightsDtype
from advisor.capacity.llm.calibration import factors_for
from advisor.capacity.llm.devices import instance_devices
from advisor.capacity.llm.prior import LLMPrior, PriorFactors
from advisor.domain import FrozenModel, InstanceType
from advisor.errors import InputError


class ConcurrencyPoint(FrozenModel):
    concurrency: int
    ttft_ms: float
    tpot_ms: float
    output_tokens_per_s: float


class ShapeEstimate(FrozenModel):
    """The prior on one instance type; ``fits`` False (with ``reason``) when no degree holds the model."""

    shape: str
    device: str | None = None
    devices: int = 0
    tp: int | None = None
    replicas_per_instance: int = 0
    fits: bool = False
    reason: str = ""
    weights_gib_per_device: float | None = None
    kv_cache_gib_per_device: float | None = None
    kv_cache_tokens: int | None = None
    max_batch: int | None = None
    points: list[ConcurrencyPoint] = Field(default_factory=list)
    capacity_rps: float | None = Field(default=None, description="one replica, Poisson arrivals, at the SLO")
    capacity_rps_per_instance: float | None = None
    capacity_input_tokens_per_s: float | None = None
    capacity_output_tokens_per_s: float | None = None
    method: str = "prior"
    basis: str = Field(default="", description="where the prior's efficiency factors come from")
    device_source: str = Field(default="", description="the device's datasheet figures")


def pick_tp(
    arch: LLMArchitecture, dtype: WeightsDtype, itype: InstanceType, tp: int | None, factors: PriorFactors
) -> tuple[LLMPrior | None, str]:
    """The prior at ``tp`` (or the smallest degree whose memory plan fits), else None and why not."""
    devices = instance_devices(itype)
    if devices is None:
        return None, "no whole GPU or Inferentia2 device advisor has figures for"
    degrees = devices.tp_degrees(arch.heads)
    if tp is not None:
        if tp not in degrees:
            return None, f"tensor-parallel degree {tp} not possible here (allowed: {degrees})"
        degrees = [tp]
    reason = ""
    for d in degrees:
        prior = LLMPrior(arch, dtype, devices, d, factors)
        plan = prior.memory()
        if plan.fits:
            return prior, ""
        reason = f"at tensor-parallel degree {d}: {plan.reason}"
    return None, reason


def estimate_shape(
    arch: LLMArchitecture,
    dtype: WeightsDtype,
    itype: InstanceType,
    input_tokens: int,
    output_tokens: int,
    concurrency: Sequence[int],
    *,
    tp: int | None = None,
    slo_ttft_p99_ms: float | None = None,
    slo_tpot_p99_ms: float | None = None,
    quantile: float = 0.99,
) -> ShapeEstimate:
    """The prior on ``itype``: at ``tp``, else with an SLO the degree serving the most requests/s an instance
    (fewer, larger replicas hold more KV cache each), else the smallest degree that fits."""
    if input_tokens < 1 or output_tokens < 1:
        raise InputError("input and output tokens must be at least 1", where="--input-tokens/--output-tokens")
    devices = instance_devices(itype)
    factors = factors_for(devices.spec.device) if devices else PriorFactors()
    prior, reason = pick_tp(arch, dtype, itype, tp, factors)
    if prior is None:
        return ShapeEstimate(
            shape=itype.name,
            device=devices.spec.device if devices else None,
            devices=devices.count if devices else 0,
            reason=reason,
        )
    slo = (slo_ttft_p99_ms, slo_tpot_p99_ms, quantile)
    if tp is None and devices is not None and (slo_ttft_p99_ms is not None or slo_tpot_p99_ms is not None):
        fitting = [LLMPrior(arch, dtype, devices, d, factors) for d in devices.tp_degrees(arch.heads)]
        fitting = [p for p in fitting if p.memory().fits]
        prior = max(
            fitting, key=lambda p: p.capacity_rps(input_tokens, output_tokens, *slo) * p.replicas_per_instance
        )
    return _estimate(prior, itype.name, input_tokens, output_tokens, concurrency, slo)


def _estimate(
    prior: LLMPrior,
    shape: str,
    input_tokens: int,
    output_tokens: int,
    concurrency: Sequence[int],
    slo: tuple[float | None, float | None, float],
) -> ShapeEstimate:
    plan = prior.memory()
    out = ShapeEstimate(
        shape=shape,
        device=prior.devices.spec.device,
        devices=prior.devices.count,
        tp=prior.tp,
        replicas_per_instance=prior.replicas_per_instance,
        fits=True,
        weights_gib_per_device=round(plan.weights_gib_per_device, 2),
        kv_cache_gib_per_device=round(plan.kv_gib_per_device, 2),
        kv_cache_tokens=plan.kv_tokens,
        max_batch=plan.max_batch(input_tokens, output_tokens),
        points=[
            ConcurrencyPoint(**vars(prior.at_concurrency(input_tokens, output_tokens, c)))
            for c in concurrency
        ],
        basis=prior.factors.basis,
        device_source=prior.devices.spec.source,
    )
    if slo[0] is None and slo[1] is None:
        return out
    rps = prior.capacity_rps(input_tokens, output_tokens, *slo)
    per_instance = rps * prior.replicas_per_instance
    return out.model_copy(
        update={
            "capacity_rps": rps,
            "capacity_rps_per_instance": per_instance,
            "capacity_input_tokens_per_s": per_instance * input_tokens,
            "capacity_output_tokens_per_s": per_instance * output_tokens,
        }
    )
