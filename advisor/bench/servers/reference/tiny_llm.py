"""Reference LLM server ``tiny-llm``: a small random decoder-only transformer behind the OpenAI streaming API.

The model, its KV cache and the continuous-batching engine are in
:mod:`advisor.bench.servers.reference.tiny_llm_model`; this module is the HTTP side, shaped like vLLM's
OpenAI-compatible server so that the LLM bench measures it as it would measure vLLM:

* ``POST /v1/chat/completions`` (``messages``) and ``POST /v1/completions`` (``prompt``), streamed as
  server-sent events with ``"stream": true``, else one JSON answer. Honoured: ``max_tokens`` (and
  ``max_completion_tokens``), ``min_tokens``, ``ignore_eos``, ``temperature`` (0 is greedy),
  ``stream_options.include_usage``. A stream is: a chunk with ``{"role": "assistant", "content": ""}``, then
  one chunk per produced token (never empty: a byte that is not UTF-8 on its own is sent as U+FFFD), the last
  one with ``finish_reason`` ``length`` (or an empty ``stop`` chunk when the model chose EOS), a usage chunk
  with empty ``choices`` if asked, and ``data: [DONE]``.
* Token counts: ``prompt_tokens`` = UTF-8 bytes of the prompt + 1 (BOS); for chat the prompt is
  :func:`chat_prompt` (``<|role|>\\ncontent\\n`` per message, then ``<|assistant|>\\n``).
  ``completion_tokens`` = content chunks sent (EOS is not counted). Without ``ignore_eos`` a random model
  emits EOS about once in 257 sampled tokens, so answers may end early; with it (or ``min_tokens``) they run
  to ``max_tokens``.
* Errors as OpenAI's ``{"error": {"message", "type", "param", "code"}}``: 400 for a malformed request or a
  prompt (plus ``max_tokens``) beyond ``--max-model-len``, 404 for another model name.
* ``GET /health`` answers 200 once the model is built and warmed up; ``GET /v1/models`` lists it.

One process (the engine batches across requests; several processes would be several engines), the engine
on its own thread with ``torch.set_num_threads`` = the shape's vCPUs; tokens reach the asyncio handlers once
per engine step through ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from advisor.bench.servers.reference._common import add_health, base_parser, mark_ready, serve, shape_vcpu

if TYPE_CHECKING:  # the model module imports torch: loaded by create_app only, so the registry stays light
    from advisor.bench.servers.reference.tiny_llm_model import Engine, GenerationRequest, TokenEvent

MODEL_NAME = "tiny-llm"
_ENGINE_FAILURE = {
    "error": {"message": "engine failure", "type": "InternalServerError", "param": None, "code": 500}
}
CONFIG_ENV = "ADVISOR_TINY_LLM_CONFIG"
EXAMPLE_PROMPT = "Explain in one paragraph why the sky is blue."


def chat_prompt(messages: list[tuple[str, str]]) -> str:
    """The prompt text of (role, content) pairs: ``<|role|>\\ncontent\\n`` each, then ``<|assistant|>\\n``."""
    return "".join(f"<|{role}|>\n{content}\n" for role, content in messages) + "<|assistant|>\n"


def example_body() -> dict[str, Any]:
    """A minimal streamed chat request (what ``advisor bench`` sends when not told otherwise)."""
    return {
        "model": MODEL_NAME,
        "messages": [{"role": "user", "content": EXAMPLE_PROMPT}],
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


# -- requests -----------------------------------------------------------------------------------------------


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    min_tokens: int = Field(default=0, ge=0)
    ignore_eos: bool = False
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    n: Literal[1] = 1


class ContentPart(BaseModel):
    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


class CompletionRequest(_Sampling):
    prompt: str | list[str]

    def text(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        if len(self.prompt) != 1:
            raise _ApiError(400, "only one prompt per request is supported", param="prompt")
        return self.prompt[0]


class _ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param

    def response(self) -> JSONResponse:
        kind = "NotFoundError" if self.status == 404 else "BadRequestError"
        body = {"error": {"message": str(self), "type": kind, "param": self.param, "code": self.status}}
        return JSONResponse(body, status_code=self.status)


async def _parse(request: Request, model: type[_Sampling]) -> Any:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise _ApiError(400, errors) from None


def _max_tokens(requested: int | None, prompt_tokens: int, max_model_len: int) -> int:
    """The completion budget; 400 when prompt + completion exceed the context (vLLM's rule and wording)."""
    if prompt_tokens >= max_model_len:
        raise _ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, your request has "
            f"{prompt_tokens} input tokens. Please reduce the length of the input.",
            param="messages",
        )
    if requested is None:
        return max_model_len - prompt_tokens
    if prompt_tokens + requested > max_model_len:
        raise _ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, you requested "
            f"{prompt_tokens + requested} tokens ({prompt_tokens} in the input, {requested} in the "
            "completion). Please reduce the length of the input or completion.",
            param="max_tokens",
        )
    return requested


