"""An OpenAI-compatible LLM server of known capacity: :mod:`advisor.bench.llm.engine`'s model, in real time.

It generates no text worth reading: it runs the deterministic engine model (slots or continuous batching) on
the event loop's clock and streams one chunk per token exactly when the model says the token comes out, so
its capacity under any SLO is what :func:`advisor.bench.llm.simulate.true_capacity` computes. Sleeping costs
no CPU, so the figures hold on a busy shared machine, up to the event loop's lateness (about a millisecond).

API (what vLLM's OpenAI server does, for the parts a load generator uses):

* ``POST /v1/chat/completions`` and ``POST /v1/completions``, streaming (``"stream": true``, server-sent
  events) or not. A chat stream opens with a chunk whose delta is ``{"role": "assistant", "content": ""}``
  (sent with the first token, as vLLM does); every content chunk carries one token of text; the last token's
  chunk has ``finish_reason: "length"``; ``stream_options: {"include_usage": true}`` adds a chunk with empty
  ``choices`` and ``usage`` {prompt_tokens, total_tokens, completion_tokens} (``continuous_usage_stats`` is
  ignored); ``data: [DONE]`` ends it. A non-streaming answer is one JSON body with ``usage``.
* Output length: exactly ``max_completion_tokens``, else ``max_tokens``, else 16 (completions, vLLM's
  default) or :data:`DEFAULT_CHAT_MAX_TOKENS` (chat). There is no end-of-sequence token, so ``ignore_eos``
  and ``min_tokens`` are accepted and change nothing.
* Input length (prompt tokens): the whitespace-separated words of the prompt (completions) or of every
  message's text (chat) × ``tokens_per_word``, rounded half up, at least 1; a prompt given as token ids counts
  its ids. A client can thus calibrate its words-per-token ratio from ``usage.prompt_tokens``.
* ``GET /v1/models`` (OpenAI list format, one model: ``synthetic-llm``) and ``GET /health``.

Options (numbers, like every reference server's): ``--mode`` 0 = slots, 1 = batching (default);
``--slots``, ``--max-num-seqs``, ``--step-base-ms``, ``--step-per-seq-ms``, ``--prefill-ms-per-token``,
``--tpot-ms`` (the :class:`~advisor.bench.llm.engine.EngineConfig` fields, same defaults) and
``--tokens-per-word`` (1.3). One process, one event loop: the engine is one queue.

Speed: a chunk is bytes from a per-request template with the token's text put in (no JSON encoding per
token); one driver task advances the engine and wakes the streams whose tokens came out; a stream that fell
behind sends every token it owes in one write. Measured on a 2-core machine shared with an aiohttp client:
200 req/s x 64 tokens (12,800 chunks/s) streamed with TPOT on schedule (p50 9.95 ms, p99 11 ms for a 10 ms
model) at about 85 % of one core; the writes (uvicorn's h11 and the socket) are most of that.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from advisor.bench.llm.engine import EngineConfig, EngineMode, LLMEngine
from advisor.bench.servers.reference._common import add_health, base_parser, mark_ready, serve

CONFIG_ENV = "ADVISOR_SYNTHETIC_LLM_CONFIG"  # the EngineConfig as JSON
TOKENS_PER_WORD_ENV = "ADVISOR_SYNTHETIC_LLM_TOKENS_PER_WORD"
MODEL_NAME = "synthetic-llm"
DEFAULT_TOKENS_PER_WORD = 1.3
DEFAULT_CHAT_MAX_TOKENS = 256
DEFAULT_COMPLETION_MAX_TOKENS = 16  # vLLM's (and OpenAI's legacy) default for /v1/completions
MAX_TOKENS_LIMIT = 1_000_000
MODES = {0: EngineMode.SLOTS, 1: EngineMode.BATCHING}
VOCABULARY = tuple(
    word.encode()
    for word in (" the", " of", " and", " to", " a", " in", " is", " that", " for", " it", " on", " with")
)
"""The text of output token ``i`` is ``VOCABULARY[i % 12]``: one word each, JSON-safe, no escaping needed."""
DONE = b"data: [DONE]\n\n"


def example_body() -> dict[str, Any]:
    """A minimal streamed chat request (what ``advisor bench`` sends when not told otherwise)."""
    return {
        "model": MODEL_NAME,
        "messages": [{"role": "user", "content": "Say something about the weather today."}],
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def prompt_tokens(words: int, tokens_per_word: float) -> int:
    """Prompt tokens of a text of ``words`` whitespace-separated words: ``words × ratio``, half up, ≥ 1.

    E.g. 10 words at 1.3 → 13 tokens; 5 words → 7 (6.5 rounds up).
    """
    return max(1, math.floor(words * tokens_per_word + 0.5))


class BadRequest(Exception):
    """A request the server answers with 400 (OpenAI/vLLM error body)."""


def _words(text: object) -> int:
    if isinstance(text, str):
        return len(text.split())
    if isinstance(text, list):  # chat content parts: [{"type": "text", "text": ...}, ...]
        return sum(_words(part.get("text", "")) for part in text if isinstance(part, dict))
    return 0


def input_tokens(body: dict[str, Any], chat: bool, tokens_per_word: float) -> int:
    """The prompt's token count (see the module docstring); BadRequest for a missing or malformed prompt."""
    if chat:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("'messages' must be a non-empty list")
        words = sum(_words(m.get("content")) for m in messages if isinstance(m, dict))
        return prompt_tokens(words, tokens_per_word)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]  # a batch of one
    if isinstance(prompt, str):
        return prompt_tokens(len(prompt.split()), tokens_per_word)
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return len(prompt)  # token ids
    raise BadRequest("'prompt' must be a string or a list of token ids (one prompt per request)")


