"""The LLM metric definitions (advisor/1): on hand-built records exactly, and on a scripted stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from scipy import stats

from advisor.bench.llm.client import Target, calibrate, probe
from advisor.bench.llm.metrics import (
    bound_verdict,
    clearly_failing,
    correlation_time,
    order_statistic_interval,
    percentiles,
    summarize,
    ttft_trend_rising,
)
from advisor.bench.llm.records import LLMSLO, Api, PointVerdict, StreamRecord
from tests.llm_scripted import Script, ScriptedServer


def _record(intended: float, chunks: list[float], end: float | None = None, **kw: object) -> StreamRecord:
    return StreamRecord(
        intended_s=intended,
        sent_s=intended,
        chunk_s=chunks,
        end_s=end if end is not None else chunks[-1],
        **kw,
    )


def test_ttft_tpot_itl_e2e_follow_their_definitions_exactly() -> None:
    # sent at 10.0 s, first content at 10.1, then 10.13, 10.17, 10.22; the stream closes at 10.225
    r = _record(10.0, [10.1, 10.13, 10.17, 10.22], end=10.225, output_tokens=4)
    assert r.ttft_ms == pytest.approx(100.0)
    assert r.e2e_ms == pytest.approx(225.0)
    assert r.tpot_ms == pytest.approx((225.0 - 100.0) / 3)  # (E2E - TTFT) / (n - 1)
    assert r.itl_ms == pytest.approx([30.0, 40.0, 50.0])
    # TPOT uses the server's token count, not the chunks: 8 tokens in 4 chunks halves nothing but the divisor
    multi = _record(10.0, [10.1, 10.13, 10.17, 10.22], end=10.22, output_tokens=8)
    assert multi.tpot_ms == pytest.approx(120.0 / 7)


def test_latency_counts_from_the_intended_send_time_not_the_actual_one() -> None:
    late = StreamRecord(intended_s=0.0, sent_s=0.5, chunk_s=[0.6, 0.7], end_s=0.7, output_tokens=2)
    assert late.ttft_ms == pytest.approx(600.0)
    assert late.send_lag_ms == pytest.approx(500.0)


def test_one_token_has_no_tpot_and_an_error_has_no_latency() -> None:
    assert _record(0.0, [0.2], output_tokens=1).tpot_ms is None
    failed = StreamRecord(intended_s=0.0, sent_s=0.0, error="HTTP 500")
    assert failed.ttft_ms is None and failed.e2e_ms is None and failed.itl_ms == []


def test_order_statistic_interval_covers_the_true_quantile_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    true_p99 = stats.expon.ppf(0.99)
    hits = bounded = trials = 0
    for _ in range(400):
        sample = rng.exponential(size=600)
        p = percentiles(sample)
        assert p.ci_low is not None and p.ci_quantile == 0.99
        trials += 1
        bounded += p.ci_high is not None
        hits += p.ci_low <= true_p99 <= (p.ci_high if p.ci_high is not None else np.inf)
    assert 0.92 <= hits / trials <= 0.995
    assert bounded / trials >= 0.9  # independent samples: the interval is rarely widened


def test_too_few_samples_leave_the_p99_unbounded_above_and_undecided() -> None:
    assert order_statistic_interval(100, 0.99)[1] is None
    assert bound_verdict(np.full(100, 10.0), bound=50.0, q=0.99) is PointVerdict.UNDECIDED
    assert bound_verdict(np.full(600, 10.0), bound=50.0, q=0.99) is PointVerdict.PASS
    assert bound_verdict(np.full(600, 80.0), bound=50.0, q=0.99) is PointVerdict.FAIL


def test_a_point_counts_errors_and_unfinished_requests_as_misses() -> None:
    slo = LLMSLO(ttft_p99_ms=500, tpot_p99_ms=50, max_error_rate=0.5)
    good = [_record(i, [i + 0.1, i + 0.12, i + 0.14], output_tokens=3, input_tokens=100) for i in range(8)]
    slow = _record(8, [8.9, 8.92], output_tokens=2, input_tokens=100)  # TTFT 900 ms: a miss
    error = StreamRecord(intended_s=9.0, sent_s=9.0, error="HTTP 503")
    stuck = StreamRecord(intended_s=9.5, sent_s=9.5)  # no answer by the cutoff
    point = summarize(
        [*good, slow, error, stuck], seq=0, offered_rps=1.0, duration_s=10.0, cutoff_s=12.0, slo=slo
    )
    assert point.requests == 11 and point.errors == 1 and point.unfinished == 1
    assert point.attainment == pytest.approx(8 / 11)
    assert point.goodput_rps == pytest.approx(0.8)
    assert point.achieved_rps == pytest.approx(0.9)
    assert point.input_tokens_per_s == pytest.approx(90.0)
    assert point.output_tokens_per_s == pytest.approx((8 * 3 + 2) / 10)
    # the stuck request's TTFT is censored at its age at the cutoff (2.5 s): the slowest TTFT
    assert point.ttft_ms.max == pytest.approx(2500.0)
    assert point.tpot_ms.count == 9


def test_a_saturated_generator_makes_the_point_invalid() -> None:
    slo = LLMSLO(ttft_p99_ms=500)
    late = [StreamRecord(intended_s=i, sent_s=i + 0.05, chunk_s=[i + 0.1], end_s=i + 0.1) for i in range(50)]
    point = summarize(late, seq=0, offered_rps=5.0, duration_s=10.0, cutoff_s=60.0, slo=slo)
    assert point.generator_saturated and point.verdict is PointVerdict.INVALID


def test_early_stop_only_when_the_miss_is_certain() -> None:
    assert not clearly_failing([100.0] * 50 + [900.0], bound=500, q=0.99, sent=400)
    spread = [900.0 if i % 4 == 0 else 100.0 for i in range(60)]  # 15 misses, spread out
    assert clearly_failing(spread, bound=500, q=0.99, sent=400)
    # the same number of misses in one run is one burst, not fifteen independent misses
    assert not clearly_failing([100.0] * 45 + [900.0] * 15, bound=500, q=0.99, sent=400)


def test_verdicts_count_a_run_of_slow_requests_once_per_correlation_time() -> None:
    rng = np.random.default_rng(3)
    independent = rng.exponential(10.0, size=2000)  # p99 about 46 ms
    assert bound_verdict(independent, bound=80.0, q=0.99) is PointVerdict.PASS
    assert bound_verdict(independent, bound=30.0, q=0.99) is PointVerdict.FAIL
    # 2 % of the requests over the bound, but all in one burst: not enough to call the p99 either way
    burst = independent.copy()
    burst[1000:1040] = 200.0
    assert correlation_time(burst > 80.0) > 10
    assert bound_verdict(burst, bound=80.0, q=0.99) is PointVerdict.UNDECIDED


def test_a_backlog_shows_as_a_rising_ttft() -> None:
    steady = [_record(i * 0.1, [i * 0.1 + 0.2]) for i in range(60)]
    growing = [_record(i * 0.1, [i * 0.1 + 0.05 + i * 0.02]) for i in range(60)]
    assert not ttft_trend_rising(steady, rise_ms=500)
    assert ttft_trend_rising(growing, rise_ms=500)
    assert not ttft_trend_rising(growing, rise_ms=5000)  # a rise smaller than the caller's threshold


# ----- on the wire -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer(Script()) as server:
        yield server


@pytest.mark.load  # timings to a few ms: not beside other work (make test runs it alone)
@pytest.mark.slow  # nor beside make check's type check
@pytest.mark.parametrize("api", [Api.CHAT, Api.COMPLETIONS])
def test_the_client_times_a_scripted_stream_as_defined(scripted: ScriptedServer, api: Api) -> None:
    """The server sends content at 100, 130, 170 and 220 ms after the request: the client's figures follow."""
    route = "/v1/chat/completions" if api is Api.CHAT else "/v1/completions"
    record = asyncio.run(probe(Target(url=scripted.url + route, api=api), "hello there", 4))
    assert record.ok and record.output_tokens == 4 and record.tokens_reported
    assert record.ttft_ms is not None and record.e2e_ms is not None
    slack = 15.0  # loopback, event loops and JSON on a busy 2-core machine
    assert 100.0 <= record.ttft_ms <= 100.0 + slack  # the empty role chunk does not count
    assert record.itl_ms == pytest.approx([30.0, 40.0, 50.0], abs=slack)
    assert record.tpot_ms == pytest.approx((record.e2e_ms - record.ttft_ms) / 3)
    assert 220.0 <= record.e2e_ms <= 220.0 + slack


