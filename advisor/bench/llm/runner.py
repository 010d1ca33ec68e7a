"""The LLM harness: calibrate prompts, run the capacity search point by point, store every point as it lands.

:func:`measure_llm` measures a server that is running (an endpoint, or one :func:`serve` started) for one
request-size distribution; with ``per_bucket`` it also measures each bucket of a trace alone (the grid the
optimiser uses). Each point runs open loop (:mod:`advisor.bench.llm.client`) for a warm-up, then a window
sized in requests: a short **screening** window while the search brackets the capacity, a long
**confirming** one (enough requests to bound the percentile at 95 %, doubled while undecided up to
``confirm_max_requests``) for the answer. A point stops early when the SLO is already missed with
confidence or TTFT keeps rising (a backlog: the rate is above capacity).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# metrics imports scipy.stats on first use (the CLI starts faster); here it is loaded before any point runs,
# since a first import (most of a second) inside a point would stall the event loop and so its sends
import scipy.stats  # noqa: F401
from pydantic import Field

from advisor.bench.llm import store as llm_store
from advisor.bench.llm.client import (
    Arrival,
    PromptBuilder,
    Target,
    arrival_times,
    calibrate,
    probe,
    run_loop,
)
from advisor.bench.llm.fanout import Generators
from advisor.bench.llm.metrics import order_statistic_interval, summarize
from advisor.bench.llm.records import LLMSLO, LLMCapacity, LLMPoint, PointVerdict, SizeSpec, StreamRecord
from advisor.bench.llm.search import LLMSearch, LLMSearchConfig
from advisor.domain import FrozenModel
from advisor.store import Store
from advisor.traffic.tokens import SizeSampler, TokenTrace, bucket_grid, in_bucket

Listener = Callable[[str, LLMPoint | None], None]


class LLMBenchConfig(FrozenModel):
    """How long points run and how the search moves (defaults suit a GPU server; ``quick()`` a test)."""

    warmup_s: float = Field(default=2.0, ge=0)
    screen_requests: int = Field(default=80, ge=10, description="requests in a screening window")
    screen_min_s: float = Field(default=4.0, gt=0)
    confirm_min_requests: int = Field(
        default=1200,
        ge=10,
        description="a confirming point's least requests, whatever its percentile needs: slow requests"
        " come in runs near capacity, and a p99 read from 600 requests passed a TPOT-bound engine 12 % over"
        " its capacity (benchmarks/bench_llm_capacity.py)",
    )
    confirm_max_requests: int = Field(default=6000, ge=50)
    confirm_min_s: float = Field(
        default=20.0,
        gt=0,
        description="a confirming window's least length: near capacity a queue takes long"
        " to reach its steady state, and a shorter window sees a shorter tail than the server's",
    )
    max_window_s: float = Field(default=300.0, gt=0)
    drain_s: float = Field(default=30.0, gt=0, description="wait for answers after the last arrival")
    burstiness: float = Field(default=1.0, gt=0, description="Gamma shape of the arrivals (1 = Poisson)")
    seed: int = 0
    generator_processes: int = Field(
        default=1, ge=1, le=256, description="processes sending the load (bench run --workers)"
    )
    settle_max_s: float = Field(default=120.0, gt=0, description="longest wait for the server to drain")
    search: LLMSearchConfig = LLMSearchConfig()

    @classmethod
    def quick(cls) -> LLMBenchConfig:
        return cls(
            warmup_s=1.0,
            screen_requests=40,
            screen_min_s=2.0,
            confirm_min_requests=100,
            confirm_min_s=6.0,
            confirm_max_requests=400,
            max_window_s=20.0,
            drain_s=15.0,
        )


def confirm_requests(quantile: float) -> int:
    """The fewest requests whose order statistics bound the ``quantile`` from above at 95 % (plus 10 %)."""
    n = 10
    while order_statistic_interval(n, quantile)[1] is None:
        n = int(n * 1.1) + 1
    return int(n * 1.1)


@dataclass
class Measured:
    point: LLMPoint
    records: list[StreamRecord]


def _arrivals(
    rate: float,
    n_window: int,
    config: LLMBenchConfig,
    sampler: SizeSampler,
    builder: PromptBuilder,
    target: Target,
    seed: int,
    bucket: str | None,
    confirm: bool = False,
    least_requests: int = 0,
) -> tuple[list[Arrival], float]:
    least_s = config.confirm_min_s if confirm else config.screen_min_s
    # max_window_s never cuts a window below the requests its percentile needs: a p99 at a few requests/s
    # takes minutes to bound, and a shorter window could only ever be undecided
    window_s = max(min(max(n_window / rate, least_s), config.max_window_s), least_requests / rate)
    # a confirming point starts from a queue in steady state: a quarter of its window runs as warm-up
    warmup_s = max(config.warmup_s, 0.25 * window_s) if confirm else config.warmup_s
    times = arrival_times(rate, warmup_s + window_s, seed=seed, burstiness=config.burstiness)
    tin, tout = sampler.sample(len(times), seed=seed + 1)
    arrivals = [
        Arrival(
            float(t),
            int(i),
            int(o),
            target.body(builder.prompt(int(i), index=seed * 100_000 + k), int(o)),
            t >= warmup_s,
            bucket,
        )
        for k, (t, i, o) in enumerate(zip(times, tin, tout, strict=True))
    ]
    return arrivals, window_s


def _measure_point(
    generators: Generators,
    target: Target,
    rate: float,
    *,
    confirm: bool,
    seq: int,
    slo: LLMSLO,
    config: LLMBenchConfig,
    sampler: SizeSampler,
    builder: PromptBuilder,
    bucket: str | None,
) -> LLMPoint:
    n = (
        max(confirm_requests(slo.quantile), config.confirm_min_requests)
        if confirm
        else config.screen_requests
    )
    least = confirm_requests(slo.quantile) if confirm else 0
    while True:
        seed = config.seed + seq * 7919 + n
        arrivals, window_s = _arrivals(
            rate, n, config, sampler, builder, target, seed, bucket, confirm, least
        )
        run = generators.run(target, arrivals, drain_s=config.drain_s, slo=slo)
        duration = max(min(run.cutoff_s - run.window_start_s, window_s), 1e-3)
        point = summarize(
            run.records,
            seq=seq,
            offered_rps=rate,
            duration_s=duration,
            cutoff_s=run.cutoff_s,
            slo=slo,
            backlog=run.stopped_early.startswith("backlog"),
            confirm=confirm,
            note=run.stopped_early,
        )
        if not confirm or point.verdict is not PointVerdict.UNDECIDED or run.stopped_early:
            return point
        if n * 2 > config.confirm_max_requests or (n * 2) / rate > config.max_window_s:
            return point.model_copy(update={"note": "undecided after the longest window"})
        n *= 2


def measure_llm(
    store: Store | None,
    target: Target,
    *,
    model: str,
    shape: str,
    run_id: str,
    slo: LLMSLO,
    sizes: SizeSpec,
    sampler: SizeSampler,
    config: LLMBenchConfig,
    bucket: str | None = None,
    builder: PromptBuilder | None = None,
    warnings: list[str] | None = None,
    on_point: Listener | None = None,
) -> LLMCapacity:
    """Search the capacity of a running server for one size distribution; stored after every point."""
    started = time.monotonic()
    warns = list(warnings or [])
    if builder is None:
        builder, more = run_loop(calibrate(target))
        warns += more
    search = LLMSearch(config.search)
    result = LLMCapacity(
        run_id=run_id, model=model, shape=shape, api=target.api, status="running", slo=slo, sizes=sizes,
        bucket=bucket, capacity_rps=0.0, warnings=warns,
    )  # fmt: skip
    _save(store, result, target)
    baseline_ms = run_loop(_idle_ttft_ms(target, builder))
    try:
        with Generators(config.generator_processes) as generators:
            while (step := search.next_step()) is not None:
                if search.points:
                    run_loop(_settle(target, builder, baseline_ms, config.settle_max_s))
                point = _measure_point(
                    generators,
                    target,
                    step.rate_rps,
                    confirm=step.confirm,
                    seq=len(search.points),
                    slo=slo,
                    config=config,
                    sampler=sampler,
                    builder=builder,
                    bucket=bucket,
                )
                search.record(point)
                result = result.model_copy(update={"points": list(search.points)})
                _save(store, result, target)
                if on_point is not None:
                    on_point(bucket or "all", point)
    except KeyboardInterrupt:
        _save(store, result.model_copy(update={"status": "interrupted"}), target)
        raise
    out = search.outcome()
    at_cap = [p for p in search.points if p.confirm and p.offered_rps == out.capacity_rps]
    early = sum(p.stopped_early for p in search.points)
    if early:
        warns.append(
            f"{early} requests ended before their max_tokens: the server ignored ignore_eos/min_tokens,"
            " so output lengths (and TPOT) are shorter than asked"
        )
    result = result.model_copy(
        update={
            "status": "completed",
            "capacity_rps": out.capacity_rps,
            "capacity_high_rps": out.high_rps,
            "capacity_undecided": out.undecided,
            "lower_bound": out.lower_bound,
            "reason": out.reason,
            "input_tokens_per_s": at_cap[-1].input_tokens_per_s if at_cap else 0.0,
            "output_tokens_per_s": at_cap[-1].output_tokens_per_s if at_cap else 0.0,
            "warnings": warns,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    _save(store, result, target)
    return result


async def _idle_ttft_ms(target: Target, builder: PromptBuilder) -> float:
    """TTFT of a lone short request on the idle server (the median of three), in ms."""
    ttfts = []
    for i in range(3):
        record = await probe(target, builder.prompt(16, index=900_000 + i), 2)
        if record.ttft_ms is not None:
            ttfts.append(record.ttft_ms)
    return sorted(ttfts)[len(ttfts) // 2] if ttfts else 1000.0


async def _settle(target: Target, builder: PromptBuilder, baseline_ms: float, max_s: float) -> None:
    """Wait until the server is idle again (a lone request's TTFT back near its idle value): a point above
    capacity leaves a queue behind that the next point must not inherit. Gives up after ``max_s``."""
    deadline = time.monotonic() + max_s
    i = 0
    while time.monotonic() < deadline:
        record = await probe(target, builder.prompt(16, index=800_000 + i), 2)
        if record.ttft_ms is not None and record.ttft_ms <= max(2 * baseline_ms, baseline_ms + 50.0):
            return
        i += 1
        await asyncio.sleep(0.5)


def _save(store: Store | None, result: LLMCapacity, target: Target) -> None:
    if store is not None:
        llm_store.save(store, result, target=target.url)


def bucket_runs(trace: TokenTrace, min_share: float, limit: int) -> Iterator[tuple[str, float, SizeSampler]]:
    """(bucket label, share, sampler of that bucket's requests) for the largest cells of the trace's grid."""
    for label, share, _i, _o in bucket_grid(trace).cells(min_share)[:limit]:
        yield label, share, SizeSampler(kind="trace", trace=in_bucket(trace, label))


@contextlib.contextmanager
def served(
    command: list[str],
    health_url: str,
    log_path: Path,
    env: dict[str, str],
    ready_timeout_s: float,
    generator_cpus: int = 1,
    server_vcpus: int | None = None,
) -> Iterator[None]:
    """Start a server process, wait for its health route, and stop it afterwards.

    On a host with more CPUs than ``generator_cpus`` the server and the generator get CPUs of their own (the
    first ``generator_cpus`` for the generator and its worker processes, the rest for the server and every
    thread it starts), as the request/response bench does: a server computing on the generator's CPU delays
    sends and makes points invalid. ``server_vcpus``: at most that many CPUs for the server (a shape's).
    """
    from advisor.bench.servers.emulation import host_cpus, thread_env
    from advisor.bench.servers.process import ManagedServer

    cpus = host_cpus()
    split = len(cpus) > generator_cpus
    server_cpus, mine_cpus = (cpus[generator_cpus:], cpus[:generator_cpus]) if split else (cpus, cpus)
    if split and server_vcpus is not None:
        server_cpus = server_cpus[: max(1, server_vcpus)]
    if split:
        env = {**thread_env(len(server_cpus)), "ADVISOR_SHAPE_VCPU": str(len(server_cpus)), **env}
    server = ManagedServer(
        command, health_url=health_url, log_path=log_path, env=env, ready_timeout_s=ready_timeout_s
    )
    server.start(on_spawn=lambda pid: _pin_tree(pid, server_cpus) if split else None)
    mine = os.sched_getaffinity(0)
    try:
        if split:
            _pin_tree(server.pid or 0, server_cpus)  # threads started while it loaded
            os.sched_setaffinity(0, set(mine_cpus))
        yield
    finally:
        os.sched_setaffinity(0, mine)
        server.stop()


def _pin_tree(pid: int, cpus: list[int]) -> None:
    """Every thread of the process ``pid`` and its children onto ``cpus`` (threads started later inherit)."""
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        try:
            for thread in proc.threads():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(thread.id, set(cpus))
        except psutil.Error:
            continue
