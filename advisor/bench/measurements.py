"""Value types of the benchmark harness: what a point, a window, a run and a capacity are.

Everything that crosses a process boundary (the load-generator process, a Kubernetes Job's JSON output, the
store) is one of these pydantic models, so it validates on the way in. Latencies are milliseconds, rates are
requests per second, CPU is percent of one core (200 = two cores busy), memory is MiB.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from advisor.domain import HOST_SHAPE as HOST_SHAPE
from advisor.domain import MAX_COUNT
from advisor.domain import FrozenModel as _Value
from advisor.redact import redact_text

# Locust warns when its process passes this CPU share (locust.runners.CPU_WARNING_THRESHOLD = 90); a point
# measured above it is not the server's limit.
GENERATOR_CPU_LIMIT_PCT = 90.0


class LoadMode(StrEnum):
    """Closed loop: N users, no think time (finds the plateau). Open loop: Poisson arrivals at a rate."""

    CLOSED = "closed"
    OPEN = "open"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ABANDONED = "abandoned"  # its process died without saying (kill -9, a lost machine)


class RequestSpec(_Value):
    """One HTTP request the generator sends for every arrival: ``method base_url+path`` with ``body``."""

    base_url: str = Field(description="scheme://host:port, no path")
    method: str = "POST"
    path: str = "/"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""
    template: str = Field(default="json", description="payload template that built it")


class PointSpec(_Value):
    """One measured point: warm-up (discarded), then ``windows`` windows of ``window_s`` each."""

    id: int = Field(ge=0)
    mode: LoadMode
    rate_rps: float | None = Field(default=None, gt=0, description="open loop: Poisson arrival rate")
    users: int | None = Field(default=None, ge=1, description="closed loop: concurrent users")
    warmup_s: float = Field(ge=0)
    window_s: float = Field(gt=0)
    windows: int = Field(ge=1)
    drain_s: float = Field(ge=0, description="how long to wait for in-flight requests after the last window")
    seed: int = 0

    @property
    def span_s(self) -> float:
        return self.warmup_s + self.windows * self.window_s


class WindowStats(_Value):
    """Requests whose intended send time fell in one window, from Locust's stats for that window's name.

    ``histogram`` maps a latency (ms, rounded as Locust rounds: exact below 100 ms, to 10 ms below 1 s, to
    100 ms below 10 s) to a count. Latency runs from the *intended* send time, so a stall is never hidden.
    Requests still unanswered when the point ended are failures with their age as latency.
    """

    name: str
    duration_s: float = Field(gt=0)
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    histogram: dict[int, int] = Field(default_factory=dict)
    max_ms: float = 0.0

    @property
    def successes(self) -> int:
        return self.requests - self.failures

    @property
    def achieved_rps(self) -> float:
        return self.successes / self.duration_s

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def percentile_ms(self, q: float) -> float | None:
        return percentile_ms(self.histogram, q)


def percentile_ms(histogram: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a latency histogram, computed the way Locust does; None when empty.

    Locust walks the histogram from the slowest bucket down until at most ``int(n * q)`` requests remain
    below; e.g. for 200 requests and q=0.99 the answer is the latency that only two requests exceed or match.
    """
    total = sum(histogram.values())
    if total == 0:
        return None
    keep = int(total * q)
    processed = 0
    for latency in sorted(histogram, reverse=True):
        processed += histogram[latency]
        if total - processed <= keep:
            return float(latency)
    return float(min(histogram))


def merge_windows(windows: list[WindowStats], name: str = "pooled") -> WindowStats:
    """All windows of a point as one (summed counts and histograms, summed duration)."""
    hist: dict[int, int] = {}
    for w in windows:
        for k, v in w.histogram.items():
            hist[k] = hist.get(k, 0) + v
    return WindowStats(
        name=name,
        duration_s=sum(w.duration_s for w in windows) or 1.0,
        requests=sum(w.requests for w in windows),
        failures=sum(w.failures for w in windows),
        histogram=hist,
        max_ms=max((w.max_ms for w in windows), default=0.0),
    )


