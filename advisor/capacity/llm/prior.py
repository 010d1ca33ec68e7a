"""The LLM performance prior: TTFT, TPOT and capacity at an SLO for a shape nobody measured.

A roofline + KV-cache model of one engine replica (``../shared/llm/NOTES.md`` §4), on ``tp`` devices of an
instance, written as the parameters of the continuous-batching engine of :mod:`advisor.bench.llm.engine`
(:class:`EngineSteps`) so that the discrete-event simulator there checks the closed forms here
(``tests/unit/capacity/test_llm_prior.py``, ``benchmarks/bench_llm_prior.py``):

* **memory**: each device holds ``weights / tp`` and, of what is left under the engine's utilisation cap
  (vLLM ``--gpu-memory-utilization`` 0.9) after an activation reserve, the KV cache; the tokens it holds are
  that over the KV bytes per token per device; the batch a bucket allows is those tokens over its requests'
  mean context in flight (input + half the output), capped at the engine's ``max_num_seqs`` (vLLM's default,
  256);
* **decode step** for a batch of ``b``: the weights read once (``weights / tp / (bandwidth × η_bw)``), each
  sequence's KV read (context × KV bytes per token per device / (bandwidth × η_bw)) and its matmuls
  (2 × matmul parameters / (tp × peak × η_flops)), plus a fixed per-step overhead (scheduler, sampling,
  launches) and, under tensor parallelism, two all-reduces per layer at the interconnect's latency;
* **prefill** of an ``n``-token prompt: (2 × matmul parameters + 2 × layers × n × query width) FLOPs per
  token (the attention term causal and quadratic in n) at ``tp × peak × η_flops``;
* **at a concurrency** ``c`` (closed loop, steady state): every decode step carries ``c`` sequences (as many
  as the KV cache holds; the rest wait for a place), and each request sees the other ``c − 1`` prompts
  prefilled during its own decode; TTFT is its own prefill plus one step (``synchronized``: requests of one
  fixed length started together are prefilled together, as fixed-length benchmarks run);
* **capacity at an SLO** (Poisson arrivals): the mean batch from Little's law over a request's time in the
  engine; its pX from the Poisson spread, widened by 1 / (1 − u) for the share u of time spent prefilling
  (busy periods cluster); TPOT at that batch plus the pX count of prompts prefilled during the request's
  life, spread over its tokens; TTFT as two steps, its own prefill with those admitted beside it, and
  Kingman's M/D/1 tail for the prompts ahead of it; the highest rate meeting both bounds with the pX batch
  within what the KV cache holds, by bisection. Against the engine's discrete-event simulation
  (:func:`advisor.bench.llm.true_capacity`) on the same parameters, 38 cases across five shapes, four
  request sizes and two SLOs (each device's calibrated factors): median error 0 %, 10th–90th percentile
  −21 % … +5 %, worst −46 % and +19 % (``benchmarks/bench_llm_prior.py`` prints them); the simulator
  (8,000 requests × 2 seeds a rate) costs about a quarter of a second a capacity, the closed form a few ms.

The efficiency factors η (:class:`PriorFactors`) are calibrated per device on published measurements
(:mod:`advisor.capacity.llm.calibration`); an engine's own measurements replace the prior on that shape.
Not modelled: prefix caching, speculative decoding, disaggregated prefill, chunked-prefill budgets, MoE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

from pydantic import Field

from advisor.capacity.llm.architecture import LLMArchitecture, WeightsDtype
from advisor.capacity.llm.devices import InstanceDevices
from advisor.domain import FrozenModel

GIB = 1024**3
INTERCONNECT_SLOWDOWN = {"nvlink": 1.0, "neuronlink": 1.5, "pcie": 3.0}
"""All-reduce latency relative to NVLink (advisor's assumption: PCIe Gen4 peer-to-peer without NVLink, as on
g5/g6/g6e, takes about three times as long for the small messages of a decode step)."""
ENGINE_MAX_NUM_SEQS = 256
"""vLLM's default ``--max-num-seqs`` (vllm/engine/arg_utils.py, EngineArgs.max_num_seqs)."""


class PriorFactors(FrozenModel):
    """How much of the datasheet an engine achieves, and what it keeps for itself."""

    bandwidth_efficiency: float = Field(default=0.8, gt=0, le=1)
    compute_efficiency: float = Field(default=0.5, gt=0, le=1)
    step_overhead_ms: float = Field(default=2.0, ge=0)
    allreduce_us: float = Field(default=10.0, ge=0, description="one all-reduce over NVLink at decode sizes")
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    reserve_gib: float = Field(default=1.0, ge=0, description="activations and CUDA graphs per device")
    basis: str = (
        "defaults: bandwidth share 0.8 as aiconfigurator's system files (ai-dynamo/aiconfigurator); compute"
        " share 0.5, 2 ms a step, all-reduce 10 µs NVLink / 30 µs PCIe and a 1 GiB reserve are advisor's"
        " assumptions until calibrated"
    )


