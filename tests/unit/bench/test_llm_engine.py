"""The LLM engine model and its simulator: hand-computed schedules, a naive step-by-step reference, the M/D/k
knee in slots mode, and the shape of the truth in batching mode (TPOT grows with the batch, capacity with the
SLO). No server, no clock."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.bench.exact_queue import mdk_capacity_rps
from advisor.bench.llm.engine import EngineConfig, EngineMode, LLMEngine, Token, schedule
from advisor.bench.llm.simulate import simulate_point, true_capacity
from advisor.errors import InputError

BATCH = EngineConfig(step_base_ms=10, step_per_seq_ms=1, prefill_ms_per_token=0.1, max_num_seqs=8)
SLOTS = EngineConfig(mode=EngineMode.SLOTS, slots=1, prefill_ms_per_token=0.1, tpot_ms=10)


def _drain(engine: LLMEngine) -> list[Token]:
    out: list[Token] = []
    while (due := engine.next_event_ms()) is not None:
        out += engine.advance(due)
    return out


def _times(tokens: list[Token], n: int) -> list[list[float]]:
    per: list[list[float]] = [[] for _ in range(n)]
    for token in sorted(tokens, key=lambda t: (t.request_id, t.position)):
        assert token.position == len(per[token.request_id])
        per[token.request_id].append(token.time_ms)
    return per


# -- hand-computed schedules ---------------------------------------------------------------------------------


def test_batching_worked_example_of_the_docstring() -> None:
    # A (0 ms, 100 in, 3 out): step 0 = 10 + 1x1 + 100x0.1 = 21. B (5 ms, 50 in, 2 out) joins step 1:
    # 10 + 2x1 + 50x0.1 = 17 -> 38. Step 2: 10 + 2 = 12 -> 50.
    s = schedule(BATCH, [0, 5], [100, 50], [3, 2])
    assert s.first_token_ms.tolist() == [21, 38] and s.last_token_ms.tolist() == [50, 50]
    assert s.ttft_ms.tolist() == [21, 33] and s.tpot_ms.tolist() == [14.5, 12]
    engine = LLMEngine(BATCH)
    engine.submit(0, 100, 3)
    assert engine.advance(0) == [] and engine.next_event_ms() == 21
    engine.submit(5, 50, 2)  # arrives while step 0 runs: waits for step 1
    assert _times(_drain(engine), 2) == [[21, 38, 50], [38, 50]]


def test_batching_a_full_batch_makes_requests_wait() -> None:
    config = BATCH.model_copy(update={"max_num_seqs": 1})
    # A alone: 21, 32, 43. B is admitted at 43 when A leaves: 43 + 10 + 1 + 5 = 59, then 70.
    s = schedule(config, [0, 5], [100, 50], [3, 2])
    assert s.first_token_ms.tolist() == [21, 59] and s.last_token_ms.tolist() == [43, 70]
    assert s.ttft_ms[1] == 54 and s.tpot_ms[1] == 11


def test_batching_an_idle_engine_starts_at_the_arrival() -> None:
    s = schedule(BATCH, [0, 100], [0, 0], [2, 1])  # A done at 22; B arrives at 100 to an idle engine
    assert s.first_token_ms.tolist() == [11, 111] and s.last_token_ms.tolist() == [22, 111]
    assert math.isnan(s.tpot_ms[1])  # one token: no TPOT


def test_batching_a_long_prompt_stalls_the_running_streams() -> None:
    short = schedule(BATCH, [0, 5], [0, 10], [4, 1])
    long = schedule(BATCH, [0, 5], [0, 1000], [4, 1])  # its prefill (100 ms) stalls A's second token
    assert long.tpot_ms[0] - short.tpot_ms[0] == pytest.approx((1000 - 10) * 0.1 / 3)


def test_slots_hand_computed() -> None:
    # One slot. A: first token at 100x0.1 = 10, then 20, 30; B waits for the slot (30), first token at 35.
    s = schedule(SLOTS, [0, 5], [100, 50], [3, 2])
    assert s.first_token_ms.tolist() == [10, 35] and s.last_token_ms.tolist() == [30, 45]
    assert s.ttft_ms.tolist() == [10, 30] and s.tpot_ms.tolist() == [10, 10]
    engine = LLMEngine(SLOTS)
    engine.submit(0, 100, 3)
    engine.submit(5, 50, 2)
    assert _times(_drain(engine), 2) == [[10, 20, 30], [35, 45]]


def test_isolated_figures_and_saturation() -> None:
    assert BATCH.isolated_ttft_ms(100) == 21 and BATCH.isolated_tpot_ms() == 11
    assert SLOTS.isolated_ttft_ms(100) == 10 and SLOTS.isolated_tpot_ms() == 10
    # Slots: 1 slot x (10 + 2 x 10 ms) service -> 33.3 req/s. Batching, 8 seqs of 3 tokens: a step lasts
    # 10 + 8 + 100 x 0.1 x 8/3 = 44.67 ms and completes 8/3 requests: 59.7 req/s.
    assert SLOTS.saturation_rps(100, 3) == pytest.approx(1000 / 30)
    assert BATCH.saturation_rps(100, 3) == pytest.approx(8 * 1000 / (3 * (18 + 80 / 3)))


def test_a_late_caller_gets_the_due_times_and_no_drift() -> None:
    engine = LLMEngine(BATCH)
    engine.submit(0, 0, 5)
    late = engine.advance(100)  # long after every step
    assert [t.time_ms for t in late] == [11, 22, 33, 44, 55] and engine.next_event_ms() is None


def test_bad_requests_are_refused() -> None:
    engine = LLMEngine(BATCH)
    engine.submit(10, 5, 5)
    with pytest.raises(ValueError, match="time order"):
        engine.submit(5, 5, 5)
    with pytest.raises(ValueError, match="output tokens"):
        engine.submit(20, 5, 0)
    with pytest.raises(ValueError, match="sorted"):
        schedule(BATCH, [5, 1], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="step"):
        EngineConfig(step_base_ms=0, step_per_seq_ms=0)


# -- the same model three ways: naive reference, whole-sequence schedule, step API in "real time" ------------


def _naive(
    config: EngineConfig, arrivals: list[float], inputs: list[int], outputs: list[int]
) -> list[list[float]]:
    """The engine's definition, one step (or one token) at a time, no runs."""
    times: list[list[float]] = [[] for _ in arrivals]
    if config.mode is EngineMode.SLOTS:
        free = [-math.inf] * config.slots
        for i, (a, n_in, n_out) in enumerate(zip(arrivals, inputs, outputs, strict=True)):
            slot = min(range(config.slots), key=lambda k: free[k])
            first = max(a, free[slot]) + config.prefill_ms_per_token * n_in
            times[i] = [first + m * config.tpot_ms for m in range(n_out)]
            free[slot] = times[i][-1]
        return times
    t, nxt = -math.inf, 0
    running: list[int] = []
    while nxt < len(arrivals) or running:
        if not running:
            t = max(t, arrivals[nxt])
        prompt = 0
        while nxt < len(arrivals) and len(running) < config.max_num_seqs and arrivals[nxt] <= t:
            running.append(nxt)
            prompt += inputs[nxt]
            nxt += 1
        t += (
            config.step_base_ms + config.step_per_seq_ms * len(running) + config.prefill_ms_per_token * prompt
        )
        for i in running:
            times[i].append(t)
        running = [i for i in running if len(times[i]) < outputs[i]]
    return times


