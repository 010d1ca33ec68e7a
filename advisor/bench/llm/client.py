"""The streaming load generator: open-loop arrivals to an OpenAI-compatible server, every chunk timestamped.

Why not Locust (which the request/response bench uses): Locust's users are gevent greenlets that each send
one request at a time and its stats keep one response time per request; an open loop at a precise rate needs
as many users as requests in flight (hundreds while answers stream for seconds) and a per-chunk timeline that
Locust's stats do not carry. So the LLM generator is one asyncio event loop with aiohttp (a well-kept async
HTTP client with streaming reads): a dispatcher sleeps until each arrival's intended time and starts its
request as a task, so a slow answer never delays the next send (no coordinated omission), and every latency
is counted from the intended time. The lag between intended and actual send is recorded per request; a
point whose p99 lag passes :data:`advisor.bench.llm.metrics.SEND_LAG_LIMIT_MS` measured the generator and is
invalid. The loop is uvloop's where it is installed (the bench extra, on Linux and macOS): it spends less
CPU per chunk than asyncio's own loop. A stream is read as its bytes arrive (one wake-up per read, the lines
split here) and each event parsed with orjson where installed: together about 15 % less CPU per chunk than
reading line by line with the standard ``json``. One process reads about 12,800 chunks/s on one core with
p99 send lag over 5 ms; :class:`advisor.bench.llm.fanout.Generators` spreads a point over several processes
(``benchmarks/bench_llm_loadgen.py`` gives the figures).

Arrivals (:func:`arrival_times`): Poisson; Gamma with a burstiness factor (shape = burstiness, mean gap
1/rate: vLLM's ``--burstiness``, ``vllm/benchmarks/serve.py``); or a trace's own timestamps, time-scaled.

Prompts (:class:`PromptBuilder`) need no tokenizer: they are words from a fixed list, and the words-per-token
ratio is calibrated on the server's own ``usage.prompt_tokens`` (two probes, a line fitted through them, so
the chat template's fixed overhead is counted). Output length is forced with ``max_tokens`` plus
``min_tokens`` and ``ignore_eos`` where the server accepts them (a server that refuses them gets
``max_tokens`` only).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from time import monotonic
from typing import Any, TypeVar

import aiohttp
import numpy as np

from advisor.bench.llm.records import Api, StreamRecord
from advisor.errors import InputError, MeasurementError

_WORDS_TEXT = """
time year people way day man thing woman life child world school state family student group country
problem hand part place case week company system program question work government number night point
home water room mother area money story fact month lot right study book eye job word business issue
side kind head house service friend father power hour game line end member law car city community
name
"""
WORDS: tuple[str, ...] = tuple(_WORDS_TEXT.split())
ROUTES = {Api.CHAT: "/v1/chat/completions", Api.COMPLETIONS: "/v1/completions"}
T = TypeVar("T")

try:  # orjson (the bench extra) parses a chunk in a quarter of json's time; the answers are the same
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the bench extra installs it
    _loads = json.loads  # type: ignore[assignment]


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop's event loop where uvloop is installed, else on asyncio's own."""
    try:
        import uvloop
    except ImportError:  # Windows, or the bench extra without it: the standard loop, slower at high rates
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def arrival_times(
    rate_rps: float,
    duration_s: float,
    *,
    seed: int,
    burstiness: float = 1.0,
    trace_s: np.ndarray | None = None,
    time_scale: float = 1.0,
) -> np.ndarray:
    """Intended send times (s from the start of the point) over ``[0, duration_s)``.

    Exactly ``round(rate_rps × duration_s)`` arrivals: a Poisson process conditioned on its count (the times
    are sorted uniform draws), so a point offers the rate it names; an unconditioned window of 400 requests
    would offer ±5 % (one standard deviation) around it, and a point near capacity would be judged at a load
    it never saw. With ``burstiness`` other than 1, Gamma gaps (shape = burstiness, vLLM's ``--burstiness``)
    scaled to span the window. With ``trace_s``, the trace's own arrival offsets divided by ``time_scale``
    (2.0 sends twice as fast).
    """
    if trace_s is not None:
        times = np.asarray(trace_s, dtype=float) / time_scale
        return times[times < duration_s]
    rng = np.random.default_rng(seed)
    n = max(1, round(rate_rps * duration_s))
    if burstiness == 1.0:
        uniform: np.ndarray = np.sort(rng.uniform(0.0, duration_s, size=n))
        return uniform
    gaps = rng.gamma(shape=burstiness, scale=1.0, size=n + 1)
    spread: np.ndarray = np.cumsum(gaps)[:-1] / gaps.sum() * duration_s
    return spread


