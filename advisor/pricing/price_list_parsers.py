"""What the Price List products of EC2, SageMaker, Fargate and ELB mean: snapshot rows from GetProducts.

One function per service turns the product documents of one region into rows with exactly the columns of
the snapshot table it feeds (see ``REQUIRED_COLUMNS`` in :mod:`advisor.pricing.snapshot`). Each also carries
the GetProducts filters that select those products. Products that are not the plain on-demand price asked
for (another OS or licence, capacity blocks, Outposts, reserved LCUs, free tiers, $0 metering SKUs) are
skipped, never guessed at; so a filter AWS silently stops honouring cannot turn into wrong prices.

Attribute names and usage types were checked against public copies of AWS offer files and GetProducts
answers (see ``tests/data/pricing_api/README.md``). Where the API states a spec (vCPU, memory, GPUs) it
is used only for instance types the snapshot has no specs for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from advisor.pricing.price_list import (
    SOURCE_PRICE_LIST,
    OnDemandRate,
    Product,
    attributes,
    on_demand_rate,
    product_family,
    usage_suffix,
)

Row = dict[str, object]

HOURS = frozenset({"Hrs", "hours"})

# ----- EC2 -----------------------------------------------------------------------------------------------
# The nominal Linux on-demand product. marketoption separates on-demand from Capacity Block products ($0.00
# for p5.48xlarge); capacitystatus and tenancy separate UnusedBox/DedicatedUsage SKUs; preInstalledSw
# separates "Linux with SQL"; licenseModel and operation are checked on the answer as well.
EC2_SERVICE_CODE = "AmazonEC2"
EC2_FAMILIES = frozenset({"Compute Instance", "Compute Instance (bare metal)"})
_EC2_EXPECTED = {
    "operatingSystem": "Linux",
    "preInstalledSw": "NA",
    "tenancy": "Shared",
    "capacitystatus": "Used",
    "marketoption": "OnDemand",
    "licenseModel": "No License required",
    "operation": "RunInstances",
}
_ACCELERATOR_NAMES = {
    "inf1": "inferentia",
    "inf2": "inferentia2",
    "trn1": "trainium",
    "trn1n": "trainium",
    "trn2": "trainium2",
    "dl2q": "qualcomm-ai100",
}


def ec2_filters(region: str) -> dict[str, str]:
    return {
        "regionCode": region,
        "operatingSystem": "Linux",
        "preInstalledSw": "NA",
        "tenancy": "Shared",
        "capacitystatus": "Used",
        "marketoption": "OnDemand",
    }


@dataclass
class Ec2Prices:
    """Linux on-demand rows of one region, spec rows for every type whose attributes parse, skip count."""

    on_demand: list[Row] = field(default_factory=list)
    specs: dict[str, Row] = field(default_factory=dict)
    skipped: int = 0


def parse_ec2(docs: Iterable[Product], region: str, as_of: str) -> Ec2Prices:
    """``ec2_on_demand.csv`` rows (and candidate ``ec2_instances.csv`` rows) from AmazonEC2 products.

    A type matched by several products keeps the one with the smallest SKU, so reruns are stable.
    """
    out = Ec2Prices()
    chosen: dict[str, tuple[str, OnDemandRate, dict[str, str]]] = {}
    for doc in docs:
        attrs = attributes(doc)
        name = attrs.get("instanceType", "")
        rate = on_demand_rate(doc, HOURS)
        if (
            product_family(doc) not in EC2_FAMILIES
            or attrs.get("regionCode") != region
            or "." not in name
            or any(attrs.get(k, v) != v for k, v in _EC2_EXPECTED.items())
            or rate is None
            or rate.usd <= 0
        ):
            out.skipped += 1
            continue
        if name not in chosen or rate.sku < chosen[name][0]:
            chosen[name] = (rate.sku, rate, attrs)
    for name in sorted(chosen):
        _, rate, attrs = chosen[name]
        out.on_demand.append(
            {
                "region": region,
                "instance_type": name,
                "usd_per_hour": rate.usd,
                "as_of": as_of,
                "source": SOURCE_PRICE_LIST,
                "note": rate.note(),
            }
        )
        spec = ec2_spec(attrs)
        if spec is not None:
            out.specs[name] = spec
    return out


def ec2_spec(attrs: dict[str, str]) -> Row | None:
    """An ``ec2_instances.csv`` row from EC2 product attributes, or None without vCPU and memory.

    ``gpu`` and ``gpuMemory`` (a total: "320 GB HBM2" on p4d.24xlarge) count Inferentia and Trainium chips
    too; those go to the accelerator columns as the snapshot keeps them. The Price List names no GPU model,
    and its ``processorArchitecture`` is "64-bit" for both ISAs, so the architecture is read from
    ``physicalProcessor`` (Graviton and Apple M chips are arm64).
    """
    name = attrs.get("instanceType", "")
    vcpu = _number(attrs.get("vcpu"))
    memory = _number(attrs.get("memory"))
    if not name or vcpu is None or memory is None or vcpu < 1 or memory <= 0:
        return None
    family = name.split(".")[0]
    processor = attrs.get("physicalProcessor", "")
    devices = _number(attrs.get("gpu")) or 0.0
    device_memory = _number(attrs.get("gpuMemory"))
    asic = attrs.get("instanceFamily") == "Machine Learning ASIC Instances" or family in _ACCELERATOR_NAMES
    return {
        "instance_type": name,
        "family": family,
        "vcpu": int(vcpu),
        "memory_gib": memory,
        "gpu_count": 0.0 if asic else devices,
        "gpu_model": None,
        "gpu_memory_gib": None if asic or not devices else device_memory,
        "arch": "arm64" if re.search(r"graviton|apple m\d", processor, re.IGNORECASE) else "x86_64",
        "accelerator_name": _ACCELERATOR_NAMES.get(family, family) if asic and devices else None,
        "accelerator_count": int(devices) if asic and devices else None,
        "accelerator_memory_gib": device_memory if asic and devices else None,
        "cpu_manufacturer": _cpu_maker(processor),
        "source": SOURCE_PRICE_LIST,
        "note": "specs from Price List product attributes (GPU model not given there)",
    }


def _cpu_maker(processor: str) -> str | None:
    lowered = processor.lower()
    for needle, maker in (("graviton", "aws"), ("intel", "intel"), ("amd", "amd"), ("apple", "apple")):
        if needle in lowered:
            return maker
    return None


def _number(text: str | None) -> float | None:
    """The leading number of "16 GiB", "1,152 GiB", "24 GB", "320 GB HBM2" or "4"; None for "NA"."""
    if not text:
        return None
    match = re.match(r"\s*([\d,]*\.?\d+)", text)
    if match is None:
        return None
    value = float(match.group(1).replace(",", ""))
    return value if math.isfinite(value) else None


# ----- SageMaker real-time hosting -----------------------------------------------------------------------
# "ML Instance" products carry instanceName (ml.m5.xlarge) and component: Hosting is a real-time endpoint
# instance (usagetype USE1-Host:ml.m5.xlarge); Notebook, Training, Processing, AsyncInf and BatchTransform
# are other uses of the same instance names at other prices.
SAGEMAKER_SERVICE_CODE = "AmazonSageMaker"
SAGEMAKER_COMPONENT = "realtime_inference_hosting_on_demand"


def sagemaker_filters(region: str) -> dict[str, str]:
    return {"regionCode": region, "component": "Hosting"}


def parse_sagemaker(docs: Iterable[Product], region: str, as_of: str) -> list[Row]:
    """``sagemaker.csv`` rows: the on-demand hourly price of each ``ml.*`` type for real-time hosting."""
    chosen: dict[str, OnDemandRate] = {}
    for doc in docs:
        attrs = attributes(doc)
        name = attrs.get("instanceName") or _after(attrs.get("usagetype", ""), "Host:")
        rate = on_demand_rate(doc, HOURS)
        if (
            product_family(doc) not in ("ML Instance", "")
            or attrs.get("component") != "Hosting"
            or attrs.get("regionCode") != region
            or attrs.get("locationType", "AWS Region") != "AWS Region"
            or not name.startswith("ml.")
            or rate is None
            or rate.usd <= 0
        ):
            continue
        if name not in chosen or rate.sku < chosen[name].sku:
            chosen[name] = rate
    return [
        {
            "region": region,
            "instance_type": name,
            "usd_per_hour": rate.usd,
            "component": SAGEMAKER_COMPONENT,
            "as_of": as_of,
            "source": SOURCE_PRICE_LIST,
            "note": rate.note(),
        }
        for name, rate in sorted(chosen.items())
    ]


def _after(text: str, marker: str) -> str:
    return text.split(marker, 1)[1] if marker in text else ""


# ----- Fargate (AmazonECS) -------------------------------------------------------------------------------
# Usage types, after the region prefix: Fargate-vCPU-Hours:perCPU and Fargate-GB-Hours (Linux/x86),
# Fargate-ARM-..., Fargate-Windows-... plus Fargate-Windows-OS-Hours:perCPU (the per-vCPU licence fee),
# Fargate-EphemeralStorage-GB-Hours (storage beyond the 20 GB included), and SpotUsage-Fargate-... for
# Fargate Spot where the Price List carries it (its rates float; usually they are absent).
FARGATE_SERVICE_CODE = "AmazonECS"
_FARGATE_USAGE = re.compile(
    r"^(?P<spot>SpotUsage-)?Fargate-(?:(?P<platform>ARM|Windows)-)?"
    r"(?P<kind>vCPU-Hours:perCPU|GB-Hours|OS-Hours:perCPU|EphemeralStorage-GB-Hours)$"
)
_FARGATE_PLATFORMS = {None: "linux_x86", "ARM": "linux_arm", "Windows": "windows_x86"}
_EPHEMERAL_NOTE = "ephemeral storage rate applies beyond the 20 GB included per task"


def fargate_filters(region: str) -> dict[str, str]:
    return {"regionCode": region}


def parse_fargate(docs: Iterable[Product], region: str, as_of: str) -> list[Row]:
    """``fargate.csv`` rows: per (capacity, platform) the vCPU-hour and GB-hour rates (and Windows licence).

    A (capacity, platform) pair is emitted only when both its vCPU and GB rates are present (Windows also
    needs its licence fee); the ephemeral-storage rate is added to every on-demand row.
    """
    rates: dict[tuple[str, str, str], OnDemandRate] = {}
    storage: OnDemandRate | None = None
    for doc in docs:
        attrs = attributes(doc)
        match = _FARGATE_USAGE.match(usage_suffix(attrs.get("usagetype", "")))
        rate = on_demand_rate(doc, frozenset({"hours", "Hrs", "GB-Hours", "vCPU-Hours"}))
        if match is None or attrs.get("regionCode") != region or rate is None or rate.usd <= 0:
            continue
        if match["kind"] == "EphemeralStorage-GB-Hours":
            storage = rate if not match["spot"] and match["platform"] is None else storage
            continue
        capacity = "spot" if match["spot"] else "on_demand"
        rates[(capacity, _FARGATE_PLATFORMS[match["platform"]], match["kind"])] = rate
    rows: list[Row] = []
    for capacity, platform in sorted({(c, p) for c, p, _ in rates}):
        vcpu = rates.get((capacity, platform, "vCPU-Hours:perCPU"))
        gb = rates.get((capacity, platform, "GB-Hours"))
        licence = rates.get((capacity, platform, "OS-Hours:perCPU"))
        if vcpu is None or gb is None or (platform == "windows_x86" and licence is None):
            continue
        on_demand = capacity == "on_demand"
        rows.append(
            {
                "region": region,
                "capacity": capacity,
                "platform": platform,
                "usd_per_vcpu_hour": vcpu.usd,
                "usd_per_gb_hour": gb.usd,
                "windows_os_license_usd_per_vcpu_hour": licence.usd if licence else None,
                "ephemeral_storage_usd_per_gb_hour": storage.usd if storage and on_demand else None,
                "as_of": as_of,
                "source": SOURCE_PRICE_LIST,
                "note": "; ".join(
                    [f"skus {vcpu.sku} (vCPU), {gb.sku} (GB)", f"offer version {vcpu.version}"]
                    + ([_EPHEMERAL_NOTE] if on_demand else [])
                ),
            }
        )
    return rows


# ----- Elastic Load Balancing ----------------------------------------------------------------------------
# AWSELB products by productFamily; the hourly charge is usagetype LoadBalancerUsage (unit Hrs), the
# capacity-unit charge LCUUsage (unit LCU-Hrs; NLCU/GLCU spellings accepted) and the Classic per-GB charge
# DataProcessing-Bytes. Outposts-LCUUsage ($0) and ReservedLCUUsage (unit ReservedLCU-Hr) are not the
# on-demand price and do not match. The same families were long published under AmazonEC2, which is the
# fallback when AWSELB has nothing for a region.
ELB_SERVICE_CODE = "AWSELB"
ELB_FALLBACK_SERVICE_CODE = "AmazonEC2"
ELB_FAMILIES = {
    "Load Balancer-Application": ("application", "LCU"),
    "Load Balancer-Network": ("network", "NLCU"),
    "Load Balancer-Gateway": ("gateway", "GLCU"),
    "Load Balancer": ("classic", None),
}
_ELB_USAGE = re.compile(r"^(?P<kind>LoadBalancerUsage|[NG]?LCUUsage|DataProcessing-Bytes)$")


def elb_filters(region: str) -> dict[str, str]:
    return {"regionCode": region}


def elb_fallback_filters(region: str, family: str) -> dict[str, str]:
    return {"regionCode": region, "productFamily": family}


def parse_elb(docs: Iterable[Product], region: str, as_of: str) -> list[Row]:
    """``elb.csv`` rows: per load-balancer type the $/hour, $/capacity-unit-hour and Classic $/GB."""
    found: dict[tuple[str, str], OnDemandRate] = {}
    for doc in docs:
        attrs = attributes(doc)
        family = ELB_FAMILIES.get(product_family(doc))
        match = _ELB_USAGE.match(usage_suffix(attrs.get("usagetype", "")))
        if (
            family is None
            or match is None
            or attrs.get("regionCode") != region
            or attrs.get("locationType", "AWS Region") != "AWS Region"
        ):
            continue
        kind = match["kind"]
        units = {"LoadBalancerUsage": HOURS, "DataProcessing-Bytes": frozenset({"GB"})}.get(
            kind, frozenset({"LCU-Hrs", "NLCU-Hrs", "GLCU-Hrs"})
        )
        rate = on_demand_rate(doc, units)
        if rate is None or rate.usd <= 0:
            continue
        found[(family[0], "capacity" if "LCU" in kind else kind)] = rate
    rows: list[Row] = []
    for product, (kind, unit) in ELB_FAMILIES.items():
        hourly = found.get((kind, "LoadBalancerUsage"))
        if hourly is None:
            continue
        capacity = found.get((kind, "capacity"))
        per_gb = found.get((kind, "DataProcessing-Bytes"))
        rows.append(
            {
                "region": region,
                "load_balancer_type": kind,
                "usd_per_hour": hourly.usd,
                "usd_per_capacity_unit_hour": capacity.usd if capacity else None,
                "capacity_unit": unit if capacity else None,
                "usd_per_gb_processed": per_gb.usd if per_gb else None,
                "as_of": as_of,
                "source": SOURCE_PRICE_LIST,
                "note": f"{product}: hours {hourly.note()}",
            }
        )
    return rows
