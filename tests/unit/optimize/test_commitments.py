"""Savings Plan commitments: hand-checkable figures, the rate data and its sources, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advisor.errors import DataError, InputError, NotFoundError
from advisor.optimize.fleet.commitments import (
    HOURS_PER_MONTH,
    SAVINGS_PLANS_CSV,
    SavingsPlanRate,
    cost_with_commitment,
    hourly_spend,
    load_savings_plan_rates,
    published_maximum_pct,
    recommend_commitment,
    savings_plan_rate,
)

TWENTY_PCT = SavingsPlanRate(
    plan_type="compute",
    term_years=1,
    payment_option="no_upfront",
    discount_pct=20.0,
    estimated=False,
    source="test",
)


def test_hourly_rollup_averages_minutes_and_drops_a_partial_hour() -> None:
    minutes = np.concatenate([np.full(60, 6.0), np.full(30, 2.0), np.full(30, 4.0), np.full(59, 9.0)])
    assert hourly_spend(minutes, step_seconds=60).tolist() == [6.0, 3.0]  # the last 59 minutes are dropped
    assert hourly_spend(np.array([1.0, 2.0]), step_seconds=7200).tolist() == [1.0, 1.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("spend", "step", "where"),
    [
        (np.array([1.0, -0.5]), 3600, "on_demand_usd_per_hour[1]"),
        (np.array([1.0, np.nan]), 3600, "on_demand_usd_per_hour[1]"),
        (np.array([]), 3600, "on_demand_usd_per_hour"),
        (np.array([1.0]), 7, "step_seconds"),
        (np.array([1.0]), 5400, "step_seconds"),
        (np.array([1.0, 1.0]), 60, "on_demand_usd_per_hour"),
    ],
)
def test_bad_spend_series_are_one_line_errors_with_where(spend: np.ndarray, step: float, where: str) -> None:
    with pytest.raises(InputError) as err:
        hourly_spend(spend, step_seconds=step)
    assert err.value.where == where
    assert "\n" not in err.value.one_line()


def test_base_commitment_by_hand() -> None:
    # 12 h at 10 $/h and 12 h at 4 $/h, 20 % off. The base is 4 $/h: commit 4 x 0.8 = 3.20 $/h, saving
    # 0.80 $/h in every hour = 0.80 x 730 = 584 $/month, against 7 $/h x 730 = 5110 $/month on demand.
    spend = np.concatenate([np.full(12, 10.0), np.full(12, 4.0)])
    rec = recommend_commitment(spend, rate=TWENTY_PCT)
    assert rec.commitment_usd_per_hour == pytest.approx(3.2)
    assert rec.covered_on_demand_usd_per_hour == pytest.approx(4.0)
    assert rec.on_demand_usd_per_month == pytest.approx(5110.0)
    assert rec.saving_usd_per_month == pytest.approx(584.0)
    assert rec.with_commitment_usd_per_month == pytest.approx(5110.0 - 584.0)
    assert rec.effective_discount_pct == pytest.approx(100 * 584 / 5110)
    assert rec.coverage_pct == pytest.approx(100 * 96 / 168)  # 4 $/h of the 7 $/h mean
    assert rec.utilisation_pct == pytest.approx(100.0)
    assert rec.term_commitment_usd == pytest.approx(3.2 * 8760)
    assert rec.hours == 24 and rec.strategy == "base"
    assert "4.0000 $/h" in rec.reason


def test_breakeven_commits_above_the_base_when_the_peak_is_long() -> None:
    # 20 h at 10 $/h, 4 h at 4 $/h, 20 % off. Covering 10 $/h costs 24 x 8 = 192 $ a day; covering 4 $/h
    # costs 24 x 3.2 + 20 x 6 = 196.8 $; nothing costs 216 $. Break-even picks 10 $/h (commit 8 $/h).
    spend = np.concatenate([np.full(20, 10.0), np.full(4, 4.0)])
    rec = recommend_commitment(spend, rate=TWENTY_PCT, strategy="breakeven")
    assert rec.covered_on_demand_usd_per_hour == pytest.approx(10.0)
    assert rec.commitment_usd_per_hour == pytest.approx(8.0)
    assert rec.utilisation_pct == pytest.approx(100 * 216 / 240)
    assert rec.with_commitment_usd_per_month == pytest.approx(8.0 * HOURS_PER_MONTH)
    base = recommend_commitment(spend, rate=TWENTY_PCT)
    assert base.commitment_usd_per_hour == pytest.approx(3.2)
    assert rec.saving_usd_per_month > base.saving_usd_per_month


def test_cost_with_commitment_is_the_hourly_billing_rule() -> None:
    # Commit 8 $/h at 20 % off: covers 10 $/h. An hour at 4 $/h still pays 8; at 13 $/h pays 8 + 3.
    assert cost_with_commitment(np.array([4.0, 10.0, 13.0]), 8.0, 20.0).tolist() == pytest.approx(
        [8.0, 8.0, 11.0]
    )


def test_no_always_on_base_means_no_commitment() -> None:
    rec = recommend_commitment(np.array([0.0, 5.0, 5.0]), rate=TWENTY_PCT)
    assert rec.commitment_usd_per_hour == 0.0
    assert rec.saving_usd_per_month == pytest.approx(0.0)
    assert "no always-on base" in rec.reason


def test_default_rate_is_the_flagged_estimate_on_file() -> None:
    rec = recommend_commitment(np.full(24, 1.0))
    assert rec.discount_estimated is True
    assert rec.discount_pct == pytest.approx(19.18)
    assert rec.commitment_usd_per_hour == pytest.approx(1.0 * (1 - 0.1918))
    assert "(estimated)" in rec.reason


def test_rate_lookup_prefers_the_instance_row_and_reports_gaps() -> None:
    own = savings_plan_rate("compute", 1, "no_upfront", instance_type="m6a.xlarge", region="us-east-1")
    assert own.estimated is False and own.source == "vantage-api-m6a@2026-10-01"
    assert own.discount_pct == pytest.approx(100 * (1 - 0.13965 / 0.1728), abs=0.01)
    typical = savings_plan_rate("compute", 3, "all_upfront", instance_type="c7i.large")
    assert typical.estimated is True and typical.discount_pct == 53
    with pytest.raises(NotFoundError, match=r"build a SavingsPlanRate with your own discount_pct"):
        savings_plan_rate("compute", 1, "all_upfront")


def test_every_rate_on_file_is_sourced_and_below_the_published_cap() -> None:
    frame = pd.read_csv(SAVINGS_PLANS_CSV, dtype=str, keep_default_na=False)
    sources_md = (SAVINGS_PLANS_CSV.parent / "SOURCES.md").read_text(encoding="utf-8")
    for row in frame.to_dict("records"):
        assert row["source"] and f"`{row['source']}`" in sources_md, row
    caps = {
        "compute": published_maximum_pct("compute"),
        "ec2_instance": published_maximum_pct("ec2_instance"),
    }
    assert caps == {"compute": 66.0, "ec2_instance": 72.0}
    for rate in load_savings_plan_rates():
        cap = caps[rate.plan_type]
        assert cap is not None and rate.discount_pct <= cap
        if rate.estimated:
            assert rate.note.startswith("ESTIMATE")
    on_demand = pd.read_csv(SAVINGS_PLANS_CSV.parents[1] / "ec2_on_demand.csv", dtype=str)
    for row in frame[frame["scope"] == "instance"].to_dict("records"):
        match = on_demand[
            (on_demand["region"] == row["region"]) & (on_demand["instance_type"] == row["instance_type"])
        ]
        assert float(match.iloc[0]["usd_per_hour"]) == pytest.approx(float(row["on_demand_usd_per_hour"]))


def test_a_damaged_rates_file_is_a_data_error_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "savings_plans.csv"
    text = SAVINGS_PLANS_CSV.read_text(encoding="utf-8").splitlines()
    text[2] = text[2].replace(",48,", ",lots,")
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_savings_plan_rates(bad)
    assert err.value.where == f"{bad}:3"
    with pytest.raises(DataError):
        load_savings_plan_rates(tmp_path / "missing.csv")
