"""SIGINT and SIGTERM as exceptions, so that every long command cleans up the same way.

Ctrl-C raises ``KeyboardInterrupt`` and SIGTERM (``kill``, a deleted Kubernetes pod, a CI timeout) raises
:class:`Terminated`, a subclass, so that the ``finally`` blocks that stop model servers and load
generators, and the handlers that mark a bench run ``interrupted``, run for both. The CLI turns them into one
line and exit status 130 (SIGINT) or 143 (SIGTERM), the shell's 128 + signal number.

Every signal is also noted in :data:`received`: Typer turns a Ctrl-C into a plain exit status, and a library
may swallow the exception (CPython only prints "Exception ignored" for one raised inside a callback), so
the console script checks the note, not only the exception, before it exits.
"""

from __future__ import annotations

import signal
from types import FrameType

SIGINT_EXIT = 128 + signal.SIGINT
SIGTERM_EXIT = 128 + signal.SIGTERM
received: list[int] = []  # signal numbers, in the order they arrived
reported: list[bool] = []  # non-empty once the interrupt line was printed


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program was, so cleanup runs as for Ctrl-C."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    received.append(signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def install() -> None:
    """SIGINT raises KeyboardInterrupt, SIGTERM raises Terminated; both are noted in :data:`received`."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def exit_status(exc: BaseException) -> int:
    return SIGTERM_EXIT if isinstance(exc, Terminated) else SIGINT_EXIT


def first_received() -> KeyboardInterrupt | None:
    """The first signal noted, as the exception it raised (None when none arrived)."""
    if not received:
        return None
    return Terminated() if received[0] == signal.SIGTERM else KeyboardInterrupt()


def behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The interrupt that ``exc`` stands for: one in its chain of causes, else the first signal noted.

    A library may turn the KeyboardInterrupt raised inside it into its own error (pybind11 modules, scipy's
    HiGHS bindings among them, raise ``ImportError: initialization failed`` from a KeyboardInterrupt that
    arrives while they load); once a signal arrived, whatever the command raised is the interrupt it followed.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return first_received()


def interrupted_line(exc: BaseException) -> str:
    """What the CLI says when a command is interrupted."""
    how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
    return f"interrupted ({how}); nothing is half-written, and what was measured so far is stored"
