"""Benchmark: multi-model packing, 200 models x 300 real instance types (us-east-1 on-demand).

Prints the packing time, the packed cost over the certified LP lower bound (target <= 1.02), and, for
comparison, what Karpenter-like first-fit decreasing alone costs over the same bound (published figure:
about 5-6 % above). Also the dedicated-pools cost. Fixed seeds; nothing here is a test.

Instance types: the real bundled catalog's us-east-1 on-demand offers, less burstable and .metal types;
every accelerated type is kept and CPU types are sampled (seed 7) to make 300. Replica needs are
synthetic but shaped like inference fleets: 75 % CPU models (0.5-8 vCPU, 2-8 GiB per vCPU, 2-40 replicas,
mostly x86, some arm64-only, some multi-arch) and 25 % GPU models (1 GPU, or 2-4 for large ones, 8-40 GiB
GPU memory, 4-16 vCPU, 2-10 replicas).

    .venv/bin/python benchmarks/bench_packing.py [--models 200] [--types 300] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from advisor import Arch, Catalog, ReplicaResources, Settings
from advisor.optimize.packing import (
    ModelDemand,
    NodeType,
    PackingOptions,
    karpenter_like_ffd,
    node_types_from_offers,
    pack,
)

TYPE_SAMPLE_SEED = 7


def candidate_types(n_types: int) -> list[NodeType]:
    """``n_types`` real us-east-1 types: all accelerated ones plus a seeded sample of CPU types."""
    offers = Catalog.load(Settings()).offers("us-east-1")
    types = node_types_from_offers(offers)
    accel = [t for t in types if t.accelerated]
    cpu = [t for t in types if not t.accelerated]
    rng = np.random.default_rng(TYPE_SAMPLE_SEED)
    take = max(n_types - len(accel), 0)
    picked = rng.choice(len(cpu), size=min(take, len(cpu)), replace=False)
    return accel[:n_types] + [cpu[i] for i in sorted(picked)]


def synthetic_models(n_models: int, seed: int) -> list[ModelDemand]:
    """Replica needs shaped like an inference fleet (see module docstring)."""
    rng = np.random.default_rng(seed)
    out: list[ModelDemand] = []
    for k in range(n_models):
        if rng.random() < 0.75:
            vcpu = float(rng.choice([0.5, 1, 1, 2, 2, 2, 4, 4, 8]))
            mem = round(vcpu * float(rng.choice([2, 4, 4, 8])) * float(rng.uniform(0.8, 1.25)), 2)
            arch_draw = rng.random()
            arch = Arch.X86_64 if arch_draw < 0.6 else (Arch.ARM64 if arch_draw < 0.7 else None)
            res = ReplicaResources(vcpu=vcpu, memory_gib=mem, arch=arch)
            replicas = int(np.clip(np.round(rng.lognormal(2.0, 0.8)), 2, 40))
        else:
            gpus = 1.0 if rng.random() < 0.85 else float(rng.choice([2, 4]))
            gpu_mem = float(rng.choice([8, 12, 16, 20, 40])) * (gpus if gpus > 1 else 1)
            vcpu = float(rng.choice([4, 4, 8, 8, 16])) * (gpus if gpus > 1 else 1) / 2
            mem = float(rng.choice([16, 24, 32, 48])) * (gpus if gpus > 1 else 1)
            res = ReplicaResources(
                vcpu=vcpu, memory_gib=mem, gpu_count=gpus, gpu_memory_gib=gpu_mem, arch=Arch.X86_64
            )
            replicas = int(rng.integers(2, 11))
        out.append(ModelDemand(name=f"model-{k:03d}", replicas=replicas, resources=res))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--types", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    types = candidate_types(args.types)
    accelerated = sum(t.accelerated for t in types)
    print(f"{len(types)} candidate types ({accelerated} accelerated), {args.models} models")
    rows = []
    for seed in args.seeds:
        demands = synthetic_models(args.models, seed)
        t0 = time.perf_counter()
        result = pack(demands, types, PackingOptions())
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        ffd = karpenter_like_ffd(demands, types)
        ffd_seconds = time.perf_counter() - t1
        assert ffd is not None and result.plan is not None
        bound = result.lower_bound_usd_per_hour
        rows.append(
            {
                "seed": seed,
                "replicas": sum(d.replicas for d in demands),
                "pack_s": round(seconds, 2),
                "solver": result.solver_status,
                "chosen": result.chosen,
                "cost_usd_h": round(result.usd_per_hour, 2),
                "bound_usd_h": round(bound, 2),
                "cost/bound": round(result.usd_per_hour / bound, 4),
                "milp/bound": round((result.milp_usd_per_hour or np.nan) / bound, 4),
                "shared/bound": round((result.shared_usd_per_hour or np.nan) / bound, 4),
                "dedicated/bound": round((result.dedicated_usd_per_hour or np.nan) / bound, 4),
                "ffd/bound": round(ffd.usd_per_hour / bound, 4),
                "ffd_s": round(ffd_seconds, 2),
                "repaired": result.plan.repaired_replicas,
                "nodes": len(result.plan.nodes),
            }
        )
        for note in result.notes:
            print(f"  seed {seed}: {note}")
    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(frame.to_string(index=False))
    print(
        f"\npacking time: max {frame['pack_s'].max():.2f} s; packed cost / LP bound: mean "
        f"{frame['cost/bound'].mean():.4f} (target <= 1.02); Karpenter-like FFD / LP bound: mean "
        f"{frame['ffd/bound'].mean():.4f}"
    )


if __name__ == "__main__":
    main()