def test_calibration_recovers_the_servers_tokens_per_word() -> None:
    script = Script(prompt_tokens_per_word=1.7, prompt_overhead=11, chunk_ms=[1.0, 2.0])
    with ScriptedServer(script) as server:
        target = Target(url=server.url + "/v1/chat/completions", api=Api.CHAT)
        builder, warnings = asyncio.run(calibrate(target))
    assert warnings == []
    assert builder.tokens_per_word == pytest.approx(1.7, rel=0.02)
    assert builder.overhead_tokens == pytest.approx(11, abs=2)
    assert script.seen[0]["ignore_eos"] is True and script.seen[0]["stream"] is True


def test_a_server_that_refuses_the_forcing_fields_gets_max_tokens_only() -> None:
    script = Script(reject_fields=("ignore_eos",), chunk_ms=[1.0, 2.0])
    with ScriptedServer(script) as server:
        target = Target(url=server.url + "/v1/completions", api=Api.COMPLETIONS)
        _builder, warnings = asyncio.run(calibrate(target))
    assert not target.force_fields
    assert any("max_tokens only" in w for w in warnings)
    assert "ignore_eos" not in script.seen[-1] and script.seen[-1]["max_tokens"] == 2


def test_the_points_csv_has_a_value_under_every_header() -> None:
    import csv
    import io

    from advisor.bench.llm.records import LLMCapacity, SizeSpec
    from advisor.bench.llm.results import llm_points_csv

    slo = LLMSLO(ttft_p99_ms=500, quantile=0.9)
    records = [_record(i, [i + 0.1, i + 0.15], output_tokens=2, input_tokens=10) for i in range(20)]
    point = summarize(records, seq=3, offered_rps=2.0, duration_s=10.0, cutoff_s=30.0, slo=slo)
    cap = LLMCapacity(
        run_id="r",
        model="m",
        shape="s",
        slo=slo,
        sizes=SizeSpec(kind="fixed"),
        capacity_rps=0,
        points=[point],
    )
    rows = list(csv.DictReader(io.StringIO(llm_points_csv([cap]))))
    assert len(rows) == 1 and None not in rows[0] and None not in rows[0].values()
    row = rows[0]
    assert row["slo_percentile"] == "90" and row["seq"] == "3" and row["offered_rps"] == "2.0"
    assert float(row["ttft_p50_ms"]) == pytest.approx(100.0)
    assert row["verdict"] == point.verdict.value