@dataclass(frozen=True)
class MemoryPlan:
    fits: bool
    weights_gib_per_device: float
    kv_gib_per_device: float
    kv_tokens: int
    reason: str = ""

    def max_batch(self, input_tokens: float, output_tokens: float) -> int:
        """Sequences the KV cache holds at their mean context in flight (input + half the output: the engine
        allocates pages as tokens come), capped at the engine's ``max_num_seqs``."""
        return min(ENGINE_MAX_NUM_SEQS, int(self.kv_tokens // max(1.0, input_tokens + output_tokens / 2)))


@dataclass(frozen=True)
class EngineSteps:
    """A replica as a continuous-batching engine (the parameters of :mod:`advisor.bench.llm.engine`'s
    batching mode, whose simulator checks the closed forms here): a step lasts ``step_base_ms +
    step_per_seq_ms × batch + prefill_ms_per_token × prompt tokens admitted``."""

    step_base_ms: float
    step_per_seq_ms: float
    prefill_ms_per_token: float
    max_num_seqs: int


@dataclass(frozen=True)
class Estimate:
    concurrency: int
    ttft_ms: float
    tpot_ms: float
    output_tokens_per_s: float


@dataclass(frozen=True)
class LLMPrior:
    """One replica of ``arch`` in ``dtype`` on ``tp`` devices of ``devices``."""

    arch: LLMArchitecture
    dtype: WeightsDtype
    devices: InstanceDevices
    tp: int
    factors: PriorFactors = field(default_factory=PriorFactors)
    kv_bytes: float = 2.0

    @property
    def replicas_per_instance(self) -> int:
        return self.devices.count // self.tp

    # ----- memory -------------------------------------------------------------------------------------------
    def memory(self) -> MemoryPlan:
        f = self.factors
        weights = self.arch.weights_bytes(self.dtype) / self.tp / GIB
        free = self.devices.memory_gib * f.gpu_memory_utilization - f.reserve_gib - weights
        per_token = self.arch.kv_bytes_per_token_per_gpu(self.tp, self.kv_bytes)
        tokens = int(max(0.0, free) * GIB // per_token)
        if free <= 0 or tokens < 1:
            need = weights + f.reserve_gib
            return MemoryPlan(
                False,
                weights,
                0.0,
                0,
                f"needs {need:.1f} GiB a device before any KV cache; "
                f"{self.devices.memory_gib * f.gpu_memory_utilization:.1f} GiB usable",
            )
        return MemoryPlan(True, weights, free, tokens)

    # ----- times --------------------------------------------------------------------------------------------
    def _flops_per_ms(self) -> float:
        spec = self.devices.spec
        peak = spec.fp8_tflops if self.dtype is WeightsDtype.FP8 and spec.fp8_tflops else spec.bf16_tflops
        return self.tp * peak * 1e12 * self.factors.compute_efficiency / 1e3

    def _bytes_per_ms(self) -> float:
        return self.devices.spec.bandwidth_gb_per_s * 1e9 * self.factors.bandwidth_efficiency / 1e3

    def engine(self, input_tokens: float, output_tokens: float) -> EngineSteps:
        """This replica as the continuous-batching engine, for requests of these sizes."""
        f, arch = self.factors, self.arch
        link = INTERCONNECT_SLOWDOWN.get(self.devices.spec.interconnect, 1.0)
        comm = 0.0 if self.tp == 1 else 2 * arch.layers * f.allreduce_us * link / 1e3
        base = arch.weights_bytes(self.dtype) / self.tp / self._bytes_per_ms() + f.step_overhead_ms + comm
        context = input_tokens + output_tokens / 2.0
        kv = context * arch.kv_bytes_per_token_per_gpu(self.tp, self.kv_bytes) / self._bytes_per_ms()
        per_token = 2.0 * arch.matmul_parameters / self._flops_per_ms()
        attention = 2.0 * arch.layers * input_tokens * arch.heads * arch.head_dim / self._flops_per_ms()
        return EngineSteps(
            step_base_ms=base,
            step_per_seq_ms=kv + per_token,
            prefill_ms_per_token=per_token + attention,
            max_num_seqs=max(1, self.memory().max_batch(input_tokens, output_tokens)),
        )

    def at_concurrency(
        self, input_tokens: int, output_tokens: int, concurrency: int, *, synchronized: bool = False
    ) -> Estimate:
        """Closed loop: ``concurrency`` requests always in flight, as many in the batch as the KV cache holds
        (the rest wait for a free place). Requests of varied lengths finish at different steps, so each one's
        decode carries the others' prefills (the default); ``synchronized`` is the benchmark whose requests
        all start together and have one fixed length, so they finish together and are prefilled together."""
        e = self.engine(input_tokens, output_tokens)
        b = max(1, min(concurrency, e.max_num_seqs))
        step = e.step_base_ms + e.step_per_seq_ms * b
        prefill = e.prefill_ms_per_token * input_tokens
        if synchronized:
            ttft, tpot = b * prefill + step, step
        else:
            ttft, tpot = prefill + step, step + (b - 1) * prefill / max(1, output_tokens - 1)
        cycle = ttft + (output_tokens - 1) * tpot
        ttft += (concurrency - b) * cycle / b  # a place frees every cycle / b on average
        return Estimate(concurrency, ttft, tpot, b * output_tokens / cycle * 1e3)

    # ----- capacity -----------------------------------------------------------------------------------------
    def meets(
        self,
        rate_rps: float,
        input_tokens: float,
        output_tokens: float,
        ttft_ms: float | None,
        tpot_ms: float | None,
        quantile: float = 0.99,
    ) -> bool:
        """Whether Poisson arrivals at ``rate_rps`` keep pX TTFT and TPOT within the bounds."""
        e = self.engine(input_tokens, output_tokens)
        return _meets(e, rate_rps, input_tokens, output_tokens, ttft_ms, tpot_ms, quantile)

    def capacity_rps(
        self,
        input_tokens: float,
        output_tokens: float,
        ttft_ms: float | None,
        tpot_ms: float | None,
        quantile: float = 0.99,
        rel_tol: float = 0.005,
    ) -> float:
        """The highest Poisson rate meeting both bounds (0 when even a trickle misses one)."""
        if not self.memory().fits:
            return 0.0
        e = self.engine(input_tokens, output_tokens)

        def ok(rate: float) -> bool:
            return _meets(e, rate, input_tokens, output_tokens, ttft_ms, tpot_ms, quantile)

        if not ok(1e-6):
            return 0.0
        lo, hi = 1e-6, 1.0
        while ok(hi):
            lo, hi = hi, hi * 2
        while (hi - lo) > rel_tol * hi:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo


def _meets(
    e: EngineSteps,
    rate_rps: float,
    input_tokens: float,
    output_tokens: float,
    ttft_ms: float | None,
    tpot_ms: float | None,
    quantile: float,
) -> bool:
    """:meth:`LLMPrior.meets` on the engine steps of one request size (the closed forms of the module)."""
    lam = rate_rps / 1e3  # per ms
    u = lam * input_tokens * e.prefill_ms_per_token  # share of time spent prefilling
    decode_load = lam * output_tokens * e.step_per_seq_ms / max(1e-9, 1 - u)
    if u >= 1 or decode_load >= 1:
        return False
    prefill = input_tokens * e.prefill_ms_per_token
    batch = lam * (output_tokens * e.step_base_ms / (1 - u) + prefill) / (1 - decode_load)
    z = _z(quantile)
    batch_q = batch + z * math.sqrt(batch) / (1 - u)
    if batch_q > e.max_num_seqs:
        return False
    step_q = e.step_base_ms + e.step_per_seq_ms * batch_q
    # a request's decode is stalled by the prompts admitted during its life: a Poisson count
    life = batch / lam
    stalls_q = lam * life + z * math.sqrt(lam * life) / (1 - u)
    tpot = step_q + prefill * stalls_q / max(1, output_tokens - 1)
    arrivals_q = lam * step_q + z * math.sqrt(lam * step_q)  # admitted with us in one step
    # and a prompt waits behind the prompts ahead of it: Kingman's M/D/1 tail, P(W > t) ≈ u·e^(−2(1−u)t/s)
    wait_q = prefill * math.log(u / (1 - quantile)) / (2 * (1 - u)) if u > 1 - quantile else 0.0
    ttft = 2 * step_q + prefill * (1 + arrivals_q) + wait_q
    return (ttft_ms is None or ttft <= ttft_ms) and (tpot_ms is None or tpot <= tpot_ms)


@cache
def _z(quantile: float) -> float:
    """The standard normal's quantile (cached: a capacity search asks it for every rate it tries)."""
    from scipy.stats import norm

    return float(norm.ppf(quantile))
