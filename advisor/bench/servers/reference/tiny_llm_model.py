"""The torch side of the ``tiny-llm`` reference server: a byte tokenizer, a decoder-only transformer with a KV
cache, and the continuous-batching engine that drives it.

Model: pre-norm decoder (RMSNorm, rotary positions, multi-head attention, GELU MLP of 4 × d_model, embeddings
tied to the output head), randomly initialised from a fixed seed (nothing is downloaded: the text it writes is
noise, its cost is a real transformer's). Float32 on the CPU.

Tokenizer: one token per UTF-8 byte (ids 0-255) plus ``BOS`` (256) and ``EOS`` (257). A prompt is ``BOS`` and
its bytes, so ``prompt_tokens = len(prompt.encode()) + 1``.

KV cache: one preallocated tensor pair per sequence, ``[layers, heads, capacity, head_dim]``, sized at
admission for prompt + max_tokens (the most it can hold), freed when the sequence ends.

Engine (:class:`Engine`, one thread): each step it (1) prefills waiting prompts in chunks of at most
``prefill_chunk`` tokens in all (a sequence whose prompt is done samples its first token then), and (2) runs
ONE batched decode step for every sequence already decoding: embeddings, projections and MLP as one batch,
attention per sequence over its own cache. So time to first token grows with the prompt (and with the
prefills queued ahead), and time per output token grows with the number of sequences decoding together and
with the prefill chunks interleaved between decode steps, as in vLLM's chunked prefill.
"""

from __future__ import annotations

import math
import queue
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

BYTE_VOCAB = 256
BOS_ID = 256
EOS_ID = 257
VOCAB_SIZE = 258


def encode_prompt(text: str) -> list[int]:
    """``BOS`` followed by the UTF-8 bytes of ``text``: ``len(text.encode()) + 1`` tokens."""
    return [BOS_ID, *text.encode("utf-8")]


def token_text(token: int) -> str:
    """The text one produced byte token stands for; never empty for a byte token.

    A byte that is not valid UTF-8 on its own (0x80-0xFF: part of a multi-byte character) becomes U+FFFD, so
    every produced token is one non-empty content chunk, as a streaming client counting chunks expects.
    """
    return bytes([token]).decode("utf-8", errors="replace") if token < BYTE_VOCAB else ""


@dataclass(frozen=True)
class ModelConfig:
    layers: int = 4
    d_model: int = 256
    heads: int = 4
    max_model_len: int = 4096
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    def check(self) -> None:
        if self.d_model % self.heads or self.head_dim % 2:
            raise ValueError(f"d_model {self.d_model} must split into {self.heads} heads of an even size")
        if min(self.layers, self.d_model, self.heads, self.max_model_len) < 1:
            raise ValueError("layers, d_model, heads and max_model_len must be positive")


class KVCache:
    """One sequence's keys and values, ``[layers, heads, capacity, head_dim]`` each; ``length`` held."""

    def __init__(self, config: ModelConfig, capacity: int) -> None:
        shape = (config.layers, config.heads, capacity, config.head_dim)
        self.k = torch.empty(shape)
        self.v = torch.empty(shape)
        self.capacity = capacity
        self.length = 0


