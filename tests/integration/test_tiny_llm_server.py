"""The tiny-llm reference server as a client sees it: OpenAI's streaming format, token counts, errors, and the
two costs an LLM bench measures (TTFT grows with the prompt, TPOT with the streams decoding together).

One server for the module, started with the registry's own command and default options. Latency checks
compare medians with wide margins (the measured ratios are 5-10x; the checks ask for 1.5-2x), because the
machine may be shared.
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

from advisor.bench.runner import free_port
from advisor.bench.servers.reference.tiny_llm import MODEL_NAME, chat_prompt
from advisor.bench.servers.registry import get_model
from tests.helpers import run_cli

pytestmark = pytest.mark.load  # measures under load: run alone (see pyproject's markers)

pytest.importorskip("torch")

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
MAX_MODEL_LEN = 4096


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = get_model("tiny-llm")
    assert model.kind == "llm" and model.path == CHAT
    port = free_port()
    log = tmp_path_factory.mktemp("tiny-llm") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(model.command(port), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url + model.health_path, proc, log, model.ready_timeout_s)
        yield url
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tiny-llm exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"tiny-llm not healthy in {timeout_s} s:\n{log.read_text()[-3000:]}")


@dataclass
class Streamed:
    status: int
    events: list[Any] = field(default_factory=list)  # parsed JSON of each data line; "[DONE]" as a string
    content_s: list[float] = field(default_factory=list)  # arrival of each chunk with content
    sent_s: float = 0.0
    end_s: float = 0.0
    error: Any = None

    @property
    def ttft_s(self) -> float:
        return self.content_s[0] - self.sent_s

    @property
    def tpot_s(self) -> float:
        return (self.end_s - self.content_s[0]) / (len(self.content_s) - 1)

    def contents(self) -> list[str]:
        out = []
        for event in self.events:
            if isinstance(event, dict) and event.get("choices"):
                choice = event["choices"][0]
                out.append(choice["delta"].get("content", "") if "delta" in choice else choice["text"])
        return out


def _body(path: str, text: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL_NAME, "max_tokens": max_tokens, "stream": True, **extra}
    if path == CHAT:
        body["messages"] = [{"role": "user", "content": text}]
    else:
        body["prompt"] = text
    return body


async def _stream(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Streamed:
    out = Streamed(status=0, sent_s=time.perf_counter())
    async with session.post(url, json=body) as resp:
        out.status = resp.status
        if resp.status != 200:
            out.error = await resp.json()
            return out
        assert resp.headers["content-type"].startswith("text/event-stream")
        async for raw in resp.content:
            line = raw.strip()
            if not line:
                continue
            assert line.startswith(b"data: "), line
            payload = line[6:]
            event = "[DONE]" if payload == b"[DONE]" else json.loads(payload)
            out.events.append(event)
            choices = event.get("choices") if isinstance(event, dict) else None
            if choices and (choices[0].get("delta", {}).get("content") or choices[0].get("text")):
                out.content_s.append(time.perf_counter())
    out.end_s = time.perf_counter()
    return out


def _run(url: str, bodies: list[tuple[str, dict[str, Any]]]) -> list[Streamed]:
    """Send all ``bodies`` at once (each ``(path, body)``) and stream their answers."""

    async def go() -> list[Streamed]:
        async with aiohttp.ClientSession() as session:
            return list(await asyncio.gather(*(_stream(session, url + p, b) for p, b in bodies)))

    return asyncio.run(go())


def _post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async def go() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
            return resp.status, await resp.json()

    return asyncio.run(go())


# -- format and counts ---------------------------------------------------------------------------------------


def test_health_and_models(base_url: str) -> None:
    with urllib.request.urlopen(base_url + "/health") as resp:
        assert resp.status == 200
    with urllib.request.urlopen(base_url + "/v1/models") as resp:
        doc = json.load(resp)
    assert [m["id"] for m in doc["data"]] == [MODEL_NAME] and doc["data"][0]["max_model_len"] == MAX_MODEL_LEN


def test_streamed_chat_is_vllm_shaped_with_one_chunk_per_token(base_url: str) -> None:
    text = "Why is the sky blue? ☀"  # the sun is 3 UTF-8 bytes: 3 tokens
    body = _body(CHAT, text, 12, ignore_eos=True, stream_options={"include_usage": True})
    (got,) = _run(base_url, [(CHAT, body)])
    assert got.status == 200, got.error
    first, *chunks, usage, done = got.events
    assert first["object"] == "chat.completion.chunk" and first["model"] == MODEL_NAME
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(chunks) == 12 and all(len(c["choices"][0]["delta"]["content"]) == 1 for c in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 11 + ["length"]
    assert len({e["id"] for e in [first, *chunks, usage]}) == 1
    prompt_tokens = len(chat_prompt([("user", text)]).encode()) + 1
    assert usage["choices"] == []
    assert usage["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": 12,
        "total_tokens": prompt_tokens + 12,
    }
    assert done == "[DONE]" and len(got.content_s) == 12


def test_streamed_completions_count_bytes_plus_bos(base_url: str) -> None:
    text = "naïve café"  # 10 characters, 12 bytes
    body = _body(COMPLETIONS, text, 7, ignore_eos=True, stream_options={"include_usage": True})
    (got,) = _run(base_url, [(COMPLETIONS, body)])
    *chunks, usage, done = got.events
    assert done == "[DONE]" and usage["choices"] == [] and usage["object"] == "text_completion"
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 6 + ["length"]
    assert all(c["choices"][0]["text"] for c in chunks)
    assert usage["usage"] == {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20}


def test_without_include_usage_there_is_no_usage_chunk(base_url: str) -> None:
    (got,) = _run(base_url, [(COMPLETIONS, _body(COMPLETIONS, "hi", 3, ignore_eos=True))])
    assert got.events[-1] == "[DONE]" and all(e == "[DONE]" or "usage" not in e for e in got.events)
    assert len(got.contents()) == 3


def test_min_tokens_and_max_completion_tokens(base_url: str) -> None:
    chat = _body(CHAT, "hi", 1, min_tokens=20, stream_options={"include_usage": True})
    chat["max_completion_tokens"] = 20  # wins over max_tokens, as in OpenAI's API
    (got,) = _run(base_url, [(CHAT, chat)])
    assert got.events[-2]["usage"]["completion_tokens"] == 20 and len(got.content_s) == 20


def test_without_ignore_eos_a_stream_may_stop_early_but_stays_well_formed(base_url: str) -> None:
    bodies = [
        (COMPLETIONS, _body(COMPLETIONS, f"{i}", 150, stream_options={"include_usage": True}))
        for i in range(4)
    ]
    for got in _run(base_url, bodies):
        *chunks, usage, done = got.events
        produced = usage["usage"]["completion_tokens"]
        assert done == "[DONE]" and 0 <= produced <= 150 and len(got.content_s) == produced
        assert chunks[-1]["choices"][0]["finish_reason"] == ("length" if produced == 150 else "stop")


def test_non_streaming_answers(base_url: str) -> None:
    status, chat = _post(base_url + CHAT, {**_body(CHAT, "hi", 5, ignore_eos=True), "stream": False})
    assert status == 200 and chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"]["role"] == "assistant"
    assert (
        len(chat["choices"][0]["message"]["content"]) == 5 and chat["choices"][0]["finish_reason"] == "length"
    )
    assert chat["usage"]["completion_tokens"] == 5
    status, comp = _post(base_url + COMPLETIONS, {"prompt": "abc", "max_tokens": 4, "ignore_eos": True})
    assert status == 200 and comp["object"] == "text_completion" and len(comp["choices"][0]["text"]) == 4
    assert comp["usage"] == {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8}


# -- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        (
            COMPLETIONS,
            {"prompt": "x" * MAX_MODEL_LEN, "max_tokens": 1},
            400,
            "maximum context length is 4096",
        ),
        (
            CHAT,
            _body(CHAT, "x" * 5000, 1),
            400,
            f"{len(chat_prompt([('user', 'x' * 5000)])) + 1} input tokens",
        ),
        (COMPLETIONS, {"prompt": "x" * 4000, "max_tokens": 200}, 400, "4201 tokens"),
        (COMPLETIONS, {"prompt": "x", "max_tokens": 0}, 400, "max_tokens"),
        (COMPLETIONS, {"prompt": "x", "max_tokens": 2, "min_tokens": 3}, 400, "min_tokens"),
        (CHAT, {"messages": []}, 400, "messages"),
        (COMPLETIONS, {"prompt": "x", "model": "gpt-4"}, 404, "gpt-4"),
    ],
)
def test_bad_requests_get_openai_errors(
    base_url: str, path: str, body: dict[str, Any], status: int, says: str
) -> None:
    got_status, doc = _post(base_url + path, body)
    assert got_status == status
    assert doc["error"]["code"] == status and says in doc["error"]["message"]


# -- costs ---------------------------------------------------------------------------------------------------


def test_ttft_grows_with_the_prompt(base_url: str) -> None:
    """A lone request's TTFT is mostly its prefill: 1024 prompt tokens cost many times 64."""
    ttft: dict[int, list[float]] = {64: [], 1024: []}
    for _ in range(4):
        for n in ttft:  # interleaved, so a burst of load elsewhere hits both sizes
            (got,) = _run(base_url, [(COMPLETIONS, _body(COMPLETIONS, "x" * (n - 1), 2, ignore_eos=True))])
            ttft[n].append(got.ttft_s)
    short, long = statistics.median(ttft[64]), statistics.median(ttft[1024])
    assert long > 2 * short, ttft


