"""One capacity measurement of one (model, shape), from server start to stored answer.

Sequence: start the server (confined to the shape) and wait for its health URL, start the Locust generator
process, run a short **closed-loop probe** (the throughput plateau, which sets where the open-loop search
starts), then let the pure :class:`CapacitySearch` drive **open-loop** points until it converges. Every
point is stored as soon as it is measured; the run ends ``completed``, ``failed`` or ``interrupted``
(Ctrl-C, SIGTERM), and the server and generator are always stopped.

A run fails, keeping every point measured, when the target dies (the server's process exits: its last log
lines are kept), or when it stops answering: a probe with no successful answer, or
``SILENT_POINTS_DEAD`` points in a row without one (a dead endpoint, a hung server, reset connections).
Such a run never reports a capacity.
"""

from __future__ import annotations

import time

from advisor.bench import results
from advisor.bench.config import BenchConfig, BenchEvent, EventSink
from advisor.bench.loadgen.driver import LoadGenerator, PointAborted
from advisor.bench.measurements import (
    CapacityResult,
    EmulationInfo,
    LoadMode,
    PointMeasurement,
    PointResult,
    PointSpec,
    RequestSpec,
    RunStatus,
    merge_windows,
)
from advisor.bench.search import CapacitySearch, Verdict
from advisor.bench.servers.emulation import host_info
from advisor.bench.servers.process import ManagedServer
from advisor.domain import SLO
from advisor.errors import MeasurementError
from advisor.store import Store

# A live server under any load answers some requests (slowly, maybe); this many points in a row with no
# successful answer at all mean the target died, hangs or resets connections.
SILENT_POINTS_DEAD = 2


def measure(
    store: Store,
    *,
    model: str,
    shape: str,
    target: str,
    request: RequestSpec,
    slo: SLO,
    config: BenchConfig,
    emulation: EmulationInfo | None,
    server: ManagedServer | None,
    run_id: str | None = None,
    on_event: EventSink | None = None,
) -> CapacityResult:
    """Probe, search, store; returns the result (``failed`` when the server died, with the points kept).

    Raises MeasurementError when the server or the generator cannot start (the run is stored as failed),
    and re-raises KeyboardInterrupt after marking the run interrupted.
    """
    run = _Run(store, model, shape, slo, config, emulation, server, run_id or results.new_run_id(), on_event)
    run.begin(target)
    try:
        run.start(request)
        plateau_result = run.probe()
        if plateau_result is not None:
            return plateau_result
        return run.search()
    except PointAborted as exc:
        tail = server.log_tail() if server is not None else None
        result = run.finish(
            RunStatus.FAILED, capacity_rps=0.0, reason=exc.reason, error=exc.reason, log_tail=tail
        )
        run.emit(BenchEvent("failed", shape, f"{exc.reason}; last server log lines: {tail}"))
        return result
    except MeasurementError as exc:
        tail = server.log_tail() if server is not None else None
        run.finish(RunStatus.FAILED, capacity_rps=0.0, reason=exc.what, error=exc.one_line(), log_tail=tail)
        raise
    except KeyboardInterrupt:
        run.finish(
            RunStatus.INTERRUPTED, capacity_rps=0.0, reason="interrupted", error="interrupted by the user"
        )
        raise
    finally:
        run.close()


