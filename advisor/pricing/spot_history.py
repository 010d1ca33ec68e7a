"""Observed EC2 Spot prices from DescribeSpotPriceHistory, turned into ``ec2_spot.csv`` rows.

Asking with ``StartTime`` = now returns, for every (instance type, Availability Zone), the price in force at
that moment (the same query instances.vantage.sh's scraper uses). Each type's row is the mean over the
region's AZs of the latest price per AZ, with the AZ minimum and maximum; savings are computed against the
on-demand price of the same snapshot. The API says nothing about interruption frequency, so a row keeps the
Spot Instance Advisor band of the row it replaces (blank for a type that had none).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SOURCE_SPOT_HISTORY = "aws-describe-spot-price-history"
PRODUCT_DESCRIPTIONS = ("Linux/UNIX",)
PAGE_SIZE = 1000  # DescribeSpotPriceHistory MaxResults ceiling

Row = dict[str, object]


@dataclass(frozen=True)
class SpotQuote:
    """One spot price observation: USD per instance-hour in one AZ since ``timestamp``."""

    instance_type: str
    availability_zone: str
    usd_per_hour: float
    timestamp: dt.datetime


def fetch_spot_quotes(
    client: Any, now: dt.datetime, *, on_page: Callable[[int], None] | None = None
) -> list[SpotQuote]:
    """Linux/UNIX spot prices in force at ``now`` in the client's region, every page of them.

    botocore errors propagate to the caller. Entries whose product description is not Linux/UNIX (a server
    that ignores the filter) or whose price is not a positive number are dropped.
    """
    paginator = client.get_paginator("describe_spot_price_history")
    pages = paginator.paginate(
        ProductDescriptions=list(PRODUCT_DESCRIPTIONS),
        StartTime=now,
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    quotes: list[SpotQuote] = []
    for page in pages:
        entries = page.get("SpotPriceHistory", [])
        for entry in entries:
            # "Linux/UNIX (Amazon VPC)" is the same product in accounts that once had EC2-Classic.
            if not str(entry.get("ProductDescription", "")).startswith("Linux/UNIX"):
                continue
            try:
                usd = float(entry["SpotPrice"])
            except (KeyError, TypeError, ValueError):
                continue
            if not math.isfinite(usd) or usd <= 0:
                continue
            stamp = entry.get("Timestamp")
            quotes.append(
                SpotQuote(
                    instance_type=str(entry["InstanceType"]),
                    availability_zone=str(entry["AvailabilityZone"]),
                    usd_per_hour=usd,
                    timestamp=stamp if isinstance(stamp, dt.datetime) else now,
                )
            )
        if on_page is not None:
            on_page(len(entries))
    return quotes


def spot_rows(
    quotes: list[SpotQuote],
    region: str,
    as_of: str,
    on_demand_usd: Mapping[str, float],
    previous_bands: Mapping[str, str],
) -> list[Row]:
    """One ``ec2_spot.csv`` row per instance type seen in ``quotes`` (basis ``observed``).

    ``usd_per_hour`` = mean over AZs of each AZ's latest quote; ``savings_pct_vs_on_demand`` =
    100 × (1 − spot ÷ on-demand), rounded to 0.1, blank when ``on_demand_usd`` lacks the type. Worked example:
    AZ prices 0.40, 0.44 and 0.48 against on-demand 1.212 give 0.44 (min 0.40, max 0.48) and 63.7 % saved.
    """
    latest: dict[tuple[str, str], SpotQuote] = {}
    for quote in quotes:
        key = (quote.instance_type, quote.availability_zone)
        if key not in latest or quote.timestamp > latest[key].timestamp:
            latest[key] = quote
    by_type: dict[str, list[float]] = {}
    for (name, _), quote in sorted(latest.items()):
        by_type.setdefault(name, []).append(quote.usd_per_hour)
    rows: list[Row] = []
    for name, prices in sorted(by_type.items()):
        mean = sum(prices) / len(prices)
        od = on_demand_usd.get(name)
        rows.append(
            {
                "region": region,
                "instance_type": name,
                "usd_per_hour": round(mean, 6),
                "basis": "observed",
                "savings_pct_vs_on_demand": round(100 * (1 - mean / od), 1) if od else None,
                "interruption_frequency": previous_bands.get(name) or None,
                "spot_min_usd": min(prices),
                "spot_max_usd": max(prices),
                "on_demand_usd_used": od,
                "as_of": as_of,
                "source": SOURCE_SPOT_HISTORY,
            }
        )
    return rows
