"""`advisor report`: per-team e-mails through a real SMTP server on loopback (aiosmtpd), the outbox's
once-only delivery across outages and crashes, alerts, schedules, and no secret anywhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

import advisor
from advisor.insights import latest_recommendations, recommendation_history
from advisor.render.report import build_report
from advisor.report.runner import SendResult
from advisor.report.runner import send as run_send
from advisor.scenario import load_scenario
from advisor.scenario.reports import ReportsConfig
from advisor.settings import Settings
from tests.helpers import REPO_ROOT, assert_one_line_error, run_cli
from tests.report_helpers import free_port, parts, smtp_env, smtp_server
from tests.traffic_cost_helpers import invoke

DEMO = str(REPO_ROOT / "examples" / "demo-scenario.yaml")
WEEK1 = "2026-11-30T09:00:00Z"  # Monday 10:00 in Berlin: the 08:00 slot has come due
WEEK1_DT = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
TEAMS = {
    "risk": "risk-ml@example.com",
    "search": "search-ml@example.com",
    "growth": "growth-ml@example.com",
    "fleet": "platform-leads@example.com",
}


def usd(value: float) -> str:
    return f"${value:,.2f}"


def send(path: Path, settings: Settings, **kw: Any) -> SendResult:
    """`report send --recommend` in-process: each due period reports on a recommendation made then."""
    scenario = load_scenario(path)
    fresh = lambda: advisor.recommend(scenario, settings=settings, scenario_file=path)  # noqa: E731
    return run_send(scenario, path, settings, fresh=fresh, **kw)


def outbox(home: Path) -> list[dict[str, object]]:
    with sqlite3.connect(home / "advisor.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM report_outbox ORDER BY id")]


def scaled_scenario(folder: Path, factor: float, **reports: object) -> Path:
    """The demo scenario with every model's traffic × ``factor`` (and ``reports`` keys replaced)."""
    data = yaml.safe_load(Path(DEMO).read_text())
    for model in data["models"]:
        traffic = model["traffic"]
        key = "peak_rps" if "peak_rps" in traffic else "monthly_requests"
        traffic[key] = traffic[key] * factor
    data["reports"].update(reports)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_send_on_the_demo_delivers_one_report_per_team_then_nothing(tmp_path: Path) -> None:
    port = free_port()
    with smtp_server(port) as box:
        first = run_cli("report", "send", DEMO, "--recommend", "--at", WEEK1, env=smtp_env(port))
        assert first.code == 0, first.stderr
        assert len(box.received) == 4
        stored = advisor.stored_recommendation(scenario="demo")
        by_rcpt = {rcpt[0]: msg for rcpt, msg in box.received}
        assert set(by_rcpt) == set(TEAMS.values())
        for team, address in TEAMS.items():
            msg = by_rcpt[address]
            leaves = parts(msg)
            assert set(leaves) == {"text/plain", "text/html", "image/png"}, team
            html, text = leaves["text/html"].get_content(), leaves["text/plain"].get_content()
            png = leaves["image/png"]
            assert png.get_content().startswith(b"\x89PNG")
            assert f'src="cid:{png["Content-ID"].strip("<>")}"' in html  # the chart, inline by Content-ID
            assert "<script" not in html and not re.search(r'src="https?:', html)
            assert "style=" in html  # CSS inlined for clients that drop <style>
            models = [m for m in stored.models if team == "fleet" or m.team == team]
            projected = sum(m.cost.usd_per_month for m in models if m.cost is not None)
            assert f"Projected (recommended): {usd(projected)}/month" in text, team
            assert f"{usd(projected)}<span" in html, team
            for body in (html, text):
                assert stored.id in body
                for m in models:
                    assert m.model in body
            if team == "fleet":
                assert projected == pytest.approx(stored.totals.recommended_usd_per_month)
        again = run_cli(
            "report", "send", DEMO, "--recommend", "--at", "2026-11-30T13:00:00Z", env=smtp_env(port)
        )
        assert again.code == 0 and "nothing new due" in again.stdout
        assert len(box.received) == 4
        # Three weekly slots missed: caught up once (the latest), not once per missed slot.
        late = run_cli(
            "report", "send", DEMO, "--recommend", "--at", "2026-12-22T09:00:00Z", env=smtp_env(port)
        )
        assert late.code == 0 and "period 2026-12-21T07:00:00+00:00" in late.stdout
        assert len(box.received) == 8
    periods = {row["period"] for row in outbox(Path(os.environ["ADVISOR_HOME"]))}
    assert periods == {"2026-11-30T07:00:00+00:00", "2026-12-21T07:00:00+00:00"}