# -- responses ----------------------------------------------------------------------------------------------


class _Shape:
    """The JSON of one API's chunks and answers (chat and completions differ only in these)."""

    def __init__(self, chat: bool) -> None:
        self.chat = chat
        self.base = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()),
            "model": MODEL_NAME,
        }

    def chunk(self, text: str | None, finish: str | None) -> str:
        """One SSE event; ``text`` None is the chat role chunk."""
        if self.chat:
            delta = {"role": "assistant", "content": ""} if text is None else {"content": text}
            choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
        return _sse({**self.base, "choices": [choice]})

    def usage_chunk(self, usage: dict[str, int]) -> str:
        return _sse({**self.base, "choices": [], "usage": usage})

    def answer(self, text: str, finish: str | None, usage: dict[str, int]) -> dict[str, Any]:
        if self.chat:
            choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
            kind = "chat.completion"
        else:
            choice, kind = {"index": 0, "text": text}, "text_completion"
        choice |= {"logprobs": None, "finish_reason": finish}
        return {**self.base, "object": kind, "choices": [choice], "usage": usage}


class _EventStream(StreamingResponse):
    """A streaming response that closes its body generator however it ends.

    Starlette cancels a stream whose client hung up, but leaves the generator suspended until it is
    garbage collected; closing it at once runs its ``finally``, which cancels the generation.
    """

    def __init__(self, body: AsyncGenerator[str, None]) -> None:
        super().__init__(body, media_type="text/event-stream")
        self._body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._body.aclose()


def _sse(doc: dict[str, Any]) -> str:
    return f"data: {json.dumps(doc, separators=(',', ':'))}\n\n"


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


# -- the app ------------------------------------------------------------------------------------------------


def create_app() -> FastAPI:
    """Build the model, warm it up, and serve it; settings come from :data:`CONFIG_ENV` (JSON, see main)."""
    from advisor.bench.servers.reference import tiny_llm_model as tm

    settings: dict[str, int] = json.loads(os.environ.get(CONFIG_ENV, "{}"))
    engine, model_config = tm.build_engine(settings, threads=shape_vcpu(), warm_up=_warm_up)
    streams: dict[object, asyncio.Queue[TokenEvent]] = {}
    max_len = model_config.max_model_len

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()

        def dispatch(events: list[TokenEvent]) -> None:
            for event in events:
                stream = streams.get(event.request)
                if stream is not None:
                    stream.put_nowait(event)

        def publish(events: list[TokenEvent]) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(dispatch, events)

        engine.publish = publish
        engine.start()
        mark_ready()
        try:
            yield
        finally:
            engine.stop()

    app = FastAPI(title="advisor reference tiny LLM", lifespan=lifespan)
    add_health(app)

    async def generate(
        request: Request, params: _Sampling, prompt: str, limit: int | None, chat: bool
    ) -> Any:
        if params.model is not None and params.model != MODEL_NAME:
            raise _ApiError(404, f"The model `{params.model}` does not exist.", param="model")
        tokens = tm.encode_prompt(prompt)
        max_tokens = _max_tokens(limit, len(tokens), max_len)
        if params.min_tokens > max_tokens:
            raise _ApiError(400, "min_tokens must be less than or equal to max_tokens", param="min_tokens")
        job = tm.GenerationRequest(
            prompt=tokens,
            max_tokens=max_tokens,
            min_tokens=params.min_tokens,
            ignore_eos=params.ignore_eos,
            temperature=params.temperature,
        )
        stream: asyncio.Queue[TokenEvent] = asyncio.Queue()
        streams[job] = stream
        engine.submit(job)
        shape = _Shape(chat)
        if params.stream:
            usage = params.stream_options is not None and params.stream_options.include_usage
            body = _stream(job, stream, shape, len(tokens), usage, lambda: streams.pop(job, None))
            return _EventStream(body)
        try:
            return await _collect(request, job, stream, shape, len(tokens))
        finally:
            streams.pop(job, None)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        try:
            params: ChatRequest = await _parse(request, ChatRequest)
            prompt = chat_prompt([(m.role, m.text()) for m in params.messages])
            limit = params.max_completion_tokens or params.max_tokens
            return await generate(request, params, prompt, limit, chat=True)
        except _ApiError as exc:
            return exc.response()

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        try:
            params: CompletionRequest = await _parse(request, CompletionRequest)
            return await generate(request, params, params.text(), params.max_tokens, chat=False)
        except _ApiError as exc:
            return exc.response()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        card = {
            "id": MODEL_NAME,
            "object": "model",
            "created": 0,
            "owned_by": "advisor",
            "max_model_len": max_len,
        }
        return {"object": "list", "data": [card | {"config": asdict(model_config)}]}

    return app


