"""``advisor report``: preview, send (idempotent, for schedulers), schedule entries, outbox status, resend."""

from __future__ import annotations

import datetime as dt
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
import yaml

from advisor.cli.output import console, err_console, print_json, warn
from advisor.errors import InputError, StorageError
from advisor.paths import write_text
from advisor.recommendation.model import Recommendation
from advisor.scenario.model import Scenario
from advisor.settings import Settings

app = typer.Typer(help="Cost reports e-mailed to teams: preview, send, schedule.", no_args_is_help=True)
SCENARIO = typer.Argument(..., metavar="SCENARIO.yaml", help="A scenario with a reports: section.")
REPORTS = typer.Option(
    None, "--reports", help="Reports configuration in a YAML file of its own (else the scenario's reports:)."
)
RECOMMEND_HELP = (
    "Make a fresh recommendation of the scenario first and store it like `advisor recommend` does "
    "(else the latest stored one is reported)."
)


def _load(path: Path) -> Scenario:
    from advisor.scenario.model import load_scenario

    return load_scenario(path)


def _fresh(scenario: Scenario, path: Path, settings: Settings) -> Recommendation:
    """A new recommendation of ``scenario`` (advisor.recommend, as `advisor recommend` makes it)."""
    from advisor.api import recommend

    return recommend(scenario, settings=settings, scenario_file=path)


def _store(rec: Recommendation, settings: Settings) -> None:
    from advisor.recommendation.store import save

    save(rec, settings)
    err_console.print(f"stored recommendation {rec.id}", markup=False, highlight=False)


