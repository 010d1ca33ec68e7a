"""The synthetic-llm reference server as a client sees it: vLLM's streaming format, token counts, and
latencies that are the engine model's (advisor.bench.llm.engine) up to a few milliseconds.

Two servers for the module (batching and slots), started with the registry's own command. The engine sleeps
instead of computing, so its timings hold on a busy shared machine; the margins cover HTTP and the event
loop's wake-up lateness.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from advisor.bench.llm.engine import EngineConfig, EngineMode
from advisor.bench.runner import free_port
from advisor.bench.servers.reference.synthetic_llm import MODEL_NAME, prompt_tokens
from advisor.bench.servers.registry import get_model

pytestmark = pytest.mark.load  # times an isolated request to the millisecond: run alone

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
BATCHING_OPTIONS = {"step_base_ms": "20", "step_per_seq_ms": "5", "prefill_ms_per_token": "0.5"}
BATCHING = EngineConfig(step_base_ms=20, step_per_seq_ms=5, prefill_ms_per_token=0.5)
SLOTS_OPTIONS = {"mode": "0", "slots": "2", "tpot_ms": "15", "prefill_ms_per_token": "1"}
SLOTS = EngineConfig(mode=EngineMode.SLOTS, slots=2, tpot_ms=15, prefill_ms_per_token=1)
TTFT_SLACK_MS = 8.0  # HTTP both ways and the loop's lateness; the model's TTFT is a lower bound
TPOT_SLACK_MS = 2.0


def _start(options: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    model = get_model("synthetic-llm")
    assert model.kind == "llm" and model.path == CHAT
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(model.command(port, options), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + model.ready_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"synthetic-llm exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + model.health_path, timeout=1) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"synthetic-llm not healthy:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    logs = tmp_path_factory.mktemp("synthetic-llm")
    procs: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    try:
        for name, options in (("batching", BATCHING_OPTIONS), ("slots", SLOTS_OPTIONS)):
            proc, urls[name] = _start(options, logs / f"{name}.log")
            procs.append(proc)
        yield urls
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Streamed:
    status: int = 0
    events: list[Any] = field(default_factory=list)  # each data line's JSON; "[DONE]" as a string
    content_s: list[float] = field(default_factory=list)  # arrival of each chunk with content
    sent_s: float = 0.0
    error: Any = None

    @property
    def ttft_ms(self) -> float:
        return (self.content_s[0] - self.sent_s) * 1000

    @property
    def tpot_ms(self) -> float:
        return (self.content_s[-1] - self.content_s[0]) * 1000 / (len(self.content_s) - 1)


def _body(path: str, text: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL_NAME, "max_tokens": max_tokens, "stream": True, **extra}
    if path == CHAT:
        body["messages"] = [{"role": "user", "content": text}]
    else:
        body["prompt"] = text
    return body


async def _stream(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Streamed:
    out = Streamed(sent_s=time.perf_counter())
    async with session.post(url, json=body) as resp:
        out.status = resp.status
        if resp.status != 200:
            out.error = await resp.json()
            return out
        assert resp.headers["content-type"].startswith("text/event-stream")
        async for raw in resp.content:
            now = time.perf_counter()
            line = raw.strip()
            if not line:
                continue
            assert line.startswith(b"data: "), line
            payload = line[6:]
            event = "[DONE]" if payload == b"[DONE]" else json.loads(payload)
            out.events.append(event)
            choices = event.get("choices") if isinstance(event, dict) else None
            if choices and (choices[0].get("delta", {}).get("content") or choices[0].get("text")):
                out.content_s.append(now)
    return out


def _run(url: str, *bodies: dict[str, Any]) -> list[Streamed]:
    async def go() -> list[Streamed]:
        async with aiohttp.ClientSession() as session:
            return list(await asyncio.gather(*(_stream(session, url, b) for b in bodies)))

    return asyncio.run(go())


def _sequential(url: str, body: dict[str, Any], times: int) -> list[Streamed]:
    async def go() -> list[Streamed]:
        async with aiohttp.ClientSession() as session:
            await _stream(session, url, {**body, "max_tokens": 1})  # open the connection first
            return [await _stream(session, url, body) for _ in range(times)]

    return asyncio.run(go())


def test_chat_stream_is_vllm_shaped_with_usage(servers: dict[str, str]) -> None:
    text = "one two three four five six seven eight nine ten"  # 10 words x 1.3 = 13 prompt tokens
    (s,) = _run(servers["batching"] + CHAT, _body(CHAT, text, 7, stream_options={"include_usage": True}))
    assert s.status == 200, s.error
    first, *chunks, usage, done = s.events
    assert done == "[DONE]"
    assert first["object"] == "chat.completion.chunk" and first["id"].startswith("chatcmpl-")
    assert first["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
    ]
    assert len(chunks) == 7 == len(s.content_s)  # one chunk per token, max_tokens of them
    assert all(len(c["choices"][0]["delta"]["content"].split()) == 1 for c in chunks)
    assert all(
        {c["id"], c["model"], c["created"]} == {first["id"], MODEL_NAME, first["created"]} for c in chunks
    )
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 6 + ["length"]
    assert usage["choices"] == [] and usage["id"] == first["id"]
    assert usage["usage"] == {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20}


def test_completions_stream_and_non_streaming_answers(servers: dict[str, str]) -> None:
    url = servers["batching"]
    (s,) = _run(url + COMPLETIONS, _body(COMPLETIONS, "a b c d e", 5, ignore_eos=True, min_tokens=5))
    assert s.status == 200, s.error
    *chunks, done = s.events  # no role chunk, no usage unless asked
    assert done == "[DONE]" and len(chunks) == 5 == len(s.content_s)
    assert all(c["object"] == "text_completion" and c["id"].startswith("cmpl-") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length" and "usage" not in chunks[-1]

    request = urllib.request.Request(
        url + CHAT,
        data=json.dumps(
            {
                "messages": [{"role": "user", "content": "x " * 20}],
                "max_completion_tokens": 4,
                "max_tokens": 9,
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        whole = json.loads(resp.read())
    assert whole["object"] == "chat.completion"
    assert len(whole["choices"][0]["message"]["content"].split()) == 4  # max_completion_tokens wins
    assert whole["usage"] == {"prompt_tokens": 26, "completion_tokens": 4, "total_tokens": 30}
    with urllib.request.urlopen(url + "/v1/models", timeout=10) as resp:
        listing = json.loads(resp.read())
    assert listing["object"] == "list" and [m["id"] for m in listing["data"]] == [MODEL_NAME]


def test_prompt_tokens_are_words_times_the_ratio(servers: dict[str, str]) -> None:
    assert [prompt_tokens(w, 1.3) for w in (0, 1, 5, 10, 100)] == [1, 1, 7, 13, 130]
    body = {
        "prompt": [5, 6, 7, 8],
        "max_tokens": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    ids, bad = _run(servers["batching"] + COMPLETIONS, body, {"prompt": "x", "max_tokens": 0})
    assert ids.events[-2]["usage"]["prompt_tokens"] == 4  # token ids count as themselves
    assert bad.status == 400 and bad.error["object"] == "error" and "max_tokens" in bad.error["message"]


@pytest.mark.parametrize(("mode", "config"), [("batching", BATCHING), ("slots", SLOTS)])
def test_an_isolated_request_streams_at_the_engine_s_pace(
    servers: dict[str, str], mode: str, config: EngineConfig
) -> None:
    words = 40  # 52 prompt tokens: a 26 ms (batching) or 52 ms (slots) prefill
    runs = _sequential(servers[mode] + CHAT, _body(CHAT, "word " * words, 12), times=3)
    ttft = statistics.median(r.ttft_ms for r in runs)
    tpot = statistics.median(r.tpot_ms for r in runs)
    expected_ttft = config.isolated_ttft_ms(prompt_tokens(words, 1.3))
    assert expected_ttft - 0.5 <= ttft <= expected_ttft + TTFT_SLACK_MS, (ttft, expected_ttft)
    assert tpot == pytest.approx(config.isolated_tpot_ms(), abs=TPOT_SLACK_MS)


def test_tpot_grows_with_the_batch_and_slots_queue(servers: dict[str, str]) -> None:
    # Batching: four streams together decode in steps of 20 + 4 x 5 = 40 ms (alone: 25 ms).
    together = _run(servers["batching"] + CHAT, *[_body(CHAT, "hi", 30) for _ in range(4)])
    assert all(s.status == 200 for s in together)
    assert statistics.median(s.tpot_ms for s in together) == pytest.approx(40, abs=3)
    # Slots: 2 slots, so the third and fourth requests wait for a whole request (1 + 29 x 15 = 436 ms).
    queued = _run(servers["slots"] + CHAT, *[_body(CHAT, "hi", 30) for _ in range(4)])
    ttfts = sorted(s.ttft_ms for s in queued)
    assert all(s.tpot_ms == pytest.approx(15, abs=TPOT_SLACK_MS) for s in queued)
    assert ttfts[1] < 30 and ttfts[2] == pytest.approx(1 + 436 + 1, abs=15)