class _Run:
    """The state of one measurement: what was measured so far, and the processes to stop."""

    def __init__(
        self,
        store: Store,
        model: str,
        shape: str,
        slo: SLO,
        config: BenchConfig,
        emulation: EmulationInfo | None,
        server: ManagedServer | None,
        run_id: str,
        on_event: EventSink | None,
    ) -> None:
        self.store, self.model, self.shape, self.slo, self.config = store, model, shape, slo, config
        self.emulation, self.server, self.run_id = emulation, server, run_id
        self.emit: EventSink = on_event or (lambda _e: None)
        self.host = host_info()
        self.started = time.monotonic()
        self.points: list[PointResult] = []
        self.plateau: float | None = None
        self.generator: LoadGenerator | None = None

    def begin(self, target: str) -> None:
        results.start_run(
            self.store, run_id=self.run_id, model=self.model, shape=self.shape, target=target,
            slo_p99_ms=self.slo.latency_p99_ms, max_error_rate=self.slo.max_error_rate,
            config=self.config.model_dump(mode="json"), host=self.host, emulation=self.emulation,
        )  # fmt: skip
        self.emit(
            BenchEvent(
                "start", self.shape, f"run {self.run_id}", max_points=self.config.search.max_points + 1
            )
        )

    def start(self, request: RequestSpec) -> None:
        """The server (when advisor runs it), then the generator, off the server's CPUs where it can be."""
        config, emulation, server = self.config, self.emulation, self.server
        if server is not None:
            server.start(on_spawn=lambda pid: results.set_server_pid(self.store, self.run_id, pid))
        pin = emulation.generator_cpus if emulation and not emulation.shares_cpus_with_generator else None
        self.generator = LoadGenerator(
            request, pool_users=config.pool_users, request_timeout_s=config.request_timeout_s,
            workers=config.workers, remote_workers=config.remote_workers, master_bind=config.master_bind,
            master_port=config.master_port, cpus=pin,
            log_path=server.log_path.with_name("generator.log") if server else None,
        )  # fmt: skip
        self.generator.start()

    def close(self) -> None:
        if self.generator is not None:
            self.generator.close()
        if self.server is not None:
            self.server.stop()

    def finish(self, status: RunStatus, **kw: object) -> CapacityResult:
        result = CapacityResult(
            run_id=self.run_id, model=self.model, shape=self.shape, status=status,
            slo_p99_ms=self.slo.latency_p99_ms, max_error_rate=self.slo.max_error_rate, points=self.points,
            host=self.host, emulation=self.emulation, plateau_rps=self.plateau,
            wall_s=round(time.monotonic() - self.started, 2), **kw,
        )  # fmt: skip
        if status is RunStatus.COMPLETED:
            results.add_capacity(self.store, result)
        results.finish_run(
            self.store, self.run_id, status, error=result.error, log_tail=result.log_tail,
            extra_config={"plateau_rps": self.plateau, "wall_s": result.wall_s},
        )  # fmt: skip
        return result

    def run_point(self, spec: PointSpec) -> tuple[PointMeasurement, float | None, float | None]:
        assert self.generator is not None
        server = self.server
        if server is not None:
            server.begin_sample()
        m = self.generator.measure(spec, abort=server.problem if server is not None else None)
        cpu, rss = server.sample() if server is not None else (None, None)
        return m, cpu, rss

    def keep(self, point: PointResult) -> None:
        self.points.append(point)
        results.add_point(self.store, self.run_id, point)

    def probe(self) -> CapacityResult | None:
        """The closed-loop plateau; a completed result at once when not even that gets answers."""
        config = self.config
        spec = PointSpec(
            id=0, mode=LoadMode.CLOSED, users=config.probe_users, warmup_s=1.0, window_s=config.probe_s / 2,
            windows=2, drain_s=0.0, seed=config.seed,
        )  # fmt: skip
        m, cpu, rss = self.run_point(spec)
        pooled = merge_windows(m.windows)
        self.plateau = pooled.achieved_rps
        note = f"closed-loop probe, {config.probe_users} users: plateau {self.plateau:.3g} req/s"
        point = _point(0, spec, m, cpu, rss, config, passed=None, note=note)
        self.keep(point)
        self.emit(BenchEvent("probe", self.shape, point.note, point))
        first = next(iter(m.errors), None)
        if pooled.successes == 0:  # dead, hung or resetting: not a measurement of its capacity
            raise PointAborted(
                f"the target answered none of the {pooled.requests} requests of the closed-loop probe"
                f"{f' ({first})' if first else ''}"
            )
        if pooled.error_rate <= 0.5:
            return None
        # Early stop: a server that fails most requests even under a closed loop meets no SLO at any rate.
        what = f"the server failed {pooled.error_rate:.0%} of requests under the closed-loop probe"
        return self.finish(
            RunStatus.COMPLETED,
            capacity_rps=0.0,
            reason=f"{what}{f' ({first})' if first else ''}; no rate can meet the SLO",
        )

    def search(self) -> CapacityResult:
        """Open-loop points proposed by the pure search until it converges; the stored capacity."""
        config, plateau = self.config, self.plateau or 0.0
        search_cfg = config.search.model_copy(update={"start_rps": max(plateau / 2, config.search.min_rps)})
        search = CapacitySearch(self.slo, search_cfg, ceiling_rps=plateau if plateau > 0 else None)
        seq, silent = 1, 0
        while (rate := search.next_rate()) is not None:
            spec = PointSpec(
                id=seq, mode=LoadMode.OPEN, rate_rps=rate, warmup_s=config.warmup_s,
                window_s=round(config.window_for(rate), 3), windows=config.windows,
                drain_s=config.drain_s(self.slo), seed=config.seed * 10_007 + seq,
            )  # fmt: skip
            m, cpu, rss = self.run_point(spec)
            silent = silent + 1 if merge_windows(m.windows).successes == 0 else 0
            valid = m.generator_cpu_pct <= config.generator_cpu_limit_pct
            saturated = (
                ""
                if valid
                else f"load generator CPU {m.generator_cpu_pct:.0f}% > {config.generator_cpu_limit_pct:g}%: "
                "not the server's limit"
            )
            judged = search.record(rate, m.windows, valid=valid, note=saturated)
            passed = (
                None if judged.verdict in (Verdict.INVALID, Verdict.RETRY) else judged.verdict is Verdict.PASS
            )
            point = _point(
                seq, spec, m, cpu, rss, config, passed=passed, note=judged.reason, stable=judged.stable
            )
            self.keep(point)
            message = f"{rate:.3g} req/s: {judged.verdict.value}, {judged.reason}"
            self.emit(BenchEvent("point", self.shape, message, point))
            if silent >= SILENT_POINTS_DEAD:
                first = next(iter(m.errors), "no error reported")
                raise PointAborted(
                    f"the target stopped answering: no answer in the last {silent} points ({first})"
                )
            seq += 1
        outcome = search.outcome()
        result = self.finish(
            RunStatus.COMPLETED,
            capacity_rps=round(outcome.capacity_rps, 3),
            p99_ms_at_capacity=outcome.p99_ms_at_capacity,
            reason=outcome.reason,
            lower_bound=outcome.lower_bound,
        )
        self.emit(
            BenchEvent("done", self.shape, f"capacity {result.capacity_rps:.3g} req/s ({result.reason})")
        )
        return result


