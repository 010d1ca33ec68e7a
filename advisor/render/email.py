"""A report as an e-mail: jinja2 templates (HTML and plain text), CSS inlined with css-inline so mail
clients that drop ``<style>`` still show it, and a small matplotlib chart attached inline by Content-ID.

The HTML uses table layout, no scripts and no external images (the chart travels inside the message), so
Outlook, Gmail and Apple Mail show the same thing. :func:`as_email` builds the standard library's
``EmailMessage``: ``multipart/alternative`` with the text part first and a ``multipart/related`` HTML part
holding the chart.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from advisor.recommendation.levers import total_saving
from advisor.render.levers import LEVER_LABELS, lever_amount
from advisor.render.markdown import baseline_label
from advisor.render.numbers import signed_usd, usd
from advisor.render.report import ModelLine, ReportContent
from advisor.render.words import html_code_spans
from advisor.scenario.reports import FLEET
from advisor.version import __version__

CHART_CID_DOMAIN = "advisor.report"


def signed(value: float | None) -> str:
    return "— (first report)" if value is None else signed_usd(value)


def risk(line: ModelLine) -> str:
    if line.minutes_over_slo_per_month is None:
        return "—"
    return f"{line.minutes_over_slo_per_month:,.1f} min/month"


@dataclass(frozen=True)
class RenderedReport:
    subject: str
    html: str
    text: str
    chart_png: bytes
    chart_cid: str

    def html_with_embedded_chart(self) -> str:
        """The HTML with the chart as a data: URI (for a file opened in a browser: cid: cannot resolve)."""
        data = base64.b64encode(self.chart_png).decode()
        return self.html.replace(f"cid:{self.chart_cid}", f"data:image/png;base64,{data}")


def chart_png(content: ReportContent) -> bytes:
    """Today against recommended per model (per team in the fleet summary), as a 592 px wide PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    if content.team == FLEET and content.teams:
        labels = [t for t, _, _ in content.teams]
        today = [v or 0.0 for _, _, v in content.teams]
        projected = [u for _, u, _ in content.teams]
    else:
        labels = [x.model for x in content.models]
        today = [x.today_usd or 0.0 for x in content.models]
        projected = [x.recommended_usd or 0.0 for x in content.models]
    fig = Figure(figsize=(5.92, 0.5 + 0.45 * max(len(labels), 1)), dpi=100)
    ax = fig.add_subplot()
    ys = range(len(labels))
    ax.barh([y + 0.2 for y in ys], today, height=0.38, color="#afb8c1", label="today")
    ax.barh([y - 0.2 for y in ys], projected, height=0.38, color="#1a7f37", label="recommended")
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("$/month", fontsize=8)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def subject_for(content: ReportContent) -> str:
    head = "[advisor] ALERT " if content.alerts else "[advisor] "
    delta = "" if content.delta_pct is None else f", {content.delta_pct:+.1f}% vs last report"
    who = "fleet" if content.team == FLEET else content.team
    return f"{head}{who}: {usd(content.projected_usd)}/month projected{delta} ({content.scenario})"


def render_report(content: ReportContent) -> RenderedReport:
    """HTML (CSS inlined) and text parts of ``content``, with its chart."""
    import css_inline
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("advisor.render", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    cid = make_msgid(idstring="chart", domain=CHART_CID_DOMAIN)[1:-1]
    values = {
        "r": content,
        "lines": list(zip(content.models, content.changes, strict=True)),
        "usd": usd,
        "signed": signed,
        "risk": risk,
        "lever_label": LEVER_LABELS.__getitem__,
        "lever_amount": lever_amount,
        "lever_total": total_saving,
        "baseline_label": baseline_label,
        "code": lambda text: markupsafe.Markup(html_code_spans(text)),
        "chart_cid": cid,
        "version": __version__,
    }
    html = css_inline.inline(env.get_template("report.html.j2").render(**values))
    text = env.get_template("report.txt.j2").render(**values)
    return RenderedReport(subject_for(content), html, text, chart_png(content), cid)


def as_email(report: RenderedReport, *, sender: str, recipients: list[str], message_id: str) -> EmailMessage:
    """The message to send: text, then HTML with the chart inline (Content-ID)."""
    msg = EmailMessage()
    msg["Subject"] = report.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(report.text)
    msg.add_alternative(report.html, subtype="html")
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(
        report.chart_png, maintype="image", subtype="png", cid=f"<{report.chart_cid}>", filename="cost.png"
    )
    return msg
