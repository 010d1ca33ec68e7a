"""Root of the ``advisor`` CLI: global options, sub-command registration and error mapping.

Each stage registers its commands from its own module (``cli/pricing.py``, ``cli/bench.py``...).
:func:`run` maps every way a command ends to one line and an exit status (see its docstring); the console
script is :func:`advisor.cli.entry.console`.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
import typer
import typer.exceptions

from advisor import signals
from advisor.cli import apply, bench, cost, dashboard, pricing, profile, recommend, report
from advisor.cli.output import err_console
from advisor.errors import AdvisorError, storage_error
from advisor.settings import load_settings

# Typer >= 0.20 carries its own copy of click; older ones raise click's exceptions. Both are caught.
EXIT_EXCEPTIONS: tuple[type[Exception], ...] = (typer.Exit, click.exceptions.Exit)
ABORT_EXCEPTIONS: tuple[type[Exception], ...] = (typer.Abort, click.exceptions.Abort)
CLICK_EXCEPTIONS: tuple[type[Exception], ...] = (
    getattr(typer.exceptions, "TyperException", click.ClickException),
    click.ClickException,
)

app = typer.Typer(
    name="advisor",
    help="Right-size ML inference serving: measure capacity, price plans, recommend the cheapest mix.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(pricing.app, name="pricing")
app.add_typer(bench.app, name="bench")
app.add_typer(profile.app, name="profile")
app.add_typer(cost.app, name="cost")
app.add_typer(report.app, name="report")
app.add_typer(apply.app, name="apply")
app.command("recommend")(recommend.recommend)
app.command("init")(recommend.init)
app.command("dashboard")(dashboard.dashboard)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="YAML settings file (else ADVISOR_CONFIG; env ADVISOR_* wins over it)."
    ),
    home: Path | None = typer.Option(
        None,
        "--home",
        help="Folder for the store and price snapshots (else ADVISOR_HOME, default .advisor/).",
    ),
) -> None:
    overrides = {"home": home} if home is not None else {}
    ctx.obj = load_settings(config, **overrides)


def run(argv: list[str] | None = None) -> int:
    """Run one command; every way it can end is an exit status and at most one line on stderr.

    Usage mistakes (unknown option, missing argument) and every AdvisorError are ``error: ...`` and exit 2
    (1 for StorageError: the machine refused); Ctrl-C and SIGTERM are one line and 130/143; a storage failure
    that escapes a command is mapped like a StorageError; an error raised once a signal arrived (a library
    may turn the interrupt into its own error) is that interrupt; anything else is a bug in advisor, reported
    as one line with exit 70 (``ADVISOR_DEBUG=1`` shows the traceback).
    """
    try:
        result = app(args=argv, prog_name="advisor", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except EXIT_EXCEPTIONS as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # Typer turns Ctrl-C into Exit(130) by itself
            return _interrupted(exc.__cause__)
        return int(getattr(exc, "exit_code", 0))
    except ABORT_EXCEPTIONS as exc:  # click turns KeyboardInterrupt into Abort
        cause = exc.__cause__ if isinstance(exc.__cause__, KeyboardInterrupt) else KeyboardInterrupt()
        return _interrupted(cause)
    except CLICK_EXCEPTIONS as exc:  # usage mistakes: unknown option, missing argument, bad value
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            print(ctx.get_help())
            return 0
        command = ctx.command_path if ctx is not None else "advisor"
        message = str(getattr(exc, "format_message", exc.__str__)()).rstrip(".")
        message = message.replace(" (Possible options: --help)", "")  # click's guess when none is close
        return _error(f"{command}: {message}; see `{command} --help`", getattr(exc, "exit_code", 2) or 2)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except Exception as exc:
        interrupt = signals.behind(exc)  # a library's own error for the signal that reached it
        if interrupt is not None:
            return _interrupted(interrupt)
        return _failed(exc)


def _failed(exc: Exception) -> int:
    """The line and status for an exception that was not an interrupt."""
    if isinstance(exc, AdvisorError):
        return _error(exc.one_line(), exc.exit_code)
    if isinstance(exc, (OSError, sqlite3.Error)):
        failure = storage_error(exc, getattr(exc, "filename", None) or "advisor", "a read or write")
        return _error(failure.one_line(), failure.exit_code)
    if os.environ.get("ADVISOR_DEBUG") == "1":
        raise exc
    text = " ".join(str(exc).split())[:300]
    return _error(
        f"internal error: {type(exc).__name__}: {text}; this is a bug in advisor, please report it "
        "(ADVISOR_DEBUG=1 shows the traceback)",
        INTERNAL_ERROR_EXIT_CODE,
    )


INTERNAL_ERROR_EXIT_CODE = 70  # EX_SOFTWARE (sysexits.h)


def _error(line: str, code: int) -> int:
    err_console.print(f"error: {' '.join(line.split())}", markup=False, highlight=False, soft_wrap=True)
    return code


def _interrupted(exc: BaseException) -> int:
    if not signals.reported:
        err_console.print(signals.interrupted_line(exc), markup=False, highlight=False, soft_wrap=True)
        signals.reported.append(True)
    return signals.exit_status(exc)
