"""The AWS Price List Query API: paginated GetProducts and the on-demand rate inside each product document.

Each ``PriceList`` entry of a GetProducts answer is a JSON string shaped like one product of AWS's offer
files::

    {"product": {"productFamily": "Compute Instance", "attributes": {...}, "sku": "5G4TA8Z4MUKE6MJB"},
     "serviceCode": "AmazonEC2",
     "terms": {"OnDemand": {"5G4TA8Z4MUKE6MJB.JRTCKXETXF": {
         "priceDimensions": {"5G4TA8Z4MUKE6MJB.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs",
             "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.1920000000"}, ...}},
         "sku": "...", "effectiveDate": "2026-09-01T00:00:00Z", "offerTermCode": "JRTCKXETXF", ...}},
               "Reserved": {...}},
     "version": "20260910195514", "publicationDate": "2026-09-10T19:55:14Z"}

This module fetches those documents and reads the first-tier on-demand price out of them; what each
service's products mean is in :mod:`advisor.pricing.price_list_parsers`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from advisor.errors import DataError

SOURCE_PRICE_LIST = "aws-pricing-api"
FORMAT_VERSION = "aws_v1"
PAGE_SIZE = 100  # GetProducts' MaxResults ceiling (botocore model: min 1, max 100)

# A usagetype is "<region prefix>-<usage>" with a prefix such as USE1, USW2, EUC1, APN1 or the legacy EU;
# us-east-1 EC2 and ELB usage carries none at all (BoxUsage:m5.xlarge, LoadBalancerUsage).
_USAGE_PREFIX = re.compile(r"^(?:[A-Z]{2,4}\d?-)")

Product = dict[str, Any]
_FORMAT_FIX = "run the refresh again; if it persists, AWS changed its answer format (update advisor)"


@dataclass(frozen=True)
class OnDemandRate:
    """The first-tier on-demand price of one product, with its provenance."""

    usd: float
    unit: str
    sku: str
    effective_date: str
    version: str

    def note(self) -> str:
        """Provenance for a snapshot row's ``note`` column."""
        parts = [f"sku {self.sku}"]
        if self.version:
            parts.append(f"offer version {self.version}")
        if self.effective_date:
            parts.append(f"effective {self.effective_date[:10]}")
        return "; ".join(parts)


def term_match(filters: Mapping[str, str]) -> list[dict[str, str]]:
    """GetProducts ``Filters`` for attribute == value on every item of ``filters``."""
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in filters.items()]


def iter_products(
    client: Any,
    service_code: str,
    filters: Mapping[str, str],
    *,
    on_page: Callable[[int], None] | None = None,
) -> Iterator[Product]:
    """Every product document GetProducts returns for ``service_code`` under TERM_MATCH ``filters``.

    Pages through ``get_paginator("get_products")`` (100 products a page); ``on_page(n)`` is called after
    each page with the number of products it held. botocore errors propagate unchanged (the caller knows
    which region they belong to); a document that is not valid JSON raises DataError.
    """
    paginator = client.get_paginator("get_products")
    pages = paginator.paginate(
        ServiceCode=service_code,
        Filters=term_match(filters),
        FormatVersion=FORMAT_VERSION,
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    for page in pages:
        items = page.get("PriceList", [])
        for item in items:
            yield _decode(item, service_code)
        if on_page is not None:
            on_page(len(items))


def _decode(item: object, service_code: str) -> Product:
    if isinstance(item, dict):  # a future botocore may decode the JSON itself
        return item
    try:
        doc = json.loads(str(item))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"the Price List returned a product that is not valid JSON ({exc.msg} at char {exc.pos})",
            where=f"pricing:GetProducts {service_code}",
            fix=_FORMAT_FIX,
        ) from None
    if not isinstance(doc, dict):
        raise DataError(
            "the Price List returned a product that is not a JSON object",
            where=f"pricing:GetProducts {service_code}",
            fix=_FORMAT_FIX,
        )
    return doc


def attributes(doc: Product) -> dict[str, str]:
    """The product's attributes (``{}`` when absent), values as strings."""
    attrs = doc.get("product", {}).get("attributes", {})
    return {str(k): str(v) for k, v in attrs.items()} if isinstance(attrs, dict) else {}


def product_family(doc: Product) -> str:
    return str(doc.get("product", {}).get("productFamily", ""))


def usage_suffix(usagetype: str) -> str:
    """``usagetype`` without its region prefix: ``USW2-BoxUsage:m5.xlarge`` -> ``BoxUsage:m5.xlarge``.

    Only an all-capitals prefix of 2–4 letters and an optional digit counts (USE1, USW2, EUC1, EU, APN1), so
    ``Outposts-LCUUsage`` or ``SpotUsage-Fargate-...`` keep their first word.
    """
    return _USAGE_PREFIX.sub("", usagetype, count=1)


def on_demand_rate(doc: Product, units: frozenset[str]) -> OnDemandRate | None:
    """The first-tier on-demand USD price of ``doc`` in one of ``units`` (compared case-insensitively).

    Reads ``terms.OnDemand.*.priceDimensions.*``; Reserved and other term types are ignored. Among several
    dimensions (tiered prices) the one starting at 0 wins. Returns None when the product has no on-demand
    dimension in those units or its price is not a number; a price of 0 is returned as 0.0 (callers decide).
    """
    terms = doc.get("terms", {}).get("OnDemand", {})
    if not isinstance(terms, dict):
        return None
    wanted = {u.lower() for u in units}
    best: tuple[float, OnDemandRate] | None = None
    for term in terms.values():
        if not isinstance(term, dict):
            continue
        for dim in term.get("priceDimensions", {}).values():
            unit = str(dim.get("unit", ""))
            if unit.lower() not in wanted:
                continue
            try:
                usd = float(dim.get("pricePerUnit", {}).get("USD", "nan"))
                begin = float(dim.get("beginRange", "0") or "0")
            except (TypeError, ValueError):
                continue
            if usd != usd:  # NaN: no USD price
                continue
            rate = OnDemandRate(
                usd=usd,
                unit=unit,
                sku=str(doc.get("product", {}).get("sku", term.get("sku", ""))),
                effective_date=str(term.get("effectiveDate", "")),
                version=str(doc.get("version", "")),
            )
            if best is None or begin < best[0]:
                best = (begin, rate)
    return None if best is None else best[1]
