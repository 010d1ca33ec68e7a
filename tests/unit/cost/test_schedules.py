"""Scheduled minimums: cron windows in a time zone, the replay's raised floor, the optimiser's use of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

import advisor
from advisor import Settings
from advisor.cost import resolve_prices, simulate
from advisor.cost.replay.schedules import minimum_by_step
from advisor.domain import cron_expression
from advisor.optimize.rightsize import scheduling
from advisor.optimize.rightsize.scheduling import daily_schedules
from advisor.pricing.catalog import Catalog
from advisor.recommendation.scaling import ScheduledMinimum
from advisor.scenario.model import load_scenario
from advisor.traffic.library import resolve_profile
from advisor.traffic.profile import TrafficProfile
from tests.helpers import REPO_ROOT
from tests.traffic_cost_helpers import make_plan

DEMO = REPO_ROOT / "examples" / "demo-scenario.yaml"


def _minutes(days: int, start: str = "2024-01-01") -> pd.DatetimeIndex:  # 2024-01-01 is a Monday
    return pd.date_range(start, periods=days * 24 * 60, freq="min", tz="UTC")


def test_a_daily_window_holds_its_minimum_from_start_to_end() -> None:
    s = ScheduledMinimum(start="45 0 * * *", end="0 4 * * *", min_replicas=4)
    m = minimum_by_step([s], _minutes(3), 2)
    assert (m[44], m[45], m[239], m[240]) == (2, 4, 4, 2)  # 00:44 out, 00:45 in, 03:59 in, 04:00 out
    assert int((m == 4).sum()) == 3 * (240 - 45)


def test_windows_wrap_midnight_and_follow_their_time_zone_and_weekdays() -> None:
    night = ScheduledMinimum(start="0 23 * * *", end="0 1 * * *", min_replicas=3)
    m = minimum_by_step([night], _minutes(2), 1)
    assert m[0] == 3 and m[59] == 3 and m[60] == 1  # the window opened on Dec 31 is still open at 00:00
    assert int((m == 3).sum()) == 60 + 120 + 60  # 00:00-01:00, 23:00-01:00, 23:00-24:00
    paris = ScheduledMinimum(start="0 9 * * 1-5", end="0 17 * * 1-5", timezone="Europe/Paris", min_replicas=5)
    week = _minutes(7)
    m = minimum_by_step([paris], week, 1)
    on = week[m == 5]
    assert on[0] == pd.Timestamp("2024-01-01 08:00", tz="UTC")  # 09:00 CET in January is 08:00 UTC
    assert int((m == 5).sum()) == 5 * 8 * 60 and set(on.dayofweek) == {0, 1, 2, 3, 4}
    # Two windows at once: the larger minimum wins.
    both = minimum_by_step(
        [night, ScheduledMinimum(start="30 0 * * *", end="0 2 * * *", min_replicas=6)], week, 1
    )
    assert both[30] == 6 and both[29] == 3 and both[90] == 6 and both[120] == 1


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"start": "61 0 * * *"}, "not a valid cron"),
        ({"start": "0 0 * *"}, "5-field cron"),
        ({"timezone": "Mars/Olympus"}, "unknown IANA time zone"),
        ({"end": "0 1 * * *", "start": "0 1 * * *"}, "same cron expression"),
        ({"min_replicas": 0}, "min_replicas"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_reason(fields: dict[str, object], needle: str) -> None:
    data = {"start": "0 1 * * *", "end": "0 4 * * *", "timezone": "UTC", "min_replicas": 2, **fields}
    with pytest.raises(ValidationError, match=needle):
        ScheduledMinimum.model_validate(data)


def test_a_cron_verdict_is_the_same_every_time_it_is_asked() -> None:
    """Verdicts are kept per expression (plans validate the same schedules thousands of times): a refused
    expression keeps its reason, an accepted one stays accepted, spacing aside."""
    reasons = []
    for _ in range(2):
        with pytest.raises(ValueError, match="not a valid cron") as refused:
            cron_expression("0 25 * * *")
        reasons.append(str(refused.value))
    assert reasons[0] == reasons[1] and "25" in reasons[0]
    assert cron_expression("0  9 * * 1-5") == cron_expression("0 9 * * 1-5") == "0 9 * * 1-5"


def test_the_replay_bills_the_raised_floor() -> None:
    # Almost no demand; floor 1, raised to 3 from 02:00 to 04:00 and from 14:00 to 16:00; no autoscaling lag.
    # Per day: 1 replica for 20 h and 3 for 4 h = 32 replica-hours (one replica per node) ...
    schedules = [
        ScheduledMinimum(start="0 2 * * *", end="0 4 * * *", min_replicas=3),
        ScheduledMinimum(start="0 14 * * *", end="0 16 * * *", min_replicas=3),
    ]
    plan = make_plan(
        shape="m5.large",
        autoscaling={"min_replicas": 1, "max_replicas": 4, "schedules": [s.model_dump() for s in schedules]},
    )
    profile = TrafficProfile.from_array("idle", np.full(2 * 24 * 60, 0.01), step_s=60)
    catalog = Catalog.load(Settings())
    result = simulate(plan, profile, resolve_prices(plan, catalog))
    price = catalog.on_demand("us-east-1", "m5.large").usd_per_hour
    # ... and the two nodes the window added bill 10 more minutes after it ends, until the cluster
    # autoscaler removes them (2 windows x 2 nodes x 1/6 h a day)
    assert result.usd_total == pytest.approx(2 * (1 * 20 + 3 * 4 + 2 * 2 / 6) * price, rel=1e-9)
    assert (result.replicas_min, result.replicas_max) == (1, 3)
    with pytest.raises(ValidationError, match="exceeds max_replicas"):
        make_plan(autoscaling={"max_replicas": 2, "schedules": [schedules[0].model_dump()]})


def test_the_nightly_batch_gets_a_window_around_it() -> None:
    profile = resolve_profile("nightly-batch", Settings())
    per_replica = 36.0
    got = daily_schedules(profile, per_replica, minimum=2, maximum=8, lead_s=180)
    assert len(got) == 1
    s = got[0]
    # The batch runs 01:00-04:00 (the profile's hourly maxima); a 180 s delay plus one slot: 00:30.
    assert (s.start, s.end, s.timezone) == ("30 0 * * *", "0 4 * * *", "UTC")
    hours = profile.index.hour
    assert s.min_replicas == int(np.ceil(profile.rps[(hours >= 1) & (hours < 4)].max() / per_replica))
    assert daily_schedules(resolve_profile("flat", Settings()), 10.0, 2, 8, 180) == []


@pytest.fixture(scope="module")
def demo_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[advisor.Recommendation, advisor.Recommendation]:
    """The demo, and the same search without schedules (a flat minimum only); every change adopted in both
    (churn threshold 0), so that their Savings Plans are sized on the same models."""
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    demo = load_scenario(DEMO).model_copy(update={"churn_threshold": 0.0})
    with_schedules = advisor.recommend(demo, settings=settings)
    patch = pytest.MonkeyPatch()
    patch.setattr("advisor.optimize.rightsize.search.daily_schedules", lambda *a, **k: [])
    try:
        flat = advisor.recommend(demo, settings=settings)
    finally:
        patch.undo()
    return with_schedules, flat


def test_the_demo_reranker_runs_a_scheduled_minimum_around_its_batch(
    demo_runs: tuple[advisor.Recommendation, advisor.Recommendation],
) -> None:
    rec, flat = demo_runs
    scheduled, plain = rec.model("doc-reranker"), flat.model("doc-reranker")
    assert scheduled.plan is not None and plain.plan is not None
    schedules = scheduled.plan.plan.autoscaling.schedules
    assert (
        schedules
        and scheduled.plan.deployment is not None
        and scheduled.plan.deployment.schedules == schedules
    )
    assert not plain.plan.plan.autoscaling.schedules
    assert scheduled.cost is not None and plain.cost is not None and scheduled.slo_risk is not None
    assert scheduled.cost.usd_per_month <= 0.65 * plain.cost.usd_per_month
    assert scheduled.slo_risk.within_budget
    assert scheduled.plan.replicas_min < plain.plan.replicas_min  # the flat floor no longer holds the batch
    # The always-on base shrinks, and the Savings Plan sized on it with it.
    assert rec.commitment is not None and flat.commitment is not None
    assert rec.commitment.usd_per_hour_commitment < flat.commitment.usd_per_hour_commitment
    assert scheduling.SLOT_S == 900
