"""The harness: one capacity measurement of one (model, shape), from server start to stored answer.

Sequence per shape: plan the emulation (refuse shapes larger than the host), start the server confined to
the shape and wait for its health URL, start the Locust generator process, run a short **closed-loop probe**
(the throughput plateau, which sets where the open-loop search starts), then let the pure
:class:`CapacitySearch` drive **open-loop** points until it converges. Every point is stored as soon as it is
measured; the run ends ``completed``, ``failed`` (server died: its last log lines are kept) or
``interrupted`` (Ctrl-C), and the server and generator are always stopped.

Entry points: :func:`run_capacity` (a reference model by name; what the optimiser calls for a quick real
bench), :func:`run_command` (any server command) and :func:`run_endpoint` (a server already running).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from advisor.bench import results
from advisor.bench.config import BenchConfig, BenchEvent, EventSink
from advisor.bench.emulation import HOST_SHAPE, Confinement, host_cpus, host_info, plan_emulation
from advisor.bench.loadgen import LoadGenerator, PointAborted
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
from advisor.bench.payloads import build_request
from advisor.bench.registry import get_model
from advisor.bench.search import CapacitySearch, Verdict
from advisor.bench.server import ManagedServer
from advisor.domain import SLO
from advisor.errors import InputError, MeasurementError
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from advisor.store import Store

__all__ = [
    "BenchConfig",
    "BenchEvent",
    "EventSink",
    "free_port",
    "measure",
    "resolve_shape",
    "run_capacity",
    "run_command",
    "run_endpoint",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def resolve_shape(catalog: Catalog, name: str, method: str) -> tuple[float, float | None]:
    """(vCPU, memory GiB) of a shape name: an instance type, or ``host`` (the whole machine, unconfined)."""
    if name == HOST_SHAPE:
        return float(len(host_cpus())), None
    spec = catalog.instance(name)
    if (spec.has_gpu or spec.accelerator_count) and method != "none":
        raise InputError(
            f"{name} has GPUs/accelerators; local emulation covers CPU shapes only",
            where="--shapes",
            fix=f"measure {name} on a real instance (`advisor bench plan --emit k8s DIR`)",
        )
    return float(spec.vcpu), spec.memory_gib


# ----- one measurement -----------------------------------------------------------------------------------
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
    emit = on_event or (lambda _e: None)
    run_id = run_id or results.new_run_id()
    host = host_info()
    started = time.monotonic()
    results.start_run(
        store,
        run_id=run_id,
        model=model,
        shape=shape,
        target=target,
        slo_p99_ms=slo.latency_p99_ms,
        max_error_rate=slo.max_error_rate,
        config=config.model_dump(mode="json"),
        host=host,
        emulation=emulation,
    )
    emit(BenchEvent("start", shape, f"run {run_id}", max_points=config.search.max_points + 1))
    points: list[PointResult] = []
    plateau: float | None = None
    generator: LoadGenerator | None = None

    def finish(status: RunStatus, **kw: object) -> CapacityResult:
        result = CapacityResult(
            run_id=run_id,
            model=model,
            shape=shape,
            status=status,
            slo_p99_ms=slo.latency_p99_ms,
            max_error_rate=slo.max_error_rate,
            points=points,
            host=host,
            emulation=emulation,
            plateau_rps=plateau,
            wall_s=round(time.monotonic() - started, 2),
            **kw,
        )
        if status is RunStatus.COMPLETED:
            results.add_capacity(store, result)
        results.finish_run(
            store,
            run_id,
            status,
            error=result.error,
            log_tail=result.log_tail,
            extra_config={"plateau_rps": plateau, "wall_s": result.wall_s},
        )
        return result

    try:
        if server is not None:
            server.start()
        pin = emulation.generator_cpus if emulation and not emulation.shares_cpus_with_generator else None
        generator = LoadGenerator(
            request,
            pool_users=config.pool_users,
            request_timeout_s=config.request_timeout_s,
            workers=config.workers,
            remote_workers=config.remote_workers,
            master_bind=config.master_bind,
            master_port=config.master_port,
            cpus=pin,
            log_path=server.log_path.with_name("generator.log") if server else None,
        )
        generator.start()
        abort = server.problem if server is not None else None

        def run_point(spec: PointSpec) -> tuple[PointMeasurement, float | None, float | None]:
            assert generator is not None
            if server is not None:
                server.begin_sample()
            m = generator.measure(spec, abort=abort)
            cpu, rss = server.sample() if server is not None else (None, None)
            return m, cpu, rss

        probe = PointSpec(
            id=0,
            mode=LoadMode.CLOSED,
            users=config.probe_users,
            warmup_s=1.0,
            window_s=config.probe_s / 2,
            windows=2,
            drain_s=0.0,
            seed=config.seed,
        )
        m, cpu, rss = run_point(probe)
        pooled = merge_windows(m.windows)
        plateau = pooled.achieved_rps
        point = _point(
            0,
            probe,
            m,
            cpu,
            rss,
            config,
            passed=None,
            note=f"closed-loop probe, {config.probe_users} users: plateau {plateau:.3g} req/s",
        )
        points.append(point)
        results.add_point(store, run_id, point)
        emit(BenchEvent("probe", shape, point.note, point))
        if pooled.requests == 0 or pooled.error_rate > 0.5:
            # Early stop: a server that cannot answer even a closed loop will not meet an SLO at any rate.
            first = next(iter(m.errors), None)
            if pooled.requests == 0:
                what = f"no request was answered during the {config.probe_s:g} s closed-loop probe"
            else:
                what = f"the server failed {pooled.error_rate:.0%} of requests under the closed-loop probe"
            return finish(
                RunStatus.COMPLETED,
                capacity_rps=0.0,
                reason=f"{what}{f' ({first})' if first else ''}; no rate can meet the SLO",
            )
        search_cfg = config.search.model_copy(update={"start_rps": max(plateau / 2, config.search.min_rps)})
        search = CapacitySearch(slo, search_cfg, ceiling_rps=plateau if plateau > 0 else None)
        seq = 1
        while (rate := search.next_rate()) is not None:
            spec = PointSpec(
                id=seq,
                mode=LoadMode.OPEN,
                rate_rps=rate,
                warmup_s=config.warmup_s,
                window_s=round(config.window_for(rate), 3),
                windows=config.windows,
                drain_s=config.drain_s(slo),
                seed=config.seed * 10_007 + seq,
            )
            m, cpu, rss = run_point(spec)
            valid = m.generator_cpu_pct <= config.generator_cpu_limit_pct
            saturated = (
                ""
                if valid
                else (
                    f"load generator CPU {m.generator_cpu_pct:.0f}% > "
                    f"{config.generator_cpu_limit_pct:g}%: not the server's limit"
                )
            )
            judged = search.record(rate, m.windows, valid=valid, note=saturated)
            passed = (
                None if judged.verdict in (Verdict.INVALID, Verdict.RETRY) else judged.verdict is Verdict.PASS
            )
            point = _point(
                seq, spec, m, cpu, rss, config, passed=passed, note=judged.reason, stable=judged.stable
            )
            points.append(point)
            results.add_point(store, run_id, point)
            emit(
                BenchEvent(
                    "point", shape, f"{rate:.3g} req/s: {judged.verdict.value}, {judged.reason}", point
                )
            )
            seq += 1
        outcome = search.outcome()
        result = finish(
            RunStatus.COMPLETED,
            capacity_rps=round(outcome.capacity_rps, 3),
            p99_ms_at_capacity=outcome.p99_ms_at_capacity,
            reason=outcome.reason,
            lower_bound=outcome.lower_bound,
        )
        emit(BenchEvent("done", shape, f"capacity {result.capacity_rps:.3g} req/s ({result.reason})"))
        return result
    except PointAborted as exc:
        tail = server.log_tail() if server is not None else None
        result = finish(
            RunStatus.FAILED, capacity_rps=0.0, reason=exc.reason, error=exc.reason, log_tail=tail
        )
        emit(BenchEvent("failed", shape, f"{exc.reason}; last server log lines: {tail}"))
        return result
    except MeasurementError as exc:
        finish(
            RunStatus.FAILED,
            capacity_rps=0.0,
            reason=exc.what,
            error=exc.one_line(),
            log_tail=server.log_tail() if server is not None else None,
        )
        raise
    except KeyboardInterrupt:
        finish(RunStatus.INTERRUPTED, capacity_rps=0.0, reason="interrupted", error="interrupted by the user")
        raise
    finally:
        if generator is not None:
            generator.close()
        if server is not None:
            server.stop()


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


# ----- entry points --------------------------------------------------------------------------------------
def _server_for(
    settings: Settings,
    run_id: str,
    shape: str,
    command: list[str],
    health_url: str,
    emulation: EmulationInfo | None,
    env: dict[str, str],
    ready_timeout_s: float,
) -> ManagedServer:
    log = Path(settings.home) / "bench" / run_id / "server.log"
    confinement = Confinement(emulation, run_id=run_id) if emulation is not None else None
    return ManagedServer(
        command,
        health_url=health_url,
        log_path=log,
        confinement=confinement,
        env=env,
        ready_timeout_s=ready_timeout_s,
    )


def run_command(
    settings: Settings,
    store: Store,
    *,
    label: str,
    command: list[str],
    port: int,
    request: RequestSpec,
    shape: str,
    slo: SLO,
    config: BenchConfig,
    health_path: str = "/health",
    env: dict[str, str] | None = None,
    ready_timeout_s: float = 120.0,
    catalog: Catalog | None = None,
    on_event: EventSink | None = None,
) -> CapacityResult:
    """Start ``command`` (which must listen on ``port``) confined to ``shape``, measure it, stop it.

    ``request`` is built with :func:`advisor.bench.payloads.build_request` against ``127.0.0.1:port``.
    """
    catalog = catalog or Catalog.load(settings)
    vcpu, memory = resolve_shape(catalog, shape, config.emulation)
    method = "none" if shape == HOST_SHAPE else config.emulation
    emulation = plan_emulation(shape, vcpu, memory, method=method)
    run_id = results.new_run_id()
    server = _server_for(
        settings,
        run_id,
        shape,
        command,
        f"http://127.0.0.1:{port}{health_path}",
        emulation,
        env or {},
        ready_timeout_s,
    )
    return measure(
        store,
        model=label,
        shape=shape,
        target=" ".join(command),
        request=request,
        slo=slo,
        config=config,
        emulation=emulation,
        server=server,
        run_id=run_id,
        on_event=on_event,
    )


def run_capacity(
    settings: Settings,
    model_name: str,
    shape: str,
    slo: SLO,
    *,
    quick: bool = True,
    options: dict[str, str] | None = None,
    config: BenchConfig | None = None,
    store: Store | None = None,
    catalog: Catalog | None = None,
    on_event: EventSink | None = None,
) -> CapacityResult:
    """Measure a reference model (``tabular``, ``embedding``, ``synthetic``) on one shape and store it.

    ``shape`` is an instance type of at most the host's size (e.g. ``c7a.medium``, ``c6i.large``) or
    ``host``. ``quick`` uses :meth:`BenchConfig.quick` (about 30-60 s per shape). Returns the result; its
    ``capacity_rps`` is 0.0 with a reason when the SLO cannot be met at any rate.
    """
    ref = get_model(model_name)
    cfg = config or (BenchConfig.quick() if quick else BenchConfig())
    port = free_port()
    own_store = store is None
    st = store or Store(settings.db_path)
    try:
        label = (
            model_name
            if not options
            else f"{model_name}[{','.join(f'{k}={v}' for k, v in sorted(options.items()))}]"
        )
        request = build_request(f"http://127.0.0.1:{port}{ref.path}", body=ref.body())
        return run_command(
            settings,
            st,
            label=label,
            command=ref.command(port, options),
            port=port,
            request=request,
            shape=shape,
            slo=slo,
            config=cfg,
            health_path=ref.health_path,
            env=ref.env,
            ready_timeout_s=ref.ready_timeout_s,
            catalog=catalog,
            on_event=on_event,
        )
    finally:
        if own_store:
            st.close()


def run_endpoint(
    store: Store,
    request: RequestSpec,
    slo: SLO,
    *,
    label: str,
    shape: str = "unknown",
    config: BenchConfig | None = None,
    on_event: EventSink | None = None,
) -> CapacityResult:
    """Measure a server that is already running (nothing is started or confined)."""
    cfg = config or BenchConfig()
    return measure(
        store,
        model=label,
        shape=shape,
        target=request.base_url + request.path,
        request=request,
        slo=slo,
        config=cfg,
        emulation=None,
        server=None,
        on_event=on_event,
    )