@st.composite
def _workloads(draw: st.DrawFn) -> tuple[EngineConfig, list[float], list[int], list[int], list[float]]:
    mode = draw(st.sampled_from(EngineMode))
    config = EngineConfig(
        mode=mode,
        slots=draw(st.integers(1, 4)),
        max_num_seqs=draw(st.integers(1, 5)),
        step_base_ms=draw(st.floats(0.5, 10)),
        step_per_seq_ms=draw(st.floats(0, 3)),
        prefill_ms_per_token=draw(st.sampled_from([0.0, 0.01, 0.07])),
        tpot_ms=draw(st.floats(0.5, 10)),
    )
    n = draw(st.integers(1, 25))
    gaps = draw(st.lists(st.floats(0, 40), min_size=n, max_size=n))
    arrivals = np.cumsum(gaps).tolist()
    inputs = draw(st.lists(st.integers(0, 300), min_size=n, max_size=n))
    outputs = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
    lateness = draw(st.lists(st.floats(0, 30), min_size=n, max_size=n))
    return config, arrivals, inputs, outputs, lateness


@settings(max_examples=300, deadline=None)
@given(_workloads())
def test_schedule_and_step_api_match_the_naive_engine(
    workload: tuple[EngineConfig, list[float], list[int], list[int], list[float]],
) -> None:
    config, arrivals, inputs, outputs, lateness = workload
    expected = _naive(config, arrivals, inputs, outputs)
    s = schedule(config, arrivals, inputs, outputs)
    np.testing.assert_allclose(s.first_token_ms, [t[0] for t in expected], atol=1e-6)
    np.testing.assert_allclose(s.last_token_ms, [t[-1] for t in expected], atol=1e-6)
    # As a server drives it: advance to just before each arrival, submit it, advance a while (never up to the
    # next arrival: a step formed at the very instant a request arrives cannot know of it, see LLMEngine).
    engine, tokens = LLMEngine(config), []
    for i, (a, n_in, n_out) in enumerate(zip(arrivals, inputs, outputs, strict=True)):
        tokens += engine.advance(np.nextafter(a, -math.inf))
        engine.submit(a, n_in, n_out)
        nxt = arrivals[i + 1] if i + 1 < len(arrivals) else math.inf
        tokens += engine.advance(min(a + lateness[i], np.nextafter(nxt, -math.inf)))
    tokens += _drain(engine)
    got = _times(tokens, len(arrivals))
    for mine, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert [t.time_ms for t in tokens] == sorted(t.time_ms for t in tokens)  # in time order


