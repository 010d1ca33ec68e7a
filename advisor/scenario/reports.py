"""How a scenario's cost reports are sent: the ``reports:`` section of a scenario (or a YAML file of its own).

::

    reports:
      schedule: {cron: "0 8 * * MON", timezone: Europe/Berlin}   # when a report comes due
      period_days: 7                      # what "this period" covers (traffic refreshed over it)
      dashboard_url: http://127.0.0.1:8501   # optional: each report links to its pages
      alerts: {spend_change_pct: 20}      # alert when the projected cost moves this much vs the last report
      fleet: {recipients: [platform@example.com]}     # the fleet summary
      teams:
        search:
          recipients: [search-leads@example.com]
          budget_usd_per_month: 2500
          budget_thresholds_pct: [80, 100]
          webhook_env: SEARCH_SLACK_WEBHOOK   # env variable with a Slack-compatible webhook URL (alerts)

A webhook URL carries its own credential, so the scenario names the environment variable that holds it.
Pure (pydantic, and the cron and time-zone checks of scheduled minimums): the scenario model imports it.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from advisor.domain import cron_expression, iana_zone

EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
FLEET = "fleet"  # the key of the fleet summary beside the teams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportSchedule(_Strict):
    """When reports come due: a 5-field cron expression read in an IANA time zone."""

    cron: str = Field(
        default="0 8 * * MON", description="5-field cron expression (minute hour dom month dow)"
    )
    timezone: str = Field(default="UTC", description="IANA time zone the expression is read in")

    _cron = field_validator("cron")(cron_expression)
    _zone = field_validator("timezone")(iana_zone)


class Recipients(_Strict):
    recipients: tuple[str, ...] = Field(default=(), description="e-mail addresses")
    webhook_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding a Slack-compatible webhook URL (a secret: never in files)",
    )

    @field_validator("recipients")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not EMAIL.match(v)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return value


class TeamReport(Recipients):
    budget_usd_per_month: float | None = Field(default=None, gt=0, description="the team's monthly budget")
    budget_thresholds_pct: tuple[float, ...] = Field(
        default=(80.0, 100.0), description="alert when the projected cost reaches these % of the budget"
    )

    @field_validator("budget_thresholds_pct")
    @classmethod
    def _thresholds(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < v <= 1000 for v in value):
            raise ValueError("thresholds are percentages of the budget, above 0 and at most 1000")
        return tuple(sorted(set(value)))


class AlertRules(_Strict):
    spend_change_pct: float | None = Field(
        default=20.0, gt=0, description="alert when the projected cost moves this % vs the last report"
    )
    usd_per_m_tokens_rise_pct: float | None = Field(
        default=10.0,
        gt=0,
        le=10_000,
        description="alert when a language model's $/M blended tokens rises this % vs the last report",
    )


class ReportsConfig(_Strict):
    """The ``reports:`` section: schedule, period, alerts, and who receives which report."""

    schedule: ReportSchedule = ReportSchedule()
    period_days: int = Field(default=7, ge=1, le=92, description="what a report's period covers")
    dashboard_url: HttpUrl | None = Field(default=None, description="base URL of `advisor dashboard`")
    alerts: AlertRules = AlertRules()
    fleet: Recipients | None = Field(default=None, description="who receives the fleet summary")
    teams: dict[str, TeamReport] = Field(default_factory=dict, description="per team (the models' `team`)")

    @model_validator(mode="after")
    def _someone(self) -> ReportsConfig:
        if FLEET in self.teams:
            raise ValueError(f"'{FLEET}' names the fleet summary; give it under `fleet:`, not as a team")
        return self

    def recipients(self, team: str) -> Recipients | None:
        """Who receives ``team``'s report (``fleet`` for the summary); None when nobody does."""
        return self.fleet if team == FLEET else self.teams.get(team)
