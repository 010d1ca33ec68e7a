"""Delivery: an outbox message to its SMTP server (smtplib, STARTTLS or SSL as configured) or its webhook.

The SMTP settings come from the settings model (``ADVISOR_SMTP_HOST``, ``_PORT``, ``_SECURITY``,
``_USERNAME``, ``_PASSWORD``, ``_FROM``); the password is a SecretStr, read only here, and never part of an
error, a log line or a stored row. Failures are :class:`DeliveryError` with one line saying what refused.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email import message_from_bytes, policy

from advisor.errors import ConfigError
from advisor.redact import redact_url
from advisor.settings import Settings

WEBHOOK_TIMEOUT_S = 10.0


class DeliveryError(Exception):
    """A message the server or webhook did not take (the outbox keeps it queued)."""


def check_smtp(settings: Settings) -> str:
    """The sender address; ConfigError when SMTP is not configured enough to send."""
    if not settings.smtp_host:
        raise ConfigError(
            "no SMTP server is configured",
            where="ADVISOR_SMTP_HOST",
            fix="export ADVISOR_SMTP_HOST (and _PORT, _USERNAME, _PASSWORD, _FROM), or use --dry-run",
        )
    if not settings.smtp_from:
        raise ConfigError(
            "no sender address is configured",
            where="ADVISOR_SMTP_FROM",
            fix="export ADVISOR_SMTP_FROM=advisor@example.com",
        )
    return settings.smtp_from


def _port(settings: Settings) -> int:
    if settings.smtp_port is not None:
        return settings.smtp_port
    return {"starttls": 587, "ssl": 465}.get(settings.smtp_security, 25)


def send_email(settings: Settings, raw: bytes, sender: str, recipients: list[str]) -> None:
    """Hand one RFC 5322 message to the SMTP server for ``recipients``."""
    host, port, timeout = settings.smtp_host or "", _port(settings), settings.smtp_timeout_s
    where = f"SMTP {host}:{port}"
    try:
        client: smtplib.SMTP
        if settings.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                client.login(settings.smtp_username, password)
            message = message_from_bytes(raw, policy=policy.SMTP)
            refused = client.send_message(message, from_addr=sender, to_addrs=recipients)
        if refused:
            raise DeliveryError(f"{where} refused {', '.join(sorted(refused))}")
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"{where} refused the login ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from None


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value)[:200]


def post_webhook(url: str, payload: bytes) -> None:
    """POST a Slack-compatible JSON payload (``{"text": ...}``) to ``url``."""
    request = urllib.request.Request(
        url, data=payload, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as reply:
            reply.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"webhook {redact_url(url)} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook {redact_url(url)}: {getattr(exc, 'reason', exc)}") from None


def webhook_payload(text: str) -> bytes:
    return json.dumps({"text": text}).encode()