class PointMeasurement(_Value):
    """What the load-generator process reports for one point."""

    id: int
    warmup: WindowStats | None = None
    windows: list[WindowStats]
    generator_cpu_pct: float = Field(description="max over generator processes, % of one core")
    generator_processes: int = 1
    late: int = Field(default=0, description="responses that arrived after the point was closed (ignored)")
    errors: dict[str, int] = Field(default_factory=dict, description="error message -> occurrences")


class PointResult(_Value):
    """One stored point: the measurement summarised, plus the server's resource use and the verdict."""

    seq: int = Field(ge=0, le=MAX_COUNT)
    mode: LoadMode
    target_rps: float | None = None
    users: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    achieved_rps: float = Field(ge=0, allow_inf_nan=False)
    requests: int = Field(ge=0, le=MAX_COUNT)
    errors: int = Field(ge=0, le=MAX_COUNT)
    error_rate: float = Field(ge=0, le=1)
    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    server_cpu_pct: float | None = None
    server_rss_mib: float | None = None
    generator_cpu_pct: float | None = None
    duration_s: float
    valid: bool
    passed: bool | None = Field(default=None, description="met the SLO (open loop only)")
    stable: bool = True
    note: str = ""
    windows: list[WindowStats] = Field(default_factory=list)

    _redact_note = field_validator("note")(redact_text)


class HostInfo(_Value):
    """Where a run was measured."""

    hostname: str
    cpu_model: str
    cores: int
    memory_gib: float
    platform: str


class EmulationInfo(_Value):
    """How the server was confined to the shape."""

    shape: str
    vcpu: float
    memory_gib: float | None
    method: Literal["cgroup_v2", "affinity_rlimit", "none"]
    cpus: list[int] = Field(default_factory=list)
    generator_cpus: list[int] = Field(default_factory=list)
    shares_cpus_with_generator: bool = False
    thread_env: dict[str, str] = Field(default_factory=dict)
    note: str = ""


class CapacityResult(_Value):
    """The answer for one (model, shape): capacity under the SLO, and every point behind it.

    ``capacity_rps`` is 0.0 with a ``reason`` when the SLO is missed even at the lowest rate tried; a run
    that failed (server died) keeps the points measured before the failure and says so in ``error``.
    """

    run_id: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1, max_length=200)
    shape: str = Field(min_length=1, max_length=200)
    status: RunStatus
    slo_p99_ms: float = Field(gt=0, allow_inf_nan=False)
    max_error_rate: float = Field(ge=0, le=1)
    capacity_rps: float = Field(
        ge=0, allow_inf_nan=False, description="requests/s; 0 when no rate met the SLO"
    )
    p99_ms_at_capacity: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    estimated: bool = False
    lower_bound: bool = Field(default=False, description="true when the generator, not the server, capped it")
    reason: str = ""
    plateau_rps: float | None = Field(default=None, description="closed-loop throughput plateau")
    points: list[PointResult] = Field(default_factory=list)
    host: HostInfo | None = None
    emulation: EmulationInfo | None = None
    error: str | None = None
    log_tail: str | None = None
    wall_s: float | None = None

    @field_validator("reason", "error", "log_tail")
    @classmethod
    def _redacted(cls, value: str | None) -> str | None:
        return None if value is None else redact_text(value)


class BenchReport(BaseModel):
    """The ``--json`` output of ``advisor bench run``; ``advisor bench import`` reads the same document."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["advisor.bench/1"] = "advisor.bench/1"
    model: str
    target: str
    slo_p99_ms: float = Field(gt=0, allow_inf_nan=False)
    max_error_rate: float = Field(ge=0, le=1)
    results: list[CapacityResult]

    _redact_target = field_validator("target")(redact_text)
