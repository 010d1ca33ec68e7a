"""Bench targets: a model server advisor starts, described once for ``bench run`` and ``recommend --bench``.

A :class:`BenchServer` knows how to start the server (a reference model from the registry, or a command
with ``{port}`` where the port goes; the port is also in the ``PORT`` variable), which route to load
(:data:`advisor.domain.DEFAULT_REQUEST_PATH` for the json template, the protocol's route for the others,
unless one is given), what to send (a payload template and body, checked before anything starts) and how
long to wait for its health route. Relative payload paths are resolved against a base folder (the
scenario file's), and every error names the field or flag it comes from.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.bench.measurements import RequestSpec
from advisor.bench.servers.payloads import build_request, get_template, split_endpoint
from advisor.bench.servers.registry import get_model
from advisor.domain import (
    DEFAULT_HEALTH_PATH,
    DEFAULT_READY_TIMEOUT_S,
    DEFAULT_REQUEST_PATH,
    PORT_PLACEHOLDER,
)
from advisor.errors import AdvisorError, InputError, at_field
from advisor.scenario.model import ModelSpec


@dataclass(frozen=True)
class Payload:
    """What each request carries: a template and a body (file, or an object of the reference model)."""

    template: str = "json"
    body_path: Path | None = None
    body: Any = None
    model_name: str | None = None
    content_type: str = "application/octet-stream"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchServer:
    """A server to start and load (module docstring). ``argv`` holds ``{port}`` where the port goes."""

    label: str
    argv: tuple[str, ...]
    payload: Payload
    request_path: str | None = None
    health_path: str = DEFAULT_HEALTH_PATH
    env: Mapping[str, str] = field(default_factory=dict)
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    where: str = "--server-cmd"  # the field or flag errors about this target name

    def command(self, port: int) -> list[str]:
        return [part.replace(PORT_PLACEHOLDER, str(port)) for part in self.argv]

    def server_env(self, port: int) -> dict[str, str]:
        return {**self.env, "PORT": str(port)}

    def request(self, port: int) -> RequestSpec:
        """The request to load the server on ``port`` with (InputError naming the payload's file or field)."""
        path = self.request_path
        if path is None and self.payload.template == "json":
            path = DEFAULT_REQUEST_PATH
        p = self.payload
        return build_request(
            f"http://127.0.0.1:{port}{path or ''}", template=p.template, body_path=p.body_path, body=p.body,
            model_name=p.model_name, content_type=p.content_type, headers=dict(p.headers),
        )  # fmt: skip

    def check(self, payload_where: str | None = None) -> BenchServer:
        """Build the request once, before any server starts; errors are located at ``payload_where``."""
        try:
            self.request(1)
        except AdvisorError as exc:
            if payload_where is None:
                raise
            raise at_field(exc, payload_where) from None
        return self


def command_server(
    label: str,
    command: str,
    payload: Payload,
    *,
    request_path: str | None = None,
    health_path: str = DEFAULT_HEALTH_PATH,
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S,
    where: str = "--server-cmd",
) -> BenchServer:
    """A server started by ``command`` (split like a shell would, run without one)."""
    if PORT_PLACEHOLDER not in command:
        raise InputError(
            f"the server command has no {PORT_PLACEHOLDER}",
            where=where,
            fix=f"put {PORT_PLACEHOLDER} where the port goes, e.g. 'uvicorn app:api --port {{port}}'",
        )
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise InputError(f"cannot split the command: {exc}", where=where, fix="balance the quotes") from None
    return BenchServer(label, argv, payload, request_path, health_path, {}, ready_timeout_s, where)


def reference_server(
    name: str,
    payload: Payload | None = None,
    *,
    options: Mapping[str, str] | None = None,
    request_path: str | None = None,
    ready_timeout_s: float | None = None,
    where: str = "--model",
) -> BenchServer:
    """A reference model of the registry; its own example body unless ``payload`` names a body file."""
    ref = get_model(name)
    opts = dict(options or {})
    label = ref.name if not opts else f"{ref.name}[{','.join(f'{k}={v}' for k, v in sorted(opts.items()))}]"
    argv = tuple(ref.command(PORT_PLACEHOLDER, opts))
    body = payload or Payload()
    if body.body_path is None and body.body is None:
        body = Payload(body.template, None, ref.body(), body.model_name, body.content_type, body.headers)
    return BenchServer(
        label, argv, body, request_path or ref.path, ref.health_path, dict(ref.env),
        ready_timeout_s or ref.ready_timeout_s, where,
    )  # fmt: skip


def resolve(base_dir: Path | None, path: Path | None) -> Path | None:
    """``path`` relative to ``base_dir`` (the scenario's folder) unless absolute."""
    if path is None or base_dir is None or path.is_absolute():
        return path
    return base_dir / path


def server_for_model(spec: ModelSpec, where: str, base_dir: Path | None) -> BenchServer | None:
    """The bench target of one scenario model, checked as ``bench run`` would check it before anything
    starts: the template, the reference or the command, the payload, an endpoint's URL. None for an endpoint
    (advisor does not start it). Errors are located at the field (``models.2.server.payload: body.json:3``).
    """
    server = spec.server
    part = "template"
    try:
        get_template(server.template)
        payload = Payload(server.template, resolve(base_dir, server.payload), model_name=server.model_name)
        if server.endpoint is not None:
            part = "endpoint"
            split_endpoint(server.endpoint)
            if payload.body_path is not None:  # measured by `bench run --endpoint --payload`
                part = "payload"
                build_request(
                    server.endpoint, template=server.template, body_path=payload.body_path,
                    model_name=server.model_name,
                )  # fmt: skip
            return None
        if server.reference is not None:
            part = "reference"
            target = reference_server(
                server.reference, payload if server.payload is not None else None,
                request_path=server.request_path, where=f"{where}.server.reference",
            )  # fmt: skip
        else:
            part = "command"
            target = command_server(
                spec.name, server.command or "", payload, request_path=server.request_path,
                health_path=server.health_path, ready_timeout_s=server.ready_timeout_s,
                where=f"{where}.server.command",
            )  # fmt: skip
        part = "payload"
        target.request(1)
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.server.{part}") from None
    return target


def check_model_server(spec: ModelSpec, where: str, base_dir: Path | None) -> None:
    """:func:`server_for_model`'s checks without building anything the bench extra is needed for: a reference
    server's own example body comes from its server module, so for a reference without a payload only the
    name and the template are checked (``recommend`` without ``--bench`` runs without the extra)."""
    server = spec.server
    if server.reference is None or server.payload is not None:
        server_for_model(spec, where, base_dir)
        return
    for part, check in (
        ("template", lambda: get_template(server.template)),
        ("reference", lambda: get_model(server.reference or "")),
    ):
        try:
            check()
        except AdvisorError as exc:
            raise at_field(exc, f"{where}.server.{part}") from None
