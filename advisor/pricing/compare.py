"""Prices of several instance types side by side, across regions, with their sources.

:func:`compare_rows` is what ``advisor pricing compare`` prints and what a dashboard tabulates: one row per
(type, region) with on-demand, spot (saving, interruption band) and SageMaker prices, each with its source
and date, and whether it is the cheapest on-demand type of its region. A price the snapshot lacks is the
reason as text, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from advisor.domain import Price
from advisor.errors import AdvisorError
from advisor.pricing.catalog import Catalog


def try_price(fn: Callable[..., Price], *args: Any) -> Price | str:
    """The price, or what is missing as text."""
    try:
        result: Price = fn(*args)
        return result
    except AdvisorError as exc:
        return exc.what


def compare_rows(catalog: Catalog, types: list[str], regions: list[str]) -> list[dict[str, Any]]:
    """One row per (type, region): on-demand, spot (+ savings and band), SageMaker, with sources."""
    rows: list[dict[str, Any]] = []
    for region in regions:
        region_rows: list[dict[str, Any]] = []
        for name in types:
            spec = catalog.instance(name)
            od = try_price(catalog.on_demand, region, name)
            spot = try_price(catalog.spot, region, name)
            sm = try_price(catalog.sagemaker, region, name)
            region_rows.append(
                {
                    "instance_type": name,
                    "vcpu": spec.vcpu,
                    "memory_gib": spec.memory_gib,
                    "gpu_count": spec.gpu_count,
                    "region": region,
                    "on_demand": od.usd_per_hour if isinstance(od, Price) else None,
                    "on_demand_source": f"{od.source} {od.as_of}" if isinstance(od, Price) else od,
                    "spot": spot.usd_per_hour if isinstance(spot, Price) else None,
                    "spot_savings_pct": spot.savings_pct_vs_on_demand if isinstance(spot, Price) else None,
                    "interruption_band": (
                        spot.interruption_band.value
                        if isinstance(spot, Price) and spot.interruption_band
                        else None
                    ),
                    "spot_source": f"{spot.source} {spot.as_of}" if isinstance(spot, Price) else spot,
                    "sagemaker": sm.usd_per_hour if isinstance(sm, Price) else None,
                    "sagemaker_estimated": sm.estimated if isinstance(sm, Price) else False,
                    "sagemaker_source": f"{sm.source} {sm.as_of}" if isinstance(sm, Price) else sm,
                }
            )
        priced = [r["on_demand"] for r in region_rows if r["on_demand"] is not None]
        for r in region_rows:
            r["cheapest_in_region"] = bool(priced) and r["on_demand"] == min(priced)
        rows.extend(region_rows)
    return rows
