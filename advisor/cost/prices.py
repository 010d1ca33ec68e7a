"""Prices a plan needs, resolved once from the catalog into a small value the replay reads directly.

The replay never touches the catalog's pandas tables: :func:`resolve_prices` looks everything up once per
plan (node $/h per purchase option, spot pools with their interruption rates, load balancer $/h and
$/LCU-h) and returns a frozen :class:`PlanPrices`. Tests and what-if studies can build ``PlanPrices``
by hand. Every figure keeps its source; derived ones are flagged ``estimated``.
"""

from __future__ import annotations

from pydantic import Field

from advisor.cost.loadbalancer import BYTES_PER_GB
from advisor.domain import FargateSize, InterruptionBand, Platform, PurchaseOption
from advisor.domain import FrozenModel as _Value
from advisor.errors import ConfigError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.plan import LoadBalancerKind, LoadBalancerSpec, Plan

# AWS publishes no interruption frequency for Fargate Spot; absent a plan override we assume the most
# interrupted Spot Instance Advisor band, so Fargate Spot is never flattered.
FARGATE_SPOT_ASSUMED_BAND = InterruptionBand.GT20


class SpotPool(_Value):
    """One spot capacity pool (instance type, or Fargate Spot) a plan's spot nodes may run in."""

    shape: str
    usd_per_node_hour: float = Field(ge=0)
    interruption_band: InterruptionBand
    monthly_interruption_rate: float = Field(ge=0, le=1)
    source: str = ""
    estimated: bool = False


class PlanPrices(_Value):
    """Everything the replay needs to bill a plan, in $/hour units."""

    region: str
    platform: Platform
    shape: str
    on_demand_option: PurchaseOption = Field(description="on_demand, sagemaker or fargate")
    on_demand_usd_per_node_hour: float = Field(ge=0, description="per EC2/SageMaker instance or Fargate task")
    spot_option: PurchaseOption | None = None
    spot_pools: tuple[SpotPool, ...] = ()
    load_balancer_kind: LoadBalancerKind = LoadBalancerKind.NONE
    load_balancer_usd_per_hour: float = Field(default=0.0, ge=0)
    load_balancer_usd_per_lcu_hour: float = Field(default=0.0, ge=0)
    data_usd_per_gb_in: float = Field(default=0.0, ge=0, description="SageMaker data processed in, $/GB")
    data_usd_per_gb_out: float = Field(default=0.0, ge=0, description="SageMaker data processed out, $/GB")
    fargate_usd_per_vcpu_hour: float | None = None
    fargate_usd_per_gb_hour: float | None = None
    sources: tuple[str, ...] = ()
    estimated: bool = False

    @property
    def spot_usd_per_node_hour(self) -> float:
        """Mean spot price over the pools (spot nodes are spread evenly over them)."""
        if not self.spot_pools:
            return self.on_demand_usd_per_node_hour
        return sum(p.usd_per_node_hour for p in self.spot_pools) / len(self.spot_pools)

    def data_usd_per_request(self, lb: LoadBalancerSpec) -> float:
        """A SageMaker endpoint's data-processing charge per request: request and response bytes × $/GB
        (decimal GB, as AWS bills data; the payload sizes are the plan's ``load_balancer`` facts)."""
        kib = 1024.0 / BYTES_PER_GB
        return (
            lb.request_kib * kib * self.data_usd_per_gb_in + lb.response_kib * kib * self.data_usd_per_gb_out
        )

    def cheapest_usd_per_replica_hour(self, replicas_per_node: int, uses_spot: bool) -> float:
        """The lowest $ per replica-hour among the purchase options the plan may use (fluid bound)."""
        prices = [self.on_demand_usd_per_node_hour]
        if uses_spot:
            prices.extend(p.usd_per_node_hour for p in self.spot_pools)
        return min(prices) / replicas_per_node


