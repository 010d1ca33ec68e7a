"""Registry of the reference models the harness can start by name (``advisor bench run --model NAME``).

Each entry knows how to start its server on a port, which route to load and with what body, and which
options it takes (``--model-option key=value``). Arbitrary servers go through ``--server-cmd`` instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor.domain import DEFAULT_HEALTH_PATH, DEFAULT_READY_TIMEOUT_S, DEFAULT_REQUEST_PATH
from advisor.errors import InputError, NotFoundError, choices_hint


def _tabular_body() -> Any:
    from advisor.bench.servers.reference.tabular import example_body

    return example_body()


def _embedding_body() -> Any:
    from advisor.bench.servers.reference.embedding import example_body

    return example_body()


def _tiny_llm_body() -> Any:
    from advisor.bench.servers.reference.tiny_llm import example_body

    return example_body()


def _synthetic_llm_body() -> Any:
    from advisor.bench.servers.reference.synthetic_llm import example_body

    return example_body()


@dataclass(frozen=True)
class ReferenceModel:
    """A model server shipped with advisor."""

    name: str
    description: str
    module: str
    body: Callable[[], Any]
    path: str = DEFAULT_REQUEST_PATH
    health_path: str = DEFAULT_HEALTH_PATH
    options: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    env: dict[str, str] = field(default_factory=dict)
    kind: str = "request"  # "llm": an OpenAI-compatible streaming server, measured by advisor.bench.llm

    def command(self, port: int | str, options: dict[str, str] | None = None) -> list[str]:
        """``python -m MODULE --port P --OPTION VALUE ...`` with options checked against the known ones.

        ``port`` may be :data:`advisor.domain.PORT_PLACEHOLDER`, filled in when the server starts.
        """
        merged = {**self.options, **check_options(self, options or {})}
        cmd = [sys.executable, "-m", self.module, "--port", str(port)]
        for key, value in merged.items():
            cmd += [f"--{key.replace('_', '-')}", value]
        return cmd

    def body_json(self) -> str:
        return json.dumps(self.body())


def check_options(model: ReferenceModel, options: dict[str, str]) -> dict[str, str]:
    for key, value in options.items():
        if key not in model.options:
            raise NotFoundError(
                f"option of model {model.name}",
                key,
                known=model.options,
                where="--model-option",
                fix=choices_hint(
                    key, model.options, f"({model.name} takes {', '.join(model.options) or 'no options'})"
                ),
            )
        try:
            float(value)
        except ValueError:
            raise InputError(
                f"option {key} must be a number, not {value!r}",
                where="--model-option",
                fix=f"e.g. --model-option {key}={model.options[key]}",
            ) from None
    return options


REFERENCE_MODELS: dict[str, ReferenceModel] = {
    m.name: m
    for m in (
        ReferenceModel(
            name="tabular",
            description="scikit-learn HistGradientBoosting classifier, 20 features, trained at start-up",
            module="advisor.bench.servers.reference.tabular",
            body=_tabular_body,
            ready_timeout_s=90.0,
        ),
        ReferenceModel(
            name="embedding",
            description="all-MiniLM-L6-v2 sentence embeddings (torch CPU, offline weights)",
            module="advisor.bench.servers.reference.embedding",
            body=_embedding_body,
            ready_timeout_s=180.0,
            env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        ),
        ReferenceModel(
            name="synthetic",
            description="known capacity: k slots x fixed service time (an M/D/k queue)",
            module="advisor.bench.servers.reference.synthetic",
            body=lambda: {"x": 1},
            options={"slots": "4", "service_ms": "100", "error_every": "0", "die_after_s": "0"},
            ready_timeout_s=30.0,
        ),
        ReferenceModel(
            name="tiny-llm",
            description="small random transformer (torch CPU): OpenAI streaming API, continuous batching",
            module="advisor.bench.servers.reference.tiny_llm",
            body=_tiny_llm_body,
            path="/v1/chat/completions",
            options={
                "layers": "4",
                "d_model": "256",
                "heads": "4",
                "max_model_len": "4096",
                "max_num_seqs": "16",
                "prefill_chunk": "512",
            },
            ready_timeout_s=120.0,
            kind="llm",
        ),
        ReferenceModel(
            name="synthetic-llm",
            description="known LLM capacity: a simulated engine (mode 1 continuous batching, 0 k slots), "
            "OpenAI streaming API; advisor.bench.llm.simulate computes its truth",
            module="advisor.bench.servers.reference.synthetic_llm",
            body=_synthetic_llm_body,
            path="/v1/chat/completions",
            options={
                "mode": "1",
                "slots": "8",
                "max_num_seqs": "64",
                "step_base_ms": "8",
                "step_per_seq_ms": "0.25",
                "prefill_ms_per_token": "0.02",
                "tpot_ms": "20",
                "tokens_per_word": "1.3",
            },
            ready_timeout_s=30.0,
            kind="llm",
        ),
    )
}


def get_model(name: str) -> ReferenceModel:
    if name not in REFERENCE_MODELS:
        raise NotFoundError(
            "reference model",
            name,
            known=REFERENCE_MODELS,
            where="--model",
            fix=choices_hint(name, REFERENCE_MODELS, "or --server-cmd for your own server"),
        )
    return REFERENCE_MODELS[name]


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``["slots=4", "service_ms=50"]`` -> dict; InputError for a pair without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"not KEY=VALUE: {pair!r}", where="--model-option", fix="write e.g. slots=4")
        out[key.strip()] = value.strip()
    return out
