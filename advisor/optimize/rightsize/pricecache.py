"""Prices and queue calibrations looked up once per run, across every model the optimiser sizes."""

from __future__ import annotations

from advisor.capacity.queueing import calibrate_service_time_ms
from advisor.cost.prices import PlanPrices, resolve_prices
from advisor.cost.result import CostResult, Screened
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import Plan


class PriceCache:
    """``resolve_prices`` once per (platform, shape, spot pools, load balancer) across all models."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cache: dict[tuple[object, ...], PlanPrices] = {}
        self._service: dict[tuple[float, float], float] = {}

    def prices(self, plan: Plan) -> PlanPrices:
        pools = tuple(plan.purchase.spot_pools) if plan.purchase.uses_spot else None
        lb = plan.effective_load_balancer.kind
        key = (plan.platform, plan.shape_label, plan.region, pools, lb, plan.spot.interruption_band)
        if key not in self._cache:
            self._cache[key] = resolve_prices(plan, self.catalog)
        return self._cache[key]

    def service_time_ms(self, capacity_rps: float, slo_ms: float) -> float:
        key = (capacity_rps, slo_ms)
        if key not in self._service:
            self._service[key] = calibrate_service_time_ms(capacity_rps, slo_ms, 1, 0.0)
        return self._service[key]


def minutes_over_slo_pct(result: CostResult | Screened) -> float:
    """Share of the horizon's minutes with demand above ready capacity (p99 over the SLO), in %."""
    return result.minutes_over_slo_pct