@dataclass
class PromptBuilder:
    """Prompts of a given token length from words, calibrated so that tokens ≈ overhead + per_word × words."""

    overhead_tokens: float = 0.0
    tokens_per_word: float = 1.3
    calibrated: bool = False

    def words_for(self, tokens: int) -> int:
        return max(1, round((tokens - self.overhead_tokens) / self.tokens_per_word))

    def prompt(self, tokens: int, index: int) -> str:
        """A prompt of about ``tokens`` tokens, unique per ``index`` (no prefix-cache hit across requests)."""
        n = self.words_for(tokens)
        head = f"{index} "
        body = [WORDS[(index * 7 + i * 13) % len(WORDS)] for i in range(n - 1)]
        return head + " ".join(body)


@dataclass
class Target:
    """Where and how to send: the route, the model name, headers, and which forcing fields are accepted."""

    url: str
    api: Api
    model_name: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    force_fields: bool = True
    request_timeout_s: float = 300.0

    def body(self, prompt: str, max_tokens: int) -> bytes:
        doc: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
        if self.model_name:
            doc["model"] = self.model_name
        if self.api is Api.CHAT:
            doc["messages"] = [{"role": "user", "content": prompt}]
        else:
            doc["prompt"] = prompt
        doc["max_tokens"] = max_tokens
        doc["temperature"] = 0.0
        if self.force_fields:
            doc["ignore_eos"] = True
            doc["min_tokens"] = max_tokens
        return json.dumps(doc).encode()


def _content(event: dict[str, Any]) -> str:
    choices = event.get("choices") or []
    if not choices:
        return ""
    first = choices[0]
    delta = first.get("delta")
    if isinstance(delta, dict):
        return str(delta.get("content") or delta.get("reasoning_content") or "")
    return str(first.get("text") or "")


async def stream_one(
    session: aiohttp.ClientSession,
    target: Target,
    body: bytes,
    *,
    intended_s: float,
    requested: int,
    bucket: str | None = None,
    progress: Progress | None = None,
) -> StreamRecord:
    """Send one streaming request and timestamp every content chunk.

    Times are ``time.monotonic()`` seconds, not the loop's clock: uvloop's counts whole milliseconds.
    """
    sent = monotonic()
    progress = progress if progress is not None else Progress()
    progress.sent_s = sent
    chunks = progress.chunk_s  # filled as the chunks come: a stop check sees a stream in flight
    usage: dict[str, Any] | None = None
    error: str | None = None
    end: float | None = None
    try:
        async with session.post(target.url, data=body, headers=target.headers) as resp:
            if resp.status != 200:
                text = (await resp.text())[:200]
                error = f"HTTP {resp.status}: {text}"
            else:
                pending = b""
                done = False
                async for data in resp.content.iter_any():  # one wake-up per read, not per line
                    now = monotonic()
                    lines = (pending + data).split(b"\n")
                    pending = lines.pop()  # an incomplete line waits for the next read
                    for raw in lines:
                        line = raw.strip()
                        if not line.startswith(b"data:"):
                            continue
                        payload = line[5:].strip()
                        if payload == b"[DONE]":
                            done = True
                            break
                        event = _loads(payload)
                        if event.get("usage"):
                            usage = event["usage"]
                        if _content(event):
                            chunks.append(now)
                    if done:
                        break
                end = monotonic()
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # JSON errors are ValueErrors
        error = f"{type(exc).__name__}: {exc}"[:200]
    return StreamRecord(
        intended_s=intended_s,
        sent_s=sent,
        chunk_s=chunks,
        end_s=end if error is None else None,
        input_tokens=(usage or {}).get("prompt_tokens"),
        output_tokens=(usage or {}).get("completion_tokens", len(chunks) if error is None else None),
        requested_output_tokens=requested,
        tokens_reported=usage is not None,
        error=error,
        bucket=bucket,
    )


def open_session(target: Target) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=target.request_timeout_s, sock_connect=10)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


@dataclass
class Progress:
    """A request in flight as far as it has come: when it was sent, the chunks so far."""

    sent_s: float | None = None
    chunk_s: list[float] = field(default_factory=list)

    def unfinished(self, intended_s: float, bucket: str | None, *, first_only: bool = False) -> StreamRecord:
        """The request as a record without an end (unfinished, a miss; its TTFT known once a chunk came)."""
        return StreamRecord(
            intended_s=intended_s,
            sent_s=intended_s if self.sent_s is None else self.sent_s,
            chunk_s=self.chunk_s[:1] if first_only else list(self.chunk_s),
            bucket=bucket,
        )


@dataclass(frozen=True)
class Arrival:
    offset_s: float
    input_tokens: int
    output_tokens: int
    body: bytes
    in_window: bool
    bucket: str | None = None


@dataclass
class PointRun:
    """What one point left: the records of its window's arrivals, and why it stopped."""

    records: list[StreamRecord]
    window_start_s: float
    cutoff_s: float
    stopped_early: str = ""


