"""Where an LLM's mix may run: EC2 instances (self-managed vLLM, priced on demand) and SageMaker real-time
endpoints (the endpoint instance types botocore's service model lists, priced at SageMaker's rates).

A mix stays on one platform (a router does not span an EKS cluster and an endpoint), so each platform the
scenario allows gets its own plan over the same options: the capacities are the device's, the same on
both; only the names and the prices differ. The cheaper plan is recommended, the other shown as a baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from advisor.domain import Platform
from advisor.errors import AdvisorError
from advisor.optimize.llm.plan import LLMOption
from advisor.platforms.sagemaker import is_endpoint_type, ml_name
from advisor.pricing.catalog import Catalog

LLM_PLATFORMS = (Platform.EC2, Platform.SAGEMAKER)


def priced_for(
    platform: Platform, options: Sequence[LLMOption], catalog: Catalog, region: str
) -> list[LLMOption]:
    """``options`` (priced at anything) with ``platform``'s names and prices; those it does not offer are
    left out."""
    out = []
    for o in options:
        try:
            if platform is Platform.SAGEMAKER:
                if not is_endpoint_type(o.instance_type):
                    continue
                name = ml_name(o.instance_type)
                price = catalog.sagemaker(region, name).usd_per_hour
                out.append(replace(o, name=f"{name} tp{o.tp}", instance_type=name, usd_per_hour=price))
            else:
                out.append(replace(o, usd_per_hour=catalog.on_demand(region, o.instance_type).usd_per_hour))
        except AdvisorError:
            continue
    return out
