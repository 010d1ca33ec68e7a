"""Measured always wins: LLM bench results replace the prior on the shapes they measured, and correct it on
the shapes of the same device they did not.

A measurement applies to the option it measured: the same instance type with the engine over all its
devices (as ``bench jobs`` runs vLLM), under an SLO at least as strict as the model's, for a request-size
bucket of the same label (a whole-distribution run applies to a model of fixed sizes within 10 % of its
mean sizes). Its capacity replaces the prior's there (``measured``); so does a capacity search that found
no rate meeting an SLO at least as loose as the model's, with 0: the option cannot serve that bucket,
whatever capacity the scenario gives. The ratio of each measurement to the prior's figure for the same
option and bucket, averaged geometrically per device, then scales the prior on every other option and
bucket of that device (``calibrated``): a device the prior over- or under-rates by a steady factor (an
engine faster than the published measurements, a different driver) is corrected on the shapes nobody
measured, without changing the prior elsewhere. The rest stays ``prior``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from advisor.capacity.llm.evidence import LLMMeasured
from advisor.cost.replay.provisioning import NODE_BOOT_S, image_pull_s
from advisor.domain import InstanceType
from advisor.optimize.llm.plan import LLM_IMAGE_GIB, LLMOption, SizeBucket

FIXED_SIZE_TOLERANCE = 0.10


def _matches(m: LLMMeasured, bucket: SizeBucket, single: bool) -> bool:
    if m.bucket is not None:
        return m.bucket == bucket.label
    if not single or m.input_tokens is None or m.output_tokens is None:
        return False
    near_in = abs(m.input_tokens / bucket.input_tokens - 1) <= FIXED_SIZE_TOLERANCE
    return near_in and abs(m.output_tokens / bucket.output_tokens - 1) <= FIXED_SIZE_TOLERANCE


def apply_measurements(
    options: Sequence[LLMOption],
    buckets: Sequence[SizeBucket],
    measured: Sequence[LLMMeasured],
    slo_ttft_p99_ms: float,
    slo_tpot_p99_ms: float,
    quantile: float = 0.99,
) -> list[LLMOption]:
    """``options`` with measured capacities where a measurement applies, calibrated ones on their devices."""
    usable = [m for m in measured if m.holds_for(slo_ttft_p99_ms, slo_tpot_p99_ms, quantile)]
    none = [m for m in measured if m.rules_out(slo_ttft_p99_ms, slo_tpot_p99_ms, quantile)]
    if not usable and not none:
        return list(options)
    single = len(buckets) == 1
    found: dict[tuple[str, str], float] = {}
    ratios: dict[str, list[float]] = {}
    for o in options:
        if o.replicas_per_instance != 1:  # a bench measures one engine over the whole instance
            continue
        for b in buckets:
            shape = o.instance_type.removeprefix("ml.")
            hits = [m for m in usable if m.shape.removeprefix("ml.") == shape and _matches(m, b, single)]
            if not hits:
                if any(m.shape.removeprefix("ml.") == shape and _matches(m, b, single) for m in none):
                    found[(o.name, b.label)] = 0.0  # measured: no rate meets the SLO (not a calibration)
                continue
            rps = min(m.capacity_rps for m in hits)  # the strictest of several SLOs that all hold
            found[(o.name, b.label)] = rps
            if o.capacity_rps.get(b.label, 0.0) > 0 and o.method(b.label) == "prior":
                ratios.setdefault(o.device, []).append(rps / o.capacity_rps[b.label])
    factor = {d: math.exp(sum(math.log(r) for r in rs) / len(rs)) for d, rs in ratios.items()}
    out = []
    for o in options:
        caps, methods = dict(o.capacity_rps), dict(o.methods)
        for b in buckets:
            if (o.name, b.label) in found:
                caps[b.label], methods[b.label] = (
                    found[(o.name, b.label)] * o.replicas_per_instance,
                    "measured",
                )
            elif o.device in factor and caps.get(b.label, 0.0) > 0 and o.method(b.label) == "prior":
                caps[b.label], methods[b.label] = caps[b.label] * factor[o.device], "calibrated"
        out.append(replace(o, capacity_rps=caps, methods=methods))
    return out


def unmodelled_options(
    itypes: Sequence[InstanceType], buckets: Sequence[SizeBucket], given: Mapping[str, float]
) -> list[LLMOption]:
    """Options on instance types the prior does not model (CPU instances, accelerators without a row):
    one engine over the whole instance, its capacity the scenario's ``capacities_rps`` on every bucket
    (``given``), else none until a measurement applies (:func:`apply_measurements`). Without timings, an
    instance's time is split between prefill and decode by tokens."""
    out = []
    for itype in itypes:
        rps = given.get(itype.name, 0.0)
        out.append(
            LLMOption(
                name=itype.name,
                instance_type=itype.name,
                tp=1,
                replicas_per_instance=1,
                device="cpu" if not itype.gpu_count and not itype.accelerator_count else "unmodelled",
                usd_per_hour=0.0,
                capacity_rps={b.label: rps for b in buckets},
                prefill_share={b.label: b.input_tokens / (b.input_tokens + b.output_tokens) for b in buckets},
                start_s=NODE_BOOT_S[False] + image_pull_s(False, LLM_IMAGE_GIB),
                weights_gib_per_device=0.0,
                kv_cache_gib_per_device=0.0,
                max_batch={b.label: 0 for b in buckets},
                methods={b.label: "given" for b in buckets} if rps > 0 else {},
            )
        )
    return out
