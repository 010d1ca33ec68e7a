"""What pricing a plan over a traffic profile returns: totals, breakdown, SLO figures, bound, time series.

All money is USD. ``*_per_month`` figures are the horizon's figures × 730 / horizon hours (AWS's 730-hour
month; the profile's own length is the horizon). The time series is computed lazily (``timeseries()``
re-runs the replay of this one plan with the same seed), so batches of thousands of results stay small.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, PrivateAttr

from advisor.domain import FrozenModel as _Value
from advisor.recommendation.plan import CapacityProvenance


class CostBreakdown(_Value):
    """USD per month by component and by purchase option (both sum to the total)."""

    by_component: dict[str, float] = Field(
        description="compute_on_demand, compute_spot, spot_interruptions, load_balancer_hours, "
        "load_balancer_capacity_units"
    )
    by_purchase_option: dict[str, float] = Field(
        description="on_demand | sagemaker | fargate, spot | fargate_spot, load_balancer"
    )


class SLOReport(_Value):
    """How the plan meets its latency SLO over the profile (queueing: ``advisor.cost.replay.queueing``)."""

    slo_p99_ms: float
    p99_ms_estimate: float | None = Field(
        description="p99 over all requests; None = unbounded (overload ≥ 1%)"
    )
    meets_slo: bool = Field(description="p99 estimate within the SLO")
    share_requests_over_slo: float = Field(ge=0, le=1)
    overload_minutes: float = Field(description="minutes with demand above ready capacity, over the horizon")
    overload_minutes_per_month: float
    interruptions: int = Field(description="spot interruptions drawn over the horizon")
    interruptions_per_month: float
    pool_reclaims: int = Field(default=0, description="whole-pool spot reclaims drawn over the horizon")
    lost_replica_hours: float = Field(
        description="replica-hours out of service between reclaim and replacement"
    )
    backlog_max_requests: float = Field(
        default=0.0, description="most requests waiting behind a burst the ready replicas could not serve"
    )
    queue_model: str
    service_time_ms: float
    service_time_calibrated: bool


class CostResult(_Value):
    """The price of one plan over one profile."""

    plan: str
    model: str
    platform: str
    region: str
    shape: str
    capacity_rps_per_replica: float
    capacity_provenance: CapacityProvenance
    seed: int
    horizon_hours: float
    step_s: int = Field(default=60, ge=1, description="the profile's step, seconds")
    month_hours: float = 730.0
    requests_total: float
    requests_per_month: float
    usd_total: float = Field(description="over the horizon")
    usd_per_month: float
    usd_per_million_requests: float | None
    breakdown: CostBreakdown
    utilisation_mean: float = Field(description="served requests ÷ capacity of provisioned replicas")
    replicas_mean: float
    replicas_min: float
    replicas_max: float
    nodes_mean: float
    nodes_max: float
    slo: SLOReport
    fluid_bound_usd_per_month: float = Field(
        description="capacity following demand exactly, at the best $/capacity"
    )
    efficiency: float = Field(description="fluid bound ÷ plan cost (1 = no waste; > 1 = under-provisioned)")
    load_balancer_unit_dimension: str = Field(description="the LCU dimension that bills, or none")
    prices_estimated: bool
    price_sources: tuple[str, ...]

    _series: Callable[[], pd.DataFrame] | None = PrivateAttr(default=None)
    _columns: Callable[[], Mapping[str, np.ndarray]] | None = PrivateAttr(default=None)
    _kept: dict[str, np.ndarray] | None = PrivateAttr(default=None)

    def attach_series(
        self,
        compute: Callable[[], pd.DataFrame],
        columns: Callable[[], Mapping[str, np.ndarray]] | None = None,
    ) -> CostResult:
        """Attach the replay behind :meth:`timeseries`; ``columns``, where given, replays the raw per-step
        arrays without building the frame (:meth:`column`)."""
        self._series, self._columns, self._kept = compute, columns, None
        return self

    def keep_column(self, name: str, values: np.ndarray) -> CostResult:
        """Keep one per-step column the replay already gave (read-only), so :meth:`column` need not replay
        the plan again for it; it goes with the series (:meth:`detach_series`)."""
        self._kept = {**(self._kept or {}), name: values}
        return self

    def detach_series(self) -> CostResult:
        """Forget the replay inputs behind :meth:`timeseries` (the figures stay): a result kept for its
        figures then holds no per-step arrays, and pickles (to a worker process or a Dask worker)."""
        self._series = self._columns = self._kept = None
        return self

    @property
    def minutes_over_slo_pct(self) -> float:
        """Share of the horizon's minutes with demand above ready capacity (p99 over the SLO), in %."""
        return minutes_over_pct(self.slo.overload_minutes, self.horizon_hours)

    @property
    def meets_slo(self) -> bool:
        return self.slo.meets_slo

    @property
    def pool_reclaims(self) -> int:
        return self.slo.pool_reclaims

    def series_payload(self, every_s: int | None = None) -> dict[str, Any]:
        """The time series as JSON-ready columns, aggregated to ``every_s`` seconds when given.

        Aggregation takes means, except ``p99_ms`` (the maximum) and ``overloaded`` (the share of steps).
        NaN and infinities become None. ``every_s`` must be a whole multiple of the profile's step.
        """
        frame, step_s = self.timeseries(), self.step_s
        if every_s is not None and every_s != step_s:
            agg: dict[str, str] = {c: "mean" for c in frame.columns}
            agg["p99_ms"] = "max"
            frame = frame.astype({"overloaded": float}).resample(f"{every_s}s", origin="start").agg(agg)
            step_s = every_s
        columns: dict[str, Any] = {"timestamp": [t.isoformat() for t in frame.index]}
        for name in frame.columns:
            values = frame[name].to_numpy()
            if values.dtype == bool:
                columns[name] = [bool(v) for v in values]
            else:
                columns[name] = [
                    None if not np.isfinite(v) else round(float(v), 6) for v in values.astype(float)
                ]
        return {"step_s": step_s, "columns": columns}

    def timeseries(self) -> pd.DataFrame:
        """Per-step demand, replicas, nodes, capacity, overload, p99 and $/h (computed on first use)."""
        if self._series is None:
            raise RuntimeError("this result carries no replay inputs; use advisor.cost.simulate")
        return self._series()

    def column(self, name: str) -> np.ndarray:
        """One column of :meth:`timeseries` as float64, without building the whole frame where the replay's
        raw arrays hold it (the replica and node counts)."""
        if self._kept is not None and name in self._kept:
            return np.asarray(self._kept[name], dtype=np.float64)
        if self._columns is not None:
            raw = self._columns()
            if name in raw:
                return np.asarray(raw[name], dtype=np.float64)
        values: np.ndarray = self.timeseries()[name].to_numpy(dtype=np.float64)
        return values

    def summary(self) -> dict[str, Any]:
        """The headline figures as a flat dict (for tables)."""
        return {
            "plan": self.plan,
            "platform": self.platform,
            "shape": self.shape,
            "usd_per_month": self.usd_per_month,
            "usd_per_million_requests": self.usd_per_million_requests,
            "utilisation": self.utilisation_mean,
            "efficiency": self.efficiency,
            "overload_min_per_month": self.slo.overload_minutes_per_month,
            "share_over_slo": self.slo.share_requests_over_slo,
            "p99_ms": self.slo.p99_ms_estimate,
            "meets_slo": self.slo.meets_slo,
        }


