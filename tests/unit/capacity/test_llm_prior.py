"""The LLM performance prior: architectures, devices, memory, the closed forms against the engine simulator,
and calibration recovering the factors that generated its measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.bench.llm import EngineConfig, EngineMode, true_capacity
from advisor.capacity.llm import (
    PRESETS,
    EngineSteps,
    LLMArchitecture,
    LLMMeasurement,
    LLMPrior,
    PriorFactors,
    WeightsDtype,
    estimate_shape,
    fit_factors,
    held_out_errors,
    instance_devices,
    preset,
    published_points,
)
from advisor.errors import InputError
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings


def _engine(steps: EngineSteps) -> EngineConfig:
    """The prior's replica as the simulator's batching engine."""
    return EngineConfig(mode=EngineMode.BATCHING, **vars(steps))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


@pytest.mark.parametrize(
    ("name", "billions"),
    # the sizes each model card states: 8.03 B, 70.6 B, 6.74 B, 7.25 B, 7.62 B
    [
        ("llama-3.1-8b", 8.03),
        ("llama-3.1-70b", 70.6),
        ("llama-2-7b", 6.74),
        ("mistral-7b", 7.25),
        ("qwen2.5-7b", 7.62),
    ],
)
def test_parameter_counts_match_the_published_sizes(name: str, billions: float) -> None:
    assert PRESETS[name].parameters / 1e9 == pytest.approx(billions, rel=0.005)


def test_kv_bytes_per_token_as_the_notes_compute_them() -> None:
    # ../shared/llm/NOTES.md §4: 128 KiB (Llama-3.1-8B), 320 KiB (70B), 512 KiB (Llama-2-7B, MHA), in BF16
    assert preset("llama-3.1-8b").kv_bytes_per_token() == 128 * 1024
    assert preset("llama-3.1-70b").kv_bytes_per_token() == 320 * 1024
    assert preset("llama-2-7b").kv_bytes_per_token() == 512 * 1024
    # 8 KV heads over 16 GPUs: each keeps one (replicated), not half of one
    assert preset("llama-3.1-70b").kv_bytes_per_token_per_gpu(16) == 2 * 80 * 1 * 128 * 2


def test_a_config_json_reads_as_its_preset(tmp_path: Path) -> None:
    cfg = {
        "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
        "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 131072,
        "tie_word_embeddings": False, "model_type": "llama",
    }  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    arch = LLMArchitecture.from_config(path)
    assert arch.parameters == preset("llama-3.1-8b").parameters
    assert arch.kv_bytes_per_token() == preset("llama-3.1-8b").kv_bytes_per_token()
    path.write_text(json.dumps({**cfg, "hidden_size": "big"}))
    with pytest.raises(InputError, match="hidden_size"):
        LLMArchitecture.from_config(path)
    with pytest.raises(InputError, match="no LLM preset"):
        preset("gpt-5")


def test_devices_per_instance_type(catalog: Catalog) -> None:
    g5 = instance_devices(catalog.instance("g5.12xlarge"))
    assert g5 is not None and (g5.spec.device, g5.count) == ("A10G", 4)
    assert g5.tp_degrees(preset("llama-3.1-8b").heads) == [1, 2, 4]
    p4de, p4d = (
        instance_devices(catalog.instance("p4de.24xlarge")),
        instance_devices(catalog.instance("p4d.24xlarge")),
    )
    assert p4de is not None and p4de.spec.device == "A100-80GB" and p4de.spec.bandwidth_gb_per_s == 2039
    assert p4d is not None and p4d.spec.device == "A100-40GB" and p4d.spec.bandwidth_gb_per_s == 1555
    inf2 = instance_devices(catalog.instance("inf2.48xlarge"))
    assert inf2 is not None and (inf2.spec.device, inf2.count) == ("Inferentia2", 12)
    assert instance_devices(catalog.instance("g6f.large")) is None  # an eighth of an L4
    assert instance_devices(catalog.instance("c6i.large")) is None
    # Qwen2.5-7B has 28 heads: a degree of 8 does not divide them
    assert instance_devices(catalog.instance("p5.48xlarge")).tp_degrees(28) == [1, 2, 4]  # type: ignore[union-attr]


def test_memory_plan(catalog: Catalog) -> None:
    p4de = instance_devices(catalog.instance("p4de.24xlarge"))
    assert p4de is not None
    alone = LLMPrior(preset("llama-3.1-70b"), WeightsDtype.BF16, p4de, 1).memory()
    assert not alone.fits and "GiB" in alone.reason  # 131 GiB of weights on one 80 GB A100
    two = LLMPrior(preset("llama-3.1-70b"), WeightsDtype.BF16, p4de, 2)
    plan = two.memory()
    assert plan.fits and two.replicas_per_instance == 4
    f = two.factors
    assert plan.weights_gib_per_device + plan.kv_gib_per_device + f.reserve_gib == pytest.approx(
        p4de.memory_gib * f.gpu_memory_utilization
    )
    per_token = preset("llama-3.1-70b").kv_bytes_per_token_per_gpu(2)
    assert plan.kv_tokens == int(plan.kv_gib_per_device * 1024**3 // per_token)
    # the batch a request size allows: the tokens over its mean context in flight
    assert plan.max_batch(1000, 200) == min(256, plan.kv_tokens // 1100)
    int4 = LLMPrior(preset("llama-3.1-70b"), WeightsDtype.INT4, p4de, 1).memory()
    assert int4.fits and int4.weights_gib_per_device < plan.weights_gib_per_device


def test_latencies_move_the_right_way(catalog: Catalog) -> None:
    h100 = instance_devices(catalog.instance("p5.4xlarge"))
    assert h100 is not None
    prior = LLMPrior(preset("llama-3.1-8b"), WeightsDtype.BF16, h100, 1)
    one = prior.at_concurrency(500, 200, 1)
    e = prior.engine(500, 200)
    assert one.tpot_ms == pytest.approx(e.step_base_ms + e.step_per_seq_ms)
    assert one.ttft_ms == pytest.approx(500 * e.prefill_ms_per_token + e.step_base_ms + e.step_per_seq_ms)
    many = [prior.at_concurrency(500, 200, c) for c in (1, 8, 64)]
    assert many[0].tpot_ms < many[1].tpot_ms < many[2].tpot_ms
    assert many[0].output_tokens_per_s < many[1].output_tokens_per_s < many[2].output_tokens_per_s
    assert prior.at_concurrency(4000, 200, 1).ttft_ms > 4 * one.ttft_ms
    fp8 = LLMPrior(preset("llama-3.1-8b"), WeightsDtype.FP8, h100, 1).at_concurrency(500, 200, 1)
    assert fp8.tpot_ms < one.tpot_ms  # half the bytes a step


@pytest.mark.parametrize(
    ("shape", "model", "tp", "sizes", "slo"),
    [
        ("g5.2xlarge", "llama-3.1-8b", 1, (1000, 130), (2000, 100)),
        ("p5.4xlarge", "llama-3.1-8b", 1, (200, 500), (2000, 50)),
        ("g5.12xlarge", "llama-3.1-8b", 4, (2000, 300), (2000, 50)),
    ],
)
def test_the_closed_form_capacity_is_near_the_engines_simulated_one(
    catalog: Catalog, shape: str, model: str, tp: int, sizes: tuple[int, int], slo: tuple[float, float]
) -> None:
    devices = instance_devices(catalog.instance(shape))
    assert devices is not None
    prior = LLMPrior(preset(model), WeightsDtype.BF16, devices, tp)
    truth = true_capacity(_engine(prior.engine(*sizes)), *slo, [sizes], requests=8000, seeds=2).capacity_rps
    assert prior.capacity_rps(*sizes, *slo) == pytest.approx(truth, rel=0.25)
    # a tighter TPOT bound never serves more
    assert prior.capacity_rps(*sizes, slo[0], slo[1] * 0.8) <= prior.capacity_rps(*sizes, *slo)


def test_calibration_recovers_the_factors_that_made_the_measurements() -> None:
    truth = PriorFactors(
        bandwidth_efficiency=0.62, compute_efficiency=0.41, step_overhead_ms=1.2, allreduce_us=25
    )
    made = []
    for p in published_points():
        est = p.predict(truth)
        made.append(LLMMeasurement(**{**vars(p), "ttft_ms": est.ttft_ms, "tpot_ms": est.tpot_ms}))
    fitted = fit_factors(made)
    assert fitted.bandwidth_efficiency == pytest.approx(0.62, rel=0.02)
    assert fitted.step_overhead_ms == pytest.approx(1.2, abs=0.1)
    assert fitted.allreduce_us == pytest.approx(25, rel=0.1)
    assert fitted.compute_efficiency == pytest.approx(0.41, rel=0.02)


def test_held_out_errors_cover_every_published_point() -> None:
    rows = held_out_errors()
    assert len(rows) == len(published_points()) >= 5
    assert len({p.device for p, _d, _c in rows}) >= 2


def test_estimate_picks_a_degree_and_says_what_does_not_fit(catalog: Catalog) -> None:
    arch = preset("llama-3.1-70b")
    e = estimate_shape(arch, WeightsDtype.BF16, catalog.instance("p5.48xlarge"), 550, 150, [1, 16],
                       slo_ttft_p99_ms=2000, slo_tpot_p99_ms=100)  # fmt: skip
    assert e.fits and e.tp in (2, 4, 8) and e.replicas_per_instance * e.tp == 8
    assert e.capacity_rps_per_instance == pytest.approx(e.capacity_rps * e.replicas_per_instance)  # type: ignore[operator]
    assert [p.concurrency for p in e.points] == [1, 16] and e.basis
    small = estimate_shape(arch, WeightsDtype.BF16, catalog.instance("g5.2xlarge"), 550, 150, [1])
    assert not small.fits and "GiB" in small.reason and small.points == []
