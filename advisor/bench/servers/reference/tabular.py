"""Reference tabular model: a scikit-learn gradient-boosted classifier trained at start-up on generated data.

``POST /predict`` with ``{"instances": [[20 floats], ...]}`` returns ``{"predictions": [...],
"probabilities": [...]}``. Training uses ``make_classification`` with a fixed seed (5,000 rows, 20 features),
so every start serves the same model; it takes about a second. One uvicorn worker per vCPU, one compute
thread per worker (see :mod:`advisor.bench.servers.reference._common`).
"""

from __future__ import annotations

import sys

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

from advisor.bench.servers.reference._common import add_health, base_parser, mark_ready, serve

N_FEATURES = 20


class PredictRequest(BaseModel):
    instances: list[list[float]]


def example_body() -> dict[str, list[list[float]]]:
    rng = np.random.default_rng(7)
    return {"instances": [[round(float(v), 4) for v in rng.normal(size=N_FEATURES)]]}


def create_app() -> FastAPI:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    x, y = make_classification(n_samples=5000, n_features=N_FEATURES, n_informative=12, random_state=0)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(x, y)
    app = FastAPI(title="advisor reference tabular model")
    add_health(app)

    @app.post("/predict")
    def predict(req: PredictRequest) -> dict[str, list[float]]:
        features = np.asarray(req.instances, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != N_FEATURES:
            from fastapi import HTTPException

            raise HTTPException(422, f"each instance needs {N_FEATURES} features")
        proba = model.predict_proba(features)[:, 1]
        return {"predictions": [float(p >= 0.5) for p in proba], "probabilities": [float(p) for p in proba]}

    predict(PredictRequest.model_validate(example_body()))  # warm the model before reporting ready
    mark_ready()
    return app


def main(argv: list[str] | None = None) -> int:
    args = base_parser(__doc__ or "").parse_args(argv)
    serve("advisor.bench.servers.reference.tabular:create_app", args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
