"""The load-generator process: Locust as a library, driven over stdin/stdout by
:mod:`advisor.bench.loadgen.driver`.

Run as ``python -m advisor.bench.loadgen.process`` (never imported by the orchestrator: Locust
monkey-patches with gevent on import). Roles:

* **local** (default): one process, a Locust ``LocalRunner``, all users here.
* **master** (``--workers N`` and/or ``--remote-workers M``): a Locust ``MasterRunner`` that starts ``N``
  local worker processes and waits for ``M`` more from other machines (``advisor bench worker --master
  HOST:PORT``, Locust's documented way to scale out). The rate of each open-loop point is split evenly
  between workers (a superposition of independent Poisson processes is Poisson at the summed rate); worker
  stats reach the master through Locust's own reporting.
* **worker**: a Locust ``WorkerRunner`` that runs the share of each point the master sends it.

Protocol: one JSON command per line on stdin (``{"op": "point", "spec": {...}}`` or ``{"op": "quit"}``);
answers are lines on stdout starting with :data:`MARKER` (anything else on stdout is ignored).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from gevent.fileobject import FileObjectPosix
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from advisor.bench.loadgen.locust_user import CURRENT, PointDriver, collect_windows, make_user_class
from advisor.bench.measurements import PointMeasurement, PointSpec, RequestSpec

MARKER = "@@advisor "
POINT_MSG = "advisor_point"
DONE_MSG = "advisor_point_done"
WORKER_WAIT_S = 60.0  # for local workers; remote ones (started by hand elsewhere) get REMOTE_WORKER_WAIT_S
REMOTE_WORKER_WAIT_S = 300.0
SPAWN_RATE = 10_000.0


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(MARKER + json.dumps(payload) + "\n")
    sys.stdout.flush()


def _spawn(env: Environment, pool: int, timeout_s: float = 30.0) -> None:
    assert env.runner is not None
    env.runner.start(pool, spawn_rate=SPAWN_RATE)
    deadline = time.monotonic() + timeout_s
    while env.runner.user_count < pool:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {env.runner.user_count} of {pool} users started")
        gevent.sleep(0.05)


class LocalController:
    """All users in this process."""

    def __init__(self, env: Environment, request: RequestSpec) -> None:
        self.env = env
        self.request = request
        self.driver = PointDriver(env)
        self._late_seen = 0

    def measure(self, spec: PointSpec) -> PointMeasurement:
        cpu = self.driver.run(
            spec, self.request, rate_share_rps=spec.rate_rps, users_share=spec.users, seed=spec.seed
        )
        warmup, windows, errors, late = collect_windows(self.env.stats, spec, self.request.method)
        new_late, self._late_seen = late - self._late_seen, late
        return PointMeasurement(
            id=spec.id,
            warmup=warmup,
            windows=windows,
            generator_cpu_pct=cpu,
            generator_processes=1,
            late=new_late,
            errors=errors,
        )


class MasterController:
    """Users on worker processes; this process splits each point between them and reads the merged stats."""

    def __init__(self, env: Environment, request: RequestSpec) -> None:
        self.env = env
        self.request = request
        self.runner = env.runner
        assert isinstance(self.runner, MasterRunner)
        self._done: dict[str, float] = {}
        self._late_seen = 0
        self.runner.register_message(DONE_MSG, self._on_done)

    def _on_done(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._done[str(msg.node_id)] = float(msg.data.get("cpu_pct", 0.0))

    def measure(self, spec: PointSpec) -> PointMeasurement:
        assert isinstance(self.runner, MasterRunner)
        clients = [c.id for c in self.runner.clients.all]
        self._done.clear()
        n = len(clients)
        for index, client_id in enumerate(clients):
            users = None
            if spec.users is not None:  # split N users as evenly as integers allow
                users = spec.users // n + (1 if index < spec.users % n else 0)
            data = {
                "spec": spec.model_dump(mode="json"),
                "request": self.request.model_dump(mode="json"),
                "rate_share_rps": spec.rate_rps / n if spec.rate_rps else None,
                "users_share": users,
                "seed": spec.seed * 1000 + index,
            }
            self.runner.send_message(POINT_MSG, data, client_id=client_id)
        deadline = time.monotonic() + spec.span_s + spec.drain_s + 15.0
        while len(self._done) < n and time.monotonic() < deadline:
            gevent.sleep(0.05)
        warmup, windows, errors, late = collect_windows(self.env.stats, spec, self.request.method)
        new_late, self._late_seen = late - self._late_seen, late
        cpus = list(self._done.values()) or [0.0]
        missing = n - len(self._done)
        if missing:
            errors[f"{missing} worker(s) never reported the end of the point"] = missing
        return PointMeasurement(
            id=spec.id,
            warmup=warmup,
            windows=windows,
            generator_cpu_pct=max(cpus),
            generator_processes=n,
            late=new_late,
            errors=errors,
        )


def _serve(controller: LocalController | MasterController) -> None:
    stdin = FileObjectPosix(sys.stdin.fileno(), "rb", close=False)
    while True:
        line = stdin.readline()
        if not line:
            return
        command = json.loads(line)
        if command.get("op") == "quit":
            return
        if command.get("op") == "point":
            spec = PointSpec.model_validate(command["spec"])
            result = controller.measure(spec)
            emit({"op": "point", "result": result.model_dump(mode="json")})


def run_main(args: argparse.Namespace) -> int:
    request = RequestSpec.model_validate_json(Path(args.request).read_text(encoding="utf-8"))
    expected = args.workers + args.remote_workers
    user_class = make_user_class(request.base_url, args.pool if expected == 0 else 1, args.request_timeout)
    env = Environment(user_classes=[user_class], host=request.base_url)
    children: list[subprocess.Popen[bytes]] = []
    controller: LocalController | MasterController
    if expected == 0:
        env.create_local_runner()
        CURRENT.install(None, request)
        controller = LocalController(env, request)
    else:
        runner = env.create_master_runner(
            master_bind_host=args.master_bind, master_bind_port=args.master_port
        )
        for _ in range(args.workers):
            cmd = [
                sys.executable,
                "-m",
                "advisor.bench.loadgen.process",
                "worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                str(args.master_port),
                "--pool",
                str(max(args.pool // expected, 1)),
                "--request-timeout",
                str(args.request_timeout),
            ]
            children.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + (REMOTE_WORKER_WAIT_S if args.remote_workers else WORKER_WAIT_S)
        while len(runner.clients.ready) < expected:
            if time.monotonic() > deadline:
                emit(
                    {
                        "op": "error",
                        "message": f"only {len(runner.clients.ready)} of {expected} workers connected",
                    }
                )
                return 1
            gevent.sleep(0.1)
        controller = MasterController(env, request)
    try:
        _spawn(env, args.pool)
        emit({"op": "ready", "processes": 1 + len(children), "workers": expected})
        _serve(controller)
    finally:
        assert env.runner is not None
        env.runner.quit()
        for child in children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0


def worker_main(args: argparse.Namespace) -> int:
    """A Locust worker: runs its share of each point the master sends, then reports stats and CPU."""
    user_class = make_user_class("http://127.0.0.1", args.pool, args.request_timeout)
    env = Environment(user_classes=[user_class])
    runner = env.create_worker_runner(args.master_host, args.master_port)
    assert isinstance(runner, WorkerRunner)
    driver = PointDriver(env)

    def on_point(environment: Environment, msg: Any, **_: Any) -> None:
        spec = PointSpec.model_validate(msg.data["spec"])
        request = RequestSpec.model_validate(msg.data["request"])
        cpu = driver.run(
            spec,
            request,
            rate_share_rps=msg.data["rate_share_rps"],
            users_share=msg.data["users_share"],
            seed=int(msg.data["seed"]),
        )
        # Flush this point's stats now instead of waiting up to WORKER_REPORT_INTERVAL (3 s) for the next
        # periodic report; messages on the one socket arrive in order, so the master has them before DONE.
        runner._send_stats()
        runner.send_message(DONE_MSG, {"id": spec.id, "cpu_pct": cpu})

    runner.register_message(POINT_MSG, on_point, concurrent=True)
    assert runner.greenlet is not None
    runner.greenlet.join()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m advisor.bench.loadgen.process")
    parser.add_argument("role", nargs="?", default="run", choices=["run", "worker"])
    parser.add_argument("--request", help="RequestSpec JSON file (run role)")
    parser.add_argument("--pool", type=int, default=256, help="users (= max requests in flight)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=0, help="local worker processes")
    parser.add_argument("--remote-workers", type=int, default=0, help="workers expected from other machines")
    parser.add_argument("--master-bind", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, default=5557)
    parser.add_argument("--master-host", default="127.0.0.1")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    args = _parser().parse_args(argv)
    if args.role == "worker":
        return worker_main(args)
    return run_main(args)


if __name__ == "__main__":
    sys.exit(main())
