"""What every reference server shares: sizing from the emulated shape, readiness across workers, uvicorn.

Sizing: the harness exports the shape's vCPU count as ``ADVISOR_SHAPE_VCPU`` (and OMP/MKL thread variables).
A reference server runs one uvicorn worker process per vCPU with one compute thread each, which is how
small CPU models are usually served for throughput (no GIL contention, no thread oversubscription).

Latency: uvicorn's multi-worker mode hands the listening socket to its workers in a way that loses
``TCP_NODELAY`` on accepted connections (asyncio only sets it when ``sock.proto`` is TCP), so every
keep-alive response paid Nagle's algorithm against the client's delayed ACK: +40 ms. The servers use
:class:`NoDelayH11Protocol`, which sets it on every connection.

Readiness: with several worker processes, ``/health`` must not answer 200 until *every* worker has loaded
its model, or the first points would measure a half-started server. Each worker drops a marker file in
``ADVISOR_READY_DIR`` when its model is warm; ``/health`` counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

from fastapi import FastAPI, Response
from uvicorn.protocols.http.h11_impl import H11Protocol

VCPU_ENV = "ADVISOR_SHAPE_VCPU"
WORKERS_ENV = "ADVISOR_SERVER_WORKERS"
READY_DIR_ENV = "ADVISOR_READY_DIR"


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with TCP_NODELAY forced on each connection (see the module docstring)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def shape_vcpu() -> int:
    """vCPUs of the emulated shape (whole CPUs, at least 1); the host's CPUs when not set."""
    raw = os.environ.get(VCPU_ENV)
    if raw:
        return max(1, int(float(raw)))
    return max(1, len(os.sched_getaffinity(0)))


def worker_count() -> int:
    raw = os.environ.get(WORKERS_ENV)
    return max(1, int(raw)) if raw else shape_vcpu()


def mark_ready() -> None:
    """Called by a worker once its model answers; /health turns 200 when all workers have done so."""
    ready_dir = os.environ.get(READY_DIR_ENV)
    if ready_dir:
        Path(ready_dir, f"ready-{os.getpid()}").touch()


def add_health(app: FastAPI) -> None:
    @app.get("/health")
    def health(response: Response) -> dict[str, object]:
        ready_dir = os.environ.get(READY_DIR_ENV)
        ready = len(list(Path(ready_dir).glob("ready-*"))) if ready_dir else 1
        expected = int(os.environ.get(WORKERS_ENV, "1"))
        if ready < expected:
            response.status_code = 503
        return {"ready_workers": ready, "workers": expected}


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=None, help="uvicorn worker processes (default: vCPUs)")
    return parser


def serve(factory: str, host: str, port: int, workers: int | None) -> None:
    """Run ``module:factory`` under uvicorn with ``workers`` processes (default: one per vCPU)."""
    import uvicorn

    n = workers or worker_count()
    os.environ[WORKERS_ENV] = str(n)
    own_dir = None
    if READY_DIR_ENV not in os.environ:
        own_dir = tempfile.mkdtemp(prefix="advisor-ready-")
        os.environ[READY_DIR_ENV] = own_dir
    try:
        uvicorn.run(
            factory,
            http=NoDelayH11Protocol,
            factory=True,
            host=host,
            port=port,
            workers=n if n > 1 else None,
            log_level="warning",
            access_log=False,
        )
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
