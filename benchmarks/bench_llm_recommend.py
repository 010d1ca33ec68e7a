"""Benchmark: recommend 20 language models over every GPU and Inferentia2 instance type of the catalog.

Twenty LLM models (the five presets in bf16 and fp8 across chat and code traffic, fixed and trace request
sizes, two SLOs) in one scenario, recommended by ``advisor.recommend`` as ``advisor recommend`` does (every
GPU type priced in the region is a candidate), on this machine; prints the wall time, the candidates per
model and, per model, the mix, $/month and $/M blended tokens. Target (issue 22): at most 30 s.

    .venv/bin/python benchmarks/bench_llm_recommend.py [--models 20]
"""

from __future__ import annotations

import argparse
import itertools
import re
import tempfile
import time
from pathlib import Path

import yaml

from advisor import Catalog, Settings, load_scenario
from advisor.optimize import recommend

SHARED = Path(__file__).resolve().parents[2] / "shared" / "traces"
PRESETS = ["llama-3.1-8b", "mistral-7b", "qwen2.5-7b", "llama-2-7b", "llama-3.1-70b"]
SIZES = [
    {"trace": str(SHARED / "azure_llm_inference_2023_conv.csv")},
    {"trace": str(SHARED / "azure_llm_inference_2023_code.csv")},
    {"input": 1000, "output": 130},
    {"input": 3000, "output": 300},
]
# the recommendation's note on how the capacities were known counts the options (type x TP x platform)
OPTIONS_NOTE = re.compile(r"capacities of the (\d+) options considered")
SLOS = [{"ttft_p99_ms": 2000, "tpot_p99_ms": 100}, {"ttft_p99_ms": 1000, "tpot_p99_ms": 50}]


def scenario(n: int) -> dict:  # type: ignore[type-arg]
    models = []
    combos = itertools.cycle(itertools.product(SIZES, SLOS, ("bf16", "fp8"), PRESETS))
    for i, (sizes, slo, dtype, preset) in enumerate(itertools.islice(combos, n)):
        sizes = (
            sizes if "trace" not in sizes or Path(sizes["trace"]).is_file() else {"input": 800, "output": 200}
        )
        models.append({
            "name": f"llm-{i:02d}", "llm": {"model": preset, "dtype": dtype}, "slo": slo,
            "traffic": {"profile": "diurnal-business-api", "peak_rps": 2 + i % 7}, "tokens": sizes,
        })  # fmt: skip
    return {"name": "llm-fleet", "region": "us-east-1", "models": models}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=20)
    args = parser.parse_args()
    settings = Settings()
    catalog = Catalog.load(settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "llm-fleet.yaml"
        path.write_text(yaml.safe_dump(scenario(args.models), sort_keys=False))
        scen = load_scenario(path)
        start = time.monotonic()
        rec = recommend(scen, catalog, settings, scenario_file=path)
        wall = time.monotonic() - start
    for m in rec.llm_models:
        mix = ", ".join(f"{g.min_instances}-{g.max_instances} x {g.option}" for g in m.groups)
        considered = next((int(hit[1]) for n in m.notes if (hit := OPTIONS_NOTE.search(n))), None)
        blended = m.tokens.usd_per_m_blended or 0
        print(f"{m.model} {m.llm:<14} {m.dtype:<4} {considered or '?':>3} options"
              f" ${m.usd_per_month:>10,.2f}/month ${blended:,.3f}/M  {mix}")  # fmt: skip
    print(f"{len(rec.llm_models)} LLM models recommended in {wall:.1f} s (target 30 s); total"
          f" ${rec.totals.recommended_usd_per_month:,.2f}/month")  # fmt: skip


if __name__ == "__main__":
    main()
