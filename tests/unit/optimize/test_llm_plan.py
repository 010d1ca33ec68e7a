"""An LLM's plan over the day: the mix per traffic level carried over a diurnal curve, on the Azure
conversation trace (issue 22's case: Llama-3.1-8B, p99 TTFT 2 s and TPOT 100 ms, a peak of 6 requests/s,
us-east-1), and the curve mechanics on hand-made options."""

from __future__ import annotations

import numpy as np
import pytest

from advisor import Catalog, Settings
from advisor.capacity.llm import WeightsDtype, preset
from advisor.cost.tokens import token_cost
from advisor.optimize.llm.plan import (
    LLMOption,
    LLMPlan,
    SizeBucket,
    llm_options,
    plan_llm,
    replica_start_s,
    size_buckets,
)
from advisor.traffic import resolve_profile
from advisor.traffic.profile import HOURS_PER_MONTH
from advisor.traffic.tokens import read_token_trace
from tests.helpers import SHARED

CONV = SHARED / "traces" / "azure_llm_inference_2023_conv.csv"
FAMILIES = ("g5", "g6", "g6e", "p4d", "p4de", "p5")


@pytest.fixture(scope="module")
def azure_plan() -> tuple[LLMPlan, np.ndarray]:
    if not CONV.is_file():
        pytest.skip("../shared/traces/ is not beside the checkout")
    settings = Settings()
    catalog = Catalog.load(settings)
    buckets = size_buckets(read_token_trace(CONV))
    itypes = [catalog.instance(n) for n in catalog.instance_type_names if n.split(".")[0] in FAMILIES]

    def price(name: str) -> float | None:
        return catalog.on_demand("us-east-1", name).usd_per_hour

    options = llm_options(preset("llama-3.1-8b"), WeightsDtype.BF16, itypes, price, buckets, 2000, 100)
    profile = resolve_profile("diurnal-business-api", settings)
    rps = profile.rps / profile.rps.max() * 6.0
    return plan_llm(rps, profile.step_s, buckets, options), rps


def test_the_trace_buckets_carry_the_whole_trace() -> None:
    if not CONV.is_file():
        pytest.skip("../shared/traces/ is not beside the checkout")
    buckets = size_buckets(read_token_trace(CONV))
    assert sum(b.share for b in buckets) == pytest.approx(1.0)
    assert buckets[0].label == "in 1k-2k x out 250-500" and buckets[0].share == pytest.approx(
        0.264, abs=0.002
    )
    assert 1000 <= buckets[0].input_tokens < 2000 and 250 <= buckets[0].output_tokens < 500


def test_every_plan_fits_in_gpu_memory(azure_plan: tuple[LLMPlan, np.ndarray]) -> None:
    plan, _ = azure_plan
    arch = preset("llama-3.1-8b")
    settings = Settings()
    catalog = Catalog.load(settings)
    for option in plan.options.values():
        itype = catalog.instance(option.instance_type)
        per_device = (
            itype.gpu_memory_gib / itype.gpu_count if itype.gpu_count else itype.accelerator_memory_gib
        )
        usable = per_device * 0.9 - 1.0  # vLLM's cap less the activation reserve (PriorFactors defaults)
        for bucket in plan.buckets:
            batch = option.max_batch[bucket.label]
            context = bucket.input_tokens + bucket.output_tokens / 2
            kv_gib = batch * context * arch.kv_bytes_per_token_per_gpu(option.tp) / 1024**3
            assert option.weights_gib_per_device + kv_gib <= usable + 1e-6, (option.name, bucket.label)


def test_the_curve_is_served_and_costs_what_its_instances_do(azure_plan: tuple[LLMPlan, np.ndarray]) -> None:
    plan, rps = azure_plan
    assert plan.curve.overload_steps == 0 and bool(np.all(plan.curve.served_rps >= rps - 1e-9))
    step_h = 600 / 3600  # the bundled profiles' step
    hours = len(rps) * step_h
    usd = sum(float(c.sum()) * plan.options[n].usd_per_hour * step_h for n, c in plan.curve.counts.items())
    assert plan.curve.usd_per_month == pytest.approx(usd * HOURS_PER_MONTH / hours)
    for name, (low, high) in plan.bounds().items():
        assert 0 <= low <= high and plan.curve.counts[name].max() == high
    assert plan.lead_s == max(o.start_s for o in plan.options.values())