def test_an_smtp_outage_keeps_the_messages_and_each_arrives_once_after(tmp_path: Path) -> None:
    home = Path(os.environ["ADVISOR_HOME"])
    port = free_port()  # nothing listens yet
    down = run_cli("report", "send", DEMO, "--recommend", "--at", WEEK1, env=smtp_env(port))
    assert down.code == 1 and "4 message(s) stay queued" in down.stderr
    assert len([line for line in down.stderr.splitlines() if line.startswith("error:")]) == 1
    rows = outbox(home)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"queued"}
    assert all("Connection refused" in str(r["last_error"]) for r in rows)
    assert {r["next_attempt_at"] for r in rows} == {"2026-11-30T09:01:00+00:00"}  # retry in a minute
    with smtp_server(port) as box:
        settings = Settings(home=home, **_smtp_settings(port))
        early = send(Path(DEMO), settings, now=WEEK1_DT + dt.timedelta(seconds=30))
        assert early.sent == [] and box.received == []  # its retry time has not come
        assert (early.waiting, early.next_retry) == (4, "2026-11-30T09:01:00+00:00")
        told = run_cli(
            "report", "send", DEMO, "--recommend", "--at", "2026-11-30T09:00:40Z", env=smtp_env(port)
        )
        assert told.code == 0 and box.received == [], told.stderr
        assert "4 message(s) wait in the outbox" in told.stdout and "Connection refused" in told.stdout
        assert "2026-11-30T09:01:00" in told.stdout and "--retry-now" in told.stdout
        assert "nothing new due" not in told.stdout
        back = run_cli(
            "report", "send", DEMO, "--retry-now", "--at", "2026-11-30T09:00:50Z", env=smtp_env(port)
        )
        assert back.code == 0, back.stderr
        assert len(box.received) == 4 and back.stdout.count("sent: ") == 4
        again = run_cli(
            "report", "send", DEMO, "--retry-now", "--at", "2026-11-30T09:00:55Z", env=smtp_env(port)
        )
        assert again.code == 0 and "sent: " not in again.stdout and "nothing new due" in again.stdout
        assert len(box.received) == 4
        assert send(Path(DEMO), settings, now=WEEK1_DT + dt.timedelta(hours=1)).sent == []
        assert len(box.received) == 4
    ids = [str(msg["Message-ID"]).strip() for _, msg in box.received]
    assert len(set(ids)) == 4 and set(ids) == {r["message_id"] for r in rows}
    assert {r["status"] for r in outbox(home)} == {"sent"}


def test_a_crash_after_the_hand_off_is_marked_unknown_not_resent(tmp_path: Path) -> None:
    home = Path(os.environ["ADVISOR_HOME"])
    port = free_port()
    settings = Settings(home=home, **_smtp_settings(port))
    assert len(send(Path(DEMO), settings, now=WEEK1_DT).failed) == 4  # server down: all queued
    victim = outbox(home)[0]
    with sqlite3.connect(home / "advisor.db") as conn:  # as a sender killed after the server took it
        conn.execute("UPDATE report_outbox SET status = 'sending' WHERE id = ?", (victim["id"],))
    with smtp_server(port) as box:
        result = run_cli(
            "report", "send", DEMO, "--recommend", "--at", "2026-11-30T09:05:00Z", env=smtp_env(port)
        )
        assert result.code == 0 and "marked unknown" in result.stderr
        assert len(box.received) == 3 and victim["message_id"] not in {
            m["Message-ID"] for _, m in box.received
        }
        row = next(r for r in outbox(home) if r["id"] == victim["id"])
        assert row["status"] == "unknown" and "at most once" in str(row["last_error"])
        status = run_cli("report", "status")
        assert "unknown" in status.stdout
        assert run_cli("report", "resend", str(victim["id"])).code == 0
        run_cli("report", "send", DEMO, "--recommend", "--at", "2026-11-30T09:06:00Z", env=smtp_env(port))
        assert (
            len(box.received) == 4 and str(box.received[-1][1]["Message-ID"]).strip() == victim["message_id"]
        )


