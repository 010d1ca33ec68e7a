"""A server of known capacity: ``k`` worker slots and a fixed service time ``s`` (saturates at k/s req/s).

Requests wait FIFO for one of ``k`` slots (an ``asyncio.Semaphore``, fair since Python 3.11) and then sleep
``s`` seconds. Sleeping uses no CPU, so the server behaves the same on a busy shared machine, and under
Poisson load it is exactly an M/D/k queue whose SLO-bounded capacity :mod:`advisor.bench.exact_queue`
computes.

Fault injection for tests: ``--error-every N`` answers every N-th request with 503; ``--die-after-s T``
kills the process with SIGKILL T seconds after start-up (a server crashing mid-run).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from advisor.bench.servers.reference._common import add_health, base_parser, mark_ready, serve

SLOTS_ENV = "ADVISOR_SYNTHETIC_SLOTS"
SERVICE_ENV = "ADVISOR_SYNTHETIC_SERVICE_MS"
ERROR_EVERY_ENV = "ADVISOR_SYNTHETIC_ERROR_EVERY"
DIE_AFTER_ENV = "ADVISOR_SYNTHETIC_DIE_AFTER_S"


def create_app() -> FastAPI:
    slots = int(os.environ.get(SLOTS_ENV, "4"))
    service_s = float(os.environ.get(SERVICE_ENV, "100")) / 1000.0
    error_every = int(os.environ.get(ERROR_EVERY_ENV, "0"))
    die_after_s = float(os.environ.get(DIE_AFTER_ENV, "0"))
    state: dict[str, asyncio.Semaphore] = {}
    counter = itertools.count(1)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["slots"] = asyncio.Semaphore(slots)
        if die_after_s > 0:
            asyncio.get_running_loop().call_later(die_after_s, os.kill, os.getpid(), signal.SIGKILL)
        mark_ready()
        yield

    app = FastAPI(title="advisor synthetic M/D/k server", lifespan=lifespan)
    add_health(app)

    @app.post("/predict")
    async def predict(request: Request, response: Response) -> dict[str, object]:
        await request.body()
        n = next(counter)
        async with state["slots"]:
            await asyncio.sleep(service_s)
        if error_every and n % error_every == 0:
            response.status_code = 503
            return {"error": "injected"}
        return {"slots": slots, "service_ms": service_s * 1000.0}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--service-ms", type=float, default=100.0)
    parser.add_argument("--error-every", type=int, default=0)
    parser.add_argument("--die-after-s", type=float, default=0.0)
    args = parser.parse_args(argv)
    os.environ[SLOTS_ENV] = str(args.slots)
    os.environ[SERVICE_ENV] = str(args.service_ms)
    os.environ[ERROR_EVERY_ENV] = str(args.error_every)
    os.environ[DIE_AFTER_ENV] = str(args.die_after_s)
    # One process: the k slots are one queue (several processes would be several queues, not M/D/k).
    serve("advisor.bench.servers.reference.synthetic:create_app", args.host, args.port, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
