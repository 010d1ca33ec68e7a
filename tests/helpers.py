"""Test helpers: run the CLI as a user would and check its one-line errors.

:func:`run_cli` runs a command in this process, through the console script's own entry
(:func:`advisor.cli.entry.main`: the error-to-one-line mapping, the exit statuses, the signal handlers), with
stdout and stderr captured apart, the working directory at the repository root and ``env`` applied for the
command only. :func:`run_cli_process` runs ``python -m advisor`` in a fresh interpreter; use it only where the
process is what is tested (signals, start-up, what a fresh interpreter imports).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol

from advisor import signals
from advisor.cli import entry

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = REPO_ROOT / "tests"  # golden files and test data, wherever a test module sits below it
SHARED = REPO_ROOT.parent / "shared"
# What ``python -m advisor`` puts in sys.argv[0] (a command may read it, e.g. to write a cron line).
MAIN_PATH = REPO_ROOT / "advisor" / "__main__.py"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


class Outcome(Protocol):
    """What a command left: its exit status and both streams (a :class:`CliResult`, or the in-process
    ``Run`` of tests/traffic_cost_helpers.py)."""

    @property
    def code(self) -> int: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...


class _ProcessExit(BaseException):
    """``os._exit`` called by the command in this process: the status the process would have ended with."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> CliResult:
    """Run ``advisor ARGS`` in this process as the console script does; the same result as in a process.

    What a fresh process would not carry over is reset around the command: the working directory (the
    repository root), the environment (``env`` on top of this one, all of it put back after), sys.argv,
    sys.excepthook, the SIGINT/SIGTERM handlers and the interrupt notes in :mod:`advisor.signals`. An
    exception that escapes the entry is printed as a traceback with exit 1, and ``sys.exit(n)`` is exit
    ``n``, as in a process; ``os._exit`` ends the run with its status instead of the test process. Not
    emulated: the console script's signal blocking once the command returned (``hold``; test_signals.py
    checks it in a process).
    A command that would replace the process (``os.exec*``: ``bench worker``, ``dashboard``) fails the
    test: run those with :func:`run_cli_process`. ``timeout`` is checked when the command returns
    (pytest-timeout stops one that hangs).
    """
    started = time.monotonic()
    with _fresh_process_state(args, env) as (out, err):
        try:
            code = entry.main(list(args))
        except _ProcessExit as ended:
            code = ended.status
        except SystemExit as exc:
            code = _system_exit_status(exc)
        except Exception:
            traceback.print_exc()  # what the interpreter prints for an exception nothing caught
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        result = CliResult(code, _as_text(out.getvalue()), _as_text(err.getvalue()))
    if time.monotonic() - started > timeout:
        raise subprocess.TimeoutExpired(["advisor", *args], timeout, result.stdout, result.stderr)
    return result


def run_cli_process(*args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> CliResult:
    """Run ``python -m advisor ARGS`` as a user would, in a fresh process (see the module docstring)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO_ROOT,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _as_text(data: bytes) -> str:
    """What ``subprocess.run(text=True)`` makes of a stream: UTF-8, universal newlines."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _system_exit_status(exc: SystemExit) -> int:
    """The exit status the interpreter makes of ``sys.exit(code)`` (a message is printed, status 1)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _fresh_process_state(
    args: tuple[str, ...], env: Mapping[str, str] | None
) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """Streams, environment, directory, argv and signal state as a fresh ``python -m advisor`` has them."""
    me = os.getpid()
    real_exit = os._exit
    saved_env = dict(os.environ)
    saved_cwd = Path.cwd()
    saved_argv = sys.argv[:]
    saved_handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_notes = (signals.received[:], signals.reported[:])
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_excepthook = sys.excepthook  # Typer installs its own on every call
    out, err = io.BytesIO(), io.BytesIO()

    def exit_here(status: int) -> NoReturn:
        if os.getpid() != me:  # a forked child ends as it would have
            real_exit(status)
        raise _ProcessExit(status)

    def no_exec(name: str) -> Callable[..., Any]:
        real = getattr(os, name)

        def refuse(*a: Any, **kw: Any) -> Any:
            if os.getpid() != me:
                return real(*a, **kw)
            raise AssertionError(
                f"the command would replace the test process (os.{name}): use run_cli_process"
            )

        return refuse

    execs = {name: getattr(os, name) for name in ("execv", "execve", "execvp", "execvpe")}
    signals.received.clear()
    signals.reported.clear()
    os.environ.update(env or {})
    os.chdir(REPO_ROOT)
    sys.argv = [str(MAIN_PATH), *args]
    # stdin reads as /dev/null; stdout and stderr are pipes as subprocess.run(capture_output=True) makes them
    sys.stdin = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    os._exit = exit_here
    for name in execs:
        setattr(os, name, no_exec(name))
    try:
        yield out, err
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.excepthook = saved_excepthook
        os._exit = real_exit
        for name, real in execs.items():
            setattr(os, name, real)
        for signum, handler in saved_handlers.items():
            signal.signal(signum, handler)
        signals.received[:], signals.reported[:] = saved_notes
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        for key in os.environ.keys() - saved_env.keys():
            del os.environ[key]
        os.environ.update(saved_env)


def assert_one_line_error(result: Outcome, *needles: str) -> None:
    """A user error: exit 2, no traceback, one `error:` line that mentions every needle, and nothing else."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    # nothing else: no warning (a stale price, say) ahead of it; click's notice of a deprecated command's
    # old name is the one line it may follow
    others = [line for line in result.stderr.splitlines() if line.strip() and line not in errors]
    assert all(line.startswith("DeprecationWarning: The command") for line in others), result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


def json_differences(got: Any, want: Any, path: str = "$") -> list[str]:
    """Where two JSON values differ, path by path; numbers compared to 1e-9 relative (the same code on
    another CPU may round the last bits differently)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}.{k}: missing" for k in want if k not in got]
        out += [f"{path}.{k}: unexpected" for k in got if k not in want]
        for k in want.keys() & got.keys():
            out += json_differences(got[k], want[k], f"{path}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{path}: {len(got)} items, golden has {len(want)}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in json_differences(g, w, f"{path}[{i}]")
        ]
    if isinstance(want, float | int) and isinstance(got, float | int) and not isinstance(want, bool):
        return [] if math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9) else [f"{path}: {got!r} != {want!r}"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]
