"""Benchmark: the whole recommendation at fleet scale, and how close the demo's answer is to its bounds.

Part 1 - 200 models x 300 instance types (us-east-1, real catalog types: every accelerated type plus a seeded
sample of CPU types, as in ``bench_packing.py``). Models are synthetic but shaped like an inference fleet:
75 % CPU replicas (0.5-8 vCPU, 2-8 GiB per vCPU) and 25 % GPU replicas (1 GPU, some 2-4), each with a
capacity given on one reference type, traffic from the five bundled profiles at seeded peaks, and a current
deployment for half of them. Prints the wall time of ``recommend`` (target <= 10 s), the packed cost over
the certified lower bound inside the recommendation (target <= 1.02), and, for the same peak replicas packed
over all 300 types at once, the packer's ratio and the Karpenter-like first-fit-decreasing ratio.

Part 2 - the demo scenario (``examples/demo-scenario.yaml``, capacities as given in the file unless
``--home`` points at a store with bench results): per model and in total, recommended cost / fluid lower
bound and the saving against static on-demand for the peak and against today.

    .venv/bin/python benchmarks/bench_recommend.py [--models 200] [--types 300] [--seed 0] [--home DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import advisor
from advisor import Arch, Catalog, Recommendation, Scenario, Settings
from advisor.optimize.packing import (
    ModelDemand,
    PackingOptions,
    karpenter_like_ffd,
    node_types_from_offers,
    pack,
)
from advisor.recommendation import Action

REPO = Path(__file__).resolve().parent.parent
PROFILES = ("flat", "diurnal-business-api", "weekday-business-hours", "nightly-batch", "bursty-spikes")
TYPE_SAMPLE_SEED = 7


def candidate_type_names(catalog: Catalog, n_types: int) -> list[str]:
    """``n_types`` real us-east-1 types: all accelerated ones plus a seeded sample of CPU types."""
    types = node_types_from_offers(catalog.offers("us-east-1"))
    accel = [t.name for t in types if t.accelerated]
    cpu = [t.name for t in types if not t.accelerated]
    rng = np.random.default_rng(TYPE_SAMPLE_SEED)
    picked = rng.choice(len(cpu), size=min(max(n_types - len(accel), 0), len(cpu)), replace=False)
    return accel[:n_types] + [cpu[i] for i in sorted(picked)]


def fleet_scenario(catalog: Catalog, n_models: int, type_names: list[str], seed: int) -> Scenario:
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


def part1(args: argparse.Namespace, settings: Settings, catalog: Catalog) -> None:
    names = candidate_type_names(catalog, args.types)
    sc = fleet_scenario(catalog, args.models, names, args.seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    rec = advisor.recommend(sc, settings=settings, catalog=catalog)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    served = [m for m in rec.models if m.plan is not None]
    replayed = sum(m.plans_replayed for m in rec.models)
    print(f"== {args.models} models x {len(names)} instance types ==")
    cannot = sum(m.action is Action.CANNOT_RECOMMEND for m in rec.models)
    print(f"recommend wall time: {wall:6.2f} s (target <= 10 s; CPU {cpu:.2f} s; {replayed} replays)")
    print(f"models with a plan:               {len(served)} of {len(rec.models)} ({cannot} without one)")
    if rec.packing is not None and rec.packing.ratio_to_lower_bound is not None:
        p = rec.packing
        adopted = sum(g.adopted for g in p.groups)
        print(
            f"packing in the recommendation:    {p.packed_usd_per_hour:.2f} $/h / bound "
            f"{p.lower_bound_usd_per_hour:.2f} $/h = {p.ratio_to_lower_bound:.4f}   (target <= 1.02; "
            f"{len(p.groups)} groups, {adopted} shared pools adopted)"
        )
    _pack_all(rec, sc, catalog, names)
    if rec.totals.efficiency is not None:
        print(f"fleet cost / fluid lower bound:   {1 / rec.totals.efficiency:.2f}")
    if rec.totals.floor_efficiency is not None:
        print(f"fleet cost / bound with HA floor: {1 / rec.totals.floor_efficiency:.2f}")


def _pack_all(rec: Recommendation, sc: Scenario, catalog: Catalog, names: list[str]) -> None:
    """The EC2 plans' peak replicas packed over all candidate types at once: packer vs Karpenter-like FFD."""
    spec = {m.name: m for m in sc.models}
    demands = [
        ModelDemand(name=m.model, replicas=max(1, m.plan.replicas_max), resources=spec[m.model].resources)
        for m in rec.models
        if m.plan is not None and m.plan.platform.value == "ec2"
    ]
    offers = catalog.offers("us-east-1")
    types = [t for t in node_types_from_offers(offers) if t.name in set(names)]
    t0 = time.perf_counter()
    result = pack(demands, types, PackingOptions())
    took = time.perf_counter() - t0
    ffd = karpenter_like_ffd(demands, types)
    bound = result.lower_bound_usd_per_hour
    print(
        f"packer, all {len(types)} types at once:  {result.usd_per_hour:.2f} $/h / bound {bound:.2f} $/h = "
        f"{result.usd_per_hour / bound:.4f} in {took:.2f} s ({len(demands)} EC2 models, {result.chosen})"
    )
    if ffd is not None:
        print(f"Karpenter-like FFD, same input:   {ffd.usd_per_hour / bound:.4f} x bound")


