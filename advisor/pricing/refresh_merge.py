"""Merging freshly fetched prices into the tables of the snapshot in force (pure pandas, no AWS calls).

Rules, per table:

- ``ec2_on_demand.csv``, ``ec2_spot.csv``, ``sagemaker.csv``: the API lists everything offered in a region,
  so a refreshed region's rows are replaced as a whole (a type AWS stopped offering disappears). An answer
  with no rows at all never wipes a region: EC2 raises, the others keep the old rows and say so.
- ``fargate.csv`` and ``elb.csv``: rows are replaced by key ((capacity, platform) or load-balancer type),
  because the Price List does not carry everything the snapshot has (Fargate Spot rates float and come from
  AWS's pricing-page feed instead).
- ``ec2_instances.csv``: spec rows are only added, for priced types the snapshot had no specs for.

Every other row, and every other region, is kept exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from advisor.errors import DataError
from advisor.pricing.price_list_parsers import Ec2Prices, Row
from advisor.pricing.spot_history import SpotQuote, spot_rows

SPECS = "ec2_instances.csv"
ON_DEMAND = "ec2_on_demand.csv"
SPOT = "ec2_spot.csv"
SAGEMAKER = "sagemaker.csv"
FARGATE = "fargate.csv"
ELB = "elb.csv"


@dataclass
class Fetched:
    """Everything one refresh fetched, per service and region, before it touches any table."""

    ec2: dict[str, Ec2Prices] = field(default_factory=dict)
    spot: dict[str, list[SpotQuote]] = field(default_factory=dict)
    sagemaker: dict[str, list[Row]] = field(default_factory=dict)
    fargate: dict[str, list[Row]] = field(default_factory=dict)
    elb: dict[str, list[Row]] = field(default_factory=dict)


@dataclass(frozen=True)
class MergeNote:
    """What a refresh did to one table in one region."""

    table: str
    region: str
    new_rows: int
    removed_rows: int
    note: str = ""


def merge_fetched(
    tables: dict[str, pd.DataFrame], fetched: Fetched, as_of: dt.date
) -> tuple[dict[str, pd.DataFrame], list[MergeNote]]:
    """New tables with ``fetched`` merged in (inputs untouched), and one note per table and region.

    Raises DataError when an EC2 region came back with no price at all (an unknown region, or a Price List
    answer advisor does not understand), so that nothing is written.
    """
    out = dict(tables)
    notes: list[MergeNote] = []
    date = as_of.isoformat()
    for region, prices in fetched.ec2.items():
        if not prices.on_demand:
            raise DataError(
                f"the Price List returned no Linux on-demand EC2 price for {region} "
                f"({prices.skipped} products skipped)",
                where=f"pricing:GetProducts AmazonEC2 ({region})",
                fix="check the region code; if it is right, run again later or report it",
            )
        out[ON_DEMAND], note = _replace_region(out[ON_DEMAND], ON_DEMAND, region, prices.on_demand)
        notes.append(note)
    if fetched.ec2:
        out[SPECS], note = _add_specs(out[SPECS], fetched.ec2.values())
        notes.append(note)
    for region, quotes in fetched.spot.items():
        on_demand = out[ON_DEMAND][out[ON_DEMAND]["region"] == region]
        old = out[SPOT][out[SPOT]["region"] == region]
        rows = spot_rows(
            quotes,
            region,
            date,
            on_demand_usd={k: float(str(v)) for k, v in _by_type(on_demand, "usd_per_hour").items()},
            previous_bands={k: str(v) for k, v in _by_type(old, "interruption_frequency").items()},
        )
        out[SPOT], note = _replace_region(out[SPOT], SPOT, region, rows)
        notes.append(note)
    for region, rows in fetched.sagemaker.items():
        out[SAGEMAKER], note = _replace_region(out[SAGEMAKER], SAGEMAKER, region, rows)
        notes.append(note)
    for region, rows in fetched.fargate.items():
        out[FARGATE], note = _replace_keyed(out[FARGATE], FARGATE, region, rows, ("capacity", "platform"))
        notes.append(note)
    for region, rows in fetched.elb.items():
        out[ELB], note = _replace_keyed(out[ELB], ELB, region, rows, ("load_balancer_type",))
        notes.append(note)
    return out, notes


def _replace_region(
    old: pd.DataFrame, table: str, region: str, rows: list[Row]
) -> tuple[pd.DataFrame, MergeNote]:
    in_region = old["region"] == region
    if not rows:
        kept = int(in_region.sum())
        return old, MergeNote(table, region, 0, 0, f"AWS returned nothing; kept the {kept} previous rows")
    return _rebuild(old, ~in_region, rows), MergeNote(table, region, len(rows), int(in_region.sum()))


def _replace_keyed(
    old: pd.DataFrame, table: str, region: str, rows: list[Row], key: Sequence[str]
) -> tuple[pd.DataFrame, MergeNote]:
    new_keys = {tuple(str(r[c]) for c in key) for r in rows}
    in_region = old["region"] == region
    old_keys = old[list(key)].astype(str).apply(tuple, axis=1)
    replaced = in_region & old_keys.isin(new_keys)
    kept = sorted("/".join(k) for k in old_keys[in_region & ~replaced])
    note = f"kept previous {', '.join(kept)} (not in this answer)" if kept else ""
    if not rows:
        note = f"AWS returned nothing; kept the {int(in_region.sum())} previous rows"
        return old, MergeNote(table, region, 0, 0, note)
    return _rebuild(old, ~replaced, rows), MergeNote(table, region, len(rows), int(replaced.sum()), note)


def _add_specs(old: pd.DataFrame, prices: Iterable[Ec2Prices]) -> tuple[pd.DataFrame, MergeNote]:
    known = set(old["instance_type"])
    new: dict[str, Row] = {}
    for region_prices in prices:
        for name, spec in region_prices.specs.items():
            if name not in known:
                new.setdefault(name, spec)
    rows = [new[name] for name in sorted(new)]
    note = f"added specs for {', '.join(sorted(new))}" if new else "no instance type without specs"
    frame = _rebuild(old, pd.Series(True, index=old.index), rows) if rows else old
    return frame, MergeNote(SPECS, "all", len(rows), 0, note)


def _by_type(frame: pd.DataFrame, column: str) -> dict[str, object]:
    values = frame.set_index("instance_type")[column]
    return {str(k): v for k, v in values.items() if pd.notna(v)}


def _rebuild(old: pd.DataFrame, keep: pd.Series, rows: list[Row]) -> pd.DataFrame:
    """``old``'s kept rows in their order, then ``rows``; columns of ``old`` first, new ones after."""
    columns = list(old.columns)
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    records = old[keep].to_dict("records") + [{c: row.get(c) for c in columns} for row in rows]
    return pd.DataFrame.from_records(records, columns=columns)
