"""What the surfaces read of the LLM bench: stored runs, their results and points as frames, the capacity
sentence and the per-bucket capacity grid."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.bench.llm.records import LLMSLO
from advisor.errors import InputError, NotFoundError
from advisor.insights import (
    LLM_POINT_COLUMNS,
    LLM_RUN_COLUMNS,
    llm_bench_points,
    llm_bench_results,
    llm_bench_runs,
    llm_bucket_grid,
    llm_capacity_sentence,
    parse_bucket,
)
from advisor.settings import Settings
from advisor.traffic.tokens import range_labels
from tests.llm_bench_helpers import BUCKETS, SHARES, llm_result, seed_llm_runs

LABELS = range_labels()


@pytest.fixture
def seeded(tmp_path: Path) -> Settings:
    home = tmp_path / "llm-home"
    seed_llm_runs(home)
    return Settings(home=home)


def test_without_a_store_every_read_is_empty_and_nothing_is_created(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "none")
    runs = llm_bench_runs(settings=s)
    assert runs.empty and list(runs.columns) == list(LLM_RUN_COLUMNS)
    assert llm_bench_results(["llm-g5"], settings=s) == []
    assert not (tmp_path / "none").exists()


def test_runs_list_one_row_per_run_shape_and_bucket(seeded: Settings) -> None:
    runs = llm_bench_runs(settings=seeded)
    assert list(runs.columns) == list(LLM_RUN_COLUMNS)
    assert set(runs["id"]) == {"llm-g5", "llm-g6-buckets"} | {f"llm-g6-buckets#{b}" for b in BUCKETS}
    whole = runs[runs["id"] == "llm-g5"].iloc[0]
    assert whole["bucket"] is None and whole["capacity_rps"] == 4.2 and whole["tool"] == "advisor"
    buckets = runs[runs["bucket"].notna()]
    assert dict(zip(buckets["bucket"], buckets["capacity_rps"], strict=True)) == BUCKETS
    assert set(llm_bench_runs(model="other", settings=seeded)["id"]) == set()


def test_results_come_in_the_order_asked_whole_distribution_first_each_once(seeded: Settings) -> None:
    results = llm_bench_results(
        ["llm-g6-buckets", "llm-g5", "llm-g6-buckets#in 1k-2k x out 100-250"], settings=seeded
    )
    assert [(r.run_id, r.bucket) for r in results] == [
        ("llm-g6-buckets", None),
        *(("llm-g6-buckets", b) for b in sorted(BUCKETS)),
        ("llm-g5", None),
    ]
    only = llm_bench_results(["llm-g6-buckets#in 1k-2k x out 100-250"], settings=seeded)
    assert [r.bucket for r in only] == ["in 1k-2k x out 100-250"]
    with pytest.raises(NotFoundError, match="llm-g7"):
        llm_bench_results(["llm-g7"], settings=seeded)


def test_points_carry_each_metric_as_stored() -> None:
    r = llm_result("run-a", "g5.xlarge", 4.2)
    frame = llm_bench_points([r])
    assert list(frame.columns) == list(LLM_POINT_COLUMNS) and len(frame) == len(SHARES)
    for (_, row), p in zip(frame.iterrows(), r.points, strict=True):
        assert row["offered_rps"] == p.offered_rps and row["achieved_rps"] == p.achieved_rps
        assert row["ttft_p50_ms"] == p.ttft_ms.p50 and row["tpot_p50_ms"] == p.tpot_ms.p50
        assert row["ttft_ci_estimate_ms"] == p.ttft_ms.ci_estimate
        assert row["ttft_ci_low_ms"] == p.ttft_ms.ci_low and row["ttft_ci_high_ms"] == p.ttft_ms.ci_high
        assert row["e2e_p99_ms"] == p.e2e_ms.p99 and row["itl_ci_estimate_ms"] == p.itl_ms.ci_estimate
        assert row["input_tokens_per_s"] == p.input_tokens_per_s
        assert row["output_tokens_per_s"] == p.output_tokens_per_s
        assert row["goodput_rps"] == p.goodput_rps and row["attainment"] == p.attainment
        assert row["verdict"] == p.verdict.value and row["confirm"] == p.confirm
    assert set(frame["bucket"]) == {"all"} and set(frame["slo_percentile"]) == {99.0}
    assert list(frame["verdict"]) == ["pass", "pass", "pass", "pass", "fail"]


def test_a_side_no_order_statistic_bounds_is_nan_and_no_points_is_an_empty_frame() -> None:
    r = llm_result("run-a", "g5.xlarge", 4.2)
    first = r.points[0]
    unbounded = first.model_copy(update={"ttft_ms": first.ttft_ms.model_copy(update={"ci_high": None})})
    frame = llm_bench_points([r.model_copy(update={"points": [unbounded]})])
    assert math.isnan(frame["ttft_ci_high_ms"].iloc[0]) and frame["ttft_ci_high_ms"].dtype == float
    empty = llm_bench_points([llm_result("run-b", "g5.xlarge", 4.2, with_points=False)])
    assert empty.empty and list(empty.columns) == list(LLM_POINT_COLUMNS)


def test_the_capacity_sentence_names_the_rate_above_tokens_and_slo() -> None:
    r = llm_result("run-a", "g5.xlarge", 4.2, with_points=False).model_copy(
        update={"capacity_high_rps": 4.6, "input_tokens_per_s": 1234.4, "output_tokens_per_s": 567.0}
    )
    assert llm_capacity_sentence(r) == (
        "4.2 req/s (4.6 req/s failed), 1,234 input + 567 output tokens/s"
        " at p99 TTFT ≤ 2000 ms, p99 TPOT ≤ 100 ms"
    )
    undecided = r.model_copy(
        update={"capacity_undecided": True, "lower_bound": True, "status": "interrupted"}
    )
    assert llm_capacity_sentence(undecided) == (
        "4.2 req/s (4.6 req/s undecided) (lower bound: the generator capped it),"
        " 1,234 input + 567 output tokens/s at p99 TTFT ≤ 2000 ms, p99 TPOT ≤ 100 ms"
        " (run interrupted: measured so far)"
    )
    p90 = LLMSLO(ttft_p99_ms=500, tpot_p99_ms=50, e2e_p99_ms=9000, quantile=0.9)
    none = r.model_copy(
        update={"capacity_rps": 0.0, "capacity_high_rps": 0.5, "slo": p90, "reason": "even 0.5 req/s failed"}
    )
    assert llm_capacity_sentence(none) == (
        "no offered rate met p90 TTFT ≤ 500 ms, p90 TPOT ≤ 50 ms, p90 E2E ≤ 9000 ms (even 0.5 req/s failed)"
    )


def test_bucket_labels_parse_into_input_and_output_ranges() -> None:
    assert parse_bucket("in 1k-2k x out 250-500") == ("1k-2k", "250-500")
    assert parse_bucket("in <25 x out >=8k") == ("<25", ">=8k")
    assert parse_bucket("1k-2k x 250-500") is None
    assert parse_bucket("in 1k-2k") is None


def test_the_grid_puts_each_bucket_in_its_cell_in_token_order() -> None:
    results = [
        llm_result("r", "g6", 3.0, with_points=False),  # the whole distribution: not a cell
        *(llm_result("r", "g6", cap, bucket=b, with_points=False) for b, cap in BUCKETS.items()),
        llm_result("r", "g6", 9.0, bucket="custom", with_points=False),  # not "in A x out B": left out
    ]
    grid = llm_bucket_grid(results)
    assert list(grid.index) == ["250-500", "1k-2k"] and list(grid.columns) == ["25-100", "100-250"]
    assert grid.index.name == "input tokens" and grid.columns.name == "output tokens"
    assert grid.loc["250-500", "25-100"] == 8.0 and grid.loc["250-500", "100-250"] == 5.0
    assert grid.loc["1k-2k", "100-250"] == 2.5 and math.isnan(grid.loc["1k-2k", "25-100"])
    assert llm_bucket_grid(results[:1]).empty


def test_two_results_for_one_bucket_are_an_error_naming_both() -> None:
    twice = [
        llm_result("run-a", "g6", 2.0, bucket="in 25-100 x out <25", with_points=False),
        llm_result("run-b", "g5", 3.0, bucket="in 25-100 x out <25", with_points=False),
    ]
    with pytest.raises(InputError, match=r"run-a on g6 and by run run-b on g5.*one run and shape"):
        llm_bucket_grid(twice)


@settings(max_examples=40, deadline=None)
@given(
    cells=st.dictionaries(
        st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)),
        st.floats(min_value=0.0, max_value=1e4, allow_nan=False),
        min_size=1,
        max_size=12,
    )
)
def test_every_bucket_lands_in_its_cell_and_every_other_cell_is_empty(
    cells: dict[tuple[str, str], float],
) -> None:
    grid = llm_bucket_grid(
        [
            llm_result("r", "g6", 1.0, bucket=f"in {i} x out {o}", with_points=False).model_copy(
                update={"capacity_rps": cap}
            )
            for (i, o), cap in cells.items()
        ]
    )
    assert list(grid.index) == [x for x in LABELS if x in {i for i, _ in cells}]
    assert list(grid.columns) == [x for x in LABELS if x in {o for _, o in cells}]
    filled = {(i, o): v for i in grid.index for o in grid.columns if not pd.isna(v := grid.loc[i, o])}
    assert filled == cells
