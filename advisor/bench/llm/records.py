"""Value types of the LLM bench: one streamed request, one measured point, one capacity, one report.

Every figure here follows one stated definition (:data:`DEFINITIONS`, also in the README), because the tools
of the field use the same names for different things (``../shared/llm/NOTES.md`` §1):

* **TTFT**: intended send time → first chunk with non-empty content (queueing, prefill and network included).
* **TPOT**: per request, (E2E − TTFT) / (output tokens − 1); percentiles are over requests.
* **ITL**: every gap between consecutive content chunks, pooled over all requests of a point.
* **E2E**: intended send time → last chunk.
* **goodput**: requests/s that met every SLO bound; **attainment**: their share of all requests sent (an
  error or an unfinished request is a miss).

Times inside a :class:`StreamRecord` are seconds on the generator's monotonic clock; every latency a point
reports is milliseconds. Rates are requests/s, token rates tokens/s. Token counts are the **server's**
(``usage`` of the last chunk) whenever the server reports them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from advisor.domain import MAX_COUNT, FrozenModel
from advisor.redact import redact_text

DEFINITIONS: dict[str, str] = {
    "ttft": "intended send time to the first chunk with content (queueing, prefill, network included)",
    "tpot": "per request: (E2E - TTFT) / (output tokens - 1); percentiles over requests with >= 2 tokens",
    "itl": "gaps between consecutive content chunks, pooled over all requests of the point",
    "e2e": "intended send time to the last chunk",
    "goodput": "requests/s that met every SLO bound (errors and unfinished requests are misses)",
    "attainment": "share of the requests sent that met every SLO bound",
    "capacity": "highest offered Poisson rate whose p99 TTFT and p99 TPOT (and any other bound) meet the SLO",
}
"""advisor's metric definitions; exported figures name the one they follow (``definitions`` fields)."""

DEFINITIONS_ID = "advisor/1"


class Api(StrEnum):
    """The OpenAI-compatible route a generator loads (both with ``"stream": true``)."""

    CHAT = "openai-chat"  # POST /v1/chat/completions
    COMPLETIONS = "openai-completions"  # POST /v1/completions


class StreamRecord(FrozenModel):
    """One request as the generator saw it; times are seconds on the generator's monotonic clock.

    ``chunk_s`` holds the arrival time of every chunk that carried content (not role-only or usage-only
    chunks). ``output_tokens`` is the server's ``usage.completion_tokens`` when reported, else the number of
    content chunks (flagged by ``tokens_reported=False``).
    """

    intended_s: float = Field(description="when the arrival process meant to send it")
    sent_s: float = Field(description="when the request was actually written")
    chunk_s: list[float] = Field(default_factory=list)
    end_s: float | None = Field(default=None, description="when the stream ended; None if it never did")
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    requested_output_tokens: int | None = Field(default=None, ge=0)
    tokens_reported: bool = True
    error: str | None = None
    bucket: str | None = Field(default=None, description="request-size bucket label, e.g. '1k-2k x 100-250'")

    @property
    def ok(self) -> bool:
        return self.error is None and self.end_s is not None and bool(self.chunk_s)

    @property
    def send_lag_ms(self) -> float:
        return (self.sent_s - self.intended_s) * 1000.0

    @property
    def ttft_ms(self) -> float | None:
        return (self.chunk_s[0] - self.intended_s) * 1000.0 if self.ok else None

    @property
    def e2e_ms(self) -> float | None:
        if not self.ok or self.end_s is None:
            return None
        return (max(self.end_s, self.chunk_s[-1]) - self.intended_s) * 1000.0

    @property
    def tpot_ms(self) -> float | None:
        """(E2E − TTFT) / (output tokens − 1); None below two tokens (no decode step to time)."""
        n = self.output_tokens if self.output_tokens is not None else len(self.chunk_s)
        e2e, ttft = self.e2e_ms, self.ttft_ms
        if e2e is None or ttft is None or n < 2:
            return None
        return (e2e - ttft) / (n - 1)

    @property
    def itl_ms(self) -> list[float]:
        if not self.ok:
            return []
        return [(b - a) * 1000.0 for a, b in zip(self.chunk_s, self.chunk_s[1:], strict=False)]

    @property
    def stopped_early(self) -> bool:
        """The server produced fewer tokens than asked for (it ignored ``max_tokens``/``ignore_eos``)."""
        return (
            self.ok
            and self.requested_output_tokens is not None
            and self.output_tokens is not None
            and self.output_tokens < self.requested_output_tokens
        )


class LLMSLO(FrozenModel):
    """The SLO an LLM point is judged against: p99 TTFT and p99 TPOT, optionally p99 E2E and attainment.

    ``quantile`` is the percentile every bound applies to (0.99 unless told). An error counts as a miss, and a
    point whose error share exceeds ``max_error_rate`` fails whatever its latencies.
    """

    ttft_p99_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    tpot_p99_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    e2e_p99_ms: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    min_attainment: float | None = Field(default=None, gt=0, le=1)
    quantile: float = Field(default=0.99, gt=0, lt=1)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)

    def bounds(self) -> dict[str, float]:
        """Metric name → bound in ms, for the latency bounds that are set."""
        named = {"ttft": self.ttft_p99_ms, "tpot": self.tpot_p99_ms, "e2e": self.e2e_p99_ms}
        return {k: v for k, v in named.items() if v is not None}

    def met_by(self, record: StreamRecord) -> bool:
        """Whether one request met every latency bound (for goodput and attainment)."""
        if not record.ok:
            return False
        values = {"ttft": record.ttft_ms, "tpot": record.tpot_ms, "e2e": record.e2e_ms}
        for name, bound in self.bounds().items():
            value = values[name]
            if value is not None and value > bound:
                return False
        return True


