"""Measured always wins: LLM bench results replace the prior on their option and bucket, and scale it on the
other options of their device (held out there: the error before and after)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from advisor.capacity.llm import LLMMeasured
from advisor.capacity.llm.evidence import read_llm_evidence
from advisor.optimize.llm.evidence import apply_measurements
from advisor.optimize.llm.plan import LLMOption, SizeBucket

BUCKETS = [SizeBucket("short", 0.7, 300, 100), SizeBucket("long", 0.3, 2000, 400)]


def _option(name: str, device: str, short: float, long: float, replicas: int = 1) -> LLMOption:
    caps = {"short": short, "long": long}
    return LLMOption(f"{name} tp1", name, 1, replicas, device, 1.0, caps, {"short": 0.2, "long": 0.4}, 300.0,
                     15.0, 4.0, {"short": 40, "long": 10})  # fmt: skip


def _measured(
    shape: str, bucket: str | None, rps: float, ttft: float = 2000, tpot: float = 100
) -> LLMMeasured:
    return LLMMeasured("run-1", "chat", shape, bucket, rps, ttft, tpot, 0.99, 300, 100, "advisor", False)


def test_a_measurement_replaces_the_prior_and_calibrates_its_device() -> None:
    options = [
        _option("g5.2xlarge", "A10G", 4.0, 1.0),
        _option("g5.4xlarge", "A10G", 4.0, 1.0),
        _option("g5.12xlarge", "A10G", 16.0, 4.0, replicas=4),
        _option("g6e.xlarge", "L40S", 8.0, 2.0),
    ]
    # the engine does 70 % of what the prior says on the A10G (a truth the prior cannot know)
    out = {
        o.name: o
        for o in apply_measurements(options, BUCKETS, [_measured("g5.2xlarge", "short", 2.8)], 2000, 100)
    }
    measured = out["g5.2xlarge tp1"]
    assert measured.capacity_rps["short"] == 2.8 and measured.method("short") == "measured"
    assert measured.capacity_rps["long"] == pytest.approx(0.7) and measured.method("long") == "calibrated"
    held_out = out["g5.4xlarge tp1"]  # never measured: the prior was 43 % over the truth, now 0 %
    truth = 0.7 * 4.0
    assert (4.0 - truth) / truth == pytest.approx(0.4286, abs=1e-3)
    assert held_out.capacity_rps["short"] == pytest.approx(truth) and held_out.method("short") == "calibrated"
    assert out["g5.12xlarge tp1"].capacity_rps["short"] == pytest.approx(16.0 * 0.7)
    other = out["g6e.xlarge tp1"]
    assert other.capacity_rps == options[3].capacity_rps and other.method("short") == "prior"


def test_a_measurement_under_a_looser_slo_or_another_bucket_does_not_apply() -> None:
    options = [_option("g5.2xlarge", "A10G", 4.0, 1.0)]
    looser = apply_measurements(
        options, BUCKETS, [_measured("g5.2xlarge", "short", 9.0, tpot=200)], 2000, 100
    )
    assert looser[0].capacity_rps == options[0].capacity_rps and looser[0].method("short") == "prior"
    stricter = apply_measurements(
        options, BUCKETS, [_measured("g5.2xlarge", "short", 3.0, tpot=50)], 2000, 100
    )
    assert stricter[0].capacity_rps["short"] == 3.0  # a stricter SLO's capacity serves a looser one
    whole = apply_measurements(options, BUCKETS, [_measured("g5.2xlarge", None, 3.0)], 2000, 100)
    assert whole[0].method("short") == "prior"  # a whole-distribution run speaks for no one bucket of two
    one = [SizeBucket("300 in x 100 out", 1.0, 310, 95)]
    fixed = apply_measurements(
        [_option("g5.2xlarge", "A10G", 4.0, 1.0)], one, [_measured("g5.2xlarge", None, 3.0)], 2000, 100
    )
    assert fixed[0].capacity_rps["300 in x 100 out"] == 3.0  # fixed sizes within 10 %: it applies


def test_a_search_that_found_no_rate_rules_its_option_out_whatever_was_given() -> None:
    options = [_option("g5.2xlarge", "A10G", 4.0, 1.0), _option("g5.4xlarge", "A10G", 4.0, 1.0)]
    given = replace(options[0], methods={"short": "given", "long": "given"})

    def short_on_first(measured: LLMMeasured, option: LLMOption = options[0]) -> LLMOption:
        return apply_measurements([option, options[1]], BUCKETS, [measured], 2000, 100)[0]

    none = short_on_first(_measured("g5.2xlarge", "short", 0.0))
    assert none.capacity_rps["short"] == 0.0 and none.method("short") == "measured"
    assert none.capacity_rps["long"] == 1.0 and none.method("long") == "prior"  # a zero calibrates nothing
    assert short_on_first(_measured("g5.2xlarge", "short", 0.0), given).capacity_rps["short"] == 0.0
    # failing a looser SLO than the model's: the model's fails too
    assert short_on_first(_measured("g5.2xlarge", "short", 0.0, tpot=200)).capacity_rps["short"] == 0.0
    # failing a stricter one says nothing of the model's; nor does a fixed schedule's failed rate
    stricter = short_on_first(_measured("g5.2xlarge", "short", 0.0, tpot=50))
    assert stricter.capacity_rps["short"] == 4.0 and stricter.method("short") == "prior"
    schedule = replace(_measured("g5.2xlarge", "short", 0.0), fixed_schedule=True)
    assert short_on_first(schedule).method("short") == "prior"
    # a capacity measured under a stricter SLO outweighs a zero under a looser one
    both = apply_measurements(
        options,
        BUCKETS,
        [_measured("g5.2xlarge", "short", 0.0, tpot=200), _measured("g5.2xlarge", "short", 3.0, tpot=50)],
        2000,
        100,
    )
    assert both[0].capacity_rps["short"] == 3.0


def test_a_stored_fixed_schedule_is_told_from_a_capacity_search() -> None:
    class Rows:
        def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
            body = {"capacity_rps": 0.0, "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 100}, "points": []}
            return [
                {"run_id": "s", "model": "chat", "shape": "g5.2xlarge", "bucket": "short", "tool": "advisor",
                 "result_json": json.dumps({**body, "schedule_time_scale": 2.0})},
                {"run_id": "c", "model": "chat", "shape": "g5.4xlarge", "bucket": "short", "tool": "advisor",
                 "result_json": json.dumps(body)},
            ]  # fmt: skip

    got = {m.shape: m for m in read_llm_evidence(Rows(), ["chat"])["chat"]}
    assert got["g5.2xlarge"].fixed_schedule and not got["g5.2xlarge"].rules_out(2000, 100, 0.99)
    assert not got["g5.4xlarge"].fixed_schedule and got["g5.4xlarge"].rules_out(2000, 100, 0.99)
