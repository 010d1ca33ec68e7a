"""A seeded synthetic fleet shaped like an inference fleet, over real instance types: for the fleet-scale
benchmark (``benchmarks/bench_recommend.py``) and the tests that compare executors on the same fleet.

75 % CPU replicas (0.5-8 vCPU, 2-8 GiB per vCPU) and 25 % GPU replicas (1 GPU, some 2-4), each with a
capacity given on one reference type, traffic from the five bundled profiles at seeded peaks, and a current
deployment for every other model. The candidates are every accelerated us-east-1 type plus a seeded sample
of CPU types.
"""

from __future__ import annotations

import numpy as np

from advisor.domain import Arch
from advisor.optimize.packing import node_types_from_offers
from advisor.pricing.catalog import Catalog
from advisor.scenario.model import Scenario

PROFILES = ("flat", "diurnal-business-api", "weekday-business-hours", "nightly-batch", "bursty-spikes")
TYPE_SAMPLE_SEED = 7


def fleet_type_names(catalog: Catalog, n_types: int) -> list[str]:
    """``n_types`` real us-east-1 types: all accelerated ones plus a seeded sample of CPU types."""
    types = node_types_from_offers(catalog.offers("us-east-1"))
    accel = [t.name for t in types if t.accelerated]
    cpu = [t.name for t in types if not t.accelerated]
    rng = np.random.default_rng(TYPE_SAMPLE_SEED)
    picked = rng.choice(len(cpu), size=min(max(n_types - len(accel), 0), len(cpu)), replace=False)
    return accel[:n_types] + [cpu[i] for i in sorted(picked)]


def synthetic_fleet(catalog: Catalog, n_models: int, type_names: list[str], seed: int) -> Scenario:
    """The synthetic fleet (module docstring)."""
    rng = np.random.default_rng(seed)
    cpu_refs = [t for t in ("c6i.large", "m6i.large", "c7i.large", "c6a.large") if t in type_names] or [
        "c6i.large"
    ]
    models = []
    for k in range(n_models):
        profile = PROFILES[k % len(PROFILES)]
        if rng.random() < 0.75:
            vcpu = float(rng.choice([0.5, 1, 1, 2, 2, 2, 4, 4, 8]))
            mem = round(vcpu * float(rng.choice([2, 4, 4, 8])), 2)
            arch = None if rng.random() < 0.8 else Arch.X86_64.value
            resources = {"vcpu": vcpu, "memory_gib": mem, **({"arch": arch} if arch else {})}
            caps = {str(rng.choice(cpu_refs)): round(float(rng.uniform(20, 300)) * vcpu, 1)}
            peak = float(rng.uniform(20, 3000))
            host = "m5.4xlarge" if vcpu * 1.2 <= 16 else "m5.12xlarge"
            current = {"platform": "ec2", "instance_type": host, "count": int(rng.integers(2, 12))}
        else:
            gpus = 1.0 if rng.random() < 0.85 else float(rng.choice([2, 4]))
            resources = {
                "vcpu": 4 * gpus,
                "memory_gib": 16 * gpus,
                "gpu_count": gpus,
                "gpu_memory_gib": 16 * gpus,
            }
            caps = {"g5.xlarge" if gpus == 1 else "g5.12xlarge": round(float(rng.uniform(10, 80)), 1)}
            caps["g6.xlarge" if gpus == 1 else "g6.12xlarge"] = round(float(rng.uniform(8, 60)), 1)
            peak = float(rng.uniform(10, 400))
            current = {"platform": "ec2", "instance_type": "g5.12xlarge", "count": int(rng.integers(1, 4))}
        models.append(
            {
                "name": f"model-{k:03d}", "server": {"endpoint": "http://127.0.0.1:9/predict"},
                "resources": resources, "slo": {"latency_p99_ms": float(rng.choice([50, 100, 200, 500]))},
                "traffic": {"profile": profile, "peak_rps": round(peak, 1)}, "capacities_rps": caps,
                **({"current": current} if k % 2 == 0 else {}),
            }
        )  # fmt: skip
    return Scenario.model_validate(
        {
            "name": f"fleet-{n_models}x{len(type_names)}",
            "candidates": {"families": [], "instance_types": type_names, "max_size_vcpu": 512},
            "models": models,
        }
    )
