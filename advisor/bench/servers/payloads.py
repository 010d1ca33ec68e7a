"""Payload templates: what one request to a model server looks like, checked before any load is sent.

A template turns a user's body file (or a default body) into a :class:`RequestSpec`. Templates live in an
explicit registry keyed by name:

* ``json`` — any JSON document, POSTed as is to the endpoint URL's path;
* ``kserve-v2`` — the KServe v2 / Triton HTTP inference protocol, ``POST /v2/models/{name}/infer`` with
  ``{"inputs": [{"name", "shape", "datatype", "data"}]}`` (each input's data must hold prod(shape) values);
* ``openai-embeddings`` — ``POST /v1/embeddings`` with ``{"model", "input"}``;
* ``openai-chat`` — ``POST /v1/chat/completions`` with ``{"model", "messages"}`` (non-streaming: the harness
  measures whole responses);
* ``raw`` — the file's bytes as they are (text), with the content type given.

A malformed template raises :class:`InputError` naming the file, line:column or field path, and the fix.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from advisor.bench.measurements import RequestSpec
from advisor.errors import InputError, NotFoundError, choices_hint
from advisor.paths import parse_json, read_text
from advisor.redact import redact_url

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog near the bank of the river."
KSERVE_DATATYPES = frozenset(
    {
        "BOOL",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "FP16",
        "FP32",
        "FP64",
        "BYTES",
        "BF16",
    }
)
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True)
class PayloadTemplate:
    """A named way to build the request body; ``check`` raises InputError on a malformed body."""

    name: str
    default_path: str
    description: str
    check: Callable[[Any, str, str | None], Any]
    needs_body: bool = False


def _require(cond: bool, what: str, where: str, fix: str) -> None:
    if not cond:
        raise InputError(what, where=where, fix=fix)


def _check_json(body: Any, where: str, model_name: str | None) -> Any:
    return body


def _check_kserve(body: Any, where: str, model_name: str | None) -> Any:
    fix = 'give {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}'
    _require(isinstance(body, dict), "a KServe v2 body must be a JSON object", where, fix)
    inputs = body.get("inputs")
    _require(
        isinstance(inputs, list) and len(inputs) > 0, "missing or empty 'inputs' list", f"{where}:inputs", fix
    )
    for i, item in enumerate(inputs):
        at = f"{where}:inputs[{i}]"
        _require(isinstance(item, dict), "each input must be an object", at, fix)
        for key in ("name", "shape", "datatype", "data"):
            _require(key in item, f"input lacks {key!r}", at, fix)
        shape = item["shape"]
        _require(
            isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape),
            "shape must be a list of non-negative integers",
            f"{at}.shape",
            fix,
        )
        _require(
            item["datatype"] in KSERVE_DATATYPES,
            f"unknown datatype {item['datatype']!r}",
            f"{at}.datatype",
            f"use one of {', '.join(sorted(KSERVE_DATATYPES))}",
        )
        values = _flatten(item["data"])
        expected = math.prod(shape)
        _require(
            len(values) == expected,
            f"data holds {len(values)} values but shape {shape} needs {expected}",
            f"{at}.data",
            "make data match the shape",
        )
    return body


def _check_embeddings(body: Any, where: str, model_name: str | None) -> Any:
    if body is None:
        _require(
            model_name is not None,
            "the OpenAI embeddings template needs a model name",
            where,
            "pass --model-name NAME or a body file with 'model'",
        )
        return {"model": model_name, "input": DEFAULT_TEXT}
    fix = 'give {"model": "NAME", "input": "some text"}'
    _require(isinstance(body, dict), "an embeddings body must be a JSON object", where, fix)
    text = body.get("input")
    ok = isinstance(text, str) or (isinstance(text, list) and text and all(isinstance(t, str) for t in text))
    _require(bool(ok), "'input' must be a string or a non-empty list of strings", f"{where}:input", fix)
    if "model" not in body:
        _require(model_name is not None, "missing 'model'", f"{where}:model", fix)
        body = {**body, "model": model_name}
    return body


def _check_chat(body: Any, where: str, model_name: str | None) -> Any:
    if body is None:
        _require(
            model_name is not None,
            "the OpenAI chat template needs a model name",
            where,
            "pass --model-name NAME or a body file with 'model'",
        )
        return {
            "model": model_name,
            "messages": [{"role": "user", "content": DEFAULT_TEXT}],
            "max_tokens": 16,
        }
    fix = 'give {"model": "NAME", "messages": [{"role": "user", "content": "hi"}]}'
    _require(isinstance(body, dict), "a chat body must be a JSON object", where, fix)
    messages = body.get("messages")
    _require(
        isinstance(messages, list) and len(messages) > 0,
        "missing or empty 'messages'",
        f"{where}:messages",
        fix,
    )
    for i, m in enumerate(messages):
        _require(
            isinstance(m, dict) and "role" in m and "content" in m,
            "each message needs role and content",
            f"{where}:messages[{i}]",
            fix,
        )
    _require(
        not body.get("stream", False),
        "streaming responses are not measured",
        f"{where}:stream",
        "set stream to false (advisor times whole responses)",
    )
    if "model" not in body:
        _require(model_name is not None, "missing 'model'", f"{where}:model", fix)
        body = {**body, "model": model_name}
    return body


TEMPLATES: dict[str, PayloadTemplate] = {
    t.name: t
    for t in (
        PayloadTemplate("json", "/", "any JSON body, POSTed to the endpoint URL's path", _check_json, True),
        PayloadTemplate(
            "kserve-v2", "/v2/models/{name}/infer", "KServe v2 / Triton HTTP inference", _check_kserve, True
        ),
        PayloadTemplate(
            "openai-embeddings", "/v1/embeddings", "OpenAI-compatible embeddings", _check_embeddings
        ),
        PayloadTemplate(
            "openai-chat", "/v1/chat/completions", "OpenAI-compatible chat completions", _check_chat
        ),
        PayloadTemplate("raw", "/", "the body file's text as is (set --content-type)", _check_json, True),
    )
}


def get_template(name: str) -> PayloadTemplate:
    if name not in TEMPLATES:
        raise NotFoundError(
            "payload template",
            name,
            known=TEMPLATES,
            where="--template",
            fix=choices_hint(name, TEMPLATES),
        )
    return TEMPLATES[name]


def load_json_body(path: Path) -> Any:
    """Parse a JSON body file; InputError with file:line:column on a syntax error."""
    if not path.is_file():
        raise InputError(
            "the payload file does not exist", where=str(path), fix="pass an existing, readable file"
        )
    try:
        return parse_json(read_text(path, "payload file"), str(path), "payload")
    except InputError as exc:
        raise InputError(
            exc.what, where=exc.where, fix="fix the JSON (or use --template raw to send it as is)"
        ) from None


def split_endpoint(endpoint: str) -> tuple[SplitResult, dict[str, str]]:
    """The URL without credentials, and the Basic ``Authorization`` header they become (if any); InputError
    for anything but an http(s) URL with a host."""
    parts = urlsplit(endpoint)
    auth: dict[str, str] = {}
    if parts.username is not None or "@" in parts.netloc:
        token = base64.b64encode(f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode())
        auth = {"Authorization": f"Basic {token.decode()}"}
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(
            f"not an http(s) URL: {redact_url(endpoint)!r}",
            where="--endpoint",
            fix="give e.g. http://127.0.0.1:8080/predict",
        )
    return parts, auth


def build_request(
    endpoint: str,
    *,
    template: str = "json",
    body_path: Path | None = None,
    body: Any = None,
    model_name: str | None = None,
    content_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
) -> RequestSpec:
    """The request for every arrival; raises InputError before any load when anything is malformed.

    The URL's own path wins; a bare ``http://host:port`` gets the template's default path. Credentials in
    the URL (``http://user:pw@host``) become an HTTP Basic ``Authorization`` header, so the base URL that is
    stored and shown carries no secret.
    """
    parts, auth = split_endpoint(endpoint)
    tpl = get_template(template)
    where = str(body_path) if body_path is not None else f"--template {template}"
    if tpl.name == "raw":
        if body_path is None:
            raise InputError(
                "the raw template needs a body file", where="--payload", fix="pass --payload FILE"
            )
        text = read_text(body_path, "payload file")
        return RequestSpec(
            base_url=f"{parts.scheme}://{parts.netloc}",
            path=_path(parts, tpl, model_name),
            headers={"Content-Type": content_type, **auth, **(headers or {})},
            body=text,
            template="raw",
        )
    if body is None and body_path is not None:
        body = load_json_body(body_path)
    if body is None and tpl.needs_body:
        raise InputError(
            f"the {tpl.name} template needs a body", where="--payload", fix="pass --payload BODY.json"
        )
    checked = tpl.check(body, where, model_name)
    return RequestSpec(
        base_url=f"{parts.scheme}://{parts.netloc}",
        method="POST",
        path=_path(parts, tpl, model_name),
        headers={**JSON_HEADERS, **auth, **(headers or {})},
        body=json.dumps(checked),
        template=tpl.name,
    )


def _path(parts: Any, tpl: PayloadTemplate, model_name: str | None) -> str:
    path = parts.path if parts.path not in ("", "/") else tpl.default_path
    if "{name}" in path:
        if not model_name:
            raise InputError(
                f"the {tpl.name} path needs a model name",
                where="--model-name",
                fix="pass --model-name NAME (or put the full path in --endpoint)",
            )
        path = path.replace("{name}", model_name)
    return path + (f"?{parts.query}" if parts.query else "")


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list):
        out: list[Any] = []
        for item in data:
            out.extend(_flatten(item))
        return out
    return [data]
