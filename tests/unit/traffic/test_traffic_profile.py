"""Traffic profiles: statistics, operations and parametric generators (hand-checkable figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.errors import InputError
from advisor.settings import Settings
from advisor.traffic import ops
from advisor.traffic.generators import ProfileSpec, generate
from advisor.traffic.library import list_profiles, resolve_profile
from advisor.traffic.profile import TrafficProfile


def _spec(**fields: object) -> ProfileSpec:
    return ProfileSpec.model_validate({"name": "t", **fields})


def test_statistics_are_over_steps_and_requests() -> None:
    p = TrafficProfile.from_array("x", [1.0, 3.0, 0.0, 4.0], step_s=60)
    assert p.total_requests == pytest.approx((1 + 3 + 0 + 4) * 60)
    assert (p.mean_rps, p.peak_rps) == (2.0, 4.0)
    assert p.peak_to_mean == pytest.approx(2.0)
    assert p.duration_hours == pytest.approx(4 / 60)
    assert p.requests_per_month == pytest.approx(480 * 730 / (4 / 60))
    assert p.end - p.start == pd.Timedelta(minutes=4)
    assert TrafficProfile.from_array("z", [0.0, 0.0]).peak_to_mean is None


def test_profiles_are_immutable_values() -> None:
    p = TrafficProfile.from_array("x", [1.0, 2.0])
    with pytest.raises(ValueError):
        p.rps[0] = 5.0
    with pytest.raises(InputError, match="negative"):
        TrafficProfile.from_array("x", [1.0, -1.0])
    with pytest.raises(InputError, match="finite"):
        TrafficProfile.from_array("x", [1.0, float("nan")])


def test_rescale_to_peak_and_to_monthly_volume() -> None:
    p = TrafficProfile.from_array("x", [1.0, 2.0, 4.0], step_s=3600)
    assert ops.rescale_to_peak(p, 100.0).rps.tolist() == pytest.approx([25.0, 50.0, 100.0])
    month = ops.rescale_to_monthly_volume(p, 7.3e6)
    assert month.requests_per_month == pytest.approx(7.3e6)
    assert month.rps / month.rps.max() == pytest.approx(p.rps / p.rps.max())
    with pytest.raises(InputError, match="all-zero"):
        ops.rescale_to_peak(TrafficProfile.from_array("z", [0.0]), 5.0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e4), min_size=12, max_size=200),
    st.sampled_from([2, 3, 4, 6]),
)
def test_resample_keeps_every_request(rates: list[float], factor: int) -> None:
    p = TrafficProfile.from_array("x", rates, step_s=60)
    whole = len(rates) // factor * factor
    coarse = ops.resample(p, 60 * factor)
    assert coarse.total_requests == pytest.approx(sum(rates[:whole]) * 60, rel=1e-9, abs=1e-6)
    fine = ops.resample(p, 60 // 2 if factor == 2 else 20)
    assert fine.total_requests == pytest.approx(p.total_requests, rel=1e-9, abs=1e-6)


def test_resample_rejects_incommensurate_steps() -> None:
    with pytest.raises(InputError, match="cannot resample"):
        ops.resample(TrafficProfile.from_array("x", [1.0] * 10, step_s=60), 90)


def test_repeat_a_week_to_a_month_and_a_year() -> None:
    week = generate(_spec(days=7, components=[{"kind": "diurnal", "trough_rps": 1, "peak_rps": 9}]))
    month = ops.repeat_to(week, "month")
    assert month.duration_hours == pytest.approx(730.0)
    assert month.rps[: week.steps].tolist() == week.rps.tolist()
    assert month.rps[week.steps : 2 * week.steps].tolist() == week.rps.tolist()
    year = ops.repeat_to(week, "year")
    assert year.steps == 8760 * 60
    assert ops.percentiles(year)["p50"] == pytest.approx(week.percentile(50), rel=0.01)


def test_window_slices_in_local_time() -> None:
    p = TrafficProfile.from_array(
        "x", np.arange(48.0), start="2024-01-01", step_s=3600, timezone="Europe/Paris"
    )
    day2 = ops.window(p, "2024-01-02", "2024-01-03")
    assert day2.steps == 24 and day2.rps[0] == 24.0
    assert day2.start == pd.Timestamp("2024-01-02", tz="Europe/Paris")


def test_flat_and_square_generators() -> None:
    flat = generate(_spec(days=1, components=[{"kind": "flat", "rps": 7.5}]))
    assert flat.steps == 1440 and set(flat.rps.tolist()) == {7.5}
    sq = generate(
        _spec(
            days=1,
            components=[
                {"kind": "square", "low_rps": 1, "high_rps": 5, "period_minutes": 60, "high_minutes": 15}
            ],
        )
    )
    assert sq.rps[:15].tolist() == [5.0] * 15 and sq.rps[15:60].tolist() == [1.0] * 45
    assert sq.total_requests == pytest.approx(24 * (15 * 5 + 45 * 1) * 60)


def test_diurnal_peaks_at_local_hour_with_quieter_weekends() -> None:
    p = generate(
        _spec(
            timezone="America/New_York",
            days=7,
            components=[
                {"kind": "diurnal", "trough_rps": 10, "peak_rps": 110, "peak_hour": 14, "weekend_factor": 0.5}
            ],
        )
    )
    s = p.series
    monday = s[s.index.dayofweek == 0]
    assert monday.idxmax().hour == 14 and monday.max() == pytest.approx(110.0)
    assert monday.min() == pytest.approx(10.0, abs=0.01)
    saturday = s[s.index.dayofweek == 5]
    assert saturday.max() == pytest.approx(55.0)


def test_business_hours_only_on_listed_days_in_the_local_zone() -> None:
    p = generate(
        _spec(
            timezone="Europe/Berlin",
            days=7,
            components=[
                {
                    "kind": "business_hours",
                    "business_rps": 40,
                    "off_hours_rps": 2,
                    "open_hour": 9,
                    "close_hour": 17,
                    "days": ["mon", "tue", "wed", "thu", "fri"],
                    "ramp_minutes": 0,
                }
            ],
        )
    )
    s = p.series
    assert s[(s.index.dayofweek == 2) & (s.index.hour == 12)].eq(40).all()
    assert s[(s.index.dayofweek == 2) & (s.index.hour == 20)].eq(2).all()
    assert s[s.index.dayofweek >= 5].eq(2).all()
    # 8 business hours x 5 days at 40 rps, the rest at 2 rps
    expected = (8 * 5 * 40 + (168 - 40) * 2) * 3600
    assert p.total_requests == pytest.approx(expected, rel=1e-9)


def test_nightly_batch_crossing_midnight_belongs_to_its_start_day() -> None:
    p = generate(
        _spec(
            days=7,
            components=[
                {
                    "kind": "nightly_batch",
                    "batch_rps": 100,
                    "start_hour": 23,
                    "duration_hours": 2,
                    "days": ["mon"],
                }
            ],
        )
    )
    s = p.series
    active = s[s > 0]
    assert len(active) == 120
    assert active.index[0] == pd.Timestamp("2024-01-01 23:00", tz="UTC")
    assert active.index[-1] == pd.Timestamp("2024-01-02 00:59", tz="UTC")


def test_spikes_and_noise_are_seeded() -> None:
    fields = {
        "days": 2,
        "noise_pct": 10,
        "components": [
            {"kind": "flat", "rps": 20},
            {"kind": "spikes", "spikes_per_day": 5, "spike_rps": 50, "duration_minutes": 10},
        ],
    }
    a, b = generate(_spec(seed=1, **fields)), generate(_spec(seed=1, **fields))
    c = generate(_spec(seed=2, **fields))
    assert np.array_equal(a.rps, b.rps)
    assert not np.array_equal(a.rps, c.rps)
    assert a.peak_rps > 50
    quiet = generate(_spec(seed=3, days=30, noise_pct=10, components=[{"kind": "flat", "rps": 20}]))
    assert quiet.mean_rps == pytest.approx(20, rel=0.01)  # the noise preserves the mean


def test_spec_post_processing_rescales_and_repeats() -> None:
    p = generate(
        _spec(
            days=1,
            components=[{"kind": "diurnal", "trough_rps": 1, "peak_rps": 3}],
            scale={"peak_rps": 300},
            repeat_to="week",
        )
    )
    assert p.peak_rps == pytest.approx(300)
    assert p.duration_hours == pytest.approx(168)


def test_every_bundled_profile_generates(settings: Settings) -> None:
    entries = list_profiles(settings)
    names = {e.name for e in entries}
    assert {
        "diurnal-business-api",
        "weekday-business-hours",
        "flat",
        "bursty-spikes",
        "nightly-batch",
    } <= names
    for entry in entries:
        assert entry.description and entry.description != "(invalid spec)"
        profile = resolve_profile(entry.name, settings)
        assert profile.steps > 0 and profile.peak_rps > 0