def _point(
    seq: int,
    spec: PointSpec,
    m: PointMeasurement,
    cpu: float | None,
    rss: float | None,
    config: BenchConfig,
    *,
    passed: bool | None,
    note: str,
    stable: bool = True,
) -> PointResult:
    pooled = merge_windows(m.windows)
    valid = m.generator_cpu_pct <= config.generator_cpu_limit_pct
    if m.errors:
        top = sorted(m.errors.items(), key=lambda kv: -kv[1])[:2]
        note += "; errors: " + ", ".join(f"{msg} x{n}" for msg, n in top)
    return PointResult(
        seq=seq,
        mode=spec.mode,
        target_rps=spec.rate_rps,
        users=spec.users,
        achieved_rps=round(pooled.achieved_rps, 3),
        requests=pooled.requests,
        errors=pooled.failures,
        error_rate=pooled.error_rate,
        p50_ms=pooled.percentile_ms(0.50),
        p90_ms=pooled.percentile_ms(0.90),
        p95_ms=pooled.percentile_ms(0.95),
        p99_ms=pooled.percentile_ms(0.99),
        max_ms=round(pooled.max_ms, 2) if pooled.requests else None,
        server_cpu_pct=None if cpu is None else round(cpu, 1),
        server_rss_mib=None if rss is None else round(rss, 1),
        generator_cpu_pct=round(m.generator_cpu_pct, 1),
        duration_s=spec.span_s,
        valid=valid,
        passed=passed,
        stable=stable,
        note=note,
        windows=m.windows,
    )