def test_tpot_grows_with_concurrent_streams(base_url: str) -> None:
    """One batched decode step for 16 sequences costs more than for one (and prefills stall it)."""

    def tpots(concurrency: int) -> list[float]:
        body = _body(COMPLETIONS, "x" * 63, 48, ignore_eos=True)
        return [s.tpot_s for s in _run(base_url, [(COMPLETIONS, body)] * concurrency)]

    alone = [tpots(1)[0] for _ in range(3)]
    crowded = tpots(16) + tpots(16)
    assert statistics.median(crowded) > 1.5 * statistics.median(alone), (alone, crowded)


def test_a_client_that_hangs_up_frees_its_sequence(base_url: str) -> None:
    """16 long streams (the whole batch) dropped after two tokens: a new request is served at once."""

    async def go() -> Streamed:
        # Had the 16 kept decoding, the last request would wait minutes for a free sequence.
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

            async def hang_up() -> None:
                body = _body(COMPLETIONS, "x", 3000, ignore_eos=True)
                async with session.post(base_url + COMPLETIONS, json=body) as resp:
                    seen = 0
                    async for raw in resp.content:
                        seen += raw.startswith(b"data: ")
                        if seen == 2:
                            resp.close()
                            return

            await asyncio.gather(*(hang_up() for _ in range(16)))
            return await _stream(session, base_url + COMPLETIONS, _body(COMPLETIONS, "y", 4, ignore_eos=True))

    got = asyncio.run(go())
    assert got.status == 200 and got.ttft_s < 5.0


