"""``report send``: find the period that has come due, take its recommendation, render, queue, deliver.

Idempotent by construction, so cron, a systemd timer or a Kubernetes CronJob may call it as often as they
like: the period is the latest slot of the schedule at or before now (in its time zone); when that slot is
already in ``report_runs`` nothing new is made, and missed slots are caught up once (only the latest), not
once per slot. A due period reports on a stored recommendation: the latest of the scenario, or — when the
caller passes ``fresh`` (``advisor report send --recommend``) — a new one made then (traffic re-imported
from live sources first with ``refresh_traffic``) and stored like any other, so that every report names a
stored id. It is rendered per team and for the fleet, and stored — recommendation, period and messages in
one transaction — before anything is delivered; then every queued message whose retry time has come is
delivered (see ``advisor.report.outbox`` for the at-most-once rule).

This module never runs the optimiser: ``fresh`` is the caller's (the CLI passes ``advisor.recommend``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from advisor.errors import ConfigError, InputError, NotFoundError, unknown_hint
from advisor.recommendation.model import Recommendation
from advisor.recommendation.store import load_recommendation, save_recommendation
from advisor.render.email import RenderedReport, as_email, render_report
from advisor.render.report import ReportContent, build_report
from advisor.report import outbox
from advisor.report.deliver import DeliveryError, check_smtp, post_webhook, send_email, webhook_payload
from advisor.scenario.model import Scenario
from advisor.scenario.reports import FLEET, Recipients, ReportsConfig
from advisor.settings import Settings
from advisor.store import Store
from advisor.traffic.live import refresh
from advisor.yamlio import load_yaml_model


def reports_of(scenario: Scenario, source: Path, reports_file: Path | None = None) -> ReportsConfig:
    """The reports configuration: ``reports_file`` (a YAML file of its own) when given, else the scenario's
    ``reports:`` section."""
    if reports_file is not None:
        config = load_yaml_model(reports_file, ReportsConfig, what="reports file")
    elif scenario.reports is None:
        raise ConfigError(
            "the scenario has no reports: section",
            where=str(source),
            fix="add reports: {schedule: {cron: '0 8 * * MON'}, teams: {TEAM: {recipients: [...]}}},"
            " or pass --reports FILE",
        )
    else:
        config = scenario.reports
    teams = {m.team for m in scenario.models} | {m.team for m in scenario.llm_models}
    for team in config.teams:
        if team not in teams:  # a misspelt team would get no report, and the real one none either
            where = f"{reports_file}: teams.{team}" if reports_file else f"{source}: reports.teams.{team}"
            raise ConfigError(
                f"no model of the scenario is in team {team!r}",
                where=where,
                fix=unknown_hint("team", team, teams),
            )
    return config


def period_at(config: ReportsConfig, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(start, end) of the period whose report is due at ``now``: end is the latest schedule slot ≤ now."""
    zone = ZoneInfo(config.schedule.timezone)
    local = now.astimezone(zone)
    end = croniter(config.schedule.cron, local + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    return end - dt.timedelta(days=config.period_days), end


def next_slot(config: ReportsConfig, now: dt.datetime) -> dt.datetime:
    zone = ZoneInfo(config.schedule.timezone)
    return croniter(config.schedule.cron, now.astimezone(zone)).get_next(dt.datetime)  # type: ignore[no-any-return]


def audiences(config: ReportsConfig, rec: Recommendation) -> list[str]:
    """The teams with models and somebody to tell, then the fleet summary when it has recipients."""
    present = {m.team for m in rec.models} | {m.team for m in rec.llm_models}
    teams = [t for t in config.teams if t in present and _somebody(config.teams[t])]
    return teams + ([FLEET] if config.fleet is not None and _somebody(config.fleet) else [])


def _somebody(to: Recipients) -> bool:
    """Whether a report has anyone to go to (a team may be listed for its budget alone: its report is
    previewed, not sent)."""
    return bool(to.recipients) or to.webhook_env is not None


@dataclass
class SendResult:
    period: str | None
    recommendation_id: str | None = None
    queued: int = 0
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (subject, error, retry at)
    interrupted: int = 0
    planned: list[dict[str, object]] = field(default_factory=list)  # --dry-run: what would be sent
    next_due: str = ""
    waiting: int = 0  # queued messages whose retry time is still to come (after this run)
    next_retry: str | None = None  # the earliest of those retry times
    waiting_error: str | None = None  # why the first of them failed last


def _messages(
    rec: Recommendation, contents: list[ReportContent], config: ReportsConfig, sender: str, period: str
) -> list[outbox.Message]:
    """An e-mail per audience with recipients, and a webhook post where the report raises an alert."""
    out = []
    for content in contents:
        who = config.recipients(content.team)
        if who is None:
            continue
        rendered = render_report(content)
        alerts = [a.message for a in content.alerts]
        common: dict[str, Any] = {"scenario": rec.scenario, "team": content.team, "period": period,
                                  "recommendation_id": rec.id, "subject": rendered.subject,
                                  "alerts": alerts}  # fmt: skip
        key = f"{rec.scenario}|{content.team}|{period}"
        if who.recipients:
            message_id = make_msgid(idstring=f"report.{content.team}", domain="advisor.report")
            mail = as_email(rendered, sender=sender, recipients=list(who.recipients), message_id=message_id)
            out.append(outbox.Message(key=f"{key}|email", channel="email", recipients=list(who.recipients),
                                      message_id=message_id, body=mail.as_bytes(), **common))  # fmt: skip
        if who.webhook_env and alerts:
            text = "\n".join([rendered.subject, *alerts, *([content.link] if content.link else [])])
            hook = [f"${who.webhook_env}"]  # the variable's name: the URL itself is a credential
            out.append(outbox.Message(key=f"{key}|webhook", channel="webhook", recipients=hook, message_id="",
                                      body=webhook_payload(text), **common))  # fmt: skip
    return out


def build_contents(
    store: Store | None,
    rec: Recommendation,
    config: ReportsConfig,
    period: tuple[dt.datetime, dt.datetime],
    teams: list[str],
) -> list[ReportContent]:
    """The reports of ``teams`` for ``rec``, against the recommendation the previous period reported."""
    previous, applied = None, []
    last = outbox.last_period(store, rec.scenario) if store is not None else None
    if last is not None and last[1] is not None and store is not None:
        previous = load_recommendation(store, last[1])
        applied = store.query(
            "SELECT created_at, target, action, status FROM applied_changes WHERE created_at > ?"
            " AND dry_run = 0 ORDER BY created_at",
            (previous.created_at.isoformat(),),
        )
    return [build_report(rec, t, config, previous=previous, applied=applied, period=period) for t in teams]


Fresh = Callable[[], Recommendation]  # makes a new recommendation of the scenario (not stored yet)


def stored_for(store: Store | None, scenario: Scenario, source: Path) -> Recommendation:
    """The latest stored recommendation of ``scenario``; NotFoundError saying how to make one."""
    if store is not None:
        with contextlib.suppress(NotFoundError):
            return load_recommendation(store, scenario=scenario.name)
    raise InputError(
        f"no recommendation of scenario {scenario.name!r} is stored",
        where=str(source),
        fix=f"run `advisor recommend {source}` first, or pass --recommend to make and store one now",
    )


def send(
    scenario: Scenario,
    source: Path,
    settings: Settings,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    refresh_traffic: bool = False,
    reports_file: Path | None = None,
    fresh: Fresh | None = None,
    retry_now: bool = False,
) -> SendResult:
    """Make and deliver the reports of ``scenario`` (read from ``source``) that are due at ``now``.

    A due period reports on the latest stored recommendation of the scenario, or on ``fresh()`` (stored in
    the period's transaction, after the live traffic is re-imported when ``refresh_traffic``). Queued
    messages are delivered when their retry time has come, or all at once with ``retry_now``; those still
    waiting are counted in the result, with the earliest retry time.
    """
    config = reports_of(scenario, source, reports_file)
    sender = "advisor@localhost" if dry_run else check_smtp(settings)
    period = period_at(config, now)
    key = outbox.iso(period[1])
    if dry_run:
        return _dry_run(source, scenario, config, settings, period, key, refresh_traffic, now, fresh)
    with outbox.sender_lock(settings.home), Store(settings.db_path) as store:
        result = SendResult(period=key, next_due=next_slot(config, now).isoformat())
        result.interrupted = outbox.mark_interrupted(store)
        last = outbox.last_period(store, scenario.name)
        if last is None or last[0] < key:
            if fresh is not None and refresh_traffic:
                _refresh(scenario, settings, now)
            rec = fresh() if fresh is not None else stored_for(store, scenario, source)
            contents = build_contents(store, rec, config, period, audiences(config, rec))
            messages = _messages(rec, contents, config, sender, key)
            if fresh is not None:
                save_recommendation(store, rec)
            result.queued = outbox.record_period(store, scenario.name, key, rec.id, messages, outbox.iso(now))
            result.recommendation_id = rec.id
        _deliver(store, settings, sender, now, result, retry_now=retry_now)
        result.waiting, result.next_retry, result.waiting_error = outbox.waiting(store, now)
    return result


def _dry_run(
    source: Path,
    scenario: Scenario,
    config: ReportsConfig,
    settings: Settings,
    period: tuple[dt.datetime, dt.datetime],
    key: str,
    refresh_traffic: bool,
    now: dt.datetime,
    fresh: Fresh | None,
) -> SendResult:
    result = SendResult(period=key, next_due=next_slot(config, now).isoformat())
    with _reading(settings) as store:
        last = outbox.last_period(store, scenario.name) if store is not None else None
        if last is not None and last[0] >= key:
            return result
        rec = fresh() if fresh is not None else stored_for(store, scenario, source)
        result.recommendation_id = rec.id
        contents = build_contents(store, rec, config, period, audiences(config, rec))
    for content in contents:
        who = config.recipients(content.team)
        result.planned.append(
            {
                "team": content.team,
                "recipients": list(who.recipients) if who else [],
                "webhook_env": who.webhook_env if who else None,
                "subject": render_report(content).subject,
                "alerts": [a.message for a in content.alerts],
                "projected_usd_per_month": content.projected_usd,
            }
        )
    if refresh_traffic:
        result.planned.append({"note": "traffic would be re-imported from the live sources first"})
    return result


def _refresh(scenario: Scenario, settings: Settings, now: dt.datetime) -> None:
    for spec in scenario.models:
        if spec.traffic.source is not None:
            refresh(spec.traffic.source, spec.traffic.profile, settings, now)


def _deliver(
    store: Store, settings: Settings, sender: str, now: dt.datetime, result: SendResult, *, retry_now: bool
) -> None:
    for row in outbox.due(store, now, retry_now=retry_now):
        if not outbox.claim(store, row["id"]):
            continue
        try:
            if row["channel"] == "email":
                send_email(settings, bytes(row["body"]), sender, _json_list(row["recipients"]))
            else:
                name = _json_list(row["recipients"])[0].lstrip("$")
                url = os.environ.get(name)
                if not url:
                    raise DeliveryError(f"environment variable {name} (the team's webhook URL) is not set")
                post_webhook(url, bytes(row["body"]))
        except DeliveryError as exc:
            retry = outbox.mark_failed(store, row["id"], str(exc), now)
            result.failed.append((row["subject"], str(exc), retry))
            continue
        outbox.mark_sent(store, row["id"], now)
        result.sent.append(row["subject"])


def _json_list(text: str) -> list[str]:
    import json

    return [str(v) for v in json.loads(text)]


def preview(
    scenario: Scenario,
    source: Path,
    team: str,
    settings: Settings,
    *,
    now: dt.datetime,
    reports_file: Path | None = None,
) -> tuple[ReportContent, RenderedReport]:
    """``team``'s report (or the fleet's) from the latest stored recommendation of ``scenario``; nothing is
    stored or sent. NotFoundError for an unknown team, or when no recommendation of the scenario is stored.
    Returns (content, RenderedReport)."""
    config = preview_config(scenario, source, team, reports_file)
    with _reading(settings) as store:
        rec = stored_for(store, scenario, source)
        (content,) = build_contents(store, rec, config, period_at(config, now), [team])
    return content, render_report(content)


def preview_config(
    scenario: Scenario, source: Path, team: str, reports_file: Path | None = None
) -> ReportsConfig:
    """The reports configuration a preview of ``team`` renders with; NotFoundError for a team no model of
    the scenario (classic or language) belongs to, checked before anything is recommended or stored."""
    has_config = reports_file is not None or scenario.reports is not None
    config = reports_of(scenario, source, reports_file) if has_config else ReportsConfig()
    teams = {m.team for m in scenario.models} | {m.team for m in scenario.llm_models}
    known = [*sorted(teams), FLEET]
    if team not in known:
        raise NotFoundError("team", team, known=known, where="--team")
    return config


def _reading(settings: Settings) -> contextlib.AbstractContextManager[Store | None]:
    """The store opened for reading, closed on exit; None (nothing created) when there is none yet."""
    if settings.db_path.is_file():
        return Store.for_reading(settings.db_path)
    return contextlib.nullcontext()
