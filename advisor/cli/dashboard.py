"""``advisor dashboard``: start the Streamlit dashboard (``dashboards/app.py``, shipped in the wheel as
``advisor/dashboards/``; :data:`advisor.settings.DASHBOARD_APP`) over the store under ADVISOR_HOME, bound to
127.0.0.1 unless told otherwise.

The command checks what it can before handing over (the dashboard extra is installed, the app is there,
the port is free) and then replaces itself with Streamlit's server, so Ctrl-C and SIGTERM reach the server
directly and nothing is left running behind it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path

import typer

from advisor.cli.output import err_console, warn
from advisor.errors import InputError
from advisor.settings import DASHBOARD_APP, Settings

APP = DASHBOARD_APP
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def streamlit_command(app: Path, address: str, port: int) -> list[str]:
    """The ``streamlit run`` command line: headless, no usage statistics, no error details in pages."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", address, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--client.showErrorDetails", "none",
        "--client.toolbarMode", "viewer", "--global.developmentMode", "false",
    ]  # fmt: skip


def _check_port(address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as exc:
            raise InputError(
                f"cannot listen on {address}:{port} ({exc.strerror or exc})",
                where="--port" if exc.errno == 98 else "--address",
                fix="pick a free port with --port, or stop what listens there",
            ) from None


def dashboard(
    ctx: typer.Context,
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    address: str = typer.Option(
        "127.0.0.1", "--address", help="Interface to bind (0.0.0.0 makes it reachable from other machines)."
    ),
) -> None:
    """Open the dashboard over the store: what to run, why, bench results, what-if and history."""
    settings: Settings = ctx.obj
    if importlib.util.find_spec("streamlit") is None or importlib.util.find_spec("plotly") is None:
        raise InputError(
            "the dashboard needs Streamlit and plotly, which are not installed",
            where="advisor dashboard",
            fix="install the dashboard extra: pip install -e '.[dashboard]'",
        )
    if not APP.is_file():
        raise InputError(
            f"the dashboard app is not at {APP}",
            where="advisor dashboard",
            fix="reinstall advisor (the app ships in advisor/dashboards/; in a checkout it is dashboards/), "
            "or `streamlit run path/to/dashboards/app.py`",
        )
    _check_port(address, port)
    if address not in LOOPBACK:
        warn(f"the dashboard listens on {address}: anyone who reaches this machine can read the store")
    env = {**os.environ, "ADVISOR_HOME": str(settings.home.resolve())}
    host = f"[{address}]" if ":" in address else address
    err_console.print(
        f"advisor dashboard on http://{host}:{port} (store {settings.db_path}); Ctrl-C stops it"
    )
    sys.stderr.flush()
    sys.stdout.flush()
    command = streamlit_command(APP, address, port)
    os.execve(command[0], command, env)