def resolve_prices(plan: Plan, catalog: Catalog) -> PlanPrices:
    """Look up a plan's prices in ``catalog`` (its region, shape, spot pools and load balancer).

    Raises NotFoundError for an unknown region/type, InfeasibleError for a Fargate size AWS does not offer.
    """
    region = catalog.check_region(plan.region)
    sources: list[str] = []
    estimated = False
    fields: dict[str, object] = {}
    pools: list[SpotPool] = []
    if plan.platform is Platform.FARGATE:
        assert isinstance(plan.shape, FargateSize)
        size = plan.shape
        od = catalog.fargate_task(region, size.vcpu, size.memory_gib, PurchaseOption.FARGATE, size.os_arch)
        rate = catalog.fargate_rate(region, PurchaseOption.FARGATE, size.os_arch)
        fields.update(
            fargate_usd_per_vcpu_hour=rate.usd_per_vcpu_hour, fargate_usd_per_gb_hour=rate.usd_per_gb_hour
        )
        spot_option = PurchaseOption.FARGATE_SPOT
        if plan.purchase.uses_spot:
            spot = catalog.fargate_task(
                region, size.vcpu, size.memory_gib, PurchaseOption.FARGATE_SPOT, size.os_arch
            )
            band = plan.spot.interruption_band or FARGATE_SPOT_ASSUMED_BAND
            pools.append(
                SpotPool(
                    shape=spot.shape,
                    usd_per_node_hour=spot.usd_per_hour,
                    interruption_band=band,
                    monthly_interruption_rate=band.monthly_rate_midpoint,
                    source=f"{spot.source} {spot.as_of}",
                    estimated=plan.spot.interruption_band is None,
                )
            )
    elif plan.platform is Platform.SAGEMAKER:
        od = catalog.sagemaker(region, plan.shape_label)
        spot_option = None
        data = catalog.sagemaker_data_processing(region)
        fields.update(data_usd_per_gb_in=data.usd_per_gb_in, data_usd_per_gb_out=data.usd_per_gb_out)
        sources.append(
            f"sagemaker data processing: {data.usd_per_gb_in:g} $/GB in, {data.usd_per_gb_out:g} $/GB out, "
            f"{data.source} {data.as_of}" + (" (estimated)" if data.estimated else "")
        )
        estimated |= data.estimated
    else:
        od = catalog.on_demand(region, plan.shape_label)
        spot_option = PurchaseOption.SPOT
        if plan.purchase.uses_spot:
            for pool in plan.purchase.spot_pools or [plan.shape_label]:
                price = catalog.spot(region, pool)
                known = plan.spot.interruption_band or price.interruption_band
                pool_band = known or InterruptionBand.GT20  # no band published: assume the worst
                pools.append(
                    SpotPool(
                        shape=pool,
                        usd_per_node_hour=price.usd_per_hour,
                        interruption_band=pool_band,
                        monthly_interruption_rate=pool_band.monthly_rate_midpoint,
                        source=f"{price.source} {price.as_of}"
                        + (" (estimated: " + price.note + ")" if price.estimated else ""),
                        estimated=price.estimated or known is None,
                    )
                )
    sources.insert(
        0,
        f"{od.option.value.replace('_', '-')} {od.shape}: {od.source} {od.as_of}"
        + (f" ({od.note})" if od.estimated and od.note else ""),
    )
    estimated |= od.estimated
    for p in pools:
        sources.append(f"spot {p.shape}: {p.source} (interruptions {p.interruption_band.value}/month)")
        estimated |= p.estimated
    lb = plan.effective_load_balancer
    if lb.kind is not LoadBalancerKind.NONE:
        lbp = catalog.load_balancer(region, lb.kind.value)
        if lbp.usd_per_capacity_unit_hour is None:
            raise ConfigError(
                f"the {lb.kind.value} load balancer in {region} has no capacity-unit price",
                where="load_balancer.kind",
                fix="use application or network",
            )
        fields.update(
            load_balancer_kind=lb.kind,
            load_balancer_usd_per_hour=lbp.usd_per_hour,
            load_balancer_usd_per_lcu_hour=lbp.usd_per_capacity_unit_hour,
        )
        sources.append(f"{lb.kind.value} load balancer: {lbp.source} {lbp.as_of}")
    return PlanPrices(
        region=region,
        platform=plan.platform,
        shape=od.shape,
        on_demand_option=od.option,
        on_demand_usd_per_node_hour=od.usd_per_hour,
        spot_option=spot_option,
        spot_pools=tuple(pools),
        sources=tuple(sources),
        estimated=estimated,
        **fields,
    )
