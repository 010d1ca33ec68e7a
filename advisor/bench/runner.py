"""The harness's entry points: measure a server advisor starts, or one that is already running.

:func:`run_server` measures a :class:`~advisor.bench.servers.spec.BenchServer` (a reference model or a server
command) on one shape: it plans the emulation (refusing shapes larger than the host), picks a free port,
starts the server confined to the shape and hands over to :func:`advisor.bench.loadgen.measure.measure`.
:func:`run_capacity` does that for a reference model by name, :func:`run_command` for a command already
split into arguments, and :func:`run_endpoint` measures a server that runs elsewhere.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from advisor.bench import results
from advisor.bench.config import BenchConfig, BenchEvent, EventSink
from advisor.bench.loadgen.measure import measure
from advisor.bench.measurements import HOST_SHAPE, CapacityResult, EmulationInfo, RequestSpec
from advisor.bench.servers.emulation import Confinement, host_cpus, plan_emulation
from advisor.bench.servers.process import ManagedServer, stop_orphan
from advisor.bench.servers.spec import BenchServer, reference_server
from advisor.domain import SLO
from advisor.errors import InputError, MeasurementError
from advisor.pricing.catalog import Catalog
from advisor.redact import redact_url
from advisor.settings import Settings
from advisor.store import Store

CONNECT_TIMEOUT_S = 5.0

__all__ = [
    "BenchConfig",
    "BenchEvent",
    "EventSink",
    "check_shapes",
    "free_port",
    "resolve_shape",
    "run_capacity",
    "run_command",
    "run_endpoint",
    "run_server",
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
            fix=f"measure {name} on a real instance (`advisor bench jobs --emit k8s DIR`)",
        )
    return float(spec.vcpu), spec.memory_gib


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

    ``request`` is built with :func:`advisor.bench.servers.payloads.build_request` against ``127.0.0.1:port``.
    """
    catalog = catalog or Catalog.load(settings)
    vcpu, memory = resolve_shape(catalog, shape, config.emulation)
    method = "none" if shape == HOST_SHAPE else config.emulation
    emulation = plan_emulation(shape, vcpu, memory, method=method)
    reap_abandoned(store)
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


def check_shapes(catalog: Catalog, shapes: list[str], emulation: str) -> None:
    """Refuse, before anything starts, a shape that is unknown or cannot be emulated on this machine."""
    for shape in shapes:
        vcpu, memory = resolve_shape(catalog, shape, emulation)
        plan_emulation(shape, vcpu, memory, method="none" if shape == HOST_SHAPE else emulation)  # type: ignore[arg-type]


def reap_abandoned(store: Store) -> list[str]:
    """Mark the runs a dead process left ``running`` abandoned and stop their servers (before a new run)."""
    return results.reap_abandoned(store, stop_orphan)


def check_reachable(request: RequestSpec, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """MeasurementError when nothing accepts a TCP connection at the request's host and port."""
    parts = urlsplit(request.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise MeasurementError(
            f"nothing answers at {redact_url(request.base_url)} ({why})",
            where="--endpoint",
            fix="start the server first, or check the host and port",
        ) from None


def run_server(
    settings: Settings,
    store: Store,
    target: BenchServer,
    shape: str,
    slo: SLO,
    *,
    config: BenchConfig,
    catalog: Catalog | None = None,
    on_event: EventSink | None = None,
) -> CapacityResult:
    """Measure ``target`` on ``shape`` (see the module docstring); the result is stored as it goes."""
    port = free_port()
    return run_command(
        settings, store, label=target.label, command=target.command(port), port=port,
        request=target.request(port), shape=shape, slo=slo, config=config, health_path=target.health_path,
        env=target.server_env(port), ready_timeout_s=target.ready_timeout_s, catalog=catalog,
        on_event=on_event,
    )  # fmt: skip


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
    cfg = config or (BenchConfig.quick() if quick else BenchConfig())
    target = reference_server(model_name, options=options)
    if store is not None:
        return run_server(settings, store, target, shape, slo, config=cfg, catalog=catalog, on_event=on_event)
    with Store(settings.db_path) as own:
        return run_server(settings, own, target, shape, slo, config=cfg, catalog=catalog, on_event=on_event)


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
    """Measure a server that is already running (nothing is started or confined).

    MeasurementError, before anything is stored, when nothing accepts connections at its address.
    """
    cfg = config or BenchConfig()
    check_reachable(request)
    reap_abandoned(store)
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
