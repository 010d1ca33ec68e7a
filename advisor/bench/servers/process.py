"""A model server started, watched and stopped by the harness.

Started from a command (a reference model from the registry or the user's ``--server-cmd``), confined to the
shape (:mod:`advisor.bench.servers.emulation`), logged to a file whose last lines go into a failed run's
record, considered ready when its health URL answers 2xx, and stopped with its whole process group (uvicorn
worker processes included). While load runs, :meth:`ManagedServer.problem` tells the harness when the server
has exited or outgrown the shape's memory, and :meth:`sample` gives its CPU % and RSS over the process tree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import psutil

from advisor.bench.servers.emulation import Confinement
from advisor.errors import MeasurementError

MIB = 1024**2
HEALTH_POLL_S = 0.25
STOP_GRACE_S = 5.0


class ManagedServer:
    """One server process (and its children), confined and logged."""

    def __init__(
        self,
        command: list[str],
        *,
        health_url: str,
        log_path: Path,
        confinement: Confinement | None = None,
        env: dict[str, str] | None = None,
        ready_timeout_s: float = 120.0,
    ) -> None:
        self.command = command
        self.health_url = health_url
        self.log_path = log_path
        self.confinement = confinement
        self.extra_env = env or {}
        self.ready_timeout_s = ready_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._cpu_start: tuple[float, float] | None = None
        self._peak_rss_mib = 0.0

    # ----- lifecycle ---------------------------------------------------------------------------------
    def start(self, on_spawn: Callable[[int], None] | None = None) -> None:
        """Start and wait until healthy; MeasurementError (with the log's last lines) when it is not.

        ``on_spawn(pid)`` is called as soon as the process exists (before the wait), so its pid can be
        recorded: a later start stops it if this process dies without doing so.
        """
        env = {**os.environ, **(self.confinement.env() if self.confinement else {}), **self.extra_env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                    preexec_fn=self.confinement.preexec() if self.confinement else None,
                )
            except OSError as exc:
                raise MeasurementError(
                    f"cannot start the server: {exc}",
                    where=" ".join(self.command)[:200],
                    fix="check the server command",
                ) from None
        if on_spawn is not None:
            on_spawn(self._proc.pid)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            code = self.exit_code()
            if code is not None:
                raise MeasurementError(
                    f"the server exited with status {code} before it was ready; "
                    f"last log lines: {self.log_tail()}",
                    where=" ".join(self.command)[:200],
                    fix="run the server command by hand to see why it fails",
                )
            if _healthy(self.health_url):
                return
            time.sleep(HEALTH_POLL_S)
        self.stop()
        raise MeasurementError(
            f"the server was not ready after {self.ready_timeout_s:g} s; last log lines: {self.log_tail()}",
            where=self.health_url,
            fix="check the health URL and port, or raise --ready-timeout",
        )

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after a grace period; idempotent."""
        proc = self._proc
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                # the group may outlive its leader (uvicorn workers): one more SIGKILL for stragglers
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            except subprocess.TimeoutExpired:
                continue
            break
        if self.confinement is not None:
            self.confinement.cleanup()

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- watching ----------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def problem(self) -> str | None:
        """Why load must stop now (server exited, or over the shape's memory), else None."""
        code = self.exit_code()
        if code is not None:
            how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            return f"the server {how} during the run"
        rss = self._tree_rss_mib()
        self._peak_rss_mib = max(self._peak_rss_mib, rss)
        limit = self.confinement.memory_limit_mib() if self.confinement else None
        if limit is not None and rss > limit:
            self.stop()
            return (
                f"the server used {rss:.0f} MiB, over the shape's {limit:.0f} MiB "
                "(stopped, as the OOM killer would)"
            )
        return None

    def begin_sample(self) -> None:
        self._cpu_start = (self._tree_cpu_s(), time.monotonic())
        self._peak_rss_mib = self._tree_rss_mib()

    def sample(self) -> tuple[float | None, float | None]:
        """(CPU % of one core, peak RSS MiB) of the process tree since :meth:`begin_sample`."""
        if self._cpu_start is None:
            return None, None
        cpu0, wall0 = self._cpu_start
        wall = max(time.monotonic() - wall0, 1e-6)
        cpu = 100.0 * (self._tree_cpu_s() - cpu0) / wall
        self._peak_rss_mib = max(self._peak_rss_mib, self._tree_rss_mib())
        return max(cpu, 0.0), self._peak_rss_mib

    def _tree(self) -> list[psutil.Process]:
        if self._proc is None:
            return []
        try:
            root = psutil.Process(self._proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def _tree_cpu_s(self) -> float:
        total = 0.0
        for p in self._tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        return total

    def _tree_rss_mib(self) -> float:
        total = 0
        for p in self._tree():
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        return total / MIB

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the server's log, joined with `` | `` so they fit one error line."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or "(empty log)"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def stop_orphan(pid: int, started_at: str) -> bool:
    """Stop the process group of a server a dead run left behind; True when one was stopped.

    Only a process that started when that run did (within a minute) is touched, so a pid the system has
    since given to another program is left alone.
    """
    try:
        proc = psutil.Process(pid)
        born = proc.create_time()
    except psutil.Error:
        return False
    try:
        started = dt.datetime.fromisoformat(started_at).timestamp()
    except ValueError:
        return False
    if not started - 5 <= born <= started + 600:
        return False
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    return True