def _send(path: Path, settings: Settings, at: dt.datetime, port: int) -> list[str]:
    """Subjects delivered by one in-process `report send`."""
    result = send(path, settings, now=at)
    assert not result.failed, result.failed
    return result.sent


def test_a_spend_change_alert_fires_when_traffic_grows_by_half(tmp_path: Path) -> None:
    port = free_port()
    week2 = WEEK1_DT + dt.timedelta(days=7)
    with smtp_server(port) as box:
        for branch, factor in (("grows", 1.5), ("steady", 1.0)):
            settings = Settings(home=tmp_path / branch / "home", **_smtp_settings(port))
            rule = {"alerts": {"spend_change_pct": 10}}
            base = scaled_scenario(tmp_path / branch, 1.0, **rule)
            first = _send(base, settings, WEEK1_DT, port)
            assert len(first) == 4 and not any("ALERT" in s for s in first)
            later = _send(scaled_scenario(tmp_path / branch, factor, **rule), settings, week2, port)
            alerted = [s for s in later if "ALERT" in s]
            if branch == "steady":
                assert alerted == [] and all("+0.0% vs last report" in s for s in later)
                continue
            recs = latest_recommendations(settings=settings)
            history = recommendation_history("demo", settings=settings)["id"].tolist()
            assert len(history) == 2 and recs[0].id in history
            earlier = advisor.stored_recommendation(
                next(i for i in history if i != recs[0].id), settings=settings
            )
            # Floors and schedules damp the growth, unevenly: a team alerts when its own projected cost
            # moved 10 % or more, the fleet on the total.
            moved = {
                team
                for team in {m.team for m in recs[0].models}
                if abs(_team_usd(recs[0], team) / _team_usd(earlier, team) - 1) >= 0.10
            }
            # the projected cost: each model's cost in the recommendation (a kept model at today's)
            before = sum(_team_usd(earlier, team) for team in {m.team for m in earlier.models})
            after = sum(_team_usd(recs[0], team) for team in {m.team for m in recs[0].models})
            change = 100 * (after - before) / before
            assert moved and change >= 10
            assert {s.split()[2].rstrip(":") for s in alerted} == moved | {"fleet"}
            fleet = next(m for rcpt, m in box.received[-4:] if rcpt == ["platform-leads@example.com"])
            text = parts(fleet)["text/plain"].get_content()
            assert change >= 10
            assert f"ALERT: fleet: projected cost {change:+.1f}% since the last report" in text
            assert "traffic +50%" in text  # the why, per model


def _team_usd(rec: advisor.Recommendation, team: str) -> float:
    """A team's projected cost: its models' effective costs as stored (a kept model at today's cost, a
    pooled one less its pooling share), which the fleet's totals add up."""
    return sum(m.effective_usd_per_month or 0.0 for m in rec.models if m.team == team)


def _smtp_settings(port: int) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_from": "advisor@example.com",
    }


def test_a_budget_alert_fires_at_its_threshold_only() -> None:
    rec = advisor.recommend(DEMO)
    search = sum(m.cost.usd_per_month for m in rec.models if m.team == "search" and m.cost is not None)
    period = (WEEK1_DT - dt.timedelta(days=7), WEEK1_DT)

    def alerts(budget: float) -> list[str]:
        config = ReportsConfig.model_validate(
            {"teams": {"search": {"budget_usd_per_month": budget, "budget_thresholds_pct": [80, 100]}}}
        )
        content = build_report(rec, "search", config, previous=rec, applied=[], period=period)
        return [a.message for a in content.alerts]

    at_80 = alerts(search / 0.85)  # 85% of the budget: the 80% threshold is reached, 100% is not
    assert len(at_80) == 1 and "threshold 80% reached" in at_80[0] and "85% of the" in at_80[0]
    assert "threshold 100% reached" in alerts(search * 0.9)[0]
    assert alerts(search / 0.75) == []  # below every threshold; no spend change either (same document)