class TinyDecoder:
    """The transformer's weights and its three forward passes (full, prefill chunk, batched decode)."""

    def __init__(self, config: ModelConfig) -> None:
        config.check()
        self.config = config
        gen = torch.Generator().manual_seed(config.seed)
        d, ff = config.d_model, 4 * config.d_model

        def normal(*shape: int, std: float = 0.02) -> Any:
            return torch.randn(*shape, generator=gen) * std

        # Residual projections scaled by 1/sqrt(2·layers), as GPT-2 initialises them.
        out_std = 0.02 / math.sqrt(2 * config.layers)
        self.embed = normal(VOCAB_SIZE, d)
        self.layers = [
            {
                "norm1": torch.ones(d),
                "wqkv": normal(3 * d, d),
                "wo": normal(d, d, std=out_std),
                "norm2": torch.ones(d),
                "w1": normal(ff, d),
                "w2": normal(d, ff, std=out_std),
            }
            for _ in range(config.layers)
        ]
        self.norm = torch.ones(d)
        half = config.head_dim // 2
        inv_freq = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float32) / half))
        angles = torch.outer(torch.arange(config.max_model_len, dtype=torch.float32), inv_freq)
        self.cos = torch.cat([angles.cos(), angles.cos()], dim=-1)  # [max_len, head_dim]
        self.sin = torch.cat([angles.sin(), angles.sin()], dim=-1)

    # -- pieces ---------------------------------------------------------------------------------------------

    def _angles(self, positions: Any) -> tuple[Any, Any]:
        """cos and sin of ``positions`` [T] as [T, 1, 1, head_dim]: queries and keys rotate together."""
        shape = (-1, 1, 1, self.config.head_dim)
        return self.cos[positions].view(shape), self.sin[positions].view(shape)

    def _qkv(self, layer: dict[str, Any], x: Any, angles: tuple[Any, Any]) -> tuple[Any, Any, Any]:
        """Queries, keys (both rotated), values [T, heads, head_dim] of hidden states ``x`` [T, d_model]."""
        c = self.config
        h = F.rms_norm(x, (c.d_model,), layer["norm1"])
        qkv = (h @ layer["wqkv"].T).view(-1, 3, c.heads, c.head_dim)
        qk, v = qkv[:, :2], qkv[:, 2]
        cos, sin = angles
        x1, x2 = qk.chunk(2, dim=-1)
        q, k = (qk * cos + torch.cat([-x2, x1], dim=-1) * sin).unbind(1)
        return q, k, v

    def _finish_layer(self, layer: dict[str, Any], x: Any, attn: Any) -> Any:
        x = x + attn.reshape(x.shape) @ layer["wo"].T
        h = F.rms_norm(x, (self.config.d_model,), layer["norm2"])
        return x + F.gelu(h @ layer["w1"].T, approximate="tanh") @ layer["w2"].T

    def _logits(self, x: Any) -> Any:
        return F.rms_norm(x, (self.config.d_model,), self.norm) @ self.embed.T

    # -- passes ---------------------------------------------------------------------------------------------

    def forward(self, tokens: list[int]) -> Any:
        """Logits [T, vocab] of every position, recomputed from scratch (no cache): the reference."""
        ids = torch.tensor(tokens)
        angles = self._angles(torch.arange(len(tokens)))
        x = self.embed[ids]
        for layer in self.layers:
            q, k, v = self._qkv(layer, x, angles)
            attn = F.scaled_dot_product_attention(
                _heads_first(q), _heads_first(k), _heads_first(v), is_causal=True
            )
            x = self._finish_layer(layer, x, attn[0].transpose(0, 1))
        return self._logits(x)

    def prefill(self, cache: KVCache, tokens: list[int]) -> Any:
        """Append ``tokens`` to ``cache`` from position ``cache.length``; logits [vocab] of the last one."""
        start, n = cache.length, len(tokens)
        if start + n > cache.capacity:
            raise ValueError(f"cache holds {cache.capacity} tokens, not {start + n}")
        ids = torch.tensor(tokens)
        angles = self._angles(torch.arange(start, start + n))
        # Chunk queries see every cached key and the chunk's keys up to their own position.
        mask = None if start == 0 else torch.ones(n, start + n, dtype=torch.bool).tril(diagonal=start)
        x = self.embed[ids]
        for i, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, x, angles)
            cache.k[i, :, start : start + n] = k.transpose(0, 1)
            cache.v[i, :, start : start + n] = v.transpose(0, 1)
            attn = F.scaled_dot_product_attention(
                _heads_first(q),
                cache.k[i : i + 1, :, : start + n],
                cache.v[i : i + 1, :, : start + n],
                attn_mask=mask,
                is_causal=mask is None,
            )
            x = self._finish_layer(layer, x, attn[0].transpose(0, 1))
        cache.length = start + n
        return self._logits(x[-1])

    def decode(self, caches: list[KVCache], tokens: list[int]) -> Any:
        """One step for a batch: ``tokens[i]`` appended to ``caches[i]``; logits [batch, vocab]."""
        for cache in caches:
            if cache.length >= cache.capacity:
                raise ValueError(f"cache of {cache.capacity} tokens is full")
        lengths = [cache.length for cache in caches]
        angles = self._angles(torch.tensor(lengths))
        x = self.embed[torch.tensor(tokens)]
        for i, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, x, angles)
            outs = []
            for b, cache in enumerate(caches):
                pos = lengths[b]
                cache.k[i, :, pos] = k[b]
                cache.v[i, :, pos] = v[b]
                outs.append(
                    F.scaled_dot_product_attention(
                        q[b].view(1, -1, 1, q.shape[-1]),
                        cache.k[i : i + 1, :, : pos + 1],
                        cache.v[i : i + 1, :, : pos + 1],
                    )
                )
            x = self._finish_layer(layer, x, torch.cat(outs))
        for cache in caches:
            cache.length += 1
        return self._logits(x)


