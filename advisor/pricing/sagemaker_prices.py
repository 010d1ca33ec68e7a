"""SageMaker real-time hosting prices: listed ones, estimated ones with their premium, and data processing.

Part of :class:`advisor.pricing.catalog.Catalog` (a mixin over the same snapshot tables). Only types a
SageMaker endpoint accepts have a price (:mod:`advisor.platforms.sagemaker`). A valid type missing from
the price table is EC2 on-demand × the median SageMaker/EC2 ratio of its kind: CPU types and GPU/accelerator
types carry different premiums (about 1.2 and 1.25 over the bundled table's pairs), so one ratio for all
would overprice the one and underprice the other; the figure is flagged estimated with the ratio and the
number of pairs behind it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from advisor.domain import DataProcessingPrice, Price, PurchaseOption
from advisor.errors import NotFoundError
from advisor.platforms.sagemaker import check_endpoint_type
from advisor.pricing.snapshot import SAGEMAKER_DATA_FILE, Snapshot, bundled_snapshot_dir, load_snapshot
from advisor.pricing.values import RegionalRows, date_of, kept, num, rows_by_key, text_or_none

SAGEMAKER_PREFIX = "ml."
DERIVED_SOURCE = "advisor-derived"
SAGEMAKER_DATA_FALLBACK_REGION = "us-east-1"


class SageMakerPrices:
    """SageMaker queries; the catalog provides the tables and the EC2 look-ups they build on."""

    snapshot: Snapshot
    _sagemaker: pd.DataFrame
    _on_demand: pd.DataFrame
    _specs: pd.DataFrame
    _sagemaker_rows: RegionalRows

    def check_instance_type(self, name: str) -> str:  # pragma: no cover - provided by Catalog
        raise NotImplementedError

    def check_region(self, region: str) -> str:  # pragma: no cover - provided by Catalog
        raise NotImplementedError

    def on_demand(self, region: str, instance_type: str) -> Price:  # pragma: no cover - provided by Catalog
        raise NotImplementedError

    @cached_property
    def _spec_rows(self) -> dict[str, dict[str, Any]]:
        """``ec2_instances.csv``'s rows by type, read once (:func:`advisor.pricing.values.rows_by_key`)."""
        return rows_by_key(self._specs)

    @cached_property
    def sagemaker_ratios(self) -> dict[bool, tuple[float, int]]:
        """Median SageMaker hosting ÷ EC2 on-demand price, and over how many types, for CPU (False) and
        GPU/accelerator (True) types priced in both; one ratio for all when a kind has no pair."""
        ratios: dict[bool, list[float]] = {False: [], True: []}
        for (region, ml_type), row in self._sagemaker.iterrows():
            ec2_name = str(ml_type).removeprefix(SAGEMAKER_PREFIX)
            key = (region, ec2_name)
            if key in self._on_demand.index and ec2_name in self._specs.index:
                ratio = float(row["usd_per_hour"]) / float(self._on_demand.loc[key]["usd_per_hour"])
                ratios[self._accelerated(ec2_name)].append(ratio)
        every = ratios[False] + ratios[True]
        out: dict[bool, tuple[float, int]] = {}
        for kind, values in ratios.items():
            pick = values or every
            out[kind] = (float(np.median(pick)), len(pick)) if pick else (1.0, 0)
        return out

    def _accelerated(self, ec2_name: str) -> bool:
        row = self._spec_rows[ec2_name]
        return num(row["gpu_count"]) > 0 or num(row["accelerator_count"]) > 0

    @kept
    def sagemaker(self, region: str, instance_type: str) -> Price:
        """SageMaker real-time hosting $/h for ``ml.<type>`` (or ``<type>``).

        Only types a SageMaker endpoint accepts (:mod:`advisor.platforms.sagemaker`); NotFoundError for the
        rest. Missing from the price table: EC2 on-demand × the median SageMaker/EC2 ratio of its kind (CPU,
        or GPU/accelerator: the premium differs, about 1.2 against 1.4 in the bundled table), flagged
        estimated with the ratio and its basis.
        """
        ec2_name = instance_type.removeprefix(SAGEMAKER_PREFIX)
        ml_name = SAGEMAKER_PREFIX + ec2_name
        self.check_instance_type(ec2_name)
        self.check_region(region)
        check_endpoint_type(ml_name)
        row = self._sagemaker_rows.get(region, ml_name)
        if row is not None:
            return Price(
                region=region,
                shape=ml_name,
                option=PurchaseOption.SAGEMAKER,
                usd_per_hour=float(row["usd_per_hour"]),
                as_of=date_of(row["as_of"]),
                source=str(row["source"]),
                note=text_or_none(row["note"]) or "",
            )
        ec2 = self.on_demand(region, ec2_name)
        accelerated = ec2_name in self._spec_rows and self._accelerated(ec2_name)
        ratio, n = self.sagemaker_ratios[accelerated]
        kind = "GPU/accelerator" if accelerated else "CPU"
        return Price(
            region=region,
            shape=ml_name,
            option=PurchaseOption.SAGEMAKER,
            usd_per_hour=round(ec2.usd_per_hour * ratio, 6),
            as_of=ec2.as_of,
            source=f"{DERIVED_SOURCE} ({ec2.source}; ratio from {self._sagemaker_source})",
            estimated=True,
            note=f"EC2 on-demand x {ratio:.3f}, the median SageMaker/EC2 ratio over the {n} {kind} types "
            "priced in both",
        )

    @cached_property
    def _sagemaker_source(self) -> str:
        sources = sorted({str(s) for s in self._sagemaker["source"]})
        return ", ".join(sources) or "no SageMaker prices"

    def sagemaker_data_processing(self, region: str) -> DataProcessingPrice:
        """$ per GB a SageMaker real-time endpoint bills for the data it receives and returns."""
        self.check_region(region)
        table = self._sagemaker_data
        rows = table[table["region"] == region]
        fallback = rows.empty
        if fallback:
            rows = table[table["region"] == SAGEMAKER_DATA_FALLBACK_REGION]
        by_dir = {str(r["direction"]): r for _, r in rows.iterrows()}
        if {"in", "out"} - set(by_dir):
            raise NotFoundError(
                "SageMaker data-processing price",
                region,
                where=SAGEMAKER_DATA_FILE,
                fix="the table needs an 'in' and an 'out' row for the region or for "
                + SAGEMAKER_DATA_FALLBACK_REGION,
            )
        row_in, row_out = by_dir["in"], by_dir["out"]
        note = str(text_or_none(row_in["note"]) or "")
        if fallback:
            note = f"estimated: the {SAGEMAKER_DATA_FALLBACK_REGION} rate, none published here for {region}"
        return DataProcessingPrice(
            region=region,
            usd_per_gb_in=float(row_in["usd_per_gb"]),
            usd_per_gb_out=float(row_out["usd_per_gb"]),
            as_of=min(date_of(row_in["as_of"]), date_of(row_out["as_of"])),
            source=str(row_in["source"]),
            estimated=fallback or note.startswith("estimated"),
            note=note,
        )

    @cached_property
    def _sagemaker_data(self) -> pd.DataFrame:
        """This snapshot's data-processing table, or the bundled one (snapshots from before it existed)."""
        table = self.snapshot.tables.get(SAGEMAKER_DATA_FILE)
        if table is None:
            table = load_snapshot(bundled_snapshot_dir()).table(SAGEMAKER_DATA_FILE)
        return table