def test_no_secret_appears_in_output_rows_files_or_messages(tmp_path: Path) -> None:
    home = Path(os.environ["ADVISOR_HOME"])
    planted, aws = "planted-Smtp-S3cret-4711", "planted/Aws+Secret+Key/0815"
    env = smtp_env(
        free_port(),
        ADVISOR_SMTP_USERNAME="reporter",
        ADVISOR_SMTP_PASSWORD=planted,
        AWS_SECRET_ACCESS_KEY=aws,
        AWS_ACCESS_KEY_ID="AKIAPLANTED0815",
    )
    port = int(env["ADVISOR_SMTP_PORT"])
    outputs = []
    with smtp_server(port, user="reporter", password="another-one") as box:  # wrong password: refused
        refused = run_cli("report", "send", DEMO, "--recommend", "--at", WEEK1, env=env)
        assert refused.code == 1 and "refused the login" in refused.stderr
        outputs.append(refused.stdout + refused.stderr)
    with smtp_server(port, user="reporter", password=planted) as box:
        ok = run_cli("report", "send", DEMO, "--recommend", "--at", "2026-11-30T09:10:00Z", env=env)
        assert ok.code == 0 and len(box.received) == 4
        assert ("reporter", planted) in box.logins  # the password was used, only on the wire
    for args in (
        ("report", "status"),
        ("report", "preview", DEMO, "--team", "search"),
        ("report", "send", DEMO, "--recommend", "--dry-run", "--at", WEEK1),
    ):
        result = run_cli(*args, env=env)
        outputs.append(result.stdout + result.stderr)
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    with sqlite3.connect(home / "advisor.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = " ".join(str(row) for t in tables for row in conn.execute(f"SELECT * FROM {t}"))
    for secret in (planted, aws, "AKIAPLANTED0815"):
        assert secret not in " ".join(outputs) and secret not in rows
        assert secret.encode() not in stored and all(secret.encode() not in raw for raw in box.raw)


def test_dry_run_says_what_would_go_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(capsys, "report", "send", DEMO, "--recommend", "--dry-run", "--at", WEEK1)
    assert result.code == 0, result.stderr
    assert result.stdout.count("would send to ") == 4
    assert "would send to search-ml@example.com (team search): [advisor] search:" in result.stdout
    assert "{" not in result.stdout  # read as sentences, not as Python's dict reprs
    assert not (Path(os.environ["ADVISOR_HOME"]) / "advisor.db").exists()


def test_preview_writes_a_self_contained_html_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an unknown team is refused before --recommend recommends and stores anything
    refused = invoke(capsys, "report", "preview", DEMO, "--team", "nope", "--recommend")
    assert_one_line_error(refused, "unknown team 'nope'", "--team")
    assert "stored recommendation" not in refused.stderr
    assert not (Path(os.environ["ADVISOR_HOME"]) / "advisor.db").exists()
    out = tmp_path / "search.html"
    result = invoke(capsys, "report", "preview", DEMO, "--team", "search", "--out", str(out), "--recommend")
    assert result.code == 0, result.stderr
    html = out.read_text()
    assert "data:image/png;base64," in html and "cid:" not in html and "<script" not in html
    text = invoke(capsys, "report", "preview", DEMO, "--team", "fleet")
    assert text.code == 0 and "Fleet summary · demo" in text.stdout
    assert_one_line_error(
        invoke(capsys, "report", "preview", DEMO, "--team", "serch"), "unknown team", "search"
    )


def test_schedule_entries_for_cron_systemd_and_kubernetes(capsys: pytest.CaptureFixture[str]) -> None:
    import kubernetes_validate

    cron = invoke(capsys, "report", "schedule", DEMO, "--emit", "cron")
    assert cron.code == 0 and re.match(
        r"^\*/15 \* \* \* \* cd .+ report send .+demo-scenario\.yaml", cron.stdout
    )
    systemd = invoke(capsys, "report", "schedule", DEMO, "--emit", "systemd", "--every", "10")
    assert "OnCalendar=*:0/10" in systemd.stdout and "ExecStart=" in systemd.stdout
    # Each entry makes the week's recommendation when a period is due, so a report follows the traffic.
    assert "report send" in cron.stdout and "--recommend" in cron.stdout and "--recommend" in systemd.stdout
    k8s = invoke(
        capsys, "report", "schedule", DEMO, "--emit", "k8s", "--image", "registry.example.com/advisor:1"
    )
    manifest = yaml.safe_load(k8s.stdout)
    assert manifest["kind"] == "CronJob" and manifest["spec"]["schedule"] == "0 8 * * MON"
    assert manifest["spec"]["timeZone"] == "Europe/Berlin"
    container = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["report", "send"] and "--recommend" in container["args"]
    kubernetes_validate.validate(manifest, "1.30", strict=True)
    assert_one_line_error(invoke(capsys, "report", "schedule", DEMO, "--emit", "crontab"), "--emit")


@pytest.mark.parametrize(
    ("reports", "needle"),
    [
        ({"schedule": {"cron": "0 8 * MON"}}, "not a 5-field cron expression"),
        ({"schedule": {"cron": "0 25 * * *"}}, "not a valid cron expression"),
        ({"schedule": {"cron": "0 8 * * MON", "timezone": "Mars/Olympus"}}, "unknown IANA time zone"),
        ({"teams": {"search": {"recipients": ["search-ml at example.com"]}}}, "not an e-mail address"),
        ({"teams": {"fleet": {"recipients": ["a@example.com"]}}}, "names the fleet summary"),
        ({"teams": {"serch": {"recipients": ["a@example.com"]}}}, "team 'serch'; did you mean search"),
    ],
)
def test_a_bad_reports_section_is_one_line_with_its_place(
    tmp_path: Path, reports: dict[str, object], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(Path(DEMO).read_text())
    data["reports"] = reports
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert_one_line_error(invoke(capsys, "report", "send", str(path), "--dry-run"), needle, "bad.yaml")


def test_a_scenario_without_reports_or_smtp_says_how_to_configure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(Path(DEMO).read_text())
    del data["reports"]
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert_one_line_error(invoke(capsys, "report", "send", str(path)), "no reports: section")
    assert_one_line_error(
        invoke(capsys, "report", "send", DEMO), "no SMTP server is configured", "ADVISOR_SMTP_HOST"
    )


class _Hook(BaseHTTPRequestHandler):
    posts: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        type(self).posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_reports_file_of_its_own_and_a_webhook_for_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = yaml.safe_load(Path(DEMO).read_text())
    del data["reports"]
    scenario = tmp_path / "plain.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False))
    reports = tmp_path / "reports.yaml"
    reports.write_text(
        yaml.safe_dump(
            {
                "teams": {
                    "risk": {
                        "recipients": ["risk-ml@example.com"],
                        "budget_usd_per_month": 100,
                        "webhook_env": "RISK_HOOK",
                    }
                }
            }
        )
    )
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    _Hook.posts = []
    port = free_port()
    settings = Settings(home=tmp_path / "home", **_smtp_settings(port))
    try:
        with smtp_server(port) as box:
            missing = send(scenario, settings, now=WEEK1_DT, reports_file=reports)
            assert len(box.received) == 1 and len(missing.failed) == 1  # the e-mail went; the hook has no URL
            assert "environment variable RISK_HOOK" in missing.failed[0][1]
            monkeypatch.setenv("RISK_HOOK", f"http://127.0.0.1:{hook.server_address[1]}/services/T0/B0/x")
            later = send(scenario, settings, now=WEEK1_DT + dt.timedelta(minutes=5), reports_file=reports)
            assert later.sent and not later.failed and len(box.received) == 1
    finally:
        hook.shutdown()
    (post,) = _Hook.posts
    assert "ALERT risk" in str(post["text"]) and "of the $100.00 budget (threshold 100% reached)" in str(
        post["text"]
    )
    rows = " ".join(str(r) for r in outbox(settings.home))
    assert "/services/T0/B0/x" not in rows and "$RISK_HOOK" in rows  # the URL (a credential) is not stored


# ----- reports read the stored recommendation --------------------------------------------------------

_NO_OPTIMISER = """
import sys


class _Blocker:
    # Any import of the optimiser (or of the front door that runs it) fails the run.
    def find_spec(self, name, path=None, target=None):
        if name == "advisor.optimize" or name.startswith("advisor.optimize.") or name == "advisor.api":
            raise ImportError(f"{{name}} imported by report send")


sys.meta_path.insert(0, _Blocker())
from advisor.cli import main

code = main({argv!r})
assert not [m for m in sys.modules if m.startswith("advisor.optimize")], "the optimiser was loaded"
sys.exit(code)
"""


def test_send_reports_the_stored_recommendation_without_the_optimiser(tmp_path: Path) -> None:
    # A fresh interpreter (the process boundary is the subject: what `report send` imports) in which
    # importing advisor.optimize or advisor.api fails.
    port = free_port()
    env = {**smtp_env(port), "ADVISOR_HOME": str(tmp_path / "home")}
    settings = Settings(home=tmp_path / "home")
    stored = advisor.recommend(Path(DEMO), settings=settings)
    advisor.save(stored, settings)
    script = _NO_OPTIMISER.format(argv=["report", "send", DEMO, "--at", WEEK1, "--json"])
    with smtp_server(port) as box:
        got = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, **env},
            cwd=REPO_ROOT, timeout=300,
        )  # fmt: skip
    assert got.returncode == 0, got.stderr
    result = json.loads(got.stdout)
    assert result["recommendation_id"] == stored.id and result["queued"] == 4 and len(box.received) == 4
    assert {row["recommendation_id"] for row in outbox(settings.home)} == {stored.id}
    assert [r["id"] for r in advisor.stored_recommendations(settings=settings)] == [stored.id]


