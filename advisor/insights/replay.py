"""The replay behind a stored plan, for the charts of a model's page.

:func:`model_replay` replays one model's stored plan over its traffic profile (the same cost model and
seed the recommendation used) and returns the per-step series a chart needs: demand against the capacity
that was ready, split by purchase option, with the overloaded steps. It re-prices with the catalog in
force, so when prices moved since the recommendation, the replayed cost says so beside the stored one. It
replays the stored plan; it never searches for another (the optimiser is not imported here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from advisor.cost import resolve_prices, simulate
from advisor.errors import NotFoundError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import ModelRecommendation, Recommendation
from advisor.recommendation.source import scenario_path
from advisor.scenario.model import load_scenario
from advisor.settings import Settings, load_settings
from advisor.traffic.profile import TrafficProfile
from advisor.traffic.scenario import load_model_profile


def model_profile_of(rec: Recommendation, model: str, settings: Settings) -> TrafficProfile:
    """The traffic profile ``model`` was recommended for, read from ``rec``'s scenario file."""
    path = scenario_path(rec)
    scenario = load_scenario(path)
    index = next(i for i, m in enumerate(scenario.models) if m.name == model)
    return load_model_profile(scenario.models[index], settings, path.parent, f"models.{index}")


def _planned(rec: Recommendation, model: str) -> ModelRecommendation:
    m = rec.model(model)
    if m.plan is None or m.cost is None:
        raise NotFoundError(
            "planned model", model, known=[x.model for x in rec.models if x.plan is not None],
            fix=f"{model} has no plan ({m.action.value}): {m.reason or 'see the recommendation'}",
        )  # fmt: skip
    return m


@dataclass(frozen=True)
class ReplayView:
    """One model's stored plan replayed over its profile (``frame`` per step, indexed by time)."""

    model: str
    profile: str
    seed: int
    step_s: int
    frame: pd.DataFrame
    usd_per_month: float
    stored_usd_per_month: float
    overload_minutes: float

    @property
    def matches_stored(self) -> bool:
        """The replay prices the plan as the recommendation did (within a cent a month)."""
        return abs(self.usd_per_month - self.stored_usd_per_month) < 0.01


def model_replay(
    rec: Recommendation, model: str, *, settings: Settings | None = None, catalog: Catalog | None = None
) -> ReplayView:
    """Replay ``model``'s stored plan; columns: demand_rps, capacity_rps (ready), capacity_on_demand_rps,
    capacity_spot_rps, provisioned_capacity_rps, replicas (provisioned), overloaded, usd_per_hour."""
    settings = settings or load_settings()
    m = _planned(rec, model)
    assert m.plan is not None and m.cost is not None
    plan = m.plan.plan
    profile = model_profile_of(rec, model, settings)
    seed = m.slo_risk.seeds[0] if m.slo_risk is not None and m.slo_risk.seeds else rec.provenance.seed
    result = simulate(plan, profile, resolve_prices(plan, catalog or Catalog.load(settings)), seed=seed)
    ts = result.timeseries()
    cap = plan.capacity.rps_per_replica
    ready = ts["ready_replicas"].to_numpy(dtype=float)
    on_demand_ready = np.minimum(ready, ts["nodes_on_demand"].to_numpy(dtype=float) * plan.replicas_per_node)
    frame = pd.DataFrame(
        {
            "demand_rps": ts["demand_rps"],
            "capacity_rps": ready * cap,
            "capacity_on_demand_rps": on_demand_ready * cap,
            "capacity_spot_rps": (ready - on_demand_ready) * cap,
            "provisioned_capacity_rps": ts["provisioned_replicas"].to_numpy(dtype=float) * cap,
            "replicas": ts["provisioned_replicas"],
            "overloaded": ts["overloaded"].astype(bool),
            "usd_per_hour": ts["usd_per_hour"],
        },
        index=ts.index,
    )
    return ReplayView(
        model=model, profile=m.traffic_profile or plan.name, seed=seed, step_s=profile.step_s, frame=frame,
        usd_per_month=result.usd_per_month, stored_usd_per_month=m.cost.usd_per_month,
        overload_minutes=result.slo.overload_minutes,
    )  # fmt: skip
