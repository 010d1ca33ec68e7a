"""The capacity search on synthetic latency curves: no server, no clock."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.bench.exact_queue import mdk_capacity_rps
from advisor.bench.measurements import WindowStats, merge_windows, percentile_ms
from advisor.bench.search import CapacitySearch, SearchConfig, Verdict, windows_agree
from advisor.domain import SLO
from tests.bench_helpers import mdk_windows, run_curve, window

SLO100 = SLO(latency_p99_ms=100)


def test_percentile_walks_from_the_slowest_bucket_like_locust() -> None:
    assert percentile_ms({10: 98, 500: 2}, 0.99) == 500
    assert percentile_ms({10: 995, 500: 5}, 0.99) == 10  # 5 of 1000 above: the p99 is the fast bucket
    assert percentile_ms({10: 989, 500: 11}, 0.99) == 500
    assert percentile_ms({}, 0.99) is None
    assert percentile_ms({7: 3}, 0.5) == 7


def test_the_window_helper_hits_the_requested_p99() -> None:
    for rate in (0.7, 3, 33, 250):
        assert window(rate, 137).percentile_ms(0.99) == 137


def test_merge_sums_counts_and_histograms() -> None:
    a = WindowStats(name="w0", duration_s=2, requests=10, failures=1, histogram={5: 9, 50: 1}, max_ms=50)
    b = WindowStats(name="w1", duration_s=3, requests=20, failures=0, histogram={5: 18, 70: 2}, max_ms=70)
    m = merge_windows([a, b])
    assert (m.requests, m.failures, m.duration_s, m.max_ms) == (30, 1, 5, 70)
    assert m.histogram == {5: 27, 50: 1, 70: 2}
    assert m.achieved_rps == pytest.approx(29 / 5)


def test_sharp_curve_converges_on_the_boundary() -> None:
    # p99 = 20 + 100 (r/100)^8 crosses 100 ms at r* = 100 * 0.8^(1/8) = 97.25 req/s
    boundary = 100 * 0.8 ** (1 / 8)
    search = run_curve(lambda r: 20 + 100 * (r / 100) ** 8, 100, SearchConfig(start_rps=10, resolution=0.05))
    out = search.outcome()
    assert boundary / 1.05 < out.capacity_rps <= boundary
    assert out.p99_ms_at_capacity is not None and out.p99_ms_at_capacity <= 100
    assert not out.lower_bound
    rates = [j.rate_rps for j in out.history]
    assert rates[:4] == [10, 20, 40, 80]  # the doubling sweep
    assert "at" in out.reason and "p99" in out.reason


@settings(max_examples=60, deadline=None)
@given(
    boundary=st.floats(min_value=1.0, max_value=5000.0),
    start=st.floats(min_value=0.5, max_value=2000.0),
    resolution=st.floats(min_value=0.02, max_value=0.2),
)
def test_any_step_curve_is_bracketed_within_the_resolution(
    boundary: float, start: float, resolution: float
) -> None:
    cfg = SearchConfig(start_rps=start, resolution=resolution, min_rps=0.25, max_points=80)
    out = run_curve(lambda r: 50 if r <= boundary else 500, 100, cfg).outcome()
    assert boundary / (1 + resolution) < out.capacity_rps <= boundary


def test_slo_impossible_at_every_rate_is_a_value_with_a_reason() -> None:
    search = run_curve(lambda r: 900, 100, SearchConfig(start_rps=40, min_rps=1))
    out = search.outcome()
    assert out.capacity_rps == 0.0
    assert out.p99_ms_at_capacity is None
    assert "SLO missed even at the lowest rate tried" in out.reason and "900" in out.reason
    rates = [j.rate_rps for j in out.history]
    assert rates == sorted(rates, reverse=True) and rates[-1] >= 1  # halving, stops at min_rps
    assert all(j.verdict is Verdict.FAIL for j in out.history)


def test_errors_fail_a_point_even_with_fast_answers() -> None:
    out = run_curve(
        lambda r: 10,
        100,
        SearchConfig(start_rps=10, resolution=0.05),
        errors=lambda r: 0.05 if r > 60 else 0.0,
    ).outcome()
    assert 60 / 1.05 < out.capacity_rps <= 60
    assert any("error rate 5.00%" in j.reason for j in out.history)


def test_generator_saturation_is_never_the_servers_limit() -> None:
    search = CapacitySearch(SLO100, SearchConfig(start_rps=100, resolution=0.05))
    proposed = []
    while (rate := search.next_rate()) is not None:
        proposed.append(rate)
        valid = rate < 300  # the generator cannot go past 300 req/s; the server would manage 1000
        search.record(rate, [window(rate, 20), window(rate, 20)], valid=valid, note="generator saturated")
    out = search.outcome()
    first_invalid = proposed.index(400)
    assert all(r < 400 for r in proposed[first_invalid + 1 :])
    assert out.lower_bound and 200 <= out.capacity_rps < 400
    assert "load generator saturated" in out.reason and "at least" in out.reason
    assert not any(j.verdict is Verdict.FAIL for j in out.history)


def test_unstable_windows_are_measured_again_then_judged_on_the_worst() -> None:
    cfg = SearchConfig(start_rps=50, max_retries=2)
    search = CapacitySearch(SLO100, cfg)
    rate = search.next_rate()
    assert rate == 50
    first = search.record(rate, [window(rate, 40), window(rate, 97)])  # 40 vs 97: disagree, 97 near the SLO
    assert first.verdict is Verdict.RETRY and not first.stable
    assert search.next_rate() == 50
    assert search.record(50, [window(50, 45), window(50, 98)]).verdict is Verdict.RETRY
    final = search.record(50, [window(50, 60), window(50, 120)])
    assert final.verdict is Verdict.FAIL and "worst window" in final.reason and "120" in final.reason
    assert search.next_rate() == 25  # retries are bounded: the search moved on


def test_a_stable_retry_is_judged_on_its_own_windows() -> None:
    search = CapacitySearch(SLO100, SearchConfig(start_rps=50, max_retries=2))
    assert search.record(50, [window(50, 40), window(50, 97)]).verdict is Verdict.RETRY
    final = search.record(50, [window(50, 103), window(50, 105)])  # within 10%: stable
    assert final.stable and final.verdict is Verdict.FAIL and final.p99_ms == 103  # not diluted by try 1


def test_windows_that_all_fail_are_not_retried() -> None:
    search = CapacitySearch(SLO100, SearchConfig(start_rps=50, max_retries=3))
    judged = search.record(50, [window(50, 150), window(50, 900)])
    assert judged.verdict is Verdict.FAIL
    assert search.next_rate() == 25


def test_a_failure_below_a_pass_is_resolved_conservatively() -> None:
    search = CapacitySearch(SLO100, SearchConfig(start_rps=100, resolution=0.05))
    search.record(100, [window(100, 50), window(100, 50)])
    search.record(200, [window(200, 500), window(200, 500)])
    search.record(80, [window(80, 500), window(80, 500)])  # noise: fails below the earlier pass
    assert search.next_rate() == 40  # 100 is void now; look below 80
    assert search.outcome().capacity_rps == 0.0 or search.outcome().capacity_rps < 80


def test_the_point_budget_ends_the_search() -> None:
    out = run_curve(lambda r: 20 if r < 1000 else 500, 100, SearchConfig(start_rps=1, max_points=4)).outcome()
    assert len(out.history) == 4
    assert out.capacity_rps == 8 and "point budget exhausted" in out.reason


def test_the_plateau_bounds_the_search_without_being_measured_first() -> None:
    search = CapacitySearch(SLO100, SearchConfig(start_rps=50, resolution=0.05), ceiling_rps=120)
    proposed: list[float] = []
    while (rate := search.next_rate()) is not None and len(proposed) < 8:
        proposed.append(rate)
        search.record(rate, [window(rate, 30), window(rate, 30)])  # this server passes everywhere
    # bisect towards the plateau (taken as failing), measure it only when the bracket closes, then step past
    assert proposed[:4] == [50, 85, 102.5, 111.25]
    assert 120 in proposed and proposed[proposed.index(120) + 1] == pytest.approx(120 * 1.2)
    mdk = run_curve(lambda r: 50 if r <= 100 else 900, 100, SearchConfig(start_rps=60), ceiling=120)
    assert 120 not in [j.rate_rps for j in mdk.history]  # the plateau itself was never needed
    assert 100 / 1.05 < mdk.outcome().capacity_rps <= 100


def test_windows_agree_allows_for_poisson_noise() -> None:
    # the worked example of windows_agree: 100 vs 85 successes in 2 s windows agree
    a, b = window(50, 30, duration_s=2), window(42.5, 30, duration_s=2)
    assert windows_agree(a, b, SLO100, 0.10)
    big_a, big_b = window(500, 30, duration_s=2), window(350, 30, duration_s=2)  # 1000 vs 700: real change
    assert not windows_agree(big_a, big_b, SLO100, 0.10)
    # far from the SLO on the same side, p99s may differ; straddling it they may not
    assert windows_agree(window(50, 20), window(50, 60), SLO100, 0.10)
    assert not windows_agree(window(50, 85), window(50, 105), SLO100, 0.10)
    assert windows_agree(window(50, 150), window(50, 400), SLO100, 0.10)


def test_record_needs_windows() -> None:
    with pytest.raises(ValueError):
        CapacitySearch(SLO100).record(1.0, [])


@pytest.mark.parametrize(("slots", "service_s", "slo_ms"), [(24, 0.1, 200), (16, 0.05, 100)])
def test_search_on_simulated_mdk_points_finds_the_queueing_truth(
    slots: int, service_s: float, slo_ms: float
) -> None:
    """End to end without a server: each point is a short run of an ideal M/D/k queue from empty."""
    truth = mdk_capacity_rps(slots, service_s, slo_ms)
    ratios = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        plateau = slots / service_s * 0.95
        search = CapacitySearch(
            SLO(latency_p99_ms=slo_ms),
            SearchConfig(start_rps=plateau / 2, resolution=0.05, max_retries=1),
            ceiling_rps=plateau,
        )
        while (rate := search.next_rate()) is not None:
            search.record(
                rate, mdk_windows(slots, service_s, rate, warmup_s=2, window_s=3, windows=2, rng=rng)
            )
        ratios.append(search.outcome().capacity_rps / truth)
    assert all(0.9 <= r <= 1.1 for r in ratios), ratios