def _heads_first(x: Any) -> Any:
    """[T, heads, head_dim] -> [1, heads, T, head_dim]: torch's fused CPU attention wants 4-D inputs."""
    return x.transpose(0, 1).unsqueeze(0)


# -- engine -------------------------------------------------------------------------------------------------

FINISH_LENGTH = "length"
FINISH_STOP = "stop"
FINISH_ABORT = "abort"
FINISH_ERROR = "error"


@dataclass(eq=False)
class GenerationRequest:
    """What to generate for one prompt; ``cancelled`` may be set from any thread (the client went away)."""

    prompt: list[int]
    max_tokens: int
    min_tokens: int = 0
    ignore_eos: bool = False
    temperature: float = 1.0
    cancelled: bool = False


@dataclass(frozen=True)
class TokenEvent:
    """A produced token (a byte id) and/or the end of a request (``finish``: length, stop, abort, error)."""

    request: GenerationRequest
    token: int | None
    finish: str | None = None


@dataclass(eq=False)
class _Sequence:
    request: GenerationRequest
    cache: KVCache
    prefilled: int = 0
    last_token: int = -1
    produced: int = 0


@dataclass(frozen=True)
class EngineConfig:
    max_num_seqs: int = 16
    prefill_chunk: int = 512
    threads: int = 1
    seed: int = 0


