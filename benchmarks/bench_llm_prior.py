"""Benchmark: the LLM performance prior against published measurements, and its closed-form capacity against
the engine's discrete-event simulation.

1. Every published point of ``advisor/capacity/llm/data/llm_published.csv`` (sources in ``SOURCES.md`` beside
   it): measured TTFT and TPOT against the prior with its default factors and with factors fitted without
   that point (held out: the pooled fit on every other point, then its device's bandwidth share on the
   device's other points); the median absolute error of each.
2. The closed-form capacity at an SLO (:meth:`LLMPrior.capacity_rps`) against
   :func:`advisor.bench.llm.true_capacity` on the same engine parameters (8,000 Poisson requests x 2 seeds per
   rate), over 5 shapes x 4 request sizes x 2 SLOs.

    .venv/bin/python benchmarks/bench_llm_prior.py [--skip-capacity]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from advisor import Catalog, Settings
from advisor.bench.llm import EngineConfig, EngineMode, true_capacity
from advisor.capacity.llm import (
    EngineSteps,
    LLMPrior,
    WeightsDtype,
    factors_for,
    held_out_errors,
    instance_devices,
    preset,
)


def _engine(steps: EngineSteps) -> EngineConfig:
    """The prior's replica as the simulator's batching engine."""
    return EngineConfig(mode=EngineMode.BATCHING, **vars(steps))


SHAPES = [
    ("g5.2xlarge", "llama-3.1-8b", 1),
    ("p5.4xlarge", "llama-3.1-8b", 1),
    ("p4de.24xlarge", "llama-3.1-70b", 4),
    ("g6e.xlarge", "qwen2.5-7b", 1),
    ("g5.12xlarge", "llama-3.1-8b", 4),
]
SIZES = [(1000, 130), (200, 500), (3000, 50), (100, 20)]
SLOS = [(2000.0, 100.0), (500.0, 50.0)]


def _err(estimate: float, measured: float) -> str:
    return f"{(estimate / measured - 1) * 100:+6.0f}%"


def published() -> None:
    print("1. The prior against published measurements (ms; TPOT = (E2E - TTFT) / (tokens - 1))")
    print(
        f"{'point':<30} {'device':>9} {'TP':>2} {'in/out':>9} {'conc':>4} | {'TTFT':>7} {'default':>7}"
        f" {'held-out':>8} | {'TPOT':>6} {'default':>7} {'held-out':>8}"
    )
    default, held = [], []
    for p, d, c in held_out_errors():
        print(
            f"{p.id:<30} {p.device:>9} {p.tp:>2} {p.input_tokens:>4}/{p.output_tokens:<4}"
            f" {p.concurrency:>4} |"
            f" {p.ttft_ms:>7.1f} {_err(d.ttft_ms, p.ttft_ms):>7} {_err(c.ttft_ms, p.ttft_ms):>8} |"
            f" {p.tpot_ms:>6.2f} {_err(d.tpot_ms, p.tpot_ms):>7} {_err(c.tpot_ms, p.tpot_ms):>8}"
        )
        default += [abs(d.ttft_ms / p.ttft_ms - 1), abs(d.tpot_ms / p.tpot_ms - 1)]
        held += [abs(c.ttft_ms / p.ttft_ms - 1), abs(c.tpot_ms / p.tpot_ms - 1)]
    tpot_d, tpot_h = default[1::2], held[1::2]
    print(
        f"median |error|, TTFT and TPOT: default factors {np.median(default):.1%},"
        f" held-out fit {np.median(held):.1%};"
        f" TPOT alone: {np.median(tpot_d):.1%} and {np.median(tpot_h):.1%}"
    )


def capacity() -> None:
    print("\n2. Closed-form capacity against the engine simulated (requests/s a replica)")
    catalog = Catalog.load(Settings())
    errors, start, closed_s = [], time.monotonic(), 0.0
    for shape, model, tp in SHAPES:
        devices = instance_devices(catalog.instance(shape))
        assert devices is not None
        prior = LLMPrior(preset(model), WeightsDtype.BF16, devices, tp, factors_for(devices.spec.device))
        for sizes in SIZES:
            for slo in SLOS:
                t0 = time.monotonic()
                closed = prior.capacity_rps(*sizes, *slo)
                closed_s += time.monotonic() - t0
                truth = true_capacity(
                    _engine(prior.engine(*sizes)), *slo, [sizes], requests=8000, seeds=2
                ).capacity_rps
                if truth > 0:
                    errors.append(closed / truth - 1)
                    print(
                        f"{shape:<14} {model:<14} tp{tp} {sizes[0]:>5}x{sizes[1]:<4}"
                        f" TTFT<={slo[0]:<5g} TPOT<={slo[1]:<4g} simulated {truth:8.3g}"
                        f" closed form {closed:8.3g} {(closed / truth - 1) * 100:+6.0f}%"
                    )
    e = np.asarray(errors)
    print(
        f"{len(e)} cases: median {np.median(e):+.0%}, 10th-90th percentile {np.percentile(e, 10):+.0%} to"
        f" {np.percentile(e, 90):+.0%}, worst {e.min():+.0%} / {e.max():+.0%}; closed form"
        f" {closed_s / len(e) * 1000:.1f} ms a capacity, simulation"
        f" {(time.monotonic() - start - closed_s) / len(e):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-capacity", action="store_true", help="only the published points (fast)")
    args = parser.parse_args()
    published()
    if not args.skip_capacity:
        capacity()


if __name__ == "__main__":
    main()
