"""A hand-built OpenAI streaming server for tests: it emits chunks at scripted times (aiohttp.web, loopback).

``ScriptedServer(script)`` serves ``POST /v1/chat/completions`` and ``/v1/completions``: a role chunk at once
(empty content, as vLLM sends it), then one content chunk at each offset of ``script.chunk_ms`` after the
request arrived, a usage chunk when the request asks for ``stream_options.include_usage``, and ``[DONE]``.
``script.status`` other than 200 answers that status with an OpenAI-style error body.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Script:
    chunk_ms: list[float] = field(default_factory=lambda: [100.0, 130.0, 170.0, 220.0])
    prompt_tokens_per_word: float = 1.0
    prompt_overhead: int = 5
    report_usage: bool = True
    status: int = 200
    reject_fields: tuple[str, ...] = ()
    seen: list[dict[str, Any]] = field(default_factory=list)
    seen_at: list[float] = field(default_factory=list)  # time.monotonic() as each request came


class ScriptedServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        start = loop.time()
        arrived = time.monotonic()
        body = await request.json()
        s = self.script
        s.seen.append(body)
        s.seen_at.append(arrived)
        if s.status != 200 or any(f in body for f in s.reject_fields):
            status = s.status if s.status != 200 else 400
            return web.json_response(
                {"error": {"message": "scripted failure", "code": status}}, status=status
            )
        chat = "messages" in body
        text = body["messages"][0]["content"] if chat else body["prompt"]
        prompt_tokens = s.prompt_overhead + round(len(text.split()) * s.prompt_tokens_per_word)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        first = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        await resp.write(_event(first if chat else {"choices": [{"index": 0, "text": ""}]}))
        for i, at_ms in enumerate(s.chunk_ms):
            delay = start + at_ms / 1000.0 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            choice = {"index": 0, "delta": {"content": f"t{i}"}} if chat else {"index": 0, "text": f"t{i}"}
            await resp.write(_event({"choices": [choice]}))
        if s.report_usage and (body.get("stream_options") or {}).get("include_usage"):
            n = len(s.chunk_ms)
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": n,
                "total_tokens": prompt_tokens + n,
            }
            await resp.write(_event({"choices": [], "usage": usage}))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _event(doc: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(doc).encode() + b"\n\n"