class Engine:
    """Continuous batching over :class:`TinyDecoder`; see the module docstring for what one step does.

    ``publish`` receives each step's events on the engine thread (once per step that produced any). Drive it
    with :meth:`start` (its own thread) or, in tests and warm-up, by calling :meth:`step` directly.
    """

    def __init__(
        self,
        model: TinyDecoder,
        config: EngineConfig | None = None,
        publish: Callable[[list[TokenEvent]], None] | None = None,
    ) -> None:
        self.model = model
        self.config = config or EngineConfig()
        self.publish = publish or (lambda _events: None)
        self._inbox: queue.SimpleQueue[GenerationRequest | None] = queue.SimpleQueue()
        self._waiting: deque[GenerationRequest] = deque()
        self._prefilling: list[_Sequence] = []
        self._decoding: list[_Sequence] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._generator = torch.Generator().manual_seed(self.config.seed)

    def submit(self, request: GenerationRequest) -> None:
        """Queue ``request`` (any thread); its tokens come back through ``publish``."""
        self._inbox.put(request)

    @property
    def busy(self) -> bool:
        return bool(self._waiting or self._prefilling or self._decoding or not self._inbox.empty())

    def step(self) -> list[TokenEvent]:
        """Admit and prefill up to ``prefill_chunk`` prompt tokens, then one decode step for all decoding."""
        while not self._inbox.empty():
            item = self._inbox.get()
            if item is not None:
                self._waiting.append(item)
        events = self._drop_cancelled()
        decoding = list(self._decoding)  # a sequence whose prompt completes below decodes from the next step
        events += self._prefill_step()
        if decoding:
            logits = self.model.decode([s.cache for s in decoding], [s.last_token for s in decoding])
            events += self._sample(decoding, logits)
        return events

    def _drop_cancelled(self) -> list[TokenEvent]:
        events = [TokenEvent(r, None, FINISH_ABORT) for r in self._waiting if r.cancelled]
        self._waiting = deque(r for r in self._waiting if not r.cancelled)
        for group in (self._prefilling, self._decoding):
            events += [TokenEvent(s.request, None, FINISH_ABORT) for s in group if s.request.cancelled]
            group[:] = [s for s in group if not s.request.cancelled]
        return events

    def _prefill_step(self) -> list[TokenEvent]:
        budget = self.config.prefill_chunk
        events: list[TokenEvent] = []
        while budget > 0:
            if not self._prefilling:
                if not self._waiting or len(self._decoding) >= self.config.max_num_seqs:
                    break
                request = self._waiting.popleft()
                capacity = len(request.prompt) + request.max_tokens
                self._prefilling.append(_Sequence(request, KVCache(self.model.config, capacity)))
            seq = self._prefilling[0]
            take = min(budget, len(seq.request.prompt) - seq.prefilled)
            logits = self.model.prefill(seq.cache, seq.request.prompt[seq.prefilled : seq.prefilled + take])
            seq.prefilled += take
            budget -= take
            if seq.prefilled == len(seq.request.prompt):
                self._prefilling.pop(0)
                self._decoding.append(seq)
                events += self._sample([seq], logits.unsqueeze(0))
        return events

    def _sample(self, seqs: list[_Sequence], logits: Any) -> list[TokenEvent]:
        """Each sequence's next token (greedy at temperature 0, else sampled); finished ones retire."""
        logits[:, BOS_ID] = -math.inf
        for row, seq in enumerate(seqs):
            r = seq.request
            if r.ignore_eos or seq.produced < r.min_tokens:
                logits[row, EOS_ID] = -math.inf
        temps = torch.tensor([s.request.temperature for s in seqs]).unsqueeze(1)
        greedy = logits.argmax(dim=-1)
        if bool((temps > 0).any()):
            probs = torch.softmax(logits / temps.clamp(min=1e-4), dim=-1)
            drawn = torch.multinomial(probs, 1, generator=self._generator).squeeze(1)
            tokens = torch.where(temps.squeeze(1) > 0, drawn, greedy).tolist()
        else:
            tokens = greedy.tolist()
        events: list[TokenEvent] = []
        for seq, token in zip(seqs, tokens, strict=True):
            if token == EOS_ID:
                events.append(TokenEvent(seq.request, None, FINISH_STOP))
            else:
                seq.produced += 1
                seq.last_token = token
                done = seq.produced >= seq.request.max_tokens
                events.append(TokenEvent(seq.request, token, FINISH_LENGTH if done else None))
        finished = {id(e.request) for e in events if e.finish}
        if finished:
            self._decoding[:] = [s for s in self._decoding if id(s.request) not in finished]
        return events

    # -- the thread -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tiny-llm-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._inbox.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        # torch's intra-op thread count is per thread under OpenMP: set it on the thread that computes.
        torch.set_num_threads(self.config.threads)
        with torch.inference_mode():
            while not self._stopping:
                if not (self._waiting or self._prefilling or self._decoding):
                    item = self._inbox.get()  # idle: block until a request (or None: stop)
                    if item is None:
                        return
                    self._waiting.append(item)
                try:
                    events = self.step()
                except Exception as exc:  # a bug must not hang every client: end their requests
                    events = self._fail_all(exc)
                if events:
                    self.publish(events)

    def _fail_all(self, exc: Exception) -> list[TokenEvent]:
        traceback.print_exception(exc)
        requests = [*self._waiting, *(s.request for s in (*self._prefilling, *self._decoding))]
        self._waiting.clear()
        self._prefilling.clear()
        self._decoding.clear()
        return [TokenEvent(r, None, FINISH_ERROR) for r in requests]


def build_engine(
    settings: dict[str, int], *, threads: int, warm_up: Callable[[Engine], None]
) -> tuple[Engine, ModelConfig]:
    """The model and its engine from the server's settings (layers, d_model, heads, max_model_len, seed,
    max_num_seqs, prefill_chunk), on ``threads`` torch threads, warmed up by ``warm_up``."""
    model_config = ModelConfig(
        **{k: settings[k] for k in ("layers", "d_model", "heads", "max_model_len", "seed") if k in settings}
    )
    engine_config = EngineConfig(
        max_num_seqs=settings.get("max_num_seqs", 16),
        prefill_chunk=settings.get("prefill_chunk", 512),
        threads=threads,
        seed=model_config.seed,
    )
    torch.set_num_threads(engine_config.threads)
    with torch.inference_mode():
        engine = Engine(TinyDecoder(model_config), engine_config)
        warm_up(engine)
    return engine, model_config
