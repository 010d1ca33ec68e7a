"""Test helpers for the price refresh: GetProducts fixtures on a botocore Stubber, AWS credentials for moto.

The fixtures in ``tests/data/pricing_api/`` are decoded GetProducts ``PriceList`` entries (see its README);
:func:`queue_products` serialises them back to JSON strings, as AWS sends them, and chains the pages with
``NextToken`` exactly as the ``get_products`` paginator will ask for them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

DATA = Path(__file__).resolve().parent / "data" / "pricing_api"


def ec2_filters(region: str) -> dict[str, str]:
    """The filters the refresh must send for EC2, written out independently of the code under test."""
    return {
        "regionCode": region,
        "operatingSystem": "Linux",
        "preInstalledSw": "NA",
        "tenancy": "Shared",
        "capacitystatus": "Used",
        "marketoption": "OnDemand",
    }


def pages(fixture: str) -> list[list[dict[str, Any]]]:
    body: dict[str, list[list[dict[str, Any]]]] = json.loads((DATA / fixture).read_text(encoding="utf-8"))
    return body["pages"]


def documents(fixture: str) -> list[dict[str, Any]]:
    return [doc for page in pages(fixture) for doc in page]


def stubbed_pricing() -> tuple[Any, Stubber]:
    """A real ``pricing`` client in us-east-1 (never sends anything) and its Stubber."""
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    return client, Stubber(client)


def request(service_code: str, filters: dict[str, str], page: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ServiceCode": service_code,
        "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if page:
        params["NextToken"] = f"{service_code}-page-{page}"
    return params


def queue_products(
    stubber: Stubber,
    service_code: str,
    filters: dict[str, str],
    fixture_pages: list[list[dict[str, Any]]],
    *,
    more_after: bool = False,
) -> None:
    """Expect one GetProducts call per page with exactly these parameters; answer with the page.

    ``more_after``: the last page still carries a NextToken (the test queues what the next call gets).
    """
    for number, docs in enumerate(fixture_pages):
        response: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": [json.dumps(doc, separators=(",", ":")) for doc in docs],
        }
        if number < len(fixture_pages) - 1 or more_after:
            response["NextToken"] = f"{service_code}-page-{number + 1}"
        stubber.add_response("get_products", response, request(service_code, filters, number))


def use_fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, with_keys: bool) -> None:
    """Isolate boto3 from the developer's AWS setup; give it static test keys when ``with_keys``."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if with_keys:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
