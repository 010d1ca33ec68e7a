"""Secrets never leave the process: credentials in URLs and secret-looking parameters become ``***``.

Applied wherever a target, an error or a log line is stored or printed. A URL's password
(``http://user:pw@host``) is masked, as are the values of query parameters and ``KEY=VALUE`` pairs whose
names say they are secret (token, key, secret, password, signature, credential, auth). Bearer tokens in
``Authorization`` headers that leak into a message are masked too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_SECRET_WORD = r"(?:token|key|secret|passw(?:or)?d|pwd|signature|sig|credential|auth)"
_SECRET_NAME = rf"(?:[A-Za-z0-9_-]*{_SECRET_WORD}[A-Za-z0-9_-]*)"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<pw>[^@\s/]*)@")
_PAIR = re.compile(rf"(?P<name>{_SECRET_NAME})(?P<sep>=)(?P<value>[^&\s,;\"']+)", re.IGNORECASE)
_HEADER = re.compile(
    r"(?P<name>authorization|proxy-authorization|x-api-key|api-key|x-auth-token|cookie)(?P<sep>:\s*)"
    r"(?P<value>(?:(?:bearer|basic|token)\s+)?[^\s,;\"']+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<kind>Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values masked (the rest kept, so it stays readable)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = _PAIR.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Any free text (errors, notes, log tails, commands) with URL passwords and secret values masked."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _HEADER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m['kind']} {MASK}", text)
    return _PAIR.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
