"""Price List and spot-history parsing for the refresh, on AWS-shaped documents (no AWS, no disk writes).

Where the bundled snapshot holds the same price from an independent source (Karpenter's generated table,
the AWS pricing-page data), parsed values are checked against it rather than against numbers typed here.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

import pandas as pd
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from advisor.errors import ConfigError, DataError
from advisor.pricing.aws import translate_aws_error
from advisor.pricing.price_list import iter_products, on_demand_rate, usage_suffix
from advisor.pricing.price_list_parsers import (
    Ec2Prices,
    ec2_spec,
    parse_ec2,
    parse_elb,
    parse_fargate,
    parse_sagemaker,
)
from advisor.pricing.refresh_merge import Fetched, merge_fetched
from advisor.pricing.snapshot import load_snapshot
from advisor.pricing.spot_history import SpotQuote, spot_rows
from advisor.settings import BUNDLED_PRICING_DIR
from tests.pricing_api_stubs import documents, ec2_filters, pages, queue_products, stubbed_pricing

AS_OF = "2026-11-02"


@pytest.fixture(scope="module")
def bundled() -> dict[str, pd.DataFrame]:
    return load_snapshot(BUNDLED_PRICING_DIR).tables


def _bundled_row(table: pd.DataFrame, **match: object) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for column, value in match.items():
        mask &= table[column] == value
    rows = table[mask]
    assert len(rows) == 1, match
    return rows.iloc[0]


def test_get_products_is_paginated_with_the_exact_filters() -> None:
    client, stubber = stubbed_pricing()
    queue_products(stubber, "AmazonEC2", ec2_filters("us-east-1"), pages("ec2_us-east-1.json"))
    seen: list[int] = []
    with stubber:
        docs = list(iter_products(client, "AmazonEC2", ec2_filters("us-east-1"), on_page=seen.append))
    stubber.assert_no_pending_responses()
    assert seen == [len(p) for p in pages("ec2_us-east-1.json")] and len(seen) == 2
    assert [d["product"]["sku"] for d in docs] == [
        d["product"]["sku"] for d in documents("ec2_us-east-1.json")
    ]


def test_a_document_that_is_not_json_is_a_data_error() -> None:
    client, stubber = stubbed_pricing()
    stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": ['{"product": ']})
    with stubber, pytest.raises(DataError, match="not valid JSON"):
        list(iter_products(client, "AmazonECS", {"regionCode": "us-east-1"}))


@pytest.mark.parametrize(
    ("region", "fixture"), [("us-east-1", "ec2_us-east-1.json"), ("eu-west-1", "ec2_eu-west-1.json")]
)
def test_ec2_prices_match_the_bundled_independent_sources(
    region: str, fixture: str, bundled: dict[str, pd.DataFrame]
) -> None:
    parsed = parse_ec2(documents(fixture), region, AS_OF)
    assert parsed.skipped == 0 and len(parsed.on_demand) == len(documents(fixture))
    for row in parsed.on_demand:
        reference = _bundled_row(
            bundled["ec2_on_demand.csv"], region=region, instance_type=row["instance_type"]
        )
        assert row["usd_per_hour"] == pytest.approx(float(reference["usd_per_hour"]), rel=1e-9)
        assert (row["source"], row["as_of"]) == ("aws-pricing-api", AS_OF)
        assert "sku " in str(row["note"]) and "offer version 20260910195514" in str(row["note"])


def test_ec2_specs_match_the_bundled_specs(bundled: dict[str, pd.DataFrame]) -> None:
    specs = parse_ec2(documents("ec2_us-east-1.json"), "us-east-1", AS_OF).specs
    assert len(specs) == 9
    table = bundled["ec2_instances.csv"]
    for name, spec in specs.items():
        ref = _bundled_row(table, instance_type=name)
        assert (spec["vcpu"], spec["memory_gib"], spec["arch"]) == (
            ref["vcpu"],
            ref["memory_gib"],
            ref["arch"],
        )
        assert spec["gpu_count"] == ref["gpu_count"]
        if (
            ref["gpu_count"] > 0
        ):  # the Price List states the marketed GPU memory, as gpu_memory_gib_nominal does
            assert spec["gpu_memory_gib"] == ref["gpu_memory_gib_nominal"]
        if pd.notna(ref["accelerator_name"]):
            assert (spec["accelerator_name"], spec["accelerator_count"]) == (
                ref["accelerator_name"],
                ref["accelerator_count"],
            )
            if pd.notna(ref["accelerator_memory_gib"]):
                assert spec["accelerator_memory_gib"] == ref["accelerator_memory_gib"]


def test_products_the_filters_exclude_are_skipped_if_aws_returns_them() -> None:
    parsed = parse_ec2(documents("ec2_decoys_us-east-1.json"), "us-east-1", AS_OF)
    assert parsed.on_demand == [] and parsed.specs == {} and parsed.skipped == 4
    # Mixed into the real answer, no decoy displaces a price (Capacity Block p5 is $0, Windows m5 $0.376).
    mixed = documents("ec2_decoys_us-east-1.json") + documents("ec2_us-east-1.json")
    prices = {r["instance_type"]: r["usd_per_hour"] for r in parse_ec2(mixed, "us-east-1", AS_OF).on_demand}
    assert prices["p5.48xlarge"] == 55.04 and prices["m5.xlarge"] == 0.192


def _priced_copy(doc: dict[str, object], usd: str, sku: str, **attributes: str) -> dict[str, object]:
    """``doc`` with another price, SKU and attributes (to probe one rule of the parser at a time)."""
    text = json.dumps(doc).replace(str(doc["product"]["sku"]), sku)  # type: ignore[index]
    copied = json.loads(text)
    for term in copied["terms"]["OnDemand"].values():
        for dim in term["priceDimensions"].values():
            dim["pricePerUnit"]["USD"] = usd
    copied["product"]["attributes"].update(attributes)
    return copied  # type: ignore[no-any-return]


def test_zero_prices_and_capacity_blocks_never_replace_the_on_demand_price() -> None:
    docs = documents("ec2_us-east-1.json")
    m5 = next(d for d in docs if d["product"]["attributes"]["instanceType"] == "m5.xlarge")
    free = _priced_copy(m5, "0.0000000000", "0000000000000000")  # sorts first: would win if $0 counted
    block = _priced_copy(m5, "0.0500000000", "0000000000000001", marketoption="CapacityBlock")
    prices = {
        r["instance_type"]: r["usd_per_hour"]
        for r in parse_ec2([free, block, *docs], "us-east-1", AS_OF).on_demand
    }
    assert prices["m5.xlarge"] == 0.192


def test_tiered_prices_take_the_first_tier() -> None:
    # ECS Anywhere is priced $0 for the first 2,200 hours and $0.01025 beyond (captured AmazonECS answer).
    doc = copy.deepcopy(documents("fargate_us-east-1.json")[0])
    term = next(iter(doc["terms"]["OnDemand"].values()))
    first = next(iter(term["priceDimensions"].values()))
    term["priceDimensions"] = {
        "first": {**first, "beginRange": "0", "endRange": "2200", "pricePerUnit": {"USD": "0.0000000000"}},
        "beyond": {**first, "beginRange": "2200", "endRange": "Inf", "pricePerUnit": {"USD": "0.0102500000"}},
    }
    rate = on_demand_rate(doc, frozenset({"hours"}))
    assert rate is not None and rate.usd == 0.0


def test_on_demand_rate_ignores_reserved_terms_and_wrong_units() -> None:
    m5 = next(
        d
        for d in documents("ec2_us-east-1.json")
        if d["product"]["attributes"]["instanceType"] == "m5.xlarge"
    )
    assert "Reserved" in m5["terms"]
    rate = on_demand_rate(m5, frozenset({"Hrs"}))
    assert rate is not None and rate.usd == 0.192 and rate.sku == "5G4TA8Z4MUKE6MJB"
    assert on_demand_rate(m5, frozenset({"GB-Mo"})) is None


def test_ec2_spec_architecture_and_number_formats() -> None:
    graviton = {"instanceType": "m7g.xlarge", "vcpu": "4", "memory": "16 GiB", "gpuMemory": "NA",
                "physicalProcessor": "AWS Graviton3 Processor"}  # fmt: skip
    spec = ec2_spec(graviton)
    assert spec is not None and (spec["arch"], spec["cpu_manufacturer"], spec["gpu_count"]) == (
        "arm64",
        "aws",
        0,
    )
    big = ec2_spec({"instanceType": "u-6tb1.56xlarge", "vcpu": "224", "memory": "6,144 GiB"})
    assert big is not None and big["memory_gib"] == 6144.0
    assert ec2_spec({"instanceType": "x.large", "vcpu": "NA", "memory": "16 GiB"}) is None


def test_usage_suffix_strips_only_region_prefixes() -> None:
    assert usage_suffix("USW2-BoxUsage:m5.xlarge") == "BoxUsage:m5.xlarge"
    assert usage_suffix("EU-LCUUsage") == "LCUUsage"
    assert usage_suffix("LoadBalancerUsage") == "LoadBalancerUsage"
    assert usage_suffix("Outposts-LCUUsage") == "Outposts-LCUUsage"
    assert usage_suffix("USE1-SpotUsage-Fargate-GB-Hours") == "SpotUsage-Fargate-GB-Hours"


def test_sagemaker_hosting_prices(bundled: dict[str, pd.DataFrame]) -> None:
    docs = documents("sagemaker_us-east-1.json")
    notebook = copy.deepcopy(docs[0])
    notebook["product"]["attributes"]["component"] = "Notebook"
    notebook["terms"]["OnDemand"] = json.loads(
        json.dumps(notebook["terms"]["OnDemand"]).replace("0.23", "9.99")
    )
    rows = {r["instance_type"]: r for r in parse_sagemaker([notebook, *docs], "us-east-1", AS_OF)}
    assert sorted(map(str, rows)) == ["ml.g5.xlarge", "ml.g6.xlarge", "ml.inf2.xlarge", "ml.m5.xlarge"]
    for name in ("ml.m5.xlarge", "ml.g5.xlarge", "ml.inf2.xlarge"):  # the hand-kept table agrees
        reference = _bundled_row(bundled["sagemaker.csv"], region="us-east-1", instance_type=name)
        assert rows[name]["usd_per_hour"] == pytest.approx(float(reference["usd_per_hour"]))
        assert rows[name]["component"] == reference["component"]


def test_fargate_rates_match_the_bundled_pricing_page_data(bundled: dict[str, pd.DataFrame]) -> None:
    rows = parse_fargate(documents("fargate_us-east-1.json"), "us-east-1", AS_OF)
    assert {(r["capacity"], r["platform"]) for r in rows} == {
        ("on_demand", "linux_x86"),
        ("on_demand", "linux_arm"),
        ("on_demand", "windows_x86"),
    }
    columns = ("usd_per_vcpu_hour", "usd_per_gb_hour", "ephemeral_storage_usd_per_gb_hour")
    for row in rows:
        ref = _bundled_row(
            bundled["fargate.csv"], region="us-east-1", capacity="on_demand", platform=row["platform"]
        )
        for column in columns:
            assert row[column] == pytest.approx(float(ref[column])), (row["platform"], column)
        licence = ref["windows_os_license_usd_per_vcpu_hour"]
        assert row["windows_os_license_usd_per_vcpu_hour"] == (
            None if pd.isna(licence) else pytest.approx(licence)
        )


def test_fargate_spot_products_become_spot_rows_when_present() -> None:
    spot = []
    for doc in documents("fargate_us-east-1.json")[:2]:  # the Linux/x86 vCPU and GB products
        doc = copy.deepcopy(doc)
        usage = doc["product"]["attributes"]["usagetype"]
        doc["product"]["attributes"]["usagetype"] = usage.replace("USE1-", "USE1-SpotUsage-")
        spot.append(doc)
    rows = parse_fargate(spot + documents("fargate_us-east-1.json"), "us-east-1", AS_OF)
    spot_row = next(r for r in rows if r["capacity"] == "spot")
    assert (spot_row["platform"], spot_row["ephemeral_storage_usd_per_gb_hour"]) == ("linux_x86", None)


def test_load_balancer_prices_match_the_bundled_data(bundled: dict[str, pd.DataFrame]) -> None:
    rows = parse_elb(documents("elb_us-east-1.json"), "us-east-1", AS_OF)
    assert [r["load_balancer_type"] for r in rows] == ["application", "network", "gateway", "classic"]
    columns = ("usd_per_hour", "usd_per_capacity_unit_hour", "capacity_unit", "usd_per_gb_processed")
    for row in rows:
        ref = _bundled_row(
            bundled["elb.csv"], region="us-east-1", load_balancer_type=row["load_balancer_type"]
        )
        for column in columns:
            expected = None if pd.isna(ref[column]) else ref[column]
            assert row[column] == expected, (row["load_balancer_type"], column)


def test_spot_rows_average_the_latest_price_of_each_zone() -> None:
    t0 = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    quotes = [
        SpotQuote("g5.2xlarge", "us-east-1a", 0.40, t0),
        SpotQuote("g5.2xlarge", "us-east-1a", 0.90, t0 - dt.timedelta(hours=3)),  # superseded in its zone
        SpotQuote("g5.2xlarge", "us-east-1b", 0.44, t0),
        SpotQuote("g5.2xlarge", "us-east-1c", 0.48, t0 - dt.timedelta(minutes=5)),
        SpotQuote("x9.new", "us-east-1a", 1.0, t0),
    ]
    rows = spot_rows(quotes, "us-east-1", AS_OF, {"g5.2xlarge": 1.212}, {"g5.2xlarge": "15-20%"})
    g5, new = rows
    assert g5["usd_per_hour"] == pytest.approx(0.44) and (g5["spot_min_usd"], g5["spot_max_usd"]) == (
        0.40,
        0.48,
    )
    assert g5["savings_pct_vs_on_demand"] == 63.7 and g5["interruption_frequency"] == "15-20%"
    assert (g5["basis"], g5["source"], g5["on_demand_usd_used"]) == (
        "observed",
        "aws-describe-spot-price-history",
        1.212,
    )
    assert new["savings_pct_vs_on_demand"] is None and new["interruption_frequency"] is None


@pytest.mark.parametrize(
    ("exc", "kind", "needle"),
    [
        (NoCredentialsError(), ConfigError, "no usable AWS credentials"),
        (ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetProducts"),
         ConfigError, "refused"),
        (ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetProducts"),
         DataError, "throttling"),
        (EndpointConnectionError(endpoint_url="https://api.pricing.us-east-1.amazonaws.com"), DataError,
         "cannot reach"),
    ],
)  # fmt: skip
def test_aws_failures_become_one_actionable_line(exc: Exception, kind: type, needle: str) -> None:
    error = translate_aws_error(exc, "pricing:GetProducts AmazonEC2", "us-east-1")
    assert type(error) is kind and needle in error.what
    assert error.where == "pricing:GetProducts AmazonEC2 (us-east-1)" and error.fix
    assert "\n" not in error.one_line()


def test_merge_keeps_rows_when_a_service_returns_nothing_and_refuses_an_empty_ec2_answer(
    bundled: dict[str, pd.DataFrame],
) -> None:
    merged, notes = merge_fetched(bundled, Fetched(sagemaker={"us-east-1": []}), dt.date(2026, 11, 2))
    assert (
        merged["sagemaker.csv"] is bundled["sagemaker.csv"] and "kept the 31 previous rows" in notes[0].note
    )
    fargate = parse_fargate(documents("fargate_us-east-1.json"), "us-east-1", AS_OF)
    merged, notes = merge_fetched(bundled, Fetched(fargate={"us-east-1": fargate}), dt.date(2026, 11, 2))
    east = merged["fargate.csv"][merged["fargate.csv"]["region"] == "us-east-1"]
    assert sorted(east["source"]) == ["aws-pricing-api"] * 3 + ["fgcalc@dac946d6"]  # Fargate Spot kept
    assert "spot/linux_x86" in notes[0].note and len(merged["fargate.csv"]) == len(bundled["fargate.csv"])
    with pytest.raises(DataError, match="no Linux on-demand EC2 price for us-east-1"):
        merge_fetched(bundled, Fetched(ec2={"us-east-1": Ec2Prices(skipped=3)}), dt.date(2026, 11, 2))