def _warm_up(engine: Engine) -> None:
    """Run every code path once (a chunked prefill, batched decode, both samplers) before reporting ready."""
    from advisor.bench.servers.reference import tiny_llm_model as tm

    long_prompt = tm.encode_prompt(EXAMPLE_PROMPT * 30)[: engine.model.config.max_model_len - 8]
    for i, prompt in enumerate([long_prompt, *(tm.encode_prompt(EXAMPLE_PROMPT),) * 3]):
        engine.submit(tm.GenerationRequest(prompt, max_tokens=4, ignore_eos=True, temperature=float(i % 2)))
    while engine.busy:
        engine.step()


async def _stream(
    job: GenerationRequest,
    stream: asyncio.Queue[TokenEvent],
    shape: _Shape,
    prompt_tokens: int,
    include_usage: bool,
    forget: Callable[[], object],
) -> AsyncGenerator[str, None]:
    """The SSE body: events are drained as they come, one chunk per token, several per write when behind."""
    from advisor.bench.servers.reference.tiny_llm_model import token_text

    produced = 0
    try:
        finish = None
        while finish is None:
            events = [await stream.get()]
            while not stream.empty():
                events.append(stream.get_nowait())
            out = [shape.chunk(None, None)] if produced == 0 and shape.chat else []
            for event in events:
                finish = event.finish
                if finish == "error":
                    out.append(_sse(_ENGINE_FAILURE))
                    break
                if event.token is not None:
                    produced += 1
                    out.append(shape.chunk(token_text(event.token), finish))
                elif finish is not None:
                    out.append(shape.chunk("", finish))
            if include_usage and finish is not None:
                out.append(shape.usage_chunk(_usage(prompt_tokens, produced)))
            if finish is not None:
                out.append("data: [DONE]\n\n")
            yield "".join(out)
    finally:
        job.cancelled = True  # the client went away (or we are done: then it is a no-op)
        forget()


async def _collect(
    request: Request,
    job: GenerationRequest,
    stream: asyncio.Queue[TokenEvent],
    shape: _Shape,
    prompt_tokens: int,
) -> Any:
    """The non-streaming answer; a client that hangs up cancels the generation (checked each second)."""
    from advisor.bench.servers.reference.tiny_llm_model import token_text

    text: list[str] = []
    while True:
        try:
            event = await asyncio.wait_for(stream.get(), timeout=1.0)
        except TimeoutError:
            if await request.is_disconnected():
                job.cancelled = True
                return JSONResponse({}, status_code=499)
            continue
        if event.token is not None:
            text.append(token_text(event.token))
        if event.finish == "error":
            return JSONResponse(_ENGINE_FAILURE, status_code=500)
        if event.finish is not None:
            return shape.answer("".join(text), event.finish, _usage(prompt_tokens, len(text)))


def _count(value: str) -> int:
    number = float(value)
    if number != int(number) or number < 1:
        raise ValueError(f"not a positive whole number: {value}")
    return int(number)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--layers", type=_count, default=4)
    parser.add_argument("--d-model", type=_count, default=256)
    parser.add_argument("--heads", type=_count, default=4)
    parser.add_argument("--max-model-len", type=_count, default=4096, help="context in tokens (bytes + BOS)")
    parser.add_argument("--max-num-seqs", type=_count, default=16, help="sequences decoded together")
    parser.add_argument("--prefill-chunk", type=_count, default=512, help="prompt tokens prefilled per step")
    parser.add_argument("--seed", type=int, default=0, help="weights and sampling")
    args = parser.parse_args(argv)
    keys = ("layers", "d_model", "heads", "max_model_len", "max_num_seqs", "prefill_chunk", "seed")
    os.environ[CONFIG_ENV] = json.dumps({k: getattr(args, k) for k in keys})
    # One process: continuous batching shares one engine (and its batch) between all requests.
    serve("advisor.bench.servers.reference.tiny_llm:create_app", args.host, args.port, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
