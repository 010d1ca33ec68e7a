"""The price catalog: instance specs and prices over one loaded snapshot.

Answers what every later stage asks: specs of an instance type; the hourly price of a shape in a region
under a purchase option (EC2 on-demand and spot, SageMaker hosting, Fargate tasks), load balancers, and the
cheapest shapes that satisfy a replica's resource need. Every answer is a :class:`Price` with its source and
date; figures advisor derived itself (a SageMaker price for a type AWS's table lacks) carry
``estimated=True`` and say how in ``note``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from advisor.domain import (
    Arch,
    FargateRate,
    InstanceType,
    InterruptionBand,
    LoadBalancerPrice,
    Price,
    PurchaseOption,
    ReplicaResources,
)
from advisor.errors import InputError, NotFoundError, closest_names
from advisor.pricing.fargate import validate_fargate_size
from advisor.pricing.sagemaker_prices import SAGEMAKER_PREFIX, SageMakerPrices
from advisor.pricing.snapshot import (
    Snapshot,
    current_snapshot_dir,
    load_snapshot,
)
from advisor.pricing.values import RegionalRows, date_of, kept, num, opt_num, text_or_none
from advisor.settings import Settings


@dataclass(frozen=True)
class ShapeOffer:
    """An instance type with its price, for cheapest-shape queries."""

    instance: InstanceType
    price: Price
    count_needed: int = 1


class Catalog(SageMakerPrices):
    """Read-only queries over one price snapshot (SageMaker's in :class:`SageMakerPrices`)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        specs = snapshot.table("ec2_instances.csv")
        self._specs = specs.set_index("instance_type", drop=False).rename_axis(None)
        self._on_demand = snapshot.table("ec2_on_demand.csv").set_index(["region", "instance_type"])
        self._spot = snapshot.table("ec2_spot.csv").set_index(["region", "instance_type"])
        self._sagemaker = snapshot.table("sagemaker.csv").set_index(["region", "instance_type"])
        self._fargate = snapshot.table("fargate.csv")
        self._elb = snapshot.table("elb.csv").set_index(["region", "load_balancer_type"])
        self._offers: dict[tuple[str, PurchaseOption], pd.DataFrame] = {}
        # the regional tables' rows as dicts, a region at a time (look-ups without .loc)
        self._on_demand_rows, self._spot_rows = RegionalRows(self._on_demand), RegionalRows(self._spot)
        self._sagemaker_rows = RegionalRows(self._sagemaker)

    @classmethod
    def load(cls, settings: Settings) -> Catalog:
        """The catalog over the snapshot in force (refreshed under ADVISOR_HOME, else bundled)."""
        return cls(load_snapshot(current_snapshot_dir(settings)))

    # ----- names -------------------------------------------------------------------------------------
    @cached_property
    def regions(self) -> list[str]:
        return sorted(set(self._on_demand.index.get_level_values("region")))

    @cached_property
    def instance_type_names(self) -> list[str]:
        """Every type with specs or a price (a few old priced types have no spec row)."""
        priced = set(self._on_demand.index.get_level_values("instance_type"))
        return sorted(set(self._specs.index) | priced)

    @cached_property
    def family_names(self) -> list[str]:
        """Every instance family of the snapshot (``c6i``, ``g5``...), sorted."""
        return sorted({str(f) for f in self._specs["family"].dropna()})

    def check_instance_type(self, name: str) -> str:
        """The EC2 name of ``name`` (``ml.`` prefix dropped) if any table knows it; else NotFoundError."""
        ec2_name = name.removeprefix(SAGEMAKER_PREFIX)
        if ec2_name not in self._known_types:
            close = closest_names(name, self.instance_type_names)
            fix = None if close else "`advisor pricing cheapest --vcpu N --memory-gib M` lists types that fit"
            raise NotFoundError("instance type", name, known=self.instance_type_names, fix=fix)
        return ec2_name

    @cached_property
    def _known_types(self) -> frozenset[str]:
        return frozenset(self.instance_type_names)

    def check_region(self, region: str) -> str:
        if region not in self.regions:
            raise NotFoundError("region", region, known=self.regions, where="--region")
        return region

    # ----- specs -------------------------------------------------------------------------------------
    @kept
    def instance(self, name: str) -> InstanceType:
        """Specs of an EC2 type; ``ml.`` SageMaker names resolve to their EC2 twin."""
        ec2_name = self.check_instance_type(name)
        row = self._spec_rows.get(ec2_name)
        if row is None:
            raise NotFoundError(
                "instance type specs",
                name,
                where="ec2_instances.csv",
                fix="this type is priced but its specs are not in the snapshot; pick a current generation",
            )
        return InstanceType(
            name=ec2_name,
            family=str(row["family"]),
            vcpu=int(row["vcpu"]),
            memory_gib=float(row["memory_gib"]),
            gpu_count=num(row["gpu_count"]),
            gpu_model=text_or_none(row["gpu_model"]),
            gpu_memory_gib=num(row["gpu_memory_gib"]),
            accelerator_name=text_or_none(row["accelerator_name"]),
            accelerator_count=int(num(row["accelerator_count"])),
            accelerator_memory_gib=num(row["accelerator_memory_gib"]),
            arch=Arch(str(row["arch"])),
            source=str(row["source"]),
        )

    # ----- EC2 ---------------------------------------------------------------------------------------
    @kept
    def on_demand(self, region: str, instance_type: str) -> Price:
        """Linux on-demand $/h of an EC2 type in a region."""
        self.check_instance_type(instance_type)
        self.check_region(region)
        row = self._on_demand_rows.get(region, instance_type)
        if row is None:
            raise NotFoundError(
                "instance type",
                instance_type,
                where=f"on-demand prices in {region}",
                fix=f"{instance_type} has no on-demand price in {region}; offered there: "
                + ", ".join(self._types_in_region(region, instance_type)),
            )
        return Price(
            region=region,
            shape=instance_type,
            option=PurchaseOption.ON_DEMAND,
            usd_per_hour=float(row["usd_per_hour"]),
            as_of=date_of(row["as_of"]),
            source=str(row["source"]),
            note=text_or_none(row["note"]) or "",
        )

    @kept
    def spot(self, region: str, instance_type: str) -> Price:
        """Spot $/h with savings vs on-demand and the interruption band.

        ``estimate`` rows (on-demand × (1 − advisor savings)) and ``observed`` rows (mean of the latest per-AZ
        prices) are taken as given; a ``savings_only`` row is turned into a price with this snapshot's
        on-demand figure and flagged estimated.
        """
        self.check_instance_type(instance_type)
        self.check_region(region)
        row = self._spot_rows.get(region, instance_type)
        if row is None:
            raise NotFoundError(
                "instance type",
                instance_type,
                where=f"spot prices in {region}",
                fix=f"no spot offer for {instance_type} in {region} in this snapshot",
            )
        savings = opt_num(row["savings_pct_vs_on_demand"])
        usd = opt_num(row["usd_per_hour"])
        estimated = False
        note = f"basis={row['basis']}"
        if row["basis"] == "estimate":
            # Most rows: the snapshot's compiler derived them as on-demand x (1 - Spot Instance Advisor
            # savings %); no spot price was observed (pricing_data/SOURCES.md, "ec2_spot.csv").
            estimated = True
            note = (
                f"on-demand x (1 - {savings:g}% Spot Instance Advisor savings): derived, not observed"
                if savings is not None
                else "derived from on-demand, not an observed price"
            )
        if usd is None:
            if savings is None:
                raise NotFoundError("spot price", f"{region}/{instance_type}", where="ec2_spot.csv")
            usd = self.on_demand(region, instance_type).usd_per_hour * (1 - savings / 100)
            estimated = True
            note = "on-demand price x (1 - Spot Advisor savings %), derived by advisor"
        elif row["basis"] == "observed":
            note = f"observed mean of per-AZ prices (min {row['spot_min_usd']}, max {row['spot_max_usd']})"
        band = text_or_none(row["interruption_frequency"])
        return Price(
            region=region,
            shape=instance_type,
            option=PurchaseOption.SPOT,
            usd_per_hour=float(usd),
            as_of=date_of(row["as_of"]),
            source=str(row["source"]),
            estimated=estimated,
            note=note,
            savings_pct_vs_on_demand=savings,
            interruption_band=InterruptionBand(band) if band else None,
        )

    # ----- Fargate -----------------------------------------------------------------------------------
    @kept
    def fargate_rate(
        self, region: str, option: PurchaseOption = PurchaseOption.FARGATE, platform: str = "linux_x86"
    ) -> FargateRate:
        self.check_region(region)
        if option not in (PurchaseOption.FARGATE, PurchaseOption.FARGATE_SPOT):
            raise InputError(f"{option} is not a Fargate purchase option", fix="use fargate or fargate_spot")
        capacity = "spot" if option is PurchaseOption.FARGATE_SPOT else "on_demand"
        rows = self._fargate[
            (self._fargate["region"] == region)
            & (self._fargate["capacity"] == capacity)
            & (self._fargate["platform"] == platform)
        ]
        if rows.empty:
            offered = self._fargate[self._fargate["region"] == region]
            combos = sorted(f"{c}/{p}" for c, p in zip(offered["capacity"], offered["platform"], strict=True))
            raise NotFoundError(
                "Fargate offer",
                f"{capacity}/{platform}",
                known=combos,
                where=region,
                fix=f"offered in {region}: {', '.join(combos) or 'none'}",
            )
        row = rows.iloc[0]
        return FargateRate(
            region=region,
            option=option,
            platform=platform,
            usd_per_vcpu_hour=float(row["usd_per_vcpu_hour"]),
            usd_per_gb_hour=float(row["usd_per_gb_hour"]),
            windows_license_usd_per_vcpu_hour=num(row["windows_os_license_usd_per_vcpu_hour"]),
            as_of=date_of(row["as_of"]),
            source=str(row["source"]),
        )

    @kept
    def fargate_task(
        self,
        region: str,
        vcpu: float,
        memory_gib: float,
        option: PurchaseOption = PurchaseOption.FARGATE,
        platform: str = "linux_x86",
    ) -> Price:
        """$/h of one running Fargate task of a valid size (vCPU × vCPU rate + GB × GB rate)."""
        size = validate_fargate_size(vcpu, memory_gib, windows=platform.startswith("windows"))
        rate = self.fargate_rate(region, option, platform)
        per_vcpu = rate.usd_per_vcpu_hour + rate.windows_license_usd_per_vcpu_hour
        return Price(
            region=region,
            shape=size.label,
            option=option,
            usd_per_hour=size.vcpu * per_vcpu + size.memory_gib * rate.usd_per_gb_hour,
            as_of=rate.as_of,
            source=rate.source,
            note=(
                f"{size.vcpu:g} vCPU x {per_vcpu} + {size.memory_gib:g} GB x {rate.usd_per_gb_hour} "
                f"({platform}); per-second billing, 1-minute minimum"
            ),
        )

    # ----- load balancers ----------------------------------------------------------------------------
    @kept
    def load_balancer(self, region: str, kind: str = "application") -> LoadBalancerPrice:
        self.check_region(region)
        key = (region, kind)
        if key not in self._elb.index:
            kinds = sorted(set(self._elb.index.get_level_values("load_balancer_type")))
            raise NotFoundError("load balancer type", kind, known=kinds, where=region)
        row = self._elb.loc[key]
        return LoadBalancerPrice(
            region=region,
            kind=kind,
            usd_per_hour=float(row["usd_per_hour"]),
            usd_per_capacity_unit_hour=opt_num(row["usd_per_capacity_unit_hour"]),
            capacity_unit=text_or_none(row["capacity_unit"]),
            usd_per_gb_processed=opt_num(row["usd_per_gb_processed"]),
            as_of=date_of(row["as_of"]),
            source=str(row["source"]),
        )

    # ----- dispatch ----------------------------------------------------------------------------------
    def price(self, region: str, shape: str, option: PurchaseOption | str) -> Price:
        """Price of an instance type under ``on_demand``, ``spot`` or ``sagemaker``."""
        opt = PurchaseOption(option)
        if opt is PurchaseOption.ON_DEMAND:
            return self.on_demand(region, shape)
        if opt is PurchaseOption.SPOT:
            return self.spot(region, shape)
        if opt is PurchaseOption.SAGEMAKER:
            return self.sagemaker(region, shape)
        raise InputError(
            f"{opt} prices a task size, not an instance type",
            fix="use Catalog.fargate_task(region, vcpu, gib)",
        )

    # ----- search ------------------------------------------------------------------------------------
    def offers(self, region: str, option: PurchaseOption | str = PurchaseOption.ON_DEMAND) -> pd.DataFrame:
        """All priced instance types in a region with their specs: one row per type, sorted by $/h.

        Built once per (region, option); each caller gets its own copy, free to change.
        """
        opt = PurchaseOption(option)
        key = (region, opt)
        if key not in self._offers:
            self._offers[key] = self._build_offers(region, opt)
        return self._offers[key].copy()

    def _build_offers(self, region: str, opt: PurchaseOption) -> pd.DataFrame:
        self.check_region(region)
        if opt is PurchaseOption.ON_DEMAND:
            prices = self._on_demand.xs(region, level="region")["usd_per_hour"]
        elif opt is PurchaseOption.SPOT:
            spot = self._spot.xs(region, level="region")
            od = self._on_demand.xs(region, level="region")["usd_per_hour"]
            derived = od.reindex(spot.index) * (1 - spot["savings_pct_vs_on_demand"] / 100)
            prices = spot["usd_per_hour"].fillna(derived)
        else:
            raise InputError(f"offers() covers on_demand and spot, not {opt}")
        frame = self._specs.join(prices.rename("usd_per_hour"), how="inner")
        return frame[frame["usd_per_hour"].notna()].sort_values(["usd_per_hour", "instance_type"])

    def cheapest(
        self,
        need: ReplicaResources,
        region: str,
        option: PurchaseOption | str = PurchaseOption.ON_DEMAND,
        *,
        replicas: int = 1,
        limit: int = 5,
        include_burstable: bool = False,
        only: frozenset[str] | None = None,
    ) -> list[ShapeOffer]:
        """The cheapest ways to host ``replicas`` replicas of ``need``, one instance type per answer.

        For each type that fits at least one replica: nodes = ceil(replicas / replicas-per-node) and the cost
        is nodes × $/h. Returns at most ``limit`` offers, cheapest total first; empty when nothing fits.
        Burstable ``t*`` types are left out unless asked for: their CPU credits run out under the
        sustained load an inference server sees, so their measured capacity would not hold. Answers are
        kept: models of a fleet often share a replica's resources.
        """
        opt = PurchaseOption(option)
        found = self._find_cheapest(need, region, opt, replicas, limit, include_burstable, only)
        return list(found)  # a copy: the kept answer stays as found

    @kept
    def _find_cheapest(
        self,
        need: ReplicaResources,
        region: str,
        option: PurchaseOption,
        replicas: int,
        limit: int,
        include_burstable: bool,
        only: frozenset[str] | None,
    ) -> list[ShapeOffer]:
        o = self._offer_columns(region, option)
        fits = np.ones(o.names.size, dtype=bool) if only is None else self._only(region, option, only).copy()
        if not include_burstable:
            fits &= ~o.burstable
        if need.arch is not None:
            fits &= o.arch == need.arch.value
        fits &= (o.vcpu >= need.vcpu) & (o.memory_gib >= need.memory_gib)
        if need.gpu_count > 0:
            fits &= o.gpus >= need.gpu_count
        if need.gpu_memory_gib > 0:
            fits &= o.gpu_memory_gib >= need.gpu_memory_gib
        at = np.flatnonzero(fits)
        if at.size == 0:
            return []
        per_node = np.minimum(np.floor(o.vcpu[at] / need.vcpu), np.floor(o.memory_gib[at] / need.memory_gib))
        if need.gpu_count > 0:
            per_node = np.minimum(per_node, np.floor(o.gpus[at] / need.gpu_count))
        nodes = np.ceil(replicas / np.clip(per_node, 1, None))
        total = nodes * o.usd_per_hour[at]
        unknown = np.isnan(total)  # last, as a frame sorts them
        key = np.where(unknown, np.inf, total).tolist()
        ranked = sorted(range(at.size), key=lambda k: (bool(unknown[k]), key[k], o.names[at[k]]))[:limit]
        opt = PurchaseOption(option)
        return [
            ShapeOffer(
                instance=self.instance(str(o.names[at[k]])),
                price=self.price(region, str(o.names[at[k]]), opt),
                count_needed=int(nodes[k]),
            )
            for k in ranked
        ]

    @kept
    def _only(self, region: str, option: PurchaseOption, names: frozenset[str]) -> np.ndarray:
        """Which of :meth:`_offer_columns`'s types are in ``names`` (kept: matching strings costs milliseconds
        a call, and a fleet asks with the same few sets, the SageMaker endpoint types among them)."""
        out: np.ndarray = np.isin(self._offer_columns(region, option).names, list(names))
        out.setflags(write=False)
        return out

    @kept
    def _offer_columns(self, region: str, option: PurchaseOption) -> _OfferColumns:
        """:meth:`offers` as arrays, for :meth:`cheapest`'s filters (no frame copied per call)."""
        frame = self.offers(region, option)
        gpu_memory = np.maximum(frame["gpu_memory_gib"].fillna(0), frame["accelerator_memory_gib"].fillna(0))
        return _OfferColumns(
            names=frame["instance_type"].astype(str).to_numpy(dtype=object),
            burstable=frame["family"].astype(str).str.match(r"^t\d").to_numpy(dtype=bool),
            arch=frame["arch"].astype(str).to_numpy(dtype=object),
            vcpu=frame["vcpu"].to_numpy(dtype=float),
            memory_gib=frame["memory_gib"].to_numpy(dtype=float),
            gpus=frame["gpu_count"].fillna(0).to_numpy(dtype=float),
            gpu_memory_gib=gpu_memory.to_numpy(dtype=float),
            usd_per_hour=frame["usd_per_hour"].to_numpy(dtype=float),
        )

    # ----- freshness ---------------------------------------------------------------------------------
    def staleness_days(self, today: dt.date | None = None) -> int:
        """Days between today and the oldest price date in the snapshot."""
        return ((today or dt.date.today()) - self.snapshot.oldest_price_as_of).days

    def _types_in_region(self, region: str, like: str, n: int = 3) -> list[str]:
        family = like.split(".")[0]
        names = [
            t for t in self._on_demand.xs(region, level="region").index if str(t).startswith(family + ".")
        ]
        return names[:n] or ["(none of that family)"]


@dataclass(frozen=True)
class _OfferColumns:
    """A region's offers (:meth:`Catalog.offers`) as arrays, in the offers' order."""

    names: np.ndarray
    burstable: np.ndarray
    arch: np.ndarray
    vcpu: np.ndarray
    memory_gib: np.ndarray
    gpus: np.ndarray
    gpu_memory_gib: np.ndarray
    usd_per_hour: np.ndarray