def _now(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


@app.command("preview")
def preview(
    ctx: typer.Context,
    scenario: Path = SCENARIO,
    reports: Path | None = REPORTS,
    team: str = typer.Option(..., "--team", help="A team of the scenario, or 'fleet' for the summary."),
    out: Path | None = typer.Option(None, "--out", help="Write the HTML here (else print the text part)."),
    recommend: bool = typer.Option(False, "--recommend", help=RECOMMEND_HELP),
) -> None:
    """Render one team's report from the latest stored recommendation (nothing is sent)."""
    from advisor.report.runner import preview as make_preview
    from advisor.report.runner import preview_config

    settings: Settings = ctx.obj
    loaded = _load(scenario)
    preview_config(loaded, scenario, team, reports)  # an unknown team stores no recommendation first
    if recommend:
        _store(_fresh(loaded, scenario, settings), settings)
    _, rendered = make_preview(loaded, scenario, team, settings, now=_now(None), reports_file=reports)
    if out is None:
        console.print(rendered.text, markup=False, highlight=False, soft_wrap=True)
        return
    write_text(out, rendered.html_with_embedded_chart(), "the report")
    err_console.print(f"wrote {out} ({rendered.subject})", markup=False, highlight=False)


@app.command("send")
def send(
    ctx: typer.Context,
    scenario: Path = SCENARIO,
    reports: Path | None = REPORTS,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be sent; store and send nothing."),
    recommend: bool = typer.Option(False, "--recommend", help=RECOMMEND_HELP + " Only when a period is due."),
    refresh_traffic: bool = typer.Option(
        False,
        "--refresh-traffic",
        help="With --recommend: re-import each model's traffic from its live source first.",
    ),
    at: dt.datetime | None = typer.Option(
        None, "--at", help="Act as if it were this time (UTC unless an offset is given); default now."
    ),
    retry_now: bool = typer.Option(
        False, "--retry-now", help="Deliver queued messages now, not at their retry time."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Send every report that has come due (once per period), then deliver whatever is queued."""
    from advisor.report.runner import send as run_send

    settings: Settings = ctx.obj
    if refresh_traffic and not recommend:
        raise InputError(
            "--refresh-traffic re-imports traffic for a new recommendation",
            where="--refresh-traffic",
            fix="add --recommend (or run `advisor recommend` after importing the traffic)",
        )
    loaded = _load(scenario)
    result = run_send(
        loaded,
        scenario,
        settings,
        now=_now(at),
        dry_run=dry_run,
        refresh_traffic=refresh_traffic,
        reports_file=reports,
        fresh=(lambda: _fresh(loaded, scenario, settings)) if recommend else None,
        retry_now=retry_now,
    )
    if as_json:
        print_json(result.__dict__)
    elif dry_run:
        if not result.planned:
            console.print(f"nothing due: period {result.period} is already reported; next {result.next_due}")
        for p in result.planned:
            console.print(_planned_line(p), markup=False, highlight=False, soft_wrap=True)
    else:
        if result.recommendation_id:
            console.print(
                f"period {result.period}: recommendation {result.recommendation_id}, "
                f"{result.queued} message(s) queued"
            )
        elif not (result.waiting and not result.failed):  # else the queue is the news (below)
            console.print(
                f"nothing new due: period {result.period} is already reported; next {result.next_due}"
            )
        for subject in result.sent:
            console.print(f"sent: {subject}", markup=False, highlight=False, soft_wrap=True)
        if result.waiting and not result.failed:
            why = f" (last attempt: {result.waiting_error})" if result.waiting_error else ""
            console.print(
                f"{result.waiting} message(s) wait in the outbox{why}; next attempt from {result.next_retry}"
                " (`advisor report send --retry-now` tries them now)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if result.interrupted:
            warn(
                f"{result.interrupted} message(s) left mid-delivery by an earlier run are marked unknown,"
                " not "
                "resent (see `advisor report status`)"
            )
    if result.failed:
        subject, error, retry = result.failed[0]
        raise StorageError(
            f"{len(result.failed)} message(s) stay queued: {error}",
            where=subject,
            fix=f"retried by the next `advisor report send` from {retry}, or at once with --retry-now",
        )


@app.command("status")
def status(
    ctx: typer.Context,
    limit: int = typer.Option(30, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The outbox: each message's state, attempts, last error and next attempt."""
    from advisor.report.outbox import status_rows
    from advisor.store import Store

    settings: Settings = ctx.obj
    with Store.for_reading(settings.db_path) as store:
        rows = status_rows(store, limit)
    if as_json:
        print_json({"messages": rows})
        return
    for r in rows:
        extra = (
            f" — {r['last_error']} (next {r['next_attempt_at']})"
            if r["status"] != "sent" and r["last_error"]
            else ""
        )
        console.print(
            f"{r['id']:>4} {r['status']:<8} {r['channel']:<7} {r['team']:<12} {r['period']} "
            f"{r['subject']}{extra}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if not rows:
        console.print("the outbox is empty")


@app.command("resend")
def resend(ctx: typer.Context, message: int = typer.Argument(..., metavar="ID")) -> None:
    """Queue a sent or unknown message again (it goes out with the next `report send`)."""
    from advisor.report.outbox import requeue
    from advisor.store import Store

    settings: Settings = ctx.obj
    with Store(settings.db_path) as store:
        requeue(store, message)
    console.print(f"message {message} queued again")


def _cron_entry(send_args: list[str], every_min: int) -> str:
    advisor = (
        shlex.quote(str(Path(sys.argv[0]).resolve())) if Path(sys.argv[0]).name == "advisor" else "advisor"
    )
    return (
        f"*/{every_min} * * * * cd {shlex.quote(str(Path.cwd()))} && {advisor} report send "
        f"{shlex.join(send_args)} >> .advisor/report.log 2>&1"
    )


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    scenario: Path = SCENARIO,
    reports: Path | None = REPORTS,
    emit: str = typer.Option(..., "--emit", help="cron, systemd or k8s."),
    every_min: int = typer.Option(15, "--every", min=1, max=59, help="cron/systemd: minutes between checks."),
    image: str = typer.Option("advisor:latest", "--image", help="k8s: the container image with advisor."),
    namespace: str = typer.Option("default", "--namespace", help="k8s: the CronJob's namespace."),
    secret: str = typer.Option(
        "advisor-smtp", "--secret", help="k8s: Secret with the ADVISOR_SMTP_* values."
    ),
) -> None:
    """Print a crontab line, systemd units or a Kubernetes CronJob that runs `report send` on schedule.

    cron and systemd check every few minutes (send is idempotent and knows what is due); the CronJob runs
    at the report schedule itself, in its time zone (CronJob spec.timeZone).
    """
    from advisor.report.runner import reports_of

    if emit not in ("cron", "systemd", "k8s"):
        raise InputError(f"{emit!r} is not a schedule format", where="--emit", fix="use cron, systemd or k8s")
    config = reports_of(_load(scenario), scenario, reports)
    # --recommend: each due period reports on a recommendation made then, from that week's traffic.
    extra = ["--recommend", *(["--reports", str(reports)] if reports is not None else [])]
    if emit == "cron":
        console.print(
            _cron_entry([str(scenario), *extra], every_min), markup=False, highlight=False, soft_wrap=True
        )
    elif emit == "systemd":
        console.print(
            _systemd(shlex.join([str(scenario), *extra]), every_min),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        mounted = [f"/scenario/{scenario.name}", "--recommend"] + (
            ["--reports", f"/scenario/{reports.name}"] if reports else []
        )
        manifest = _cronjob(mounted, config.schedule.cron, config.schedule.timezone, image, namespace, secret)
        _validate_manifest(manifest)
        console.print(
            yaml.safe_dump(manifest, sort_keys=False), markup=False, highlight=False, soft_wrap=True
        )


def _systemd(send_args: str, every_min: int) -> str:
    cwd = Path.cwd()
    return (
        "# /etc/systemd/system/advisor-report.service\n[Unit]\nDescription=advisor cost reports\n\n"
        "[Service]\n"
        f"Type=oneshot\nWorkingDirectory={cwd}\nEnvironmentFile=-/etc/advisor/smtp.env\n"
        f"ExecStart={cwd}/.venv/bin/advisor report send {send_args}\n\n"
        "# /etc/systemd/system/advisor-report.timer\n[Unit]\nDescription=advisor cost reports, checked "
        f"every {every_min} minutes\n\n[Timer]\nOnCalendar=*:0/{every_min}\nPersistent=true\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )


def _cronjob(
    send_args: list[str], cron: str, tz: str, image: str, namespace: str, secret: str
) -> dict[str, object]:
    container = {
        "name": "report",
        "image": image,
        "args": ["report", "send", *send_args],
        "envFrom": [{"secretRef": {"name": secret}}],
        "env": [{"name": "ADVISOR_HOME", "value": "/data"}],
        "volumeMounts": [
            {"name": "scenario", "mountPath": "/scenario", "readOnly": True},
            {"name": "data", "mountPath": "/data"},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "advisor-report", "namespace": namespace},
        "spec": {
            "schedule": cron,
            "timeZone": tz,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [container],
                            "volumes": [
                                {"name": "scenario", "configMap": {"name": "advisor-scenario"}},
                                {"name": "data", "persistentVolumeClaim": {"claimName": "advisor-data"}},
                            ],
                        }
                    },
                }
            },
        },
    }


def _validate_manifest(manifest: dict[str, object]) -> None:
    """Check the CronJob against the Kubernetes schema when kubernetes-validate is installed (bench extra)."""
    try:
        import kubernetes_validate
    except ImportError:
        return
    from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION

    try:
        kubernetes_validate.validate(manifest, DEFAULT_K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:  # pragma: no cover - our own manifest
        raise InputError(f"the CronJob does not validate: {exc.message}", where="--emit k8s") from None


def _planned_line(p: dict[str, Any]) -> str:
    """One message of a dry run, as a person reads it (``--json`` keeps the fields)."""
    if "note" in p:
        return f"note: {p['note']}"
    to = [*p["recipients"], *([f"the webhook in ${p['webhook_env']}"] if p.get("webhook_env") else [])]
    alerts = "".join(f"\n  alert: {a}" for a in p["alerts"])
    return f"would send to {', '.join(to)} (team {p['team']}): {p['subject']}{alerts}"