def output_tokens(body: dict[str, Any], chat: bool) -> int:
    """Tokens to generate: ``max_completion_tokens`` (chat), else ``max_tokens``, else the route's default."""
    value: object = body.get("max_completion_tokens") if chat else None
    if value is None:
        value = body.get("max_tokens")
    if value is None:
        return DEFAULT_CHAT_MAX_TOKENS if chat else DEFAULT_COMPLETION_MAX_TOKENS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS_LIMIT:
        raise BadRequest(f"max_tokens must be an integer within 1..{MAX_TOKENS_LIMIT}, not {value!r}")
    return value


def _error(message: str, status: int = 400) -> JSONResponse:
    body = {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": status}
    return JSONResponse(body, status_code=status)


class _Stream:
    """One request's progress: how many of its tokens the engine has produced; who waits for more."""

    __slots__ = ("output_tokens", "ready", "waiter")

    def __init__(self, output_tokens: int) -> None:
        self.output_tokens = output_tokens
        self.ready = 0
        self.waiter: asyncio.Future[None] | None = None

    async def wait(self, sent: int) -> int:
        """Wait until more than ``sent`` tokens are out; returns how many are."""
        while self.ready <= sent:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.ready


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Driver:
    """Runs the engine on the loop's clock (ms since start-up); wakes each stream as its tokens come out."""

    def __init__(self, config: EngineConfig) -> None:
        self.engine = LLMEngine(config)
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.streams: dict[int, _Stream] = {}
        self._wake: asyncio.Future[None] | None = None

    def now_ms(self) -> float:
        return (self.loop.time() - self.t0) * 1000.0

    def submit(self, inputs: int, outputs: int) -> _Stream:
        stream = _Stream(outputs)
        self.streams[self.engine.submit(self.now_ms(), inputs, outputs)] = stream
        if self._wake is not None:
            _wake(self._wake)  # it may start a step now (idle engine) or a token may come sooner (slots)
        return stream

    async def run(self) -> None:
        loop, engine, streams = self.loop, self.engine, self.streams
        while True:
            for rid, position, _ in engine.advance(self.now_ms()):
                stream = streams[rid]
                stream.ready = position + 1
                if stream.waiter is not None:
                    _wake(stream.waiter)
                if position + 1 == stream.output_tokens:
                    del streams[rid]
            due = engine.next_event_ms()
            self._wake = wake = loop.create_future()
            timer = loop.call_at(self.t0 + due / 1000.0, _wake, wake) if due is not None else None
            try:
                await wake
            finally:
                if timer is not None:
                    timer.cancel()


class _Chunks:
    """Pre-encoded server-sent events of one response (vLLM's field order)."""

    def __init__(self, chat: bool, model: bytes, prompt: int, completion: int) -> None:
        rid = uuid.uuid4().hex
        created = int(time.time())
        obj = b"chat.completion.chunk" if chat else b"text_completion"
        prefix = b'{"id":"%s-%s","object":"%s","created":%d,"model":%s,"choices":' % (
            b"chatcmpl" if chat else b"cmpl",
            rid.encode(),
            obj,
            created,
            model,
        )
        self.chat = chat
        if chat:
            head = b"data: " + prefix + b'[{"index":0,"delta":{'
            self.role = head + b'"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
            self.open = head + b'"content":"'
            self.close = b'"},"logprobs":null,"finish_reason":null}]}\n\n'
            self.close_last = b'"},"logprobs":null,"finish_reason":"length","stop_reason":null}]}\n\n'
        else:
            self.role = b""
            self.open = b"data: " + prefix + b'[{"index":0,"text":"'
            self.close = b'","logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n'
            self.close_last = b'","logprobs":null,"finish_reason":"length","stop_reason":null}]}\n\n'
        usage = b'{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d}' % (
            prompt,
            prompt + completion,
            completion,
        )
        self.usage = b"data: " + prefix + b"[]," + b'"usage":' + usage + b"}\n\n"
        self.prefix, self.usage_json = prefix, usage
        self.completion = completion

    def tokens(self, start: int, stop: int) -> list[bytes]:
        """The chunks of tokens [start, stop)."""
        out = [self.role] if start == 0 and self.chat else []
        last = self.completion - 1
        for i in range(start, stop):
            out.append(
                self.open + VOCABULARY[i % len(VOCABULARY)] + (self.close_last if i == last else self.close)
            )
        return out

    def whole(self) -> bytes:
        """The non-streaming response body."""
        text = b"".join(VOCABULARY[i % len(VOCABULARY)] for i in range(self.completion))
        body = self.prefix[: -len(b'"choices":')]
        if self.chat:
            body = body.replace(b'"chat.completion.chunk"', b'"chat.completion"', 1)
            choice = b'{"index":0,"message":{"role":"assistant","content":"%s"},' % text
        else:
            choice = b'{"index":0,"text":"%s",' % text
        choice += b'"logprobs":null,"finish_reason":"length","stop_reason":null}'
        return body + b'"choices":[' + choice + b'],"usage":' + self.usage_json + b"}"


def create_app() -> FastAPI:
    config = EngineConfig.model_validate_json(os.environ.get(CONFIG_ENV, "{}"))
    tokens_per_word = float(os.environ.get(TOKENS_PER_WORD_ENV, str(DEFAULT_TOKENS_PER_WORD)))
    state: dict[str, _Driver] = {}
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        driver = _Driver(config)
        state["driver"] = driver
        task = asyncio.create_task(driver.run())
        task.add_done_callback(_driver_died)
        mark_ready()
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(title="advisor synthetic LLM server", lifespan=lifespan)
    add_health(app)

    @app.get("/v1/models")
    def models() -> dict[str, object]:
        card = {"id": MODEL_NAME, "object": "model", "created": created, "owned_by": "advisor"}
        return {"object": "list", "data": [{**card, "root": MODEL_NAME, "parent": None}]}

    async def generate(request: Request, chat: bool) -> Response:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            if body.get("n") not in (None, 1):
                raise BadRequest("only n=1 is supported")
            inputs = input_tokens(body, chat, tokens_per_word)
            outputs = output_tokens(body, chat)
        except (BadRequest, ValueError) as exc:
            return _error(str(exc))
        model = body.get("model")
        chunks = _Chunks(
            chat, json.dumps(model if isinstance(model, str) else MODEL_NAME).encode(), inputs, outputs
        )
        stream = state["driver"].submit(inputs, outputs)
        if not body.get("stream"):
            await _finish(stream)
            return Response(chunks.whole(), media_type="application/json")
        options = body.get("stream_options")
        usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return StreamingResponse(_events(stream, chunks, usage), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await generate(request, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await generate(request, chat=False)

    return app


def _driver_died(task: asyncio.Task[None]) -> None:
    """A driver that raised would leave every stream waiting forever: exit, and the harness sees it die."""
    if not task.cancelled() and task.exception() is not None:
        print(f"synthetic-llm: the engine driver failed: {task.exception()!r}", file=sys.stderr, flush=True)
        os._exit(1)


async def _finish(stream: _Stream) -> None:
    sent = 0
    while sent < stream.output_tokens:
        sent = await stream.wait(sent)


async def _events(stream: _Stream, chunks: _Chunks, usage: bool) -> AsyncIterator[bytes]:
    sent, total = 0, stream.output_tokens
    while sent < total:
        ready = await stream.wait(sent)
        parts = chunks.tokens(sent, ready)
        if ready == total:
            if usage:
                parts.append(chunks.usage)
            parts.append(DONE)
        sent = ready
        yield b"".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    defaults = EngineConfig()
    parser.add_argument("--mode", type=int, choices=sorted(MODES), default=1, help="0 slots, 1 batching")
    parser.add_argument("--slots", type=int, default=defaults.slots)
    parser.add_argument("--max-num-seqs", type=int, default=defaults.max_num_seqs)
    parser.add_argument("--step-base-ms", type=float, default=defaults.step_base_ms)
    parser.add_argument("--step-per-seq-ms", type=float, default=defaults.step_per_seq_ms)
    parser.add_argument("--prefill-ms-per-token", type=float, default=defaults.prefill_ms_per_token)
    parser.add_argument("--tpot-ms", type=float, default=defaults.tpot_ms)
    parser.add_argument("--tokens-per-word", type=float, default=DEFAULT_TOKENS_PER_WORD)
    args = parser.parse_args(argv)
    try:
        config = EngineConfig(
            mode=MODES[args.mode],
            slots=args.slots,
            max_num_seqs=args.max_num_seqs,
            step_base_ms=args.step_base_ms,
            step_per_seq_ms=args.step_per_seq_ms,
            prefill_ms_per_token=args.prefill_ms_per_token,
            tpot_ms=args.tpot_ms,
        )
    except ValidationError as exc:
        parser.error(str(exc))
    if not (args.tokens_per_word > 0 and math.isfinite(args.tokens_per_word)):
        parser.error("--tokens-per-word must be a positive number")
    os.environ[CONFIG_ENV] = config.model_dump_json()
    os.environ[TOKENS_PER_WORD_ENV] = str(args.tokens_per_word)
    # One process: the engine is one queue (several processes would be several engines).
    serve("advisor.bench.servers.reference.synthetic_llm:create_app", args.host, args.port, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
