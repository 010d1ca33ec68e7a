"""The ``advisor`` console script: signal handling first, then the CLI.

Importing the CLI (typer, rich, pydantic, numpy, pandas) takes about a second. An exception raised by a
signal in the middle of an import can be swallowed by the import machinery (CPython prints it as "Exception
ignored" and carries on) or leave the interpreter to die by the signal after all, so during start-up a
Ctrl-C or SIGTERM is only noted; once the imports are done it ends the process with one line and exit
130/143, as an interrupt does at any later moment (:mod:`advisor.signals`).

Once the command has returned, both signals are blocked: CPython puts the default handlers back while it
shuts down (and tearing down numpy, pandas and friends takes a moment), so a signal in that window would
otherwise kill a process that has finished its work with status -15 and no word. A signal that arrives
after the command completed stays pending and dies with the process; the exit status is the command's.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

from advisor import signals


def console() -> None:
    """The console script and ``python -m advisor``: :func:`main` on the process's arguments, then exit."""
    sys.exit(main(hold=True))


def main(argv: list[str] | None = None, *, hold: bool = False) -> int:
    """Run one command; returns its exit status. ``hold`` (the console script) blocks both signals after."""

    def note(signum: int, frame: FrameType | None) -> None:
        signals.received.append(signum)

    signal.signal(signal.SIGINT, note)
    signal.signal(signal.SIGTERM, note)
    from advisor.cli.app import run

    signals.install()
    status = 0
    try:
        status = run(argv) if not signals.received else 0
    except KeyboardInterrupt:  # raised between the command's end and here; noted in signals.received
        pass
    finally:
        if hold:
            _hold(note)
    interrupt = signals.first_received()
    if interrupt is None:
        return status
    if not signals.reported:
        print(signals.interrupted_line(interrupt), file=sys.stderr)
    # Exit now: a KeyboardInterrupt that a library swallowed would otherwise make CPython end the process
    # by the signal (status -2) once it shuts down. Everything was closed by the command already.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(signals.exit_status(interrupt))


def _hold(note: Callable[[int, FrameType | None], None]) -> None:
    """Block SIGINT and SIGTERM for the rest of the process (see the module docstring)."""
    signal.signal(signal.SIGINT, note)
    signal.signal(signal.SIGTERM, note)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


if __name__ == "__main__":
    console()