def minutes_over_pct(overload_minutes: float, horizon_hours: float) -> float:
    """Overload minutes as a share of the horizon's minutes, in %."""
    minutes = horizon_hours * 60.0
    return 100.0 * overload_minutes / minutes if minutes > 0 else 0.0


class Screened:
    """A replayed plan as a search ranks it (``advisor.cost.simulate.screen_many``): its cost per month, its
    minutes over the SLO, its spot events, and whether its p99 meets the SLO - worked out from the replay's
    histogram when first asked (a search asks only of plans within its minutes budget). Each figure is the
    one :class:`CostResult` gives for the same replay, except where ``settled`` is False: the plan was over
    the budget it was screened against before its backlog was worked out, so its minutes over the SLO are a
    lower bound (over that budget) and its SLO verdict False."""

    __slots__ = (
        "_meets",
        "interruptions",
        "minutes_over_slo_pct",
        "plan",
        "pool_reclaims",
        "seed",
        "settled",
        "usd_per_month",
    )

    def __init__(
        self,
        plan: str,
        seed: int,
        usd_per_month: float,
        minutes_over_slo_pct: float,
        interruptions: int,
        pool_reclaims: int,
        meets: bool | Callable[[], bool],
        settled: bool = True,
    ) -> None:
        self.plan, self.seed, self.usd_per_month = plan, seed, usd_per_month
        self.minutes_over_slo_pct = minutes_over_slo_pct
        self.interruptions, self.pool_reclaims = interruptions, pool_reclaims
        self._meets, self.settled = meets, settled

    @property
    def meets_slo(self) -> bool:
        if not isinstance(self._meets, bool):
            self._meets = self._meets()
        return self._meets

    def with_seed(self, seed: int) -> Screened:
        """The same figures under another seed (a row that drew no spot event replays the same)."""
        return Screened(
            self.plan, seed, self.usd_per_month, self.minutes_over_slo_pct, self.interruptions,
            self.pool_reclaims, self._meets, self.settled,
        )  # fmt: skip

    def figures(self) -> tuple[object, ...]:
        """Everything it holds, the SLO verdict worked out (for comparing two screenings)."""
        return (
            self.plan, self.seed, self.usd_per_month, self.minutes_over_slo_pct, self.interruptions,
            self.pool_reclaims, self.meets_slo, self.settled,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"Screened({self.plan!r}, seed={self.seed}, usd_per_month={self.usd_per_month:.6g})"
