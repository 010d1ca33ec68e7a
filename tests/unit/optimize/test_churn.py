"""Churn guard: Karpenter's Balanced score, savings fraction over disruption fraction, threshold 0.5."""

from __future__ import annotations

import math

import pytest

from advisor.errors import InputError
from advisor.optimize.fleet.churn import assess_change, disruption_fraction, worth_changing


def test_the_worked_example_from_the_docstring() -> None:
    # $10,000 -> $9,000 saves 10 %; moving 30 % of replicas scores 0.33 (no), 15 % scores 0.67 (yes).
    assert worth_changing(10_000, 9_000, 0.30) is False
    assert worth_changing(10_000, 9_000, 0.15) is True
    at_threshold = assess_change(10_000, 9_000, 0.20)
    assert at_threshold.score == pytest.approx(0.5) and at_threshold.worth


def test_a_saving_that_disrupts_nothing_is_always_worth_it_and_no_saving_never_is() -> None:
    free = assess_change(100, 99, 0.0)
    assert free.worth and math.isinf(free.score)
    assert worth_changing(100, 100, 0.0) is False
    assert worth_changing(100, 120, 0.0) is False
    assert "saves nothing" in assess_change(100, 120, 0.5).reason


def test_threshold_is_adjustable() -> None:
    assert worth_changing(1000, 900, 0.5, threshold=0.2) is True  # score 0.2
    assert worth_changing(1000, 900, 0.5, threshold=0.21) is False


def test_disruption_counts_replicas_whose_type_slot_shrinks() -> None:
    current = {"a": {"m5.xlarge": 4}, "b": {"c5.large": 2, "c6i.large": 2}, "c": {"g5.xlarge": 2}}
    proposed = {"a": {"m5.xlarge": 2, "c7i.xlarge": 3}, "b": {"c5.large": 2, "c6i.large": 5}}
    # a: 2 of 4 leave m5.xlarge; b: none leave; c: retired, its 2 replicas go. 4 of 10.
    assert disruption_fraction(current, proposed) == pytest.approx(0.4)
    assert disruption_fraction(current, current) == 0.0
    assert disruption_fraction({}, proposed) == 0.0


@pytest.mark.parametrize(
    ("current", "proposed", "disruption", "threshold", "where"),
    [
        (-1.0, 1.0, 0.1, 0.5, "current_usd_per_month"),
        (1.0, math.inf, 0.1, 0.5, "proposed_usd_per_month"),
        (1.0, 1.0, 1.5, 0.5, "disruption"),
        (1.0, 1.0, math.nan, 0.5, "disruption"),
        (1.0, 1.0, 0.1, -0.1, "threshold"),
    ],
)
def test_bad_inputs_are_input_errors(
    current: float, proposed: float, disruption: float, threshold: float, where: str
) -> None:
    with pytest.raises(InputError) as err:
        assess_change(current, proposed, disruption, threshold)
    assert err.value.where == where


def test_negative_replica_counts_are_rejected() -> None:
    with pytest.raises(InputError, match="negative"):
        disruption_fraction({"a": {"m5.large": -1}}, {})
