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


@pytest.fixture
def fresh_signals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    received: list[int] = []
    monkeypatch.setattr(signals, "received", received)
    monkeypatch.setattr(signals, "reported", [])
    return received


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: BaseException
) -> tuple[int, list[str]]:
    monkeypatch.setattr(cli_app, "app", _raising(exc))
    status = cli_app.run(["recommend"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return status, lines


def test_a_library_error_caused_by_ctrl_c_is_the_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_signals: list[int]
) -> None:
    fresh_signals.append(signal.SIGINT)
    status, lines = _run(monkeypatch, capsys, _pybind_style_import_error())
    assert status == signals.SIGINT_EXIT
    assert len(lines) == 1 and lines[0].startswith("interrupted (Ctrl-C)"), lines


def test_any_error_after_sigterm_is_the_sigterm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_signals: list[int]
) -> None:
    fresh_signals.append(signal.SIGTERM)
    status, lines = _run(monkeypatch, capsys, RuntimeError("a library swallowed the signal"))
    assert status == signals.SIGTERM_EXIT
    assert len(lines) == 1 and lines[0].startswith("interrupted (SIGTERM)"), lines


def test_without_a_signal_an_unexpected_error_stays_an_internal_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_signals: list[int]
) -> None:
    monkeypatch.delenv("ADVISOR_DEBUG", raising=False)
    status, lines = _run(monkeypatch, capsys, ImportError("initialization failed"))
    assert status == cli_app.INTERNAL_ERROR_EXIT_CODE
    assert len(lines) == 1 and lines[0].startswith("error: internal error: ImportError"), lines


def test_a_chained_interrupt_counts_even_before_it_was_noted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_signals: list[int]
) -> None:
    status, lines = _run(monkeypatch, capsys, _pybind_style_import_error())
    assert status == signals.SIGINT_EXIT
    assert len(lines) == 1 and lines[0].startswith("interrupted (Ctrl-C)"), lines
