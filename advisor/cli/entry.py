"""The ``advisor`` console script: signal handling first, then the CLI.

Importing the CLI (typer, rich, pydantic, numpy, pandas) takes about a second. An exception raised by a
signal in the middle of an import can be swallowed by the import machinery (CPython prints it as "Exception
ignored" and carries on) or leave the interpreter to die by the signal after all, so during start-up a
Ctrl-C or SIGTERM is only noted; once the imports are done it ends the process with one line and exit
130/143, as an interrupt does at any later moment (:mod:`advisor.signals`).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from advisor import signals


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""

    def note(signum: int, frame: FrameType | None) -> None:
        signals.received.append(signum)

    signal.signal(signal.SIGINT, note)
    signal.signal(signal.SIGTERM, note)
    from advisor.cli.app import run

    signals.install()
    status = run(argv) if not signals.received else 0
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


if __name__ == "__main__":
    sys.exit(main())