def part2(args: argparse.Namespace, settings: Settings, catalog: Catalog) -> None:
    path = REPO / "examples" / "demo-scenario.yaml"
    rec = advisor.recommend(path, settings=settings, catalog=catalog)  # as `advisor recommend` runs it
    source = "stored bench results" if args.home else "capacities as given in the file"
    print(f"\n== demo scenario ({source}) ==")
    head = f"{'model':<18}{'platform/shape':<26}{'$/month':>10}{'cost/bound':>12}{'cost/floor bd':>14}"
    print(f"{head}{'vs static peak':>16}{'vs today':>10}")
    for m in rec.models:
        if m.plan is None or m.cost is None:
            print(f"{m.model:<18}cannot recommend: {m.reason}")
            continue
        static = next((b for b in m.baselines if b.name == "static_peak"), None)
        eff = m.efficiency
        ratio = 1 / eff.efficiency if eff and eff.efficiency > 0 else float("nan")
        floor = 1 / eff.floor_efficiency if eff and eff.floor_efficiency else float("nan")
        vs_static = f"{static.savings_pct:.1f}%" if static and static.savings_pct is not None else "—"
        today = f"{m.savings_vs_current_pct:.1f}%" if m.savings_vs_current_pct is not None else "—"
        shape = f"{m.plan.platform.value} {m.plan.shape}"
        print(
            f"{m.model:<18}{shape:<26}{m.cost.usd_per_month:>10.2f}{ratio:>12.2f}{floor:>14.2f}"
            f"{vs_static:>16}{today:>10}"
        )
    t = rec.totals
    static_total = t.baselines_usd_per_month.get("static_peak")
    over_bound = 1 / t.efficiency if t.efficiency else float("nan")
    over_floor = 1 / t.floor_efficiency if t.floor_efficiency else float("nan")
    total_vs_static = t.savings_vs_baselines_pct.get("static_peak", float("nan"))
    total_vs_today = t.savings_vs_current_pct if t.savings_vs_current_pct is not None else float("nan")
    print(
        f"total recommended {t.recommended_usd_per_month:.2f} $/month; cost / fluid bound {over_bound:.2f} "
        f"(/ bound with HA floor {over_floor:.2f}); "
        f"saving vs static on-demand peak {total_vs_static:.1f}% (static {static_total or 0:.2f}); "
        f"vs today {total_vs_today:.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--types", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", type=Path, default=None, help="ADVISOR_HOME with stored bench results")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp()) / "home"
    settings = Settings(home=home)
    catalog = Catalog.load(settings)
    part1(args, settings, catalog)
    part2(args, settings, catalog)


if __name__ == "__main__":
    main()
