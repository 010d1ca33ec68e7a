"""Benchmark: the local cost of ``advisor pricing refresh`` (everything but AWS's own latency).

Feeds realistic-size GetProducts answers to a botocore Stubber: for each region, one Linux on-demand
product per instance type the bundled snapshot prices there (about 470 per region, 15,394 in all 33
regions), each a full AWS-shaped document (the m5.xlarge fixture with the type, SKU and price swapped in),
in pages of 100 as the real API pages them. Then runs ``refresh_snapshot`` for EC2 in every region and
prints: products per second through pagination + JSON decoding + parsing, and the wall time of the whole
refresh including the merge and the atomic snapshot write. Nothing here is a test; AWS network time (one
GetProducts page takes roughly 0.2-1 s) comes on top.

    .venv/bin/python benchmarks/bench_pricing_refresh.py [--regions 33]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from advisor import Settings
from advisor.pricing import AwsClients, load_snapshot, refresh_snapshot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.pricing_api_stubs import documents, ec2_filters, queue_products, stubbed_pricing


def _product(template: dict[str, Any], region: str, name: str, usd: float, index: int) -> dict[str, Any]:
    sku = f"BENCH{index:011d}"
    text = json.dumps(template).replace("5G4TA8Z4MUKE6MJB", sku).replace("m5.xlarge", name)
    doc: dict[str, Any] = json.loads(text)
    doc["product"]["attributes"]["regionCode"] = region
    for term in doc["terms"]["OnDemand"].values():
        for dim in term["priceDimensions"].values():
            dim["pricePerUnit"]["USD"] = f"{usd:.10f}"
    doc["terms"].pop("Reserved", None)
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=33, help="how many of the snapshot's regions")
    args = parser.parse_args()
    on_demand = load_snapshot(Settings().bundled_pricing_dir).table("ec2_on_demand.csv")
    regions = sorted(on_demand["region"].unique())[: args.regions]
    template = next(
        d
        for d in documents("ec2_us-east-1.json")
        if d["product"]["attributes"]["instanceType"] == "m5.xlarge"
    )
    client, stubber = stubbed_pricing()
    total = 0
    for region in regions:
        rows = on_demand[on_demand["region"] == region]
        docs = [
            _product(template, region, str(name), float(usd), total + i)
            for i, (name, usd) in enumerate(zip(rows["instance_type"], rows["usd_per_hour"], strict=True))
        ]
        total += len(docs)
        queue_products(
            stubber, "AmazonEC2", ec2_filters(region), [docs[i : i + 100] for i in range(0, len(docs), 100)]
        )
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        start = time.perf_counter()
        with stubber:
            refresh_snapshot(
                settings,
                regions=regions,
                services=["ec2"],
                console=Console(file=io.StringIO()),
                clients=AwsClients(settings, pricing_client=client),
            )
        wall = time.perf_counter() - start
    print(f"regions: {len(regions)}, Price List products: {total:,}")
    print(f"refresh wall time (paginate, decode, parse, merge, write): {wall:.2f} s")
    print(f"throughput: {total / wall:,.0f} products/s")


if __name__ == "__main__":
    main()
