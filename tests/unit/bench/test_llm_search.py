"""The LLM capacity search on synthetic points: bracket, bisect, confirm; undecided and invalid points."""

from __future__ import annotations

import pytest

from advisor.bench.llm.records import LLMPoint, Percentiles, PointVerdict
from advisor.bench.llm.search import LLMSearch, LLMSearchConfig, Outcome, Step


def _point(rate: float, verdict: PointVerdict, *, estimate: bool, confirm: bool, seq: int) -> LLMPoint:
    empty = Percentiles(count=0)
    return LLMPoint(
        seq=seq, offered_rps=rate, achieved_rps=rate, duration_s=10, requests=10, errors=0, ttft_ms=empty,
        tpot_ms=empty, itl_ms=empty, e2e_ms=empty, input_tokens_per_s=0, output_tokens_per_s=0, goodput_rps=0,
        attainment=1, send_lag_p99_ms=0, verdict=verdict, estimate_passes=estimate, confirm=confirm,
    )  # fmt: skip


def _run(
    capacity: float,
    *,
    undecided_band: float = 0.0,
    invalid_from: float | None = None,
    flatter: float = 1.0,
    **cfg: float,
) -> tuple[LLMSearch, Outcome]:
    """Drive the search against a server whose SLO holds below ``capacity`` (undecided within the band);
    short screening points pass up to ``flatter`` × capacity (a queue needs time to build)."""
    search = LLMSearch(LLMSearchConfig(**cfg))
    while (step := search.next_step()) is not None:
        r = step.rate_rps
        if invalid_from is not None and r >= invalid_from:
            verdict, estimate = PointVerdict.INVALID, False
        elif abs(r - capacity) <= undecided_band * capacity and step.confirm:
            verdict, estimate = PointVerdict.UNDECIDED, r < capacity
        elif not step.confirm and r <= capacity * flatter:
            verdict, estimate = PointVerdict.UNDECIDED, True
        elif r <= capacity:
            verdict, estimate = (PointVerdict.PASS if step.confirm else PointVerdict.UNDECIDED), True
        else:
            verdict, estimate = PointVerdict.FAIL, False
        search.record(_point(r, verdict, estimate=estimate, confirm=step.confirm, seq=len(search.points)))
    return search, search.outcome()


@pytest.mark.parametrize("capacity", [0.3, 3.7, 42.0, 777.0])
def test_finds_the_capacity_within_the_resolution_and_confirms_it(capacity: float) -> None:
    search, out = _run(capacity, resolution=0.1, max_points=30)
    assert out.capacity_rps <= capacity
    assert out.high_rps is not None and out.high_rps > capacity
    assert (out.high_rps - out.capacity_rps) / out.capacity_rps <= 0.1 + 1e-9
    confirmed = [p for p in search.points if p.confirm]
    assert any(p.verdict is PointVerdict.PASS and p.offered_rps == out.capacity_rps for p in confirmed)
    # screening brackets, confirming points decide: none of the screening points sets the answer alone
    assert not search.points[0].confirm and len(confirmed) <= 8
    assert not out.undecided and not out.lower_bound


def test_an_undecided_candidate_is_never_rounded_up() -> None:
    # the candidate's confirming point straddles the SLO: the next lower passing rate is confirmed instead
    search, out = _run(10.0, undecided_band=0.06, resolution=0.1, max_points=30)
    assert out.undecided
    assert out.capacity_rps < 10.0 * 0.94
    assert out.high_rps is not None and out.high_rps <= 10.0 * 1.06
    assert any(p.verdict is PointVerdict.UNDECIDED and p.confirm for p in search.points)


def test_the_slo_missed_at_the_lowest_rate_is_a_capacity_of_zero_with_a_reason() -> None:
    _search, out = _run(0.01, min_rps=0.05, start_rps=1.0)
    assert out.capacity_rps == 0.0 and "missed" in out.reason


def test_a_saturated_generator_caps_the_answer_as_a_lower_bound() -> None:
    _search, out = _run(1000.0, invalid_from=50.0, resolution=0.1, max_points=30)
    assert out.lower_bound and out.capacity_rps < 50.0
    assert "at least" in out.reason


def test_screening_passes_above_a_screening_failure_do_not_count() -> None:
    search = LLMSearch(LLMSearchConfig(start_rps=4))
    search.record(_point(4, PointVerdict.UNDECIDED, estimate=True, confirm=False, seq=0))
    search.record(_point(8, PointVerdict.FAIL, estimate=False, confirm=False, seq=1))
    search.record(_point(16, PointVerdict.UNDECIDED, estimate=True, confirm=False, seq=2))  # noise
    step = search.next_step()
    assert step == Step(4, True)  # the highest screening pass below the failure is confirmed next


def test_a_screening_pass_that_fails_to_confirm_moves_the_search_down() -> None:
    search, out = _run(10.0, flatter=1.3, resolution=0.1, max_points=30)
    assert 9.0 <= out.capacity_rps <= 10.0
    assert any(p.confirm and p.verdict is PointVerdict.FAIL for p in search.points)
    flattering = LLMSearch(LLMSearchConfig(start_rps=8, resolution=0.1))
    flattering.record(_point(8, PointVerdict.UNDECIDED, estimate=True, confirm=False, seq=0))
    flattering.record(_point(16, PointVerdict.FAIL, estimate=False, confirm=False, seq=1))
    flattering.record(_point(8, PointVerdict.FAIL, estimate=False, confirm=True, seq=2))  # short window lied
    assert flattering.next_step() == Step(4, True)


@pytest.mark.parametrize("max_points", [2, 3, 4])
def test_a_short_budget_ends_on_a_confirmation_of_the_highest_pass(max_points: int) -> None:
    """Still doubling when the budget nears its end: the last point confirms the highest screening pass, so a
    short search answers with a confirmed (lower) capacity instead of none."""
    search, out = _run(1000.0, start_rps=1.0, max_points=max_points)
    assert len(search.points) == max_points
    assert [p.confirm for p in search.points] == [False] * (max_points - 1) + [True]
    assert out.capacity_rps == 2.0 ** (max_points - 2) == search.points[-2].offered_rps
    assert out.high_rps is None and out.reason


def test_a_budget_of_one_point_screens_and_confirms_nothing() -> None:
    search, out = _run(1000.0, start_rps=1.0, max_points=1)
    assert [p.confirm for p in search.points] == [False] and out.capacity_rps == 0.0
