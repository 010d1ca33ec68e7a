"""Must-show: every recommended plan, replayed through the cost model, meets its SLO budget (bundled)."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.cost.prices import resolve_prices
from advisor.cost.simulate import simulate
from advisor.optimize.recommend import recommend
from advisor.optimize.rightsize.pricecache import minutes_over_slo_pct
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import Action, Recommendation
from advisor.scenario.model import Scenario
from advisor.settings import Settings
from advisor.traffic.scenario import load_model_profile
from tests.optimize_helpers import model, scenario

# (profile, peak rps, replica, SLO ms, capacities, current type): every bundled profile, CPU and GPU replicas.
CASES = [
    ("flat", 400, {"vcpu": 1, "memory_gib": 2}, 50, {"c6i.large": 120}, "m5.2xlarge"),
    ("diurnal-business-api", 900, {"vcpu": 2, "memory_gib": 4}, 100, {"c7i.large": 150, "fargate": 140},
     "m5.2xlarge"),
    ("weekday-business-hours", 120, {"vcpu": 1, "memory_gib": 4}, 300, {"m6i.large": 30}, "m5.2xlarge"),
    ("nightly-batch", 150, {"vcpu": 4, "memory_gib": 14, "gpu_count": 1, "gpu_memory_gib": 20}, 250,
     {"g5.xlarge": 40}, "g5.2xlarge"),
    ("bursty-spikes", 300, {"vcpu": 2, "memory_gib": 4}, 100, {"c6i.large": 90}, "m5.2xlarge"),
]  # fmt: skip


def _scenario(budget: float) -> Scenario:
    models = [
        model(
            f"m-{profile}",
            resources=res,
            slo={"latency_p99_ms": slo},
            traffic={"profile": profile, "peak_rps": peak},
            capacities_rps=caps,
            current={"platform": "ec2", "instance_type": current, "count": 6},
        )
        for profile, peak, res, slo, caps, current in CASES
    ]
    return scenario(*models, slo_budget_pct_minutes=budget)


def _check_replays(rec: Recommendation, sc: Scenario, catalog: Catalog, settings: Settings) -> int:
    """Replay each plan from the document alone; return how many plans were checked."""
    checked = 0
    for m, spec in zip(rec.models, sc.models, strict=True):
        assert m.action is not Action.CANNOT_RECOMMEND, (m.model, m.reason)
        assert m.plan is not None and m.slo_risk is not None
        plan = m.plan.plan
        profile = load_model_profile(spec, settings, None, "models")
        for seed in m.slo_risk.seeds:
            result = simulate(plan, profile, resolve_prices(plan, catalog), seed=seed)
            over_pct = minutes_over_slo_pct(result)
            assert over_pct <= sc.slo_budget_pct_minutes + 1e-9, (m.model, seed, over_pct)
            assert result.slo.meets_slo, (m.model, seed, result.slo.p99_ms_estimate)
            # Independently of the summary: count the replayed minutes whose demand exceeds ready capacity.
            series = result.timeseries()
            overloaded = series["demand_rps"] > series["capacity_rps"] * (1 + 1e-5)
            minutes = float(np.count_nonzero(overloaded)) * profile.step_s / 60.0
            assert minutes <= sc.slo_budget_pct_minutes / 100 * profile.duration_hours * 60 + 1e-9
            if seed == m.slo_risk.seeds[0]:
                assert result.usd_per_month == pytest.approx(m.cost.usd_per_month if m.cost else -1)
            checked += 1
        if plan.purchase.uses_spot:
            assert len(m.slo_risk.seeds) == 3  # spot plans are confirmed under other interruption draws
    return checked


def test_recommended_plans_meet_the_default_budget_on_every_bundled_profile(settings: Settings) -> None:
    catalog = Catalog.load(settings)
    sc = _scenario(0.1)
    rec = recommend(sc, catalog, settings)
    assert rec.status == "ok"
    assert _check_replays(rec, sc, catalog, settings) >= len(CASES)
    # Sanity of the economics: never dearer than running the peak statically on the same shape.
    for m in rec.models:
        static = next(b for b in m.baselines if b.name == "static_peak")
        assert m.cost is not None and static.usd_per_month is not None
        assert m.cost.usd_per_month <= static.usd_per_month * 1.001, m.model


def test_a_zero_budget_is_held_too(settings: Settings) -> None:
    catalog = Catalog.load(settings)
    sc = _scenario(0.0)
    rec = recommend(sc, catalog, settings)
    _check_replays(rec, sc, catalog, settings)
    assert all(m.slo_risk is not None and m.slo_risk.minutes_over_slo_pct == 0.0 for m in rec.models)
