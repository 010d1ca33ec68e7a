"""Orchestrator side of load generation: starts the Locust generator process and asks it for points.

The generator (:mod:`advisor.bench.loadgen.process`) runs Locust as a library in its own process, because
importing Locust monkey-patches the importing process with gevent; keeping it out of the orchestrator means
the CLI, the test runner and the optimiser can call the harness safely. This module never imports Locust.

While a point runs, :meth:`LoadGenerator.measure` polls an ``abort`` callback (the harness checks that the
server is still alive and within its memory); when it returns a reason, the generator's process group is
killed at once and :class:`PointAborted` is raised, so a dead server ends the run within a second or two.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from advisor.bench.measurements import PointMeasurement, PointSpec, RequestSpec
from advisor.errors import MeasurementError

MARKER = "@@advisor "  # the prefix of protocol lines on the generator's stdout (process.MARKER)
START_TIMEOUT_S = 90.0
RESULT_GRACE_S = 30.0


class PointAborted(Exception):
    """A point stopped before its end because the caller's abort check fired (e.g. the server died)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LoadGenerator:
    """A running generator process (plus its Locust workers); use as a context manager.

    ``pool_users`` is the number of Locust users, i.e. the most requests that can be in flight at once;
    ``workers`` > 0 starts that many local Locust worker processes under a master, ``remote_workers`` waits
    for workers started elsewhere with ``advisor bench worker --master HOST:PORT``.
    """

    def __init__(
        self,
        request: RequestSpec,
        *,
        pool_users: int = 256,
        request_timeout_s: float = 30.0,
        workers: int = 0,
        remote_workers: int = 0,
        master_bind: str = "127.0.0.1",
        master_port: int = 5557,
        cpus: list[int] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.request = request
        self.pool_users = pool_users
        self.request_timeout_s = request_timeout_s
        self.workers = workers
        self.remote_workers = remote_workers
        self.master_bind = master_bind
        self.master_port = master_port
        self.cpus = cpus
        self.log_path = log_path
        self.processes = 1
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._tmp = tempfile.TemporaryDirectory(prefix="advisor-gen-")
        self._log: IO[str] | None = None
        self._busy = False

    # ----- lifecycle ---------------------------------------------------------------------------------
    def start(self, timeout_s: float | None = None) -> None:
        """Start the process and wait until its users are spawned; MeasurementError when it cannot start.

        The default wait is 90 s, plus 5 minutes when remote workers have to be started by hand elsewhere.
        """
        if timeout_s is None:
            timeout_s = START_TIMEOUT_S + (300.0 if self.remote_workers else 0.0)
        request_file = Path(self._tmp.name) / "request.json"
        request_file.write_text(self.request.model_dump_json(), encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "advisor.bench.loadgen.process",
            "--request",
            str(request_file),
            "--pool",
            str(self.pool_users),
            "--request-timeout",
            str(self.request_timeout_s),
            "--workers",
            str(self.workers),
            "--remote-workers",
            str(self.remote_workers),
            "--master-bind",
            self.master_bind,
            "--master-port",
            str(self.master_port),
        ]
        log_file = self.log_path or Path(self._tmp.name) / "generator.log"
        self._log = open(log_file, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        env = {k: v for k, v in os.environ.items() if k != "LOCUST_SKIP_MONKEY_PATCH"}
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: close() takes the Locust workers down too
        )
        if self.cpus:
            _pin(self._proc.pid, self.cpus)
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()
        message = self._next(timeout_s, None)
        if message.get("op") != "ready":
            raise MeasurementError(
                f"the load generator did not start: {message.get('message', message)}",
                where="load generator",
                fix=f"see {log_file}",
            )
        self.processes = int(message.get("processes", 1))

    def close(self) -> None:
        """Ask the generator to quit (kill it when a point was cut short, e.g. by Ctrl-C) and clean up."""
        proc = self._proc
        if proc is not None and proc.poll() is None and not self._busy:
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                proc.stdin.flush()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired, AssertionError):
                pass
        self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._tmp.cleanup()

    def kill(self) -> None:
        """Kill the generator's whole process group now (no-op when it is gone)."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> LoadGenerator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----- points ------------------------------------------------------------------------------------
    def measure(
        self, spec: PointSpec, *, abort: Callable[[], str | None] | None = None, poll_s: float = 0.2
    ) -> PointMeasurement:
        """Run one point; raises PointAborted when ``abort`` returns a reason, MeasurementError on a crash."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise MeasurementError("the load generator is not running", where="load generator")
        self._busy = True
        proc.stdin.write(json.dumps({"op": "point", "spec": spec.model_dump(mode="json")}) + "\n")
        proc.stdin.flush()
        message = self._next(spec.span_s + spec.drain_s + RESULT_GRACE_S, abort, poll_s)
        self._busy = False
        if message.get("op") != "point":
            raise MeasurementError(
                f"unexpected answer from the load generator: {message}", where="load generator"
            )
        return PointMeasurement.model_validate(message["result"])

    def _next(
        self, timeout_s: float, abort: Callable[[], str | None] | None, poll_s: float = 0.2
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                message = self._lines.get(timeout=poll_s)
            except queue.Empty:
                message = {}
            if message is None:
                raise MeasurementError(
                    f"the load generator exited (status {self._proc.poll() if self._proc else '?'})",
                    where="load generator",
                    fix=f"see its log: {self.log_tail() or '(empty)'}",
                )
            if message:
                return message
            reason = abort() if abort is not None else None
            if reason:
                self.kill()
                raise PointAborted(reason)
            if time.monotonic() > deadline:
                self.kill()
                raise MeasurementError(
                    f"no answer from the load generator within {timeout_s:.0f} s", where="load generator"
                )

    def _read(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            if line.startswith(MARKER):
                try:
                    self._lines.put(json.loads(line[len(MARKER) :]))
                except json.JSONDecodeError:
                    continue
        self._lines.put(None)

    def log_tail(self, lines: int = 5) -> str:
        path = self.log_path or Path(self._tmp.name) / "generator.log"
        try:
            return " | ".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _pin(pid: int, cpus: list[int]) -> None:
    # Children started later (Locust workers) inherit the mask; the few started before it are rare and the
    # generator's own CPU check still catches a starved generator.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(pid, set(cpus))