# -- the simulator -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("slots", "slo_ttft_ms"), [(8, 60.0), (8, 200.0), (2, 400.0)])
def test_slots_capacity_is_the_md_k_knee(slots: int, slo_ttft_ms: float) -> None:
    # Fixed sizes: a slot is held S = 200 x 0.1 + 10 x 10 = 120 ms, TTFT = wait + 20 ms prefill, so the TTFT
    # bound X is the M/D/k response-time bound X - 20 + 120 (advisor.bench.exact_queue computes it exactly).
    config = EngineConfig(mode=EngineMode.SLOTS, slots=slots, prefill_ms_per_token=0.1, tpot_ms=10)
    result = true_capacity(config, slo_ttft_ms, 50.0, [(200, 11)])
    knee = mdk_capacity_rps(slots, 0.120, slo_ttft_ms - 20 + 120)
    assert result.capacity_rps == pytest.approx(knee, rel=0.03), (result, knee)
    assert result.capacity_high_rps is not None
    assert result.capacity_high_rps - result.capacity_rps <= result.rel_tol * result.capacity_high_rps
    assert result.at_capacity is not None and result.at_capacity.tpot_p99_ms == pytest.approx(10)
    assert result.at_capacity.ttft_p99_ms <= slo_ttft_ms


def test_batching_tpot_grows_with_the_batch() -> None:
    config = EngineConfig(step_base_ms=8, step_per_seq_ms=0.25, prefill_ms_per_token=0.02, max_num_seqs=64)
    saturation = config.saturation_rps(128, 64)
    points = [
        simulate_point(config, share * saturation, [(128, 64)], requests=4000, seeds=1)
        for share in (0.2, 0.5, 0.8)
    ]
    tpots = [p.tpot_p50_ms or 0.0 for p in points]
    assert tpots[0] > config.isolated_tpot_ms()
    assert tpots == sorted(tpots) and tpots[-1] - tpots[0] > 3  # ms: a larger batch, longer steps
    assert all(p.tpot_p99_ms is not None and p.tpot_p99_ms <= 8 + 0.25 * 64 + 0.02 * 128 * 64 for p in points)
    over = simulate_point(config, 1.2 * saturation, [(128, 64)], requests=4000, seeds=1)
    assert over.ttft_p99_ms > 10 * points[-1].ttft_p99_ms  # past saturation the queue grows without bound


def test_batching_capacity_grows_with_the_slo_and_meets_it() -> None:
    config = EngineConfig()
    caps = [
        true_capacity(config, 2000, tpot, [(128, 64)], requests=5000, seeds=2) for tpot in (12.0, 16.0, 20.0)
    ]
    assert [c.capacity_rps for c in caps] == sorted(c.capacity_rps for c in caps)
    assert 0 < caps[0].capacity_rps < caps[-1].capacity_rps < caps[-1].saturation_rps
    for cap, bound in zip(caps, (12.0, 16.0, 20.0), strict=True):
        assert cap.at_capacity is not None and cap.at_capacity.tpot_p99_ms is not None
        assert cap.at_capacity.tpot_p99_ms <= bound
    tighter_ttft = true_capacity(config, 40, 20.0, [(128, 64)], requests=5000, seeds=2)
    assert tighter_ttft.capacity_rps <= caps[-1].capacity_rps


def test_per_bucket_truths_from_size_pairs() -> None:
    config = EngineConfig()
    short = true_capacity(config, 1000, 25, [(100, 16), (300, 32)], requests=4000, seeds=1)
    long = true_capacity(config, 1000, 25, [(2000, 256), (3000, 300)], requests=4000, seeds=1)
    assert 0 < long.capacity_rps < short.capacity_rps


def test_no_capacity_and_no_bound_are_values_or_clear_errors() -> None:
    config = EngineConfig()
    hopeless = true_capacity(config, 5.0, None, [(128, 64)])  # isolated TTFT 8.25 + 2.56 ms > 5 ms
    assert hopeless.capacity_rps == 0 and "isolated" in hopeless.reason and hopeless.probes == 0
    loose = true_capacity(config, 1e7, 1e4, [(128, 64)], requests=2000, seeds=1)
    assert loose.capacity_rps == pytest.approx(loose.saturation_rps) and loose.capacity_high_rps is None
    with pytest.raises(InputError, match="TTFT or a TPOT"):
        true_capacity(config, None, None, [(128, 64)])
    with pytest.raises(InputError, match="pairs"):
        true_capacity(config, 100, None, [])
    slots_free = EngineConfig(mode=EngineMode.SLOTS, prefill_ms_per_token=0)
    with pytest.raises(InputError, match="no time"):
        true_capacity(slots_free, 100, None, [(10, 1)])