def test_the_optimiser_blocker_really_blocks(tmp_path: Path) -> None:
    script = _NO_OPTIMISER.format(argv=["recommend", DEMO, "--json", "--no-store"])
    got = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        env={**os.environ, "ADVISOR_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert got.returncode != 0 and "imported by report send" in got.stderr + got.stdout


def test_send_without_a_stored_recommendation_says_how_to_make_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = invoke(capsys, "report", "send", DEMO, "--dry-run", "--at", WEEK1)
    assert_one_line_error(result, "no recommendation of scenario 'demo' is stored", "--recommend")
    preview = invoke(capsys, "report", "preview", DEMO, "--team", "risk")
    assert_one_line_error(preview, "no recommendation of scenario 'demo' is stored", "advisor recommend")
    refresh = invoke(capsys, "report", "send", DEMO, "--refresh-traffic", "--at", WEEK1)
    assert_one_line_error(refresh, "--refresh-traffic", "--recommend")


def test_send_recommend_stores_a_new_recommendation_and_reports_on_that_id(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(home=tmp_path / "home", **_smtp_settings(port))
    older = advisor.recommend(Path(DEMO), settings=settings)
    advisor.save(older, settings)
    with smtp_server(port) as box:
        result = send(Path(DEMO), settings, now=WEEK1_DT)
    assert result.recommendation_id is not None and result.recommendation_id != older.id
    newest = advisor.stored_recommendations(settings=settings)
    assert [r["id"] for r in newest] == [result.recommendation_id, older.id]
    assert {row["recommendation_id"] for row in outbox(settings.home)} == {result.recommendation_id}
    texts = [parts(m)["text/plain"].get_content() for _rcpt, m in box.received]
    assert len(texts) == 4 and all(f"recommendation {result.recommendation_id}" in x for x in texts)


def test_a_team_listed_without_anyone_to_tell_is_not_sent_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A team may be listed for its budget alone (its report is previewed): sending skips it, and says
    nothing would go to an empty list of recipients."""
    data = yaml.safe_load(Path(DEMO).read_text())
    data["reports"]["teams"]["search"] = {"budget_usd_per_month": 1000}
    path = tmp_path / "budget.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = invoke(capsys, "report", "send", str(path), "--recommend", "--dry-run", "--at", WEEK1, "--json")
    assert result.code == 0, result.stderr
    planned = json.loads(result.stdout)["planned"]
    assert planned and all(p["recipients"] or p.get("webhook") for p in planned), planned
    assert "search" not in {p.get("team") for p in planned}
    preview = invoke(capsys, "report", "preview", str(path), "--team", "search", "--recommend")
    assert preview.code == 0 and "budget" in preview.stdout.lower(), preview.stderr
