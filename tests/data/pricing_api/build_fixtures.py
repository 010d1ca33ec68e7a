"""Writes the GetProducts fixture documents of this folder: ``python tests/data/pricing_api/build_fixtures.py``.

The facts (SKUs, attributes, prices, offer versions) are in the tables below, each with its source; this
script only lays them out in the document shape AWS's GetProducts returns (see README.md). The JSON files
it writes are committed; the tests read those, not this script.
"""

# ruff: noqa: E501  (fact tables, one product per line)
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ON_DEMAND_TERM = "JRTCKXETXF"  # the on-demand offer term code of every plain on-demand SKU
RATE_SUFFIX = "6YS6EN2CT7"  # the rate code suffix of a single-tier on-demand dimension

LOCATIONS = {"us-east-1": "US East (N. Virginia)", "eu-west-1": "EU (Ireland)"}


def document(
    *,
    service_code: str,
    family: str,
    sku: str,
    attributes: dict[str, str],
    usd: str,
    unit: str,
    description: str,
    effective: str,
    version: str,
    published: str,
    reserved: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One GetProducts PriceList entry (decoded), key for key as AWS writes it."""
    term_key = f"{sku}.{ON_DEMAND_TERM}"
    rate_code = f"{term_key}.{RATE_SUFFIX}"
    terms: dict[str, Any] = {
        "OnDemand": {
            term_key: {
                "priceDimensions": {
                    rate_code: {
                        "unit": unit,
                        "endRange": "Inf",
                        "description": description,
                        "appliesTo": [],
                        "rateCode": rate_code,
                        "beginRange": "0",
                        "pricePerUnit": {"USD": usd},
                    }
                },
                "sku": sku,
                "effectiveDate": effective,
                "offerTermCode": ON_DEMAND_TERM,
                "termAttributes": {},
            }
        }
    }
    if reserved is not None:
        terms["Reserved"] = reserved
    return {
        "product": {"productFamily": family, "attributes": attributes, "sku": sku},
        "serviceCode": service_code,
        "terms": terms,
        "version": version,
        "publicationDate": published,
    }


# ----- EC2 ----------------------------------------------------------------------------------------------
# Attributes, SKUs, prices, effective date and offer version as quoted from the live AmazonEC2 offer files
# (version 20260910195514, published 2026-09-10T19:55:14Z) in a public Price List emulator corpus; every
# price equals the bundled snapshot's (Karpenter 2026-07-20 for us-east-1, aws-price-watcher 2025-06-13 for
# eu-west-1), an independent check.
EC2_VERSION, EC2_PUBLISHED, EC2_EFFECTIVE = "20260910195514", "2026-09-10T19:55:14Z", "2026-09-01T00:00:00Z"
_EC2_COMMON = {
    "availabilityzone": "NA", "capacitystatus": "Used", "classicnetworkingsupport": "false",
    "currentGeneration": "Yes", "licenseModel": "No License required", "locationType": "AWS Region",
    "marketoption": "OnDemand", "operatingSystem": "Linux", "operation": "RunInstances",
    "preInstalledSw": "NA", "processorArchitecture": "64-bit", "servicecode": "AmazonEC2",
    "servicename": "Amazon Elastic Compute Cloud", "tenancy": "Shared", "vpcnetworkingsupport": "true",
}  # fmt: skip
_INTEL = "Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo"
EC2_TYPES: dict[str, dict[str, str]] = {
    "t3.micro": {
        "clockSpeed": "3.1 GHz", "dedicatedEbsThroughput": "Up to 2085 Mbps",
        "dedicatedEbsThroughputDescription": "87 Mbps", "ecu": "NA", "enhancedNetworkingSupported": "No",
        "gpuMemory": "NA", "instanceFamily": "General purpose", "instanceFamilyCategory": "General Purpose",
        "intelAvx2Available": "Yes", "intelAvxAvailable": "Yes", "intelTurboAvailable": "Yes", "memory": "1 GiB",
        "networkPerformance": "Up to 5 Gigabit", "normalizationSizeFactor": "0.5",
        "physicalProcessor": "Intel Skylake E5 2686 v5",
        "processorFeatures": "AVX; AVX2; Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo",
        "storage": "EBS only", "vcpu": "2",
    },
    "m5.xlarge": {
        "clockSpeed": "3.1 GHz", "dedicatedEbsThroughput": "Up to 2120 Mbps",
        "dedicatedEbsThroughputDescription": "850 Mbps", "ecu": "16", "enhancedNetworkingSupported": "Yes",
        "gpuMemory": "NA", "instanceFamily": "General purpose", "instanceFamilyCategory": "General Purpose",
        "intelAvx2Available": "Yes", "intelAvxAvailable": "Yes", "intelTurboAvailable": "Yes",
        "memory": "16 GiB", "networkPerformance": "Up to 10 Gigabit", "normalizationSizeFactor": "8",
        "physicalProcessor": "Intel Xeon Platinum 8175", "processorFeatures": _INTEL, "storage": "EBS only",
        "vcpu": "4",
    },
    "g4dn.xlarge": {
        "clockSpeed": "2.5 GHz", "dedicatedEbsThroughput": "3500 Mbps",
        "dedicatedEbsThroughputDescription": "3500 Mbps", "ecu": "NA", "enhancedNetworkingSupported": "Yes",
        "gpu": "1", "gpuMemory": "16 GB", "instanceFamily": "GPU instance",
        "instanceFamilyCategory": "Accelerated Computing", "intelAvx2Available": "Yes",
        "intelAvxAvailable": "Yes", "intelTurboAvailable": "Yes", "memory": "16 GiB",
        "networkPerformance": "Up to 25 Gigabit", "normalizationSizeFactor": "1",
        "physicalProcessor": "Intel Xeon Family", "processorFeatures": _INTEL, "storage": "125 GB NVMe SSD",
        "vcpu": "4",
    },
    "g5.2xlarge": {
        "clockSpeed": "2.8 GHz", "dedicatedEbsThroughput": "Up to 3500 Mbps",
        "dedicatedEbsThroughputDescription": "850 Mbps", "ecu": "NA", "enhancedNetworkingSupported": "Yes",
        "gpu": "1", "gpuMemory": "24 GB", "instanceFamily": "GPU instance",
        "instanceFamilyCategory": "Accelerated Computing", "intelAvx2Available": "No",
        "intelAvxAvailable": "No", "intelTurboAvailable": "No", "memory": "32 GiB",
        "networkPerformance": "Up to 10 Gigabit", "normalizationSizeFactor": "1.204771372",
        "physicalProcessor": "AMD EPYC 7R32", "processorFeatures": "AMD Turbo; AVX; AVX2",
        "storage": "1 x 450 GB NVMe SSD", "vcpu": "8",
    },
    "g6.xlarge": {
        "clockSpeed": "2.6 GHz", "dedicatedEbsThroughput": "Up to 5000 Mbps",
        "dedicatedEbsThroughputDescription": "1000 Mbps", "ecu": "NA", "enhancedNetworkingSupported": "Yes",
        "gpu": "1", "gpuMemory": "24 GB", "instanceFamily": "GPU instance",
        "instanceFamilyCategory": "Accelerated Computing", "intelAvx2Available": "No",
        "intelAvxAvailable": "No", "intelTurboAvailable": "No", "memory": "16 GiB",
        "networkPerformance": "Up to 10 Gigabit", "normalizationSizeFactor": "1",
        "physicalProcessor": "AMD EPYC 7R13 Processor", "processorFeatures": "AMD Turbo; AVX; AVX2",
        "storage": "1 x 250 GB NVMe SSD", "vcpu": "4",
    },
    "inf2.xlarge": {
        "clockSpeed": "2.95 GHz", "dedicatedEbsThroughput": "Up to 10 Gbps",
        "dedicatedEbsThroughputDescription": "1250 Mbps", "ecu": "NA", "enhancedNetworkingSupported": "Yes",
        "gpu": "1", "gpuMemory": "32 GB", "instanceFamily": "Machine Learning ASIC Instances",
        "instanceFamilyCategory": "Accelerated Computing", "intelAvx2Available": "No",
        "intelAvxAvailable": "No", "intelTurboAvailable": "No", "memory": "16 GiB",
        "networkPerformance": "Up to 15 Gigabit", "normalizationSizeFactor": "1",
        "physicalProcessor": "AMD EPYC 7R13 Processor", "processorFeatures": "AMD Turbo; AVX; AVX2",
        "storage": "EBS only", "vcpu": "4",
    },
    "p4d.24xlarge": {
        "clockSpeed": "3 GHz", "dedicatedEbsThroughput": "19000 Mbps",
        "dedicatedEbsThroughputDescription": "19000 Mbps", "ecu": "345", "enhancedNetworkingSupported": "No",
        "gpu": "8", "gpuMemory": "320 GB HBM2", "instanceFamily": "GPU instance",
        "instanceFamilyCategory": "Accelerated Computing", "intelAvx2Available": "Yes",
        "intelAvxAvailable": "Yes", "intelTurboAvailable": "Yes", "memory": "1152 GiB",
        "networkPerformance": "400 Gigabit", "normalizationSizeFactor": "192",
        "physicalProcessor": "Intel Xeon Platinum 8275L", "processorFeatures": _INTEL,
        "storage": "8 x 1000 SSD", "vcpu": "96",
    },
    "p5.48xlarge": {
        "clockSpeed": "2.95 GHz", "dedicatedEbsThroughput": "80 Gbps",
        "dedicatedEbsThroughputDescription": "80 Gbps", "ecu": "NA", "enhancedNetworkingSupported": "Yes",
        "gpu": "8", "gpuMemory": "640 GB HBM3", "instanceFamily": "GPU instance",
        "instanceFamilyCategory": "Accelerated Computing", "intelAvx2Available": "No",
        "intelAvxAvailable": "No", "intelTurboAvailable": "No", "memory": "2048 GiB",
        "networkPerformance": "3200 Gigabit", "normalizationSizeFactor": "384",
        "physicalProcessor": "AMD EPYC 7R13 Processor", "processorFeatures": "AMD Turbo; AVX; AVX2",
        "storage": "8 x 3840 GB SSD", "vcpu": "192",
    },
    "trn1.32xlarge": {
        "clockSpeed": "Up to 3.5 GHz", "dedicatedEbsThroughput": "Up to 80 Gbps",
        "dedicatedEbsThroughputDescription": "80 Gbps", "ecu": "NA", "enhancedNetworkingSupported": "Yes",
        "gpu": "16", "gpuMemory": "512 GB", "instanceFamily": "Machine Learning ASIC Instances",
        "instanceFamilyCategory": "Accelerated Computing", "intelAvx2Available": "Yes",
        "intelAvxAvailable": "Yes", "intelTurboAvailable": "Yes", "memory": "512 GiB",
        "networkPerformance": "800 Gigabit", "normalizationSizeFactor": "256",
        "physicalProcessor": "Intel Xeon Scalable (Icelake)", "processorFeatures": _INTEL,
        "storage": "4 x 1900 NVMe SSD", "vcpu": "128",
    },
}  # fmt: skip
# (region, type, sku, price string, price as printed in the description)
EC2_PRICES = [
    ("us-east-1", "t3.micro", "CRAJUW7BTXFMT2UJ", "0.0104000000", "0.0104"),
    ("us-east-1", "m5.xlarge", "5G4TA8Z4MUKE6MJB", "0.1920000000", "0.192"),
    ("us-east-1", "g4dn.xlarge", "7TVXMFHQR6U7W5CV", "0.5260000000", "0.526"),
    ("us-east-1", "g5.2xlarge", "FX9TUYTJKEENVBSR", "1.2120000000", "1.212"),
    ("us-east-1", "g6.xlarge", "TPKUC6XYSUQ3VFK2", "0.8048000000", "0.8048"),
    ("us-east-1", "inf2.xlarge", "M85N22VB4U7UGU9M", "0.7582000000", "0.7582"),
    ("us-east-1", "p4d.24xlarge", "H7NGEAC6UEHNTKSJ", "21.9576420000", "21.957642"),
    ("us-east-1", "p5.48xlarge", "3D4V8UAYEMB38GU2", "55.0400000000", "55.04"),
    ("us-east-1", "trn1.32xlarge", "WVVQPJVCQU4SR8XF", "21.5000000000", "21.50"),
    ("eu-west-1", "t3.micro", "DXH6X4VVFUT4EUU5", "0.0114000000", "0.0114"),
    ("eu-west-1", "m5.xlarge", "HNKY83Z77VRXC2UH", "0.2140000000", "0.214"),
    ("eu-west-1", "g4dn.xlarge", "PEJRQD7KDD2NBFH5", "0.5870000000", "0.587"),
    ("eu-west-1", "g5.2xlarge", "P2KE3JYU9KQ2RD7B", "1.3529600000", "1.35296"),
    ("eu-west-1", "inf2.xlarge", "PRB4AAR5CU7BQTGA", "0.9477500000", "0.94775"),
    ("eu-west-1", "p4d.24xlarge", "CQ3RZ8A8BQKVHSKT", "23.7156900000", "23.71569"),
]
# A Reserved term as AWS nests it beside OnDemand (structure as in AWS offer files). PLACEHOLDER values:
# the term code, rate codes and price are invented; it only checks that Reserved terms are ignored.
_RESERVED_PLACEHOLDER = {
    "5G4TA8Z4MUKE6MJB.PLACEHOLDR": {
        "priceDimensions": {
            "5G4TA8Z4MUKE6MJB.PLACEHOLDR.PLACEHOLD1": {
                "unit": "Hrs", "endRange": "Inf", "description": "PLACEHOLDER reserved rate",
                "appliesTo": [], "rateCode": "5G4TA8Z4MUKE6MJB.PLACEHOLDR.PLACEHOLD1", "beginRange": "0",
                "pricePerUnit": {"USD": "0.0010000000"},
            }
        },
        "sku": "5G4TA8Z4MUKE6MJB", "effectiveDate": EC2_EFFECTIVE, "offerTermCode": "PLACEHOLDR",
        "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard", "PurchaseOption": "No Upfront"},
    }
}  # fmt: skip


def ec2_doc(region: str, name: str, sku: str, usd: str, printed: str, **override: str) -> dict[str, Any]:
    prefix = {"us-east-1": "", "eu-west-1": "EU-"}[region]
    attrs = {
        **_EC2_COMMON,
        **EC2_TYPES[name],
        "instanceType": name,
        "location": LOCATIONS[region],
        "regionCode": region,
        "usagetype": f"{prefix}BoxUsage:{name}",
        **override,
    }
    kind = "Capacity Block" if override.get("marketoption") == "CapacityBlock" else "On Demand"
    os_name = override.get("operatingSystem", "Linux")
    return document(
        service_code="AmazonEC2",
        family="Compute Instance",
        sku=sku,
        attributes=dict(sorted(attrs.items())),
        usd=usd,
        unit="Hrs",
        description=f"${printed} per {kind} {os_name} {name} Instance Hour",
        effective=EC2_EFFECTIVE,
        version=EC2_VERSION,
        published=EC2_PUBLISHED,
        reserved=_RESERVED_PLACEHOLDER if sku == "5G4TA8Z4MUKE6MJB" else None,
    )


def ec2_fixtures() -> dict[str, Any]:
    docs = {r: [ec2_doc(*row) for row in EC2_PRICES if row[0] == r] for r in LOCATIONS}
    # Products the filters exclude (quoted from the same corpus). A parser must skip them should AWS stop
    # honouring a filter: Capacity Block p5 at $0, a Windows m5 that shares BoxUsage:m5.xlarge, and the
    # free-tier pseudo product with an empty regionCode.
    free_tier = document(
        service_code="AmazonEC2", family="Compute Instance", sku="R3WPVNCD34N9W7UV",
        attributes={
            "group": "FreeTrial", "groupDescription": "Free Trial for running instances for a limited number "
            "of hours and instances, see marketing for details", "location": "Any", "locationType": "AWS Region",
            "operation": "RunInstances", "regionCode": "", "servicecode": "AmazonEC2",
            "servicename": "Amazon Elastic Compute Cloud", "usagetype": "Global-BoxUsage:freetrial",
        },
        usd="0.0000000000", unit="Hrs", description="Global", effective=EC2_EFFECTIVE, version=EC2_VERSION,
        published=EC2_PUBLISHED,
    )  # fmt: skip
    decoys = [
        ec2_doc("us-east-1", "p5.48xlarge", "5Q7AP3RH7KTVUNCJ", "0.0000000000", "0.00",
                marketoption="CapacityBlock", operation="RunInstances:CB"),
        ec2_doc("us-east-1", "m5.xlarge", "HXGQ45BFM9J2FJ3F", "0.3760000000", "0.376",
                operatingSystem="Windows", operation="RunInstances:0002"),
        ec2_doc("us-east-1", "m5.xlarge", "E9RWRGDUV5X76FUB", "0.1920000000", "0.192",
                capacitystatus="UnusedCapacityReservation", usagetype="UnusedBox:m5.xlarge"),
        free_tier,
    ]  # fmt: skip
    return {
        "ec2_us-east-1.json": {"pages": [docs["us-east-1"][:5], docs["us-east-1"][5:]]},
        "ec2_eu-west-1.json": {"pages": [docs["eu-west-1"]]},
        "ec2_decoys_us-east-1.json": {"pages": [decoys]},
    }


# ----- SageMaker ----------------------------------------------------------------------------------------
# Attribute names and value formats from vantage-sh/ec2instances.info's scraper of the AmazonSageMaker offer
# (scraper/aws/sagemaker.go and sagemaker_test.go: productFamily "ML Instance", instanceName, component,
# platoinstancename, vCpu, memory "16 GiB", gpu, instanceFamily, locationType) and usagetype
# "USE1-Host:ml.m5.xlarge" / SKU JDZQJFUVUR8SUWHS at $0.23 as read from the Price List by another public
# project. The other SKUs, the offer version and the dates are PLACEHOLDERS; prices are the bundled
# sagemaker.csv values (source 10) except ml.g6.xlarge, whose price is a PLACEHOLDER (the table has none).
SM_VERSION, SM_PUBLISHED, SM_EFFECTIVE = "20260601000000", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z"
SAGEMAKER = [
    ("ml.m5.xlarge", "JDZQJFUVUR8SUWHS", "0.2300000000", "4", "16 GiB", "0", "General purpose"),
    ("ml.g5.xlarge", "PLACEHOLDERSMG5X", "1.4084000000", "4", "16 GiB", "1", "GPU instance"),
    (
        "ml.inf2.xlarge",
        "PLACEHOLDERSMIN2",
        "0.9900000000",
        "4",
        "16 GiB",
        "1",
        "Machine Learning ASIC Instances",
    ),
    ("ml.g6.xlarge", "PLACEHOLDERSMG6X", "1.0060000000", "4", "16 GiB", "1", "GPU instance"),
]


def sagemaker_doc(
    name: str, sku: str, usd: str, vcpu: str, memory: str, gpu: str, family: str
) -> dict[str, Any]:
    attrs = {
        "component": "Hosting", "computeType": "Standard", "currentGeneration": "Yes", "gpu": gpu,
        "instanceFamily": family, "instanceName": name, "location": LOCATIONS["us-east-1"],
        "locationType": "AWS Region", "memory": memory, "operation": "RunInstance",
        "platoinstancename": name.split(".")[1], "platoinstancetype": "Hosting", "regionCode": "us-east-1",
        "servicecode": "AmazonSageMaker", "servicename": "Amazon SageMaker", "usagetype": f"USE1-Host:{name}",
        "vCpu": vcpu,
    }  # fmt: skip
    return document(
        service_code="AmazonSageMaker", family="ML Instance", sku=sku, attributes=attrs, usd=usd, unit="Hrs",
        description=f"${float(usd):g} per Hosting {name} in US East (N. Virginia)", effective=SM_EFFECTIVE,
        version=SM_VERSION, published=SM_PUBLISHED,
    )  # fmt: skip


# ----- Fargate (AmazonECS) ------------------------------------------------------------------------------
# Document shape, attributes (cputype, memorytype, resource, cpuArchitecture, storagetype, operation ""),
# SKUs, units ("hours", "GB-Hours", "vCPU-Hours") and descriptions as in a captured GetProducts answer
# for AmazonECS us-east-1 (version 20221121182130) kept as a test mock in a public repository. Prices are
# the 2025-06-05 ones of the bundled fargate.csv (aws-price-watcher raw/ecs.json); the version and
# publication date are that file's AWS publication time (SOURCES.md, source 4); the effective date is a
# PLACEHOLDER.
ECS_VERSION, ECS_PUBLISHED, ECS_EFFECTIVE = "20250605175626", "2025-06-05T17:56:26Z", "2025-06-01T00:00:00Z"
_ECS_COMMON = {
    "location": LOCATIONS["us-east-1"], "locationType": "AWS Region", "regionCode": "us-east-1",
    "servicecode": "AmazonECS", "servicename": "Amazon Elastic Container Service", "operation": "",
}  # fmt: skip
FARGATE = [
    # sku, family, usagetype, extra attributes, usd, unit, description
    ("8CESGAFWKAJ98PME", "Compute", "USE1-Fargate-vCPU-Hours:perCPU", {"cputype": "perCPU", "tenancy": "Shared"},
     "0.0404800000", "hours", "AWS Fargate - vCPU - US East (N.Virginia)"),
    ("PBZNQUSEXZUC34C9", "Compute", "USE1-Fargate-GB-Hours", {"memorytype": "perGB", "tenancy": "Shared"},
     "0.0044450000", "hours", "AWS Fargate - Memory  - US East (N.Virginia)"),
    ("XSZATS4VYMDC9CYN", "Compute", "USE1-Fargate-ARM-vCPU-Hours:perCPU",
     {"cputype": "perCPU", "cpuArchitecture": "ARM", "resource": "per vCPU per hour", "tenancy": "Shared"},
     "0.0323800000", "hours", "AWS Fargate - ARM - vCPU - US East (N. Virginia)"),
    ("UNH9KPQP7W7C66C9", "Compute", "USE1-Fargate-ARM-GB-Hours",
     {"memorytype": "perGB", "cpuArchitecture": "ARM", "resource": "per GB per hour", "tenancy": "Shared"},
     "0.0035600000", "hours", "AWS Fargate - ARM - Memory - US East (N. Virginia)"),
    ("RF2BUTAD289DREDC", "Compute", "USE1-Fargate-Windows-vCPU-Hours:perCPU",
     {"cputype": "perCPU", "operatingSystem": "Windows", "resource": "per vCPU per hour", "tenancy": "Shared"},
     "0.0465520000", "hours", "AWS Fargate - Windows - vCPU - US East (N.Virginia)"),
    ("8QDMJPGQCM368Z6X", "Compute", "USE1-Fargate-Windows-GB-Hours",
     {"memorytype": "perGB", "operatingSystem": "Windows", "resource": "per GB per hour", "tenancy": "Shared"},
     "0.0051117500", "hours", "AWS Fargate - Windows - Memory  - US East (N.Virginia)"),
    ("9D3ZWXRS2VXMZET6", "Compute", "USE1-Fargate-Windows-OS-Hours:perCPU",
     {"cputype": "perCPU OS License Fee", "operatingSystem": "Windows",
      "resource": "OS License Fee per vCPU per hour", "tenancy": "Shared"},
     "0.0460000000", "hours", "AWS Fargate - Windows - OS - US East (N.Virginia)"),
    ("7KPDPTDSCT4J3Z64", "Compute", "USE1-Fargate-EphemeralStorage-GB-Hours", {"storagetype": "default"},
     "0.0001110000", "GB-Hours", "AWS Fargate - Ephemeral Storage - US East (N. Virginia)"),
    ("DQ8NT47B7YY2CGC5", "Compute Metering", "USE1-ECS-EC2-vCPU-Hours", {"cputype": "perCPU"},
     "0.0000000000", "vCPU-Hours", "USD 0.0 per vCPU-Hours for ECS-EC2-vCPU-Hours in US East (N. Virginia)"),
]  # fmt: skip


def fargate_fixtures() -> list[dict[str, Any]]:
    return [
        document(
            service_code="AmazonECS",
            family=family,
            sku=sku,
            attributes=dict(sorted({**_ECS_COMMON, **extra, "usagetype": usage}.items())),
            usd=usd,
            unit=unit,
            description=description,
            effective=ECS_EFFECTIVE,
            version=ECS_VERSION,
            published=ECS_PUBLISHED,
        )
        for sku, family, usage, extra, usd, unit, description in FARGATE
    ]


# ----- Elastic Load Balancing (AWSELB) ------------------------------------------------------------------
# productFamily values and usagetypes as used against AWSELB by infracost (internal/resources/aws/lb.go,
# elb.go: LoadBalancerUsage, LCUUsage, DataProcessing-Bytes, locationType "AWS Region"); unit LCU-Hrs,
# operation LoadBalancing:Application, group ELB:Balancing and the Outposts-LCUUsage ($0) and
# ReservedLCUUsage (unit ReservedLCU-Hr) neighbours as quoted from the eu-west-1 AWSELB offer 20260911124544
# by a public project. NLB/GWLB capacity units are billed as NLCU/GLCU (SOURCES.md); their usagetype here
# (LCUUsage) and unit (LCU-Hrs) follow the ALB pattern and are NOT confirmed by a captured document. SKUs
# are PLACEHOLDERS, as is the effective date; prices are the bundled elb.csv values (aws-price-watcher
# raw/elb.json, 2025-06-05) and version/publication that file's AWS publication time.
ELB_VERSION, ELB_PUBLISHED, ELB_EFFECTIVE = "20250605175545", "2025-06-05T17:55:45Z", "2025-06-01T00:00:00Z"
ELB = {
    "us-east-1": [
        ("Load Balancer-Application", "LoadBalancerUsage", "LoadBalancing:Application", "0.0225000000", "Hrs"),
        ("Load Balancer-Application", "LCUUsage", "LoadBalancing:Application", "0.0080000000", "LCU-Hrs"),
        ("Load Balancer-Application", "Outposts-LCUUsage", "LoadBalancing:Application", "0.0000000000", "LCU-Hrs"),
        ("Load Balancer-Application", "ReservedLCUUsage", "LoadBalancing:Application", "0.0080000000",
         "ReservedLCU-Hr"),
        ("Load Balancer-Network", "LoadBalancerUsage", "LoadBalancing:Network", "0.0225000000", "Hrs"),
        ("Load Balancer-Network", "LCUUsage", "LoadBalancing:Network", "0.0060000000", "LCU-Hrs"),
        ("Load Balancer-Gateway", "LoadBalancerUsage", "LoadBalancing:Gateway", "0.0125000000", "Hrs"),
        ("Load Balancer-Gateway", "LCUUsage", "LoadBalancing:Gateway", "0.0040000000", "LCU-Hrs"),
        ("Load Balancer", "LoadBalancerUsage", "LoadBalancing", "0.0250000000", "Hrs"),
        ("Load Balancer", "DataProcessing-Bytes", "LoadBalancing", "0.0080000000", "GB"),
    ],
    "eu-west-1": [
        ("Load Balancer-Application", "EU-LoadBalancerUsage", "LoadBalancing:Application", "0.0252000000", "Hrs"),
        ("Load Balancer-Application", "EU-LCUUsage", "LoadBalancing:Application", "0.0080000000", "LCU-Hrs"),
        ("Load Balancer-Application", "EU-Outposts-LCUUsage", "LoadBalancing:Application", "0.0000000000",
         "LCU-Hrs"),
        ("Load Balancer-Network", "EU-LoadBalancerUsage", "LoadBalancing:Network", "0.0252000000", "Hrs"),
        ("Load Balancer-Network", "EU-LCUUsage", "LoadBalancing:Network", "0.0060000000", "LCU-Hrs"),
    ],
}  # fmt: skip


def elb_fixtures(region: str, service_code: str = "AWSELB") -> list[dict[str, Any]]:
    docs = []
    for index, (family, usage, operation, usd, unit) in enumerate(ELB[region]):
        attrs = {
            "group": "ELB:Balancing", "location": LOCATIONS[region], "locationType": "AWS Region",
            "operation": operation, "regionCode": region, "servicecode": service_code,
            "servicename": "Elastic Load Balancing", "usagetype": usage,
        }  # fmt: skip
        sku = f"PLACEHOLDERELB{index:02d}"
        docs.append(
            document(
                service_code=service_code,
                family=family,
                sku=sku,
                attributes=attrs,
                usd=usd,
                unit=unit,
                description=f"${float(usd):g} per {unit} for {usage} ({family})",
                effective=ELB_EFFECTIVE,
                version=ELB_VERSION,
                published=ELB_PUBLISHED,
            )
        )
    return docs


def main() -> None:
    files: dict[str, Any] = {
        **ec2_fixtures(),
        "sagemaker_us-east-1.json": {"pages": [[sagemaker_doc(*row) for row in SAGEMAKER]]},
        "fargate_us-east-1.json": {"pages": [fargate_fixtures()[:5], fargate_fixtures()[5:]]},
        "elb_us-east-1.json": {"pages": [elb_fixtures("us-east-1")]},
        "elb_eu-west-1_under_amazonec2.json": {"pages": [elb_fixtures("eu-west-1", "AmazonEC2")]},
    }
    for name, body in files.items():
        (HERE / name).write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {name}: {sum(len(p) for p in body['pages'])} documents")


if __name__ == "__main__":
    main()
