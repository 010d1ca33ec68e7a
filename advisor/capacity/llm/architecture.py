"""LLM architectures: what the performance prior needs to know about a model, from a preset or a config.json.

An :class:`LLMArchitecture` holds the Hugging Face ``config.json`` fields that size a decoder-only
transformer (layers, hidden size, attention and KV heads, head dim, MLP width, vocabulary, tied embeddings,
attention bias, context length). From them advisor derives

* the parameter count (embeddings, per layer q/k/v/o projections and their biases, the gated MLP's three
  matrices, two norms; the final norm and an untied LM head), checked in the tests against the published
  sizes (Llama-3.1-8B: 8.03 B);
* the KV cache per token: 2 (K and V) × layers × KV heads × head dim × bytes per element
  (``../shared/llm/NOTES.md`` §4: 128 KiB for Llama-3.1-8B in BF16).

The presets copy their values from each model's ``config.json`` on the Hugging Face Hub (the URL is the
preset's ``source``); ``from_config`` reads a user's ``config.json`` without downloading anything.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field

from advisor.domain import FrozenModel
from advisor.errors import InputError


class WeightsDtype(StrEnum):
    """How the weights are stored; the KV cache stays in 16 bits unless told (``kv_dtype``)."""

    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"


BYTES_PER_PARAM: dict[WeightsDtype, float] = {
    WeightsDtype.BF16: 2.0,
    WeightsDtype.FP16: 2.0,
    WeightsDtype.FP8: 1.0,
    WeightsDtype.INT8: 1.0,
    # 4-bit weights plus one 16-bit scale per group of 128 (AWQ and GPTQ's default group size): 0.5 + 2/128
    WeightsDtype.INT4: 0.5 + 2.0 / 128,
}
"""Bytes per weight (``../shared/llm/NOTES.md`` §4); int4 carries its group scales."""


class LLMArchitecture(FrozenModel):
    """A decoder-only transformer's shape, as its ``config.json`` gives it."""

    name: str
    layers: int = Field(ge=1, description="num_hidden_layers")
    hidden: int = Field(ge=1, description="hidden_size")
    heads: int = Field(ge=1, description="num_attention_heads")
    kv_heads: int = Field(ge=1, description="num_key_value_heads (the query heads when absent: MHA)")
    head_dim: int = Field(ge=1, description="head_dim, else hidden_size / num_attention_heads")
    intermediate: int = Field(ge=1, description="intermediate_size (gated MLP: three matrices)")
    vocab: int = Field(ge=1, description="vocab_size")
    tied_embeddings: bool = False
    attention_bias: bool = False
    max_context: int = Field(ge=1, description="max_position_embeddings")
    source: str = ""

    @property
    def parameters(self) -> int:
        """Every weight: embeddings, the layers, the final norm and an untied LM head."""
        h, kv = self.hidden, self.kv_heads * self.head_dim
        q = self.heads * self.head_dim
        attention = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.attention_bias else 0)
        mlp = 3 * h * self.intermediate
        per_layer = attention + mlp + 2 * h
        embeddings = self.vocab * h * (1 if self.tied_embeddings else 2)
        return self.layers * per_layer + embeddings + h

    @property
    def matmul_parameters(self) -> int:
        """The weights a token multiplies (all but the input embedding table): 2 FLOPs each per token."""
        return self.parameters - self.vocab * self.hidden * (0 if self.tied_embeddings else 1)

    def weights_bytes(self, dtype: WeightsDtype) -> float:
        return self.parameters * BYTES_PER_PARAM[dtype]

    def kv_bytes_per_token(self, kv_bytes: float = 2.0) -> float:
        """2 × layers × KV heads × head dim × bytes: the cache one token of context holds."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * kv_bytes

    def kv_bytes_per_token_per_gpu(self, tp: int, kv_bytes: float = 2.0) -> float:
        """One GPU's share under tensor parallelism: KV heads split over ``tp`` GPUs, replicated when
        ``tp`` exceeds them (vLLM replicates a KV head rather than split it)."""
        heads = math.ceil(self.kv_heads / tp)
        return 2.0 * self.layers * heads * self.head_dim * kv_bytes

    @classmethod
    def from_config(cls, path: Path, name: str | None = None) -> LLMArchitecture:
        """Read a Hugging Face ``config.json`` (no download); one clear error for a missing or bad field."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(
                f"{path}: no such file", where="llm.config", fix="point at a config.json"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: not a JSON config ({exc})", where="llm.config") from None
        if not isinstance(raw, dict):
            raise InputError(f"{path}: a config.json is a JSON object", where="llm.config")
        cfg: dict[str, Any] = raw.get("text_config", raw) if isinstance(raw.get("text_config"), dict) else raw
        return cls(**_fields(cfg, path), name=name or str(raw.get("_name_or_path") or Path(path).parent.name),
                   source=str(path))  # fmt: skip


