"""Knobs of one capacity measurement, and the progress events the harness emits.

Durations are seconds. :meth:`BenchConfig.quick` is what tests and the optimiser use (about half the time);
the defaults aim at about 90 s per (model, shape) for a server with stable latency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from advisor.bench.measurements import GENERATOR_CPU_LIMIT_PCT, PointResult
from advisor.bench.search import SearchConfig
from advisor.domain import SLO, InputModel

Emulation = Literal["auto", "cgroup_v2", "affinity_rlimit", "none"]


class BenchConfig(InputModel):
    """Knobs of one measurement. :meth:`quick` trades precision for time (tests, the optimiser)."""

    warmup_s: float = Field(default=2.0, ge=0, description="discarded at the start of each point")
    window_s: float = Field(default=3.5, gt=0, description="shortest window")
    min_window_requests: int = Field(
        default=200, ge=1, description="windows stretch to hold this many arrivals"
    )
    max_window_s: float = Field(default=10.0, gt=0, description="...but never beyond this")
    windows: int = Field(default=2, ge=2, description="consecutive windows that must agree")
    probe_s: float = Field(default=3.0, gt=0, description="closed-loop probe length (after 1 s warm-up)")
    probe_users: int = Field(default=32, ge=1, description="users of the closed-loop probe")
    pool_users: int = Field(default=256, ge=1, description="max requests in flight from the generator")
    request_timeout_s: float = Field(
        default=10.0, gt=0, le=3600, description="seconds before a request is an error"
    )
    workers: int = Field(
        default=0,
        ge=0,
        description="load-generator processes on this machine: Locust workers, or the LLM bench's"
        " generator processes (0: one process)",
    )
    remote_workers: int = Field(default=0, ge=0, description="wait for this many workers from other machines")
    master_bind: str = Field(default="127.0.0.1", description="master address (0.0.0.0 for remote workers)")
    master_port: int = Field(default=5557, ge=1, le=65535, description="master port for Locust workers")
    emulation: Emulation = Field(
        default="auto", description="how a shape is emulated: auto, cgroup_v2, affinity_rlimit or none"
    )
    generator_cpu_limit_pct: float = GENERATOR_CPU_LIMIT_PCT
    seed: int = 1
    search: SearchConfig = SearchConfig(resolution=0.05, max_retries=1, max_points=12)

    @classmethod
    def quick(cls, **overrides: object) -> BenchConfig:
        base: dict[str, object] = {
            "warmup_s": 1.0,
            "window_s": 2.0,
            "probe_s": 2.0,
            "min_window_requests": 100,
            "max_window_s": 5.0,
            "search": SearchConfig(resolution=0.08, max_retries=1, max_points=10),
        }
        return cls.model_validate({**base, **overrides})

    def tuned(
        self,
        *,
        warmup_s: float | None = None,
        window_s: float | None = None,
        max_points: int | None = None,
        resolution: float | None = None,
    ) -> BenchConfig:
        """A copy with the given knobs changed (None keeps the current value)."""
        top: dict[str, object] = {
            k: v for k, v in (("warmup_s", warmup_s), ("window_s", window_s)) if v is not None
        }
        search = {k: v for k, v in (("max_points", max_points), ("resolution", resolution)) if v is not None}
        if search:
            top["search"] = self.search.model_copy(update=search)
        return self.model_copy(update=top) if top else self

    def window_for(self, rate_rps: float) -> float:
        """Window length at ``rate_rps``: at least ``min_window_requests`` arrivals (a p99 needs ~100+
        samples to be more than the maximum), within ``[window_s, max_window_s]``."""
        return max(self.window_s, min(self.min_window_requests / rate_rps, self.max_window_s))

    def drain_s(self, slo: SLO) -> float:
        # Long enough that an answer still missing is surely over the SLO, short enough to keep points brief.
        return min(max(3 * slo.latency_p99_ms / 1000.0, 1.0), self.request_timeout_s)


@dataclass(frozen=True)
class BenchEvent:
    """Progress for a display: ``kind`` is start | probe | point | done | failed."""

    kind: str
    shape: str
    message: str
    point: PointResult | None = None
    max_points: int = 0


EventSink = Callable[[BenchEvent], None]