async def run_point(
    session: aiohttp.ClientSession,
    target: Target,
    arrivals: list[Arrival],
    *,
    drain_s: float,
    should_stop: Callable[[list[StreamRecord], int], str] | None = None,
    check_every_s: float = 0.5,
    start_at: float | None = None,
) -> PointRun:
    """Send ``arrivals`` open loop and wait up to ``drain_s`` after the last one for the window's answers.

    ``should_stop(window_records_so_far, window_arrivals_sent)`` is asked every ``check_every_s``; a
    non-empty reason ends the point at once (requests still in flight are cancelled and count as unfinished).
    """
    t0 = monotonic() + 0.05 if start_at is None else start_at
    window_tasks: list[asyncio.Task[StreamRecord]] = []
    window_live: list[tuple[float, Progress, str | None]] = []
    other_tasks: list[asyncio.Task[StreamRecord]] = []
    window_start = next((t0 + a.offset_s for a in arrivals if a.in_window), t0)

    async def dispatch() -> None:
        for a in arrivals:
            intended = t0 + a.offset_s
            while (delay := intended - monotonic()) > 0:  # uvloop may wake up to 1 ms early
                await asyncio.sleep(delay)
            progress = Progress()
            task = asyncio.ensure_future(
                stream_one(
                    session,
                    target,
                    a.body,
                    intended_s=intended,
                    requested=a.output_tokens,
                    bucket=a.bucket,
                    progress=progress,
                )
            )
            if a.in_window:
                window_tasks.append(task)
                window_live.append((intended, progress, a.bucket))
            else:
                other_tasks.append(task)

    dispatcher = asyncio.ensure_future(dispatch())
    reason = ""
    deadline: float | None = None
    while True:
        await asyncio.sleep(check_every_s)
        if dispatcher.done() and deadline is None:
            deadline = monotonic() + drain_s
        if should_stop is not None:
            seen = [  # in flight: its first chunk if it came (else its age is a TTFT so far)
                t.result() if t.done() else live.unfinished(at, bucket, first_only=True)
                for t, (at, live, bucket) in zip(window_tasks, window_live, strict=True)
            ]
            reason = should_stop(seen, len(window_tasks))
            if reason:
                break
        if dispatcher.done() and all(t.done() for t in window_tasks):
            break
        if deadline is not None and monotonic() >= deadline:
            break
    cutoff = monotonic()
    dispatcher.cancel()
    records: list[StreamRecord] = []
    for task, (at, live, bucket) in zip(window_tasks, window_live, strict=True):
        if task.done() and not task.cancelled() and task.exception() is None:
            records.append(task.result())
        else:
            task.cancel()
            records.append(live.unfinished(at, bucket))  # a miss
    for task in other_tasks:
        task.cancel()
    await asyncio.gather(*window_tasks, *other_tasks, dispatcher, return_exceptions=True)
    return PointRun(records, window_start, cutoff, reason)


async def probe(target: Target, prompt: str, max_tokens: int) -> StreamRecord:
    async with open_session(target) as session:
        now = monotonic()
        return await stream_one(
            session, target, target.body(prompt, max_tokens), intended_s=now, requested=max_tokens
        )


async def calibrate(target: Target) -> tuple[PromptBuilder, list[str]]:
    """Fit the prompt builder on the server's token counts; find whether it takes min_tokens/ignore_eos.

    Returns the builder and warnings (no usage reported: the default ratio is used and counts are chunks).
    """
    warnings: list[str] = []
    builder = PromptBuilder()
    first = await _probe_at(target, builder, 16)
    if first.error and first.error.startswith("HTTP 400") and target.force_fields:
        target.force_fields = False
        first = await _probe_at(target, builder, 16)
        warnings.append(
            "the server refused min_tokens/ignore_eos: output length is forced by max_tokens only"
        )
    if first.error:
        raise MeasurementError(
            f"the server did not stream an answer ({first.error})",
            where=target.url,
            fix="check --endpoint/--api/--model-name; the route must accept stream=true",
        )
    second = await _probe_at(target, builder, 256)
    if first.input_tokens is None or second.input_tokens is None or second.error:
        warnings.append(
            "the server reports no usage.prompt_tokens:"
            " prompts use 1.3 tokens/word and token counts are chunks"
        )
        return builder, warnings
    w1, w2 = builder.words_for(16), builder.words_for(256)
    per_word = (second.input_tokens - first.input_tokens) / (w2 - w1)
    if per_word <= 0:
        raise InputError("the server's prompt token counts do not grow with the prompt", where=target.url)
    overhead = first.input_tokens - per_word * w1
    return PromptBuilder(overhead_tokens=overhead, tokens_per_word=per_word, calibrated=True), warnings


async def _probe_at(target: Target, builder: PromptBuilder, tokens: int) -> StreamRecord:
    return await probe(target, builder.prompt(tokens, index=tokens), 2)