def _fields(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    def need(key: str) -> int:
        value = cfg.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(
                f"{path}: {key} is {value!r}, not a positive integer",
                where=f"llm.config {key}",
                fix="a decoder-only model's config.json has num_hidden_layers, hidden_size,"
                " num_attention_heads, intermediate_size and vocab_size",
            )
        return value

    heads = need("num_attention_heads")
    hidden = need("hidden_size")
    head_dim = cfg.get("head_dim") or hidden // heads
    return {
        "layers": need("num_hidden_layers"),
        "hidden": hidden,
        "heads": heads,
        "kv_heads": cfg.get("num_key_value_heads") or heads,
        "head_dim": head_dim,
        "intermediate": need("intermediate_size"),
        "vocab": need("vocab_size"),
        "tied_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "attention_bias": bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2")),
        "max_context": cfg.get("max_position_embeddings") or 4096,
    }


_HUB = "https://huggingface.co/{}/blob/main/config.json"
PRESETS: dict[str, LLMArchitecture] = {
    a.name: a
    for a in (
        LLMArchitecture(
            name="llama-3.1-8b", layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128,
            intermediate=14336, vocab=128256, max_context=131072,
            source=_HUB.format("meta-llama/Llama-3.1-8B-Instruct"),
        ),
        LLMArchitecture(
            name="llama-3.1-70b", layers=80, hidden=8192, heads=64, kv_heads=8, head_dim=128,
            intermediate=28672, vocab=128256, max_context=131072,
            source=_HUB.format("meta-llama/Llama-3.1-70B-Instruct"),
        ),
        LLMArchitecture(
            name="llama-2-7b", layers=32, hidden=4096, heads=32, kv_heads=32, head_dim=128,
            intermediate=11008, vocab=32000, max_context=4096,
            source=_HUB.format("meta-llama/Llama-2-7b-hf"),
        ),
        LLMArchitecture(
            name="mistral-7b", layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128,
            intermediate=14336, vocab=32768, max_context=32768,
            source=_HUB.format("mistralai/Mistral-7B-Instruct-v0.3"),
        ),
        LLMArchitecture(
            name="qwen2.5-7b", layers=28, hidden=3584, heads=28, kv_heads=4, head_dim=128,
            intermediate=18944, vocab=152064, attention_bias=True, max_context=32768,
            source=_HUB.format("Qwen/Qwen2.5-7B-Instruct"),
        ),
    )
}  # fmt: skip


def hub_id(arch: LLMArchitecture) -> str | None:
    """The Hugging Face repository a preset's shape was read from (``meta-llama/Llama-3.1-8B-Instruct``),
    the weights an engine would load for it; None for an architecture from a user's config.json."""
    prefix, suffix = _HUB.split("{}")
    if arch.source.startswith(prefix) and arch.source.endswith(suffix):
        return arch.source[len(prefix) : -len(suffix)]
    return None


def preset(name: str) -> LLMArchitecture:
    """A bundled architecture by name (case-insensitive); InputError naming the presets otherwise."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise InputError(
            f"no LLM preset {name!r}",
            where="llm.model",
            fix=f"one of {', '.join(sorted(PRESETS))}, or llm.config: path/to/config.json",
        )
    return PRESETS[key]
