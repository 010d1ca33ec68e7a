"""The tiny-llm model and engine in-process: the KV cache and batching change the cost, never the numbers.

A small configuration (2 layers, d_model 64) keeps this fast; the code paths are the server's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from advisor.bench.servers.reference.tiny_llm_model import (  # noqa: E402
    BOS_ID,
    EOS_ID,
    FINISH_ABORT,
    FINISH_LENGTH,
    FINISH_STOP,
    Engine,
    EngineConfig,
    GenerationRequest,
    KVCache,
    ModelConfig,
    TinyDecoder,
    TokenEvent,
    encode_prompt,
    token_text,
)

SMALL = ModelConfig(layers=2, d_model=64, heads=2, max_model_len=256, seed=3)
ATOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny matrices: a second intra-op thread only adds waiting, the more so on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> TinyDecoder:
    return TinyDecoder(SMALL)


def _tokens(n: int, seed: int) -> list[int]:
    gen = torch.Generator().manual_seed(seed)
    return [BOS_ID, *torch.randint(0, 256, (n - 1,), generator=gen).tolist()]


def _assert_close(got: Any, want: Any) -> None:
    assert got.shape == want.shape
    gap = float((got - want).abs().max())
    assert gap <= ATOL, f"logits differ by up to {gap:.2e}"


def _drain(engine: Engine, max_steps: int = 10_000) -> list[list[TokenEvent]]:
    steps: list[list[TokenEvent]] = []
    while engine.busy and len(steps) < max_steps:
        steps.append(engine.step())
    assert not engine.busy
    return steps


def _produced(steps: list[list[TokenEvent]], request: GenerationRequest) -> list[int]:
    return [e.token for events in steps for e in events if e.request is request and e.token is not None]


def _finish(steps: list[list[TokenEvent]], request: GenerationRequest) -> str | None:
    ends = [e.finish for events in steps for e in events if e.request is request and e.finish]
    assert len(ends) == 1, ends
    return ends[0]


def test_tokenizer_counts_bytes_plus_bos_and_every_byte_has_text() -> None:
    assert encode_prompt("héllo") == [BOS_ID, *"héllo".encode()]  # é is two bytes: 7 tokens
    assert len(encode_prompt("héllo")) == 7
    assert all(token_text(b) for b in range(256))
    assert token_text(ord("a")) == "a" and token_text(0xC3) == "\ufffd"


def test_kv_cache_decode_equals_full_recomputation(model: TinyDecoder) -> None:
    tokens = _tokens(60, seed=1)
    full = model.forward(tokens)
    with torch.inference_mode():
        cache = KVCache(SMALL, capacity=len(tokens))
        first = model.prefill(cache, tokens[:25])
        second = model.prefill(cache, tokens[25:40])  # a second chunk attends to the cached first one
        stepped = [model.decode([cache], [t])[0] for t in tokens[40:]]
    _assert_close(first, full[24])
    _assert_close(second, full[39])
    _assert_close(torch.stack(stepped), full[40:])
    assert cache.length == len(tokens)


def test_batched_decode_equals_unbatched(model: TinyDecoder) -> None:
    prompts = [_tokens(n, seed=n) for n in (5, 31, 77)]
    nexts = [[7, 8, 9], [1, 2, 3], [250, 251, 252]]
    with torch.inference_mode():
        alone = []
        for prompt, following in zip(prompts, nexts, strict=True):
            cache = KVCache(SMALL, capacity=len(prompt) + 3)
            model.prefill(cache, prompt)
            alone.append(torch.stack([model.decode([cache], [t])[0] for t in following]))
        caches = [KVCache(SMALL, capacity=len(p) + 3) for p in prompts]
        for cache, prompt in zip(caches, prompts, strict=True):
            model.prefill(cache, prompt)
        together = torch.stack([model.decode(caches, [n[i] for n in nexts]) for i in range(3)], dim=1)
    _assert_close(together, torch.stack(alone))


def test_a_full_cache_is_refused(model: TinyDecoder) -> None:
    with torch.inference_mode():
        cache = KVCache(SMALL, capacity=4)
        model.prefill(cache, [BOS_ID, 1, 2, 3])
        with pytest.raises(ValueError, match="full"):
            model.decode([cache], [4])
        with pytest.raises(ValueError, match="holds 4"):
            model.prefill(KVCache(SMALL, capacity=4), [1, 2, 3, 4, 5])


def test_engine_greedy_output_is_the_models_own_argmax(model: TinyDecoder) -> None:
    prompt = _tokens(20, seed=9)
    request = GenerationRequest(prompt, max_tokens=6, ignore_eos=True, temperature=0.0)
    engine = Engine(model, EngineConfig(max_num_seqs=4, prefill_chunk=8))
    engine.submit(request)
    with torch.inference_mode():
        steps = _drain(engine)
        expected, sequence = [], list(prompt)
        for _ in range(6):
            logits = model.forward(sequence)[-1]
            logits[[BOS_ID, EOS_ID]] = -float("inf")
            expected.append(int(logits.argmax()))
            sequence.append(expected[-1])
    assert _produced(steps, request) == expected
    assert _finish(steps, request) == FINISH_LENGTH
    # 20 prompt tokens in chunks of 8: the first token comes with the third step's prefill.
    assert next(i for i, events in enumerate(steps) if events) == 2


class _EosProne(TinyDecoder):
    """The same model with EOS boosted: about 60 % likely at each step, unless it is held back."""

    def _logits(self, x: Any) -> Any:
        logits = super()._logits(x)
        logits[..., EOS_ID] += 6.0
        return logits


def test_ignore_eos_and_min_tokens_hold_eos_back() -> None:
    engine = Engine(_EosProne(SMALL), EngineConfig(max_num_seqs=8, prefill_chunk=64))
    free = [GenerationRequest(_tokens(8, seed=i), max_tokens=40) for i in range(3)]
    held = GenerationRequest(_tokens(8, seed=10), max_tokens=40, ignore_eos=True)
    floor = GenerationRequest(_tokens(8, seed=11), max_tokens=40, min_tokens=15)
    for request in [*free, held, floor]:
        engine.submit(request)
    with torch.inference_mode():
        steps = _drain(engine)
    assert len(_produced(steps, held)) == 40 and _finish(steps, held) == FINISH_LENGTH
    assert 15 <= len(_produced(steps, floor)) < 40 and _finish(steps, floor) == FINISH_STOP
    assert all(len(_produced(steps, r)) < 40 and _finish(steps, r) == FINISH_STOP for r in free)
    assert all(0 <= t < 256 for r in [*free, held, floor] for t in _produced(steps, r))


def test_engine_batches_at_most_max_num_seqs_and_admits_as_sequences_finish(model: TinyDecoder) -> None:
    engine = Engine(model, EngineConfig(max_num_seqs=2, prefill_chunk=256))
    requests = [GenerationRequest(_tokens(10, seed=i), max_tokens=3 + i, ignore_eos=True) for i in range(5)]
    for request in requests:
        engine.submit(request)
    with torch.inference_mode():
        steps = _drain(engine)
    for events in steps:
        assert len([e for e in events if e.token is not None]) <= 2
    assert [len(_produced(steps, r)) for r in requests] == [3, 4, 5, 6, 7]
    # Continuous batching: the third request starts as soon as the first ends, not after the second.
    first_end = next(
        i for i, ev in enumerate(steps) if any(e.request is requests[0] and e.finish for e in ev)
    )
    third_start = next(i for i, ev in enumerate(steps) if any(e.request is requests[2] for e in ev))
    assert third_start == first_end + 1


def test_a_cancelled_request_is_dropped(model: TinyDecoder) -> None:
    engine = Engine(model, EngineConfig())
    request = GenerationRequest(_tokens(10, seed=0), max_tokens=100, ignore_eos=True)
    engine.submit(request)
    with torch.inference_mode():
        engine.step()
        engine.step()
        request.cancelled = True
        steps = _drain(engine)
    assert steps[0] == [TokenEvent(request, None, FINISH_ABORT)] and len(steps) == 1


def test_the_engine_thread_publishes_every_token_and_stops() -> None:
    seen: list[Any] = []
    done = threading.Event()

    def publish(events: list[TokenEvent]) -> None:
        seen.extend(events)
        if sum(1 for e in seen if e.finish) == 3:
            done.set()

    engine = Engine(TinyDecoder(SMALL), EngineConfig(max_num_seqs=2), publish=publish)
    engine.start()
    try:
        for i in range(3):
            engine.submit(GenerationRequest(_tokens(12, seed=i), max_tokens=5, ignore_eos=True))
        assert done.wait(timeout=30)
    finally:
        engine.stop()
    assert sum(1 for e in seen if e.token is not None) == 15
