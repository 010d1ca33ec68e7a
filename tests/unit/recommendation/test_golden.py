"""Golden files: the demo scenario's recommendation, as JSON and Markdown, with a fixed id and clock.

Any change in a figure, a label or the document's shape shows in review as a diff of
``tests/golden/demo-recommendation.{json,md}``. When the change is intended, rewrite them with
``ADVISOR_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/recommendation/test_golden.py`` and commit
the diff.
Numbers are compared to 1e-9 relative (the same code on another CPU may round the last bits differently);
everything else exactly.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest

from advisor import Recommendation, Settings
from advisor.cost import resolve_prices
from advisor.optimize.rightsize.confirm import CONFIRM_SEEDS, MAX_CONFIRM_SEEDS, confirm_replays
from advisor.pricing.catalog import Catalog
from advisor.render import render
from tests.helpers import TESTS_DIR, json_differences
from tests.traffic_cost_helpers import flat_profile, make_plan

GOLDEN = TESTS_DIR / "golden"
UPDATE = os.environ.get("ADVISOR_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def rec(golden_demo: Recommendation) -> Recommendation:
    """The demo recommendation with a fixed clock and id (tests/conftest.py makes it once per session)."""
    return golden_demo


def _check(name: str, text: str, compare: Any) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path} did not exist; it was written: review and commit it")
    diffs = compare(text, path.read_text(encoding="utf-8"))
    assert not diffs, f"{name} differs from the golden file (first 20 of {len(diffs)}):\n" + "\n".join(
        diffs[:20]
    )


def test_the_demo_recommendation_matches_its_golden_json(rec: Recommendation) -> None:
    _check(
        "demo-recommendation.json",
        render(rec, "json"),
        lambda got, want: json_differences(json.loads(got), json.loads(want)),
    )


def test_the_demo_recommendation_matches_its_golden_markdown(rec: Recommendation) -> None:
    def lines(got: str, want: str) -> list[str]:
        g, w = got.splitlines(), want.splitlines()
        out = [f"line {i + 1}: {a!r} != {b!r}" for i, (a, b) in enumerate(zip(g, w, strict=False)) if a != b]
        return out + ([f"{len(g)} lines, golden has {len(w)}"] if len(g) != len(w) else [])

    _check("demo-recommendation.md", render(rec, "markdown"), lines)


def test_the_comparison_can_fail() -> None:
    assert json_differences({"a": 1.0, "b": [1, "x"]}, {"a": 1.0 + 1e-12, "b": [1, "x"]}) == []
    got = json_differences({"a": 1.1, "b": [1]}, {"a": 1.0, "b": [1, 2], "c": None})
    assert sorted(got) == ["$.a: 1.1 != 1.0", "$.b: 1 items, golden has 2", "$.c: missing"]


def test_the_spot_plan_is_replayed_until_whole_pool_reclaims_are_exercised(rec: Recommendation) -> None:
    spot = [m for m in rec.models if m.plan is not None and m.plan.spot_pct_above_base > 0]
    assert spot
    for m in spot:
        assert m.slo_risk is not None and m.plan is not None
        assert len(m.slo_risk.seeds) > 1 + CONFIRM_SEEDS
        assert m.slo_risk.pool_reclaims >= 1  # a whole pool was lost in at least one replay ...
        assert m.slo_risk.within_budget  # ... and the on-demand base held the SLO budget through it


def test_enough_seeds_that_three_whole_pool_reclaims_are_expected() -> None:
    catalog = Catalog.load(Settings())
    plan = make_plan(
        purchase={"on_demand_base": 1, "spot_pct_above_base": 100, "spot_pools": ["c6i.xlarge", "c5.xlarge"]},
        spot={"pool_reclaims_per_month": 0.05},
    )
    week = flat_profile(10.0, 168)
    expected = 2 * 0.05 * 168 / 730  # two pools, a week
    more = confirm_replays(plan, resolve_prices(plan, catalog), week)
    assert more == math.ceil(3 / expected) - 1
    assert (1 + more) * expected >= 3 > more * expected
    rare = plan.model_copy(update={"spot": plan.spot.model_copy(update={"pool_reclaims_per_month": 1e-6})})
    assert confirm_replays(rare, resolve_prices(rare, catalog), week) == MAX_CONFIRM_SEEDS
