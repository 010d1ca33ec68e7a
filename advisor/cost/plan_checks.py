"""A plan's names checked against the price catalog, each error at its file:line and field.

:func:`advisor.cost.prices.resolve_prices` looks the same names up to price a plan; it knows what is
missing but not where the plan says it. :func:`check_plan` runs those lookups one field at a time first, so
``shape: m5.xlrage`` reads ``web.yaml:4: shape: unknown instance type 'm5.xlrage'; did you mean m5.xlarge``
instead of an error that names neither the file nor the field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from advisor.domain import FargateSize, Platform, PurchaseOption
from advisor.errors import AdvisorError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import LoadBalancerKind, Plan
from advisor.yamlio import field_error


def check_plan(plan: Plan, catalog: Catalog, source: Path | None = None) -> None:
    """ConfigError at the field of ``plan`` whose region, shape, spot pool or load balancer has no price."""
    region = plan.region
    lookups: list[tuple[tuple[object, ...], Callable[[], object]]] = [
        (("region",), lambda: catalog.check_region(region))
    ]
    shape = plan.shape
    if isinstance(shape, FargateSize):
        lookups.append(
            (
                ("shape",),
                lambda: catalog.fargate_task(
                    region, shape.vcpu, shape.memory_gib, PurchaseOption.FARGATE, shape.os_arch
                ),
            )
        )
    elif plan.platform is Platform.SAGEMAKER:
        lookups.append((("shape",), lambda: catalog.sagemaker(region, plan.shape_label)))
    else:
        lookups.append((("shape",), lambda: catalog.on_demand(region, plan.shape_label)))
        if plan.purchase.uses_spot and not plan.purchase.spot_pools:
            lookups.append((("purchase",), lambda: catalog.spot(region, plan.shape_label)))
        for i, pool in enumerate(plan.purchase.spot_pools):
            lookups.append((("purchase", "spot_pools", i), functools.partial(catalog.spot, region, pool)))
    kind = plan.effective_load_balancer.kind
    if kind is not LoadBalancerKind.NONE:
        lookups.append((("load_balancer", "kind"), lambda: catalog.load_balancer(region, kind.value)))
    for loc, lookup in lookups:
        try:
            lookup()
        except AdvisorError as exc:
            raise field_error(source, loc, exc.what, fix=exc.fix) from None
