"""How :func:`advisor.cli.app.run` ends a command that raised: one line, and the status it stands for."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from advisor import signals
from advisor.cli import app as cli_app


def _raising(exc: BaseException) -> Callable[..., int]:
    def command(**kwargs: object) -> int:
        raise exc

    return command


def _pybind_style_import_error() -> ImportError:
    """What a pybind11 module (scipy's HiGHS bindings) raises when a KeyboardInterrupt reaches it while it
    loads."""
    try:
        try:
            raise KeyboardInterrupt()
        except KeyboardInterrupt as interrupt:
            raise ImportError("initialization failed") from interrupt
    except ImportError as exc:
        return exc


@pytest.mark.parametrize(
    ("noted", "exc", "status", "line"),
    [
        # a library's own error for the Ctrl-C that reached it
        ([signal.SIGINT], _pybind_style_import_error(), signals.SIGINT_EXIT, "interrupted (Ctrl-C)"),
        # any error once SIGTERM arrived: a library may have swallowed the signal
        (
            [signal.SIGTERM],
            RuntimeError("a library swallowed it"),
            signals.SIGTERM_EXIT,
            "interrupted (SIGTERM)",
        ),
        # an interrupt in the chain of causes counts even before the handler noted it
        ([], _pybind_style_import_error(), signals.SIGINT_EXIT, "interrupted (Ctrl-C)"),
        # without a signal, an unexpected error stays an internal error
        (
            [],
            ImportError("initialization failed"),
            cli_app.INTERNAL_ERROR_EXIT_CODE,
            "error: internal error: ImportError",
        ),
    ],
    ids=["library-error-after-ctrl-c", "any-error-after-sigterm", "chained-not-noted", "no-signal"],
)
def test_an_error_is_the_interrupt_it_followed_or_else_one_error_line(
    noted: list[int],
    exc: BaseException,
    status: int,
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(signals, "received", list(noted))
    monkeypatch.setattr(signals, "reported", [])
    monkeypatch.delenv("ADVISOR_DEBUG", raising=False)
    monkeypatch.setattr(cli_app, "app", _raising(exc))
    assert cli_app.run(["recommend"]) == status
    lines = [text for text in capsys.readouterr().err.splitlines() if text.strip()]
    assert len(lines) == 1 and lines[0].startswith(line), lines
