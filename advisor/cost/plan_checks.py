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

from advisor.domain import MAX_REPLICAS, FargateSize, Platform, PurchaseOption
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
    _check_replicas_fit(plan, catalog, source)


def check_plan_scale(plan: Plan, peak_rps: float, source: Path | None = None) -> None:
    """ConfigError at ``capacity.rps_per_replica`` when the profile's peak needs more replicas than any fleet
    has (:data:`~advisor.domain.MAX_REPLICAS`, at full utilisation): a capacity typed in the wrong unit, and
    a replay that would need memory for every one of them."""
    needed = peak_rps / plan.capacity.rps_per_replica
    if needed > MAX_REPLICAS:
        raise field_error(
            source,
            ("capacity", "rps_per_replica"),
            f"the profile's peak of {peak_rps:.4g} req/s needs {needed:.3g} replicas of"
            f" {plan.capacity.rps_per_replica:.4g} req/s (advisor plans at most {MAX_REPLICAS:,})",
            fix="check the capacity's unit (requests per second, per replica) or the profile's peak",
        )


def _check_replicas_fit(plan: Plan, catalog: Catalog, source: Path | None) -> None:
    """ConfigError at ``replica`` when ``replicas_per_node`` replicas of it cannot share one node of the
    plan's shape (by the instance's whole CPU, memory and GPUs: a node keeps some for itself, so a plan that
    passes may still be tight, but one that fails is impossible)."""
    if plan.replica is None or isinstance(plan.shape, FargateSize):
        return
    itype = catalog.instance(plan.shape_label)
    n, r = plan.replicas_per_node, plan.replica
    if (
        r.fits_on(itype)
        and n * r.vcpu <= itype.vcpu
        and n * r.memory_gib <= itype.memory_gib
        and (n * r.gpu_count <= itype.gpu_count)
    ):
        return
    need = f"{n} x {r.vcpu:g} vCPU / {r.memory_gib:g} GiB" + (
        f" / {r.gpu_count:g} GPU" if r.gpu_count else ""
    )
    has = f"{itype.vcpu:g} vCPU / {itype.memory_gib:g} GiB" + (
        f" / {itype.gpu_count} GPU" if itype.gpu_count else ""
    )
    raise field_error(
        source,
        ("replica",),
        f"{need} do not fit on one {itype.name} ({has}{', ' + itype.arch.value if r.arch else ''})",
        fix="choose a larger shape, fewer replicas_per_node, or a smaller replica",
    )
