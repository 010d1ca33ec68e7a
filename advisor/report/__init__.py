"""Scheduled cost reports: per-team HTML e-mails with a fleet summary, spend-change and budget alerts, and
an outbox in the store that never loses or repeats a message.

- ``config``: the scenario's ``reports:`` section (:class:`ReportsConfig`);
- ``content``: what a report says (:func:`build_report` → :class:`ReportContent`);
- ``render``: jinja2 HTML (CSS inlined) and text, the matplotlib chart, the MIME message;
- ``outbox``: queued → sending → sent, the at-most-once rule;
- ``deliver``: SMTP (STARTTLS/SSL) and Slack-compatible webhooks;
- ``runner``: ``report send`` (:func:`send`) and ``report preview`` (:func:`preview`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names

if TYPE_CHECKING:
    from advisor.render.email import RenderedReport, render_report
    from advisor.render.report import ReportContent, build_report
    from advisor.report.runner import SendResult, preview, send
    from advisor.scenario.reports import ReportSchedule, ReportsConfig, TeamReport

_LAZY = {
    "ReportSchedule": "advisor.scenario.reports",
    "ReportsConfig": "advisor.scenario.reports",
    "TeamReport": "advisor.scenario.reports",
    "ReportContent": "advisor.render.report",
    "build_report": "advisor.render.report",
    "RenderedReport": "advisor.render.email",
    "render_report": "advisor.render.email",
    "SendResult": "advisor.report.runner",
    "preview": "advisor.report.runner",
    "send": "advisor.report.runner",
}

__all__ = [
    "RenderedReport",
    "ReportContent",
    "ReportSchedule",
    "ReportsConfig",
    "SendResult",
    "TeamReport",
    "build_report",
    "preview",
    "render_report",
    "send",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
