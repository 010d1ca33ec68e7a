"""The price catalog over the bundled snapshot: specs, every purchase option, provenance, searches."""

from __future__ import annotations

import csv
import statistics
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from advisor.domain import InterruptionBand, PurchaseOption, ReplicaResources
from advisor.errors import InfeasibleError, NotFoundError
from advisor.pricing.catalog import Catalog
from advisor.pricing.fargate import VALID_FARGATE_MEMORY_GIB, smallest_fargate_size, validate_fargate_size
from advisor.pricing.values import RegionalRows
from advisor.settings import BUNDLED_PRICING_DIR, Settings


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


def _rows(name: str) -> list[dict[str, str]]:
    with (BUNDLED_PRICING_DIR / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_m5_xlarge_specs_and_prices(catalog: Catalog) -> None:
    spec = catalog.instance("m5.xlarge")
    assert (spec.vcpu, spec.memory_gib, spec.gpu_count) == (4, 16.0, 0)
    od = catalog.on_demand("us-east-1", "m5.xlarge")
    assert od.usd_per_hour == pytest.approx(0.192)
    assert od.source.startswith("karpenter-pricing") and str(od.as_of) == "2026-07-20"
    spot = catalog.spot("us-east-1", "m5.xlarge")
    assert spot.interruption_band is InterruptionBand.GT20
    assert spot.savings_pct_vs_on_demand is not None
    assert spot.usd_per_hour == pytest.approx(0.192 * (1 - spot.savings_pct_vs_on_demand / 100), rel=1e-3)


def test_every_on_demand_row_is_served_with_its_source(catalog: Catalog) -> None:
    rows = _rows("ec2_on_demand.csv")
    for row in rows[:: max(1, len(rows) // 300)]:
        price = catalog.on_demand(row["region"], row["instance_type"])
        assert price.usd_per_hour == pytest.approx(float(row["usd_per_hour"]))
        assert (price.source, str(price.as_of)) == (row["source"], row["as_of"])


def test_every_spot_row_and_spec_row_is_served_as_the_file_says(catalog: Catalog) -> None:
    rows = [r for r in _rows("ec2_spot.csv") if r["usd_per_hour"]]  # (savings-only rows: tested below)
    for row in rows[:: max(1, len(rows) // 300)]:
        spot = catalog.spot(row["region"], row["instance_type"])
        assert spot.usd_per_hour == pytest.approx(float(row["usd_per_hour"]))
        band = row["interruption_frequency"]
        assert spot.interruption_band == (InterruptionBand(band) if band else None)
        assert spot.estimated == (row["basis"] == "estimate")
        assert (spot.source, str(spot.as_of)) == (row["source"], row["as_of"])
    for row in _rows("ec2_instances.csv")[::7]:
        spec = catalog.instance(row["instance_type"])
        assert (spec.family, spec.vcpu, spec.arch.value) == (row["family"], int(row["vcpu"]), row["arch"])
        assert spec.memory_gib == pytest.approx(float(row["memory_gib"]))
        assert spec.gpu_count == pytest.approx(float(row["gpu_count"] or 0))
        assert spec.gpu_model == (row["gpu_model"].strip() or None)


def test_regional_rows_read_one_region_and_answer_none_for_what_it_lacks() -> None:
    frame = pd.DataFrame(
        {
            "region": ["r1", "r1", "r2"],
            "instance_type": ["a", "b", "a"],
            "usd_per_hour": [1.0, 2.0, float("nan")],
        }
    ).set_index(["region", "instance_type"])
    rows = RegionalRows(frame)
    assert rows.get("r1", "b") == {"usd_per_hour": 2.0}
    assert rows.get("r2", "b") is None
    assert rows.get("r3", "a") is None  # a region the table has no row for
    value = rows.get("r2", "a")
    assert value is not None and value["usd_per_hour"] != value["usd_per_hour"]  # NaN stays NaN


def _premiums() -> dict[bool, list[float]]:
    """SageMaker ÷ EC2 price of every type priced in both, split into CPU (False) and accelerated (True)."""
    od = {(r["region"], r["instance_type"]): float(r["usd_per_hour"]) for r in _rows("ec2_on_demand.csv")}
    specs = {r["instance_type"]: r for r in _rows("ec2_instances.csv")}
    out: dict[bool, list[float]] = {False: [], True: []}
    for r in _rows("sagemaker.csv"):
        key = (r["region"], r["instance_type"][3:])
        if key in od and key[1] in specs:
            spec = specs[key[1]]
            accelerated = float(spec["gpu_count"] or 0) > 0 or float(spec["accelerator_count"] or 0) > 0
            out[accelerated].append(float(r["usd_per_hour"]) / od[key])
    return out


def test_sagemaker_listed_price_and_flagged_estimates_with_cpu_and_gpu_premiums(catalog: Catalog) -> None:
    listed = catalog.sagemaker("us-east-1", "ml.g5.xlarge")
    assert listed.usd_per_hour == pytest.approx(1.4084) and not listed.estimated
    od = {(r["region"], r["instance_type"]): float(r["usd_per_hour"]) for r in _rows("ec2_on_demand.csv")}
    premiums = _premiums()
    assert premiums[False] and premiums[True]
    cpu = catalog.sagemaker("eu-west-1", "c6i.xlarge")
    assert cpu.estimated and cpu.shape == "ml.c6i.xlarge"
    assert cpu.usd_per_hour == pytest.approx(
        od[("eu-west-1", "c6i.xlarge")] * statistics.median(premiums[False])
    )
    gpu = catalog.sagemaker("us-east-1", "ml.g6.xlarge")  # a valid endpoint type the table does not price
    assert gpu.estimated
    assert gpu.usd_per_hour == pytest.approx(
        od[("us-east-1", "g6.xlarge")] * statistics.median(premiums[True])
    )
    assert f"{statistics.median(premiums[True]):.3f}" in gpu.note and "GPU/accelerator" in gpu.note
    assert f"over the {len(premiums[False])} CPU types" in cpu.note
    assert "fmbench" in cpu.source


def test_only_sagemaker_endpoint_types_have_a_sagemaker_price(catalog: Catalog) -> None:
    import botocore.session

    shape: Any = (  # a StringShape, whose .enum the stubs do not know
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .shape_for("ProductionVariantInstanceType")
    )
    enum = shape.enum
    assert "ml.c7a.medium" not in enum and "ml.c7i.large" in enum
    with pytest.raises(NotFoundError) as err:
        catalog.sagemaker("us-east-1", "ml.c7a.medium")
    assert "SageMaker endpoint instance type 'ml.c7a.medium'" in err.value.one_line()
    assert catalog.sagemaker("us-east-1", "c7i.large").shape == "ml.c7i.large"


def test_derived_spot_prices_are_flagged_estimated(catalog: Catalog) -> None:
    rows = _rows("ec2_spot.csv")
    priced = {(r["region"], r["instance_type"]) for r in _rows("ec2_on_demand.csv")}
    by_basis: dict[str, dict[str, str]] = {}
    for r in rows:
        if (r["region"], r["instance_type"]) in priced:
            by_basis.setdefault(r["basis"], r)
    assert set(by_basis) == {"estimate", "observed"}  # savings_only rows have no on-demand price to use
    assert sum(r["basis"] == "estimate" for r in rows) == 13_911  # pricing_data/SOURCES.md
    for basis, row in by_basis.items():
        price = catalog.spot(row["region"], row["instance_type"])
        assert price.estimated is (basis != "observed"), basis


def test_sagemaker_data_processing_has_its_source_and_a_flagged_fallback(catalog: Catalog) -> None:
    east = catalog.sagemaker_data_processing("us-east-1")
    west = catalog.sagemaker_data_processing("eu-west-1")
    assert (east.usd_per_gb_in, east.usd_per_gb_out) == (0.016, 0.016) and east.source.startswith("infracost")
    assert not west.estimated and west.source.startswith("sagemaker-ssh-helper")
    other = catalog.sagemaker_data_processing("ap-south-1")
    assert other.estimated and "us-east-1 rate" in other.note


def test_fargate_one_vcpu_two_gb(catalog: Catalog) -> None:
    price = catalog.fargate_task("us-east-1", 1, 2)
    assert price.usd_per_hour == pytest.approx(0.04048 + 2 * 0.004445)
    spot = catalog.fargate_task("us-east-1", 1, 2, PurchaseOption.FARGATE_SPOT)
    assert spot.usd_per_hour < price.usd_per_hour and spot.source.startswith("fgcalc")
    arm = catalog.fargate_task("us-east-1", 1, 2, platform="linux_arm")
    assert arm.usd_per_hour == pytest.approx(0.03238 + 2 * 0.00356)


def test_fargate_refuses_invalid_size_and_lists_valid_ones(catalog: Catalog) -> None:
    with pytest.raises(InfeasibleError) as err:
        catalog.fargate_task("us-east-1", 0.3, 1)
    message = err.value.one_line()
    assert "0.3 vCPU" in message and "0.25 vCPU: 0.5/1/2 GB" in message and "16 vCPU" in message
    with pytest.raises(InfeasibleError):
        validate_fargate_size(1, 9)


def test_fargate_answers_are_kept_and_refusals_are_not() -> None:
    catalog = Catalog.load(Settings())  # its own: nothing asked of it yet
    task = catalog.fargate_task("us-east-1", 1, 2)
    assert catalog.fargate_task("us-east-1", 1, 2) is task
    assert catalog.fargate_rate("us-east-1") is catalog.fargate_rate("us-east-1")
    for _ in range(2):  # a refusal is worked out (and raised) each time
        with pytest.raises(InfeasibleError):
            catalog.fargate_task("us-east-1", 0.3, 1)
    assert not any(key[0] == "fargate_task" and 0.3 in key for key in vars(catalog)["_kept_answers"])


@hsettings(max_examples=60, deadline=None)
@given(vcpu=st.floats(0.01, 16), memory=st.floats(0.01, 120))
def test_smallest_fargate_size_covers_the_need(vcpu: float, memory: float) -> None:
    size = smallest_fargate_size(vcpu, memory)
    assert size.vcpu >= vcpu - 1e-9 and size.memory_gib >= memory - 1e-9
    assert size.memory_gib in VALID_FARGATE_MEMORY_GIB[size.vcpu]


def test_load_balancer_prices(catalog: Catalog) -> None:
    alb = catalog.load_balancer("eu-west-1", "application")
    assert (alb.usd_per_hour, alb.usd_per_capacity_unit_hour, alb.capacity_unit) == (0.0252, 0.008, "LCU")


def test_unknown_names_suggest_the_closest(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError) as err:
        catalog.instance("m5.xlrage")
    assert "m5.xlarge" in err.value.suggestions
    with pytest.raises(NotFoundError) as err:
        catalog.check_region("us-east-9")
    assert "us-east-1" in err.value.suggestions


def test_cheapest_fits_the_need_and_is_sorted(catalog: Catalog) -> None:
    need = ReplicaResources(vcpu=3, memory_gib=10)
    offers = catalog.cheapest(need, "us-east-1", replicas=4, limit=8)
    assert offers
    totals = [o.count_needed * o.price.usd_per_hour for o in offers]
    assert totals == sorted(totals)
    for offer in offers:
        assert need.fits_on(offer.instance) and not offer.instance.family.startswith("t")
    # Brute force over the whole offer table agrees on the cheapest total.
    frame = catalog.offers("us-east-1")
    best = min(
        row.usd_per_hour * -(-4 // min(row.vcpu // 3, int(row.memory_gib // 10)))
        for row in frame.itertuples()
        if row.vcpu >= 3 and row.memory_gib >= 10 and not str(row.family).startswith("t")
    )
    assert totals[0] == pytest.approx(best)


def test_cheapest_gpu_need_only_returns_gpu_types(catalog: Catalog) -> None:
    need = ReplicaResources(vcpu=4, memory_gib=16, gpu_count=1, gpu_memory_gib=20)
    offers = catalog.cheapest(need, "us-east-1", PurchaseOption.SPOT)
    assert offers and all(o.instance.gpu_count >= 1 and o.instance.gpu_memory_gib >= 20 for o in offers)
    assert all(o.price.option is PurchaseOption.SPOT for o in offers)


def test_nothing_fits_is_an_empty_answer(catalog: Catalog) -> None:
    assert catalog.cheapest(ReplicaResources(vcpu=100000, memory_gib=1), "us-east-1") == []