class Percentiles(FrozenModel):
    """Percentiles of one metric in ms over a point, with a distribution-free 95 % interval of the SLO's
    percentile (``ci_quantile``: 0.99 unless the SLO judges another, e.g. p90)."""

    count: int = Field(ge=0, le=MAX_COUNT)
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    ci_quantile: float = Field(default=0.99, gt=0, lt=1)
    ci_estimate: float | None = Field(default=None, description="the ci_quantile's estimate")
    ci_low: float | None = Field(default=None, description="95 % interval of the ci_quantile, low end")
    ci_high: float | None = Field(default=None, description="high end; None when too few samples bound it")


class PointVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNDECIDED = "undecided"  # an interval straddles a bound even after measuring longer
    INVALID = "invalid"  # the generator, not the server, was the limit


class LLMPoint(FrozenModel):
    """One open-loop point: offered rate, what was achieved, and every metric under :data:`DEFINITIONS`."""

    seq: int = Field(ge=0, le=MAX_COUNT)
    offered_rps: float = Field(gt=0, allow_inf_nan=False)
    achieved_rps: float = Field(ge=0, allow_inf_nan=False, description="completed requests / window")
    duration_s: float = Field(gt=0)
    requests: int = Field(ge=0, le=MAX_COUNT)
    errors: int = Field(ge=0, le=MAX_COUNT)
    unfinished: int = Field(
        default=0, ge=0, le=MAX_COUNT, description="still streaming when the point ended (misses)"
    )
    ttft_ms: Percentiles
    tpot_ms: Percentiles
    itl_ms: Percentiles
    e2e_ms: Percentiles
    input_tokens_per_s: float = Field(ge=0)
    output_tokens_per_s: float = Field(ge=0)
    mean_input_tokens: float | None = None
    mean_output_tokens: float | None = None
    goodput_rps: float = Field(ge=0)
    attainment: float = Field(ge=0, le=1)
    send_lag_p99_ms: float = Field(ge=0)
    generator_saturated: bool = False
    stopped_early: int = Field(
        default=0, ge=0, le=MAX_COUNT, description="requests that returned fewer tokens than asked"
    )
    verdict: PointVerdict
    estimate_passes: bool = Field(
        default=False, description="the percentile estimates alone are within every bound (screening)"
    )
    confirm: bool = Field(default=False, description="measured long enough to decide with confidence")
    backlog: bool = Field(default=False, description="stopped early: TTFT kept rising (rate above capacity)")
    note: str = ""
    definitions: str = DEFINITIONS_ID

    _redact_note = field_validator("note")(redact_text)


class SizeSpec(FrozenModel):
    """How request sizes were drawn: fixed, a distribution, or sampled from a trace (one bucket of it)."""

    kind: Literal["fixed", "normal", "uniform", "trace"]
    input_tokens: float | None = None
    output_tokens: float | None = None
    input_stddev: float | None = None
    output_stddev: float | None = None
    input_range: tuple[int, int] | None = None
    output_range: tuple[int, int] | None = None
    trace: str | None = None
    bucket: str | None = None


class LLMCapacity(FrozenModel):
    """The answer for one (model, shape[, bucket]): capacity at the SLO and every point behind it.

    ``capacity_rps`` is the highest offered rate a confirming point passed; ``capacity_high_rps`` the lowest
    rate above it that failed, or stayed undecided (``capacity_undecided``: its interval straddled a bound
    after the longest window). Each is a measurement at one rate; nothing is claimed in between.
    """

    run_id: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1, max_length=200)
    shape: str = Field(min_length=1, max_length=200)
    api: Api = Api.CHAT
    status: Literal["running", "completed", "failed", "interrupted"] = "completed"
    slo: LLMSLO
    sizes: SizeSpec
    bucket: str | None = None
    capacity_rps: float = Field(ge=0, allow_inf_nan=False)
    capacity_high_rps: float | None = Field(default=None, ge=0)
    capacity_undecided: bool = False
    input_tokens_per_s: float = Field(default=0.0, ge=0, description="at capacity")
    output_tokens_per_s: float = Field(default=0.0, ge=0, description="at capacity")
    lower_bound: bool = Field(
        default=False, description="a lower bound: the generator capped it, or a fixed schedule met the SLO"
    )
    schedule_time_scale: float | None = Field(
        default=None, gt=0, description="a fixed schedule (a trace at its own times), this many times faster"
    )
    reason: str = ""
    points: list[LLMPoint] = Field(default_factory=list)
    tool: str = Field(default="advisor", description="who measured: advisor, vllm, guidellm, aiperf")
    definitions: str = Field(
        default=DEFINITIONS_ID, description="advisor/1, or the tool's own (mapped on import; see notes)"
    )
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    wall_s: float | None = None

    @field_validator("reason", "error")
    @classmethod
    def _redacted(cls, value: str | None) -> str | None:
        return None if value is None else redact_text(value)


class LLMBenchReport(FrozenModel):
    """The ``--json`` output of ``advisor bench run`` for an LLM; ``bench import`` reads it back."""

    schema_version: Literal["advisor.llm-bench/1"] = "advisor.llm-bench/1"
    model: str
    target: str
    slo: LLMSLO
    definitions: dict[str, str] = Field(default_factory=lambda: dict(DEFINITIONS))
    capacity_rps: float = Field(
        ge=0, description="requests/s at the SLO: the first shape's whole-distribution result (0 if none)"
    )
    results: list[LLMCapacity]

    _redact_target = field_validator("target")(redact_text)
