"""What apply needs of an LLM plan: header keys of size buckets, the engine's context length, the fixed
router split's instances (at least one, ordered ahead), and the daily floors as scheduled minimums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from advisor.optimize.llm.deployment import _counts, bucket_key, hourly_floors, max_model_len
from advisor.traffic.profile import TrafficProfile


def test_bucket_keys_are_header_values() -> None:
    assert bucket_key("in 1k-2k x out 250-500") == "in1k-2k.out250-500"
    assert bucket_key("in <25 x out >8k") == "in-lt25.out-gt8k"
    assert bucket_key("1000 in x 130 out") == "1000in.130out"


def test_context_length() -> None:
    assert max_model_len(5000, 131072, None) == 8192  # rounded up to a power of two
    assert max_model_len(100, 131072, None) == 1024  # at least 1,024
    assert max_model_len(50_000, 32768, None) == 32768  # at most the model's context
    assert max_model_len(50_000, 32768, 4096) == 4096  # the scenario's wins


def test_counts_keep_one_instance_and_lead_the_demand() -> None:
    rps = np.array([0.0, 0.0, 0.0, 9.0, 9.0, 1.0])
    got = _counts(rps, share=0.5, per_instance=1.5, lead=2)
    assert got.tolist() == [1, 3, 3, 3, 3, 1]  # 4.5 req/s needs 3, ordered two steps early
    assert _counts(rps, 0.5, 1.5, 0).tolist() == [1, 1, 1, 3, 3, 1]


def _profile(replicas_by_hour: list[int], days: int, zone: str = "Europe/Berlin") -> TrafficProfile:
    per_step = np.repeat(np.tile(np.array(replicas_by_hour, dtype=float), days), 60)
    start = pd.Timestamp("2026-01-05 00:00", tz=zone)
    return TrafficProfile.from_array("t", per_step, start=start, step_s=60)


def test_daily_floors_become_scheduled_minimums() -> None:
    day = [1] * 8 + [4] * 10 + [2] * 6  # 08:00-18:00 needs 4, 18:00-24:00 needs 2
    profile = _profile(day, days=3)
    replicas = profile.rps.astype(np.int64)
    replicas[60 * 30] = 1  # one day's 06:00-07:00 hour is lower: the floor is the lowest day's
    floors = hourly_floors(replicas, profile, minimum=1)
    assert [(f.start, f.end, f.min_replicas) for f in floors] == [
        ("0 8 * * *", "0 18 * * *", 4),
        ("0 18 * * *", "0 0 * * *", 2),
    ]
    assert {f.timezone for f in floors} == {"Europe/Berlin"}


def test_no_floors_without_a_whole_day() -> None:
    profile = _profile([3] * 12, days=1)
    assert hourly_floors(profile.rps.astype(np.int64), profile, minimum=1) == []


@pytest.mark.parametrize("minimum", [4, 5])
def test_no_floor_at_or_under_the_minimum(minimum: int) -> None:
    profile = _profile([1] * 8 + [4] * 16, days=2)
    assert hourly_floors(profile.rps.astype(np.int64), profile, minimum=minimum) == []
