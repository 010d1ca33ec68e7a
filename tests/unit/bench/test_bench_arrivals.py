"""Arrival schedules (open loop: seeded Poisson; closed loop: back to back) and the M/D/k ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.bench.exact_queue import mdk_capacity_rps, mdk_p99_ms, mdk_response_times_s
from advisor.bench.loadgen.arrivals import LATE_NAME, ClosedLoopSchedule, OpenLoopSchedule


def _drain(schedule: OpenLoopSchedule) -> list[float]:
    out = []
    while (a := schedule.take()) is not None:
        out.append(a.intended_s)
        schedule.complete(a)
    return out


def test_open_loop_is_a_seeded_poisson_process() -> None:
    times = _drain(OpenLoopSchedule(200.0, 0.0, 0.0, 10.0, 1, seed=3))
    assert times == _drain(OpenLoopSchedule(200.0, 0.0, 0.0, 10.0, 1, seed=3))  # reproducible
    assert times != _drain(OpenLoopSchedule(200.0, 0.0, 0.0, 10.0, 1, seed=4))
    assert abs(len(times) - 2000) < 4 * np.sqrt(2000)  # count ~ Poisson(2000)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / 200, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.1)  # exponential: coefficient of variation 1
    assert all(0 <= t < 10 for t in times)


def test_arrivals_are_named_after_the_window_of_their_intended_time() -> None:
    schedule = OpenLoopSchedule(100.0, 5.0, 1.0, 2.0, 3, seed=1, prefix="p7/")
    names: dict[str, list[float]] = {}
    while (a := schedule.take()) is not None:
        names.setdefault(schedule.complete(a), []).append(a.intended_s)
    assert set(names) == {"p7/warmup", "p7/w0", "p7/w1", "p7/w2"}
    assert max(names["p7/warmup"]) < 6.0 <= min(names["p7/w0"])
    assert max(names["p7/w1"]) < 10.0 <= min(names["p7/w2"]) and max(names["p7/w2"]) < 12.0  # end: 5+1+3*2
    assert schedule.exhausted and schedule.take() is None


def test_finalize_returns_every_unanswered_arrival_and_later_answers_are_late() -> None:
    schedule = OpenLoopSchedule(50.0, 0.0, 0.0, 4.0, 1, seed=2)
    taken = [schedule.take() for _ in range(30)]
    for a in taken[:10]:
        assert a is not None and schedule.complete(a) == "w0"
    assert schedule.outstanding == 20
    unanswered = schedule.finalize()
    total = len(_drain(OpenLoopSchedule(50.0, 0.0, 0.0, 4.0, 1, seed=2)))
    assert len(unanswered) == total - 10  # 20 in flight + every arrival never sent
    assert {a.seq for a in unanswered} >= {a.seq for a in taken[10:] if a is not None}
    assert taken[15] is not None and schedule.complete(taken[15]) == LATE_NAME
    assert schedule.take() is None and schedule.finalize() == []


def test_closed_loop_counts_answers_in_the_window_they_complete() -> None:
    now = [0.0]
    schedule = ClosedLoopSchedule(2, 1.0, 1.0, 1.0, 2, lambda: now[0])
    assert schedule.take(2) is None  # only users 0 and 1 take part
    first = schedule.take(0)
    assert first is not None and first.intended_s == 1.0  # not before the start
    now[0] = 2.5
    assert schedule.complete(first) == "w0"  # sent in the warm-up, completed in w0
    second = schedule.take(1)
    now[0] = 4.2
    assert second is not None and schedule.complete(second) == LATE_NAME  # after the end
    assert schedule.exhausted and schedule.take(0) is None
    assert schedule.finalize() == []  # nothing is failed in a closed loop


def test_schedules_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        OpenLoopSchedule(0.0, 0.0, 0.0, 1.0, 1)
    with pytest.raises(ValueError):
        OpenLoopSchedule(1.0, 0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError):
        ClosedLoopSchedule(0, 0.0, 0.0, 1.0, 1, lambda: 0.0)


def test_mdk_recursion_matches_pollaczek_khinchine_for_one_slot() -> None:
    # M/D/1 mean wait: rho * s / (2 (1 - rho)); at rho = 0.7, s = 0.1 s it is 0.11667 s
    s, rate = 0.1, 7.0
    mean_response = mdk_response_times_s(1, s, rate, customers=400_000).mean()
    assert mean_response == pytest.approx(s + 0.7 * s / (2 * 0.3), rel=0.03)


def test_mdk_p99_grows_with_load_and_capacity_meets_the_slo() -> None:
    p99s = [mdk_p99_ms(8, 0.1, r) for r in (20, 40, 60, 70, 76)]
    assert p99s == sorted(p99s) and p99s[0] == pytest.approx(100, abs=1)
    cap = mdk_capacity_rps(8, 0.1, 200)
    assert mdk_p99_ms(8, 0.1, cap * 0.995) <= 200 < mdk_p99_ms(8, 0.1, cap * 1.02)
    assert 0 < cap < 80  # below saturation k/s
    assert mdk_capacity_rps(8, 0.1, 100) == 0.0  # an SLO at the service time itself cannot be met
    with pytest.raises(ValueError):
        mdk_response_times_s(0, 0.1, 1.0)