def test_the_peak_mix_serves_every_bucket_and_beats_every_single_type(
    azure_plan: tuple[LLMPlan, np.ndarray],
) -> None:
    plan, _ = azure_plan
    mix = plan.peak_mix
    assert {b.label for b in plan.buckets} == set(mix.routing)
    for route in mix.routing.values():
        assert sum(route.values()) == pytest.approx(1.0)
    assert plan.best_single is not None
    assert plan.curve.usd_per_month <= plan.best_single[1].usd_per_month + 1e-6
    assert plan.curve.usd_per_month <= plan.static_peak_usd_per_month + 1e-6
    # each level's mix costs no more than the next one up
    costs = [m.usd_per_hour for _, m in plan.levels]
    assert costs == sorted(costs)


def test_blended_dollars_per_million_tokens_is_the_month_over_its_tokens(
    azure_plan: tuple[LLMPlan, np.ndarray],
) -> None:
    plan, _ = azure_plan
    seconds = HOURS_PER_MONTH * 3600
    tc = token_cost(
        plan.curve.usd_per_month / HOURS_PER_MONTH,
        plan.input_tokens_per_month / seconds,
        plan.output_tokens_per_month / seconds,
        prefill_s_per_s=plan.prefill_share,
        decode_s_per_s=1 - plan.prefill_share,
    )
    per_m = plan.curve.usd_per_month / (plan.input_tokens_per_month + plan.output_tokens_per_month) * 1e6
    assert tc.usd_per_m_blended == pytest.approx(per_m)
    assert 0 < plan.prefill_share < 1 and tc.usd_per_m_output > tc.usd_per_m_input  # type: ignore[operator]


def _option(name: str, price: float, capacity: float, start_s: float = 0.0) -> LLMOption:
    return LLMOption(
        name, name, 1, 1, "A10G", price, {"b": capacity}, {"b": 0.3}, start_s, 15.0, 4.0, {"b": 32}
    )


def test_instances_are_ordered_ahead_of_the_demand_by_the_start_time() -> None:
    rps = np.array([1.0, 1.0, 1.0, 4.0, 4.0, 1.0])
    buckets = [SizeBucket("b", 1.0, 500, 100)]
    quick = plan_llm(rps, 60, buckets, [_option("x", 1.0, 1.0, start_s=0)], levels=4)
    slow = plan_llm(rps, 60, buckets, [_option("x", 1.0, 1.0, start_s=120)], levels=4)
    assert quick.curve.counts["x"].tolist() == [1, 1, 1, 4, 4, 1]
    assert slow.curve.counts["x"].tolist() == [1, 4, 4, 4, 4, 1]  # two steps ahead of the rise
    assert slow.curve.usd_per_month > quick.curve.usd_per_month
    assert replica_start_s(16.0) > replica_start_s(1.0)


def test_small_buckets_join_their_nearest_larger_one() -> None:
    from advisor.optimize.llm.plan import merge_small

    buckets = [
        SizeBucket("big-short", 0.6, 100, 50),
        SizeBucket("big-long", 0.395, 2000, 400),
        SizeBucket("tiny", 0.005, 2500, 450),
    ]
    merged = {b.label: b for b in merge_small(buckets, 0.01)}
    assert set(merged) == {"big-short", "big-long"}
    long = merged["big-long"]
    assert long.share == pytest.approx(0.4)
    assert long.input_tokens == pytest.approx((0.395 * 2000 + 0.005 * 2500) / 0.4)
    assert sum(b.share for b in merged.values()) == pytest.approx(1.0)
    empty_prompts = merge_small([*buckets, SizeBucket("no-prompt", 0.002, 0.0, 40)], 0.01)
    assert {b.label for b in empty_prompts} == {"big-short", "big-long"}  # joins the short one, no error
