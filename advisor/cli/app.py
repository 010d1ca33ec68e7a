"""Root of the ``advisor`` CLI: global options, sub-command registration and error mapping.

Each stage registers its commands from its own module (``cli/pricing.py``, ``cli/bench.py``...). Every
:class:`AdvisorError` becomes one line on stderr and exit status 2; an interrupt exits 130 after whatever was
measured has been stored (stores commit as they go).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from advisor.cli import bench, cost, pricing, profile, recommend
from advisor.cli.output import err_console
from advisor.errors import AdvisorError
from advisor.settings import load_settings

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
app.command("recommend")(recommend.recommend)
app.command("init")(recommend.init)


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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status.

    Click handles its own usage errors (exit 2 with the usage line); every AdvisorError raised by a command
    is printed here as one line.
    """
    try:
        app(args=argv, prog_name="advisor")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except AdvisorError as exc:
        err_console.print(f"error: {exc.one_line()}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted; everything measured so far is stored", markup=False)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
