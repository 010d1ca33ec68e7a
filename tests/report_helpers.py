"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and helpers to read it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the server accepted: one (envelope recipients, message) per DATA."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.raw.append(content)
        msg = message_from_bytes(content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(([str(r) for r in envelope.rcpt_tos], msg))
        return "250 OK"


class _Login:
    def __init__(self, box: Mailbox, user: str, password: str) -> None:
        self.box, self.user, self.password = box, user, password

    def __call__(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.box.logins.append((login, password))
        return AuthResult(success=login == self.user and password == self.password, handled=False)


@contextmanager
def smtp_server(port: int, *, user: str | None = None, password: str | None = None) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1:``port`` (AUTH LOGIN/PLAIN without TLS when a user is given)."""
    box = Mailbox()
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs = {"authenticator": _Login(box, user, password or ""), "auth_require_tls": False}
    controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    return {
        "ADVISOR_SMTP_HOST": "127.0.0.1",
        "ADVISOR_SMTP_PORT": str(port),
        "ADVISOR_SMTP_SECURITY": "none",
        "ADVISOR_SMTP_FROM": "advisor@example.com",
        **extra,
    }


def parts(msg: EmailMessage) -> dict[str, EmailMessage]:
    """The message's leaf parts by content type."""
    return {p.get_content_type(): p for p in msg.walk() if not p.is_multipart()}