# -- the bench against it ------------------------------------------------------------------------------------


def test_bench_run_against_the_endpoint_confirms_a_capacity_under_both_slos(base_url: str) -> None:
    """``bench run --endpoint`` on a real transformer: calibrated prompts, forced output lengths counted by
    the server, a confirmed capacity under both bounds (a short search: a screen, then its confirmation)."""
    out = run_cli(
        "bench", "run", "--endpoint", base_url + CHAT, "--model", "tiny", "--model-name", MODEL_NAME,
        "--input-tokens", "32", "--output-tokens", "16", "--slo-ttft-p99-ms", "2000",
        "--slo-tpot-p99-ms", "100", "--start-rps", "20", "--max-points", "2", "--window-s", "2",
        "--warmup-s", "0.5", "--quick", "--slo-percentile", "90", "--json", timeout=300,
    )  # fmt: skip
    assert out.code == 0, out.stderr[-3000:]
    (result,) = json.loads(out.stdout)["results"]
    assert result["capacity_rps"] == 20.0, result["reason"]
    assert [p["confirm"] for p in result["points"]] == [False, True]
    assert result["input_tokens_per_s"] > 0 and result["output_tokens_per_s"] > 0
    for point in result["points"]:
        assert point["mean_output_tokens"] == 16  # forced with ignore_eos, counted by the server
        assert abs(point["mean_input_tokens"] - 32) <= 4  # prompts calibrated on its usage
        assert point["tpot_ms"]["p50"] > 0 and point["ttft_ms"]["p50"] > 0
