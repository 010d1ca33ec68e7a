"""An LLM's plan over the day: the cheapest mix at each traffic level, provisioned ahead of the demand by the
time a new GPU replica takes to serve, priced per whole instance, in $/month and $/M tokens.

1. **Request sizes**: the request-size buckets of a token trace (Mélange's edges), each with its share and
   the mean input and output tokens of its requests; or one bucket of fixed sizes.
2. **Options**: every instance type with whole GPUs (or Inferentia2 chips) at every tensor-parallel degree
   whose memory plan fits, with its capacity per bucket (the prior's, per replica, × the replicas an
   instance runs) and its hourly price; a bucket it cannot serve within the SLO has capacity 0.
3. **Levels**: the peak request rate cut into ``levels`` equal steps; at each level the mix
   (:func:`~advisor.optimize.llm.mix.solve_mix`, the buckets' rates in their shares).
4. **Over the curve**: at each step of the traffic profile the demand to serve is the highest rate of the
   coming ``start_s`` (a replica ordered now serves only after node boot, image pull and weight load), and
   the instances are those of the lowest level at or over it (never fewer than the first level's: an LLM
   replica takes minutes to start, so it is not scaled to zero). Each option's autoscaling bounds are its
   fewest and most instances; the cost is the instance-hours over the profile, scaled to a month of 730 h.
5. **Baselines**: the best single option over the same curve (Mélange's baseline), and the peak mix held
   all day (static).

What the plan leaves out (stated in the README): spot for LLM mixes, scheduled minimums, and the churn of
switching types between levels. Platforms (EC2, SageMaker) are :mod:`advisor.optimize.llm.platforms`'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from advisor.capacity.llm import LLMArchitecture, LLMPrior, WeightsDtype, factors_for, instance_devices
from advisor.cost.replay.provisioning import NODE_BOOT_S, image_pull_s
from advisor.domain import InstanceType
from advisor.optimize.llm.mix import Mix, MixCandidate, best_single, solve_mix
from advisor.traffic.profile import HOURS_PER_MONTH
from advisor.traffic.tokens import MELANGE_EDGES, TokenTrace, bucket_index, range_labels

WEIGHTS_LOAD_GIB_PER_S = 1.0
"""Assumption: the weights read from S3 or an EBS volume into GPU memory at about 1 GiB/s (a safetensors
load from gp3's default 125 MiB/s is slower, from instance NVMe faster); the start-up time scales with it."""
LLM_IMAGE_GIB = 10.0
"""Assumption: a vLLM serving image (CUDA, PyTorch, the engine), pulled on a new node."""
DEFAULT_LEVELS = 12
MIN_BUCKET_SHARE = 0.01


@dataclass(frozen=True)
class SizeBucket:
    label: str
    share: float
    input_tokens: float
    output_tokens: float


def size_buckets(
    trace: TokenTrace, edges: Sequence[int] = MELANGE_EDGES, min_share: float = MIN_BUCKET_SHARE
) -> list[SizeBucket]:
    """The non-empty input × output buckets of ``trace``, largest share first, with their mean sizes; a
    bucket under ``min_share`` of the requests joins the nearest larger one (in log input and output
    tokens), whose sizes become the share-weighted mean of both (Mélange's README leaves the grid's
    granularity to the user, against the solver's size)."""
    return merge_small(_grid_buckets(trace, edges), min_share)


def _grid_buckets(trace: TokenTrace, edges: Sequence[int]) -> list[SizeBucket]:
    labels = range_labels(edges)
    i_idx, o_idx = bucket_index(trace.input_tokens, edges), bucket_index(trace.output_tokens, edges)
    out = []
    for i, o in sorted(set(zip(i_idx.tolist(), o_idx.tolist(), strict=True))):
        mask = (i_idx == i) & (o_idx == o)
        out.append(
            SizeBucket(
                f"in {labels[i]} x out {labels[o]}",
                float(mask.mean()),
                float(trace.input_tokens[mask].mean()),
                float(max(1.0, trace.output_tokens[mask].mean())),
            )
        )
    return sorted(out, key=lambda b: -b.share)


def merge_small(buckets: Sequence[SizeBucket], min_share: float) -> list[SizeBucket]:
    big = [b for b in buckets if b.share >= min_share] or list(buckets[:1])
    groups: dict[str, list[SizeBucket]] = {b.label: [b] for b in big}
    for b in buckets:
        if b.label in groups:
            continue
        host = min(
            big,
            key=lambda h: math.hypot(  # log distance; a bucket of empty prompts counts as one token
                math.log(max(h.input_tokens, 1.0) / max(b.input_tokens, 1.0)),
                math.log(h.output_tokens / b.output_tokens),
            ),
        )
        groups[host.label].append(b)
    out = []
    for label, members in groups.items():
        share = sum(m.share for m in members)
        inp = sum(m.share * m.input_tokens for m in members) / share
        outp = sum(m.share * m.output_tokens for m in members) / share
        out.append(SizeBucket(label, share, inp, outp))
    return sorted(out, key=lambda b: -b.share)


def fixed_sizes(input_tokens: float, output_tokens: float) -> list[SizeBucket]:
    return [SizeBucket(f"{input_tokens:g} in x {output_tokens:g} out", 1.0, input_tokens, output_tokens)]


@dataclass(frozen=True)
class LLMOption:
    """One instance type at one tensor-parallel degree: what an instance serves per bucket and costs."""

    name: str
    instance_type: str
    tp: int
    replicas_per_instance: int
    device: str
    usd_per_hour: float
    capacity_rps: Mapping[str, float]
    prefill_share: Mapping[str, float]
    start_s: float
    weights_gib_per_device: float
    kv_cache_gib_per_device: float
    max_batch: Mapping[str, int]
    methods: Mapping[str, str] = field(default_factory=dict)  # bucket -> measured, calibrated or prior

    def method(self, bucket: str) -> str:
        return self.methods.get(bucket, "prior")

    def candidate(self) -> MixCandidate:
        return MixCandidate(self.name, self.usd_per_hour, self.capacity_rps)


def replica_start_s(weights_gib: float) -> float:
    """A new GPU node until its replica serves: boot, image pull, weights loaded (advisor's assumptions)."""
    return NODE_BOOT_S[True] + image_pull_s(True, LLM_IMAGE_GIB) + weights_gib / WEIGHTS_LOAD_GIB_PER_S


def _prefill_share(prior: LLMPrior, bucket: SizeBucket, rps: float) -> float:
    """The share of engine time a request of ``bucket`` spends in prefill at ``rps`` a replica: its prompt,
    against its decode steps, each shared by the batch then running (Little's law)."""
    e = prior.engine(bucket.input_tokens, bucket.output_tokens)
    lam = rps / 1e3
    load = lam * bucket.output_tokens * e.step_per_seq_ms
    batch = max(1.0, lam * bucket.output_tokens * e.step_base_ms / max(1e-9, 1 - load)) if load < 1 else 1.0
    prefill = bucket.input_tokens * e.prefill_ms_per_token
    decode = (bucket.output_tokens - 1) * (e.step_base_ms / batch + e.step_per_seq_ms)
    return prefill / (prefill + decode) if prefill + decode > 0 else 0.0


def llm_options(
    arch: LLMArchitecture,
    dtype: WeightsDtype,
    itypes: Sequence[InstanceType],
    price_of: Callable[[str], float | None],
    buckets: Sequence[SizeBucket],
    slo_ttft_p99_ms: float | None,
    slo_tpot_p99_ms: float | None,
    quantile: float = 0.99,
) -> list[LLMOption]:
    """Every (instance type, degree) that fits and serves some bucket within the SLO, with a price."""
    out = []
    for itype in itypes:
        devices, price = instance_devices(itype), price_of(itype.name)
        if devices is None or price is None:
            continue
        for tp in devices.tp_degrees(arch.heads):
            prior = LLMPrior(arch, dtype, devices, tp, factors_for(devices.spec.device))
            plan = prior.memory()
            if not plan.fits:
                continue
            per_replica = {
                b.label: prior.capacity_rps(
                    b.input_tokens, b.output_tokens, slo_ttft_p99_ms, slo_tpot_p99_ms, quantile
                )
                for b in buckets
            }
            if not any(per_replica.values()):
                continue
            n = prior.replicas_per_instance
            out.append(
                LLMOption(
                    name=f"{itype.name} tp{tp}",
                    instance_type=itype.name,
                    tp=tp,
                    replicas_per_instance=n,
                    device=devices.spec.device,
                    usd_per_hour=price,
                    capacity_rps={k: v * n for k, v in per_replica.items()},
                    prefill_share={b.label: _prefill_share(prior, b, per_replica[b.label]) for b in buckets},
                    start_s=replica_start_s(plan.weights_gib_per_device * tp),
                    weights_gib_per_device=plan.weights_gib_per_device,
                    kv_cache_gib_per_device=plan.kv_gib_per_device,
                    max_batch={b.label: plan.max_batch(b.input_tokens, b.output_tokens) for b in buckets},
                )
            )
    return out


@dataclass(frozen=True)
class CurveCost:
    """Instances per option at each profile step, and what they cost."""

    counts: dict[str, np.ndarray]
    usd_per_month: float
    served_rps: np.ndarray
    overload_steps: int


@dataclass(frozen=True)
class LLMPlan:
    """The plan: the peak mix, the mix per level, the cost over the curve, tokens and the baselines."""

    buckets: list[SizeBucket]
    options: dict[str, LLMOption]
    peak_rps: float
    levels: list[tuple[float, Mix]]
    curve: CurveCost
    lead_s: float
    input_tokens_per_month: float
    output_tokens_per_month: float
    prefill_share: float
    best_single: tuple[str, CurveCost] | None
    static_peak_usd_per_month: float
    notes: list[str] = field(default_factory=list)

    @property
    def peak_mix(self) -> Mix:
        return self.levels[-1][1]

    def bounds(self) -> dict[str, tuple[int, int]]:
        """Each option's autoscaling bounds: its fewest and most instances over the curve."""
        return {k: (int(v.min()), int(v.max())) for k, v in self.curve.counts.items() if v.max() > 0}


def forward_max(rps: np.ndarray, steps: int) -> np.ndarray:
    """At each step, the highest rate of it and the ``steps`` after it (the last steps see the end)."""
    if steps <= 0:
        return rps.copy()
    padded = np.concatenate([rps, np.full(steps, rps[-1])])
    windows = np.lib.stride_tricks.sliding_window_view(padded, steps + 1)
    return np.asarray(windows.max(axis=1), dtype=float)


def _curve(
    rps: np.ndarray,
    step_s: float,
    lead_s: float,
    levels: list[tuple[float, Mix]],
    prices: Mapping[str, float],
) -> CurveCost:
    need = forward_max(rps, math.ceil(lead_s / step_s))
    tops = np.asarray([lvl for lvl, _ in levels])
    index = np.clip(np.searchsorted(tops, need - 1e-9, side="left"), 0, len(tops) - 1)
    names = sorted({n for _, mix in levels for n in mix.counts})
    counts = {n: np.asarray([mix.counts.get(n, 0) for _, mix in levels])[index] for n in names}
    hours = len(rps) * step_s / 3600.0
    usd = sum(float(counts[n].sum()) * prices[n] * step_s / 3600.0 for n in names)
    served = tops[index]
    return CurveCost(counts, usd * HOURS_PER_MONTH / hours, served, int((served + 1e-9 < rps).sum()))


def plan_llm(
    rps: np.ndarray,
    step_s: float,
    buckets: Sequence[SizeBucket],
    options: Sequence[LLMOption],
    *,
    levels: int = DEFAULT_LEVELS,
    slice_factor: int = 4,
) -> LLMPlan:
    """The cheapest mix at each level, carried over ``rps`` (requests/s per step of ``step_s`` seconds)."""
    rps = np.asarray(rps, dtype=float)
    peak = float(rps.max())
    shares = {b.label: b.share for b in buckets}
    cands = [o.candidate() for o in options]
    prices = {o.name: o.usd_per_hour for o in options}
    steps = [peak * k / levels for k in range(1, levels + 1)]
    mixes = [(lvl, solve_mix({b: lvl * s for b, s in shares.items()}, cands, slice_factor)) for lvl in steps]
    for i in range(len(mixes) - 2, -1, -1):  # a mix for a higher rate serves a lower one too
        if mixes[i + 1][1].usd_per_hour < mixes[i][1].usd_per_hour:
            mixes[i] = (mixes[i][0], mixes[i + 1][1])
    used = {n for _, m in mixes for n in m.counts}
    lead = max((o.start_s for o in options if o.name in used), default=0.0)
    curve = _curve(rps, step_s, lead, mixes, prices)
    hours = len(rps) * step_s / 3600.0
    scale = HOURS_PER_MONTH / hours
    requests = float(rps.sum()) * step_s * scale
    tin = requests * sum(b.share * b.input_tokens for b in buckets)
    tout = requests * sum(b.share * b.output_tokens for b in buckets)
    by_name = {o.name: o for o in options}
    peak_mix = mixes[-1][1]
    weights = [
        (shares[b] * r, by_name[n].prefill_share[b])
        for b, route in peak_mix.routing.items()
        for n, r in route.items()
    ]
    prefill = sum(w * p for w, p in weights) / max(1e-12, sum(w for w, _ in weights))
    return LLMPlan(
        buckets=list(buckets),
        options={o.name: o for o in options if o.name in used},
        peak_rps=peak,
        levels=mixes,
        curve=curve,
        lead_s=lead,
        input_tokens_per_month=tin,
        output_tokens_per_month=tout,
        prefill_share=prefill,
        best_single=_best_single(rps, step_s, shares, options, steps),
        static_peak_usd_per_month=peak_mix.usd_per_hour * HOURS_PER_MONTH,
    )


def _best_single(
    rps: np.ndarray,
    step_s: float,
    shares: Mapping[str, float],
    options: Sequence[LLMOption],
    steps: Sequence[float],
) -> tuple[str, CurveCost] | None:
    best: tuple[str, CurveCost] | None = None
    for o in options:
        levels = []
        for lvl in steps:
            mix = best_single({b: lvl * s for b, s in shares.items()}, [o.candidate()])
            if mix is None:
                break
            levels.append((lvl, mix))
        if len(levels) < len(steps):
            continue
        cost = _curve(rps, step_s, o.start_s, levels, {o.name: o.usd_per_hour})
        if best is None or cost.usd_per_month < best[1].usd_per_month:
            best = (o.name, cost)
    return best
