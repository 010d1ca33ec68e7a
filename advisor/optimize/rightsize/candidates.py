"""Which (platform, shape) pairs a model may run on, what each costs per unit of capacity, and its spot pools.

:class:`CandidateTypes` is built once per scenario: the candidate EC2 types of the region (the scenario's
families and types, less exclusions, burstable ``t*`` and ``.metal`` types, and types over
``max_size_vcpu``) with their on-demand, spot and SageMaker prices and spot interruption bands, as arrays.

:func:`shape_candidates` then turns one model into :class:`ShapeCandidate` values: every type one replica fits
on (arch, vCPU, memory, GPU count and memory; CPU replicas never go on GPU/accelerator types) *and* has a
capacity for (:mod:`advisor.capacity`), with replicas per node and ``$ per (request/s)-hour`` =
node $/h ÷ (replicas per node × capacity per replica). That ratio is the prefilter: only the best few per
platform are replayed (:func:`prefilter`).

Spot pools (EC2 only). For a shape S the pool types are the cheapest spot offers among types that host at
least as many replicas as S at no less capacity per replica, with a published interruption band no worse
than the scenario's maximum (an unknown band counts as the worst, as in ``advisor.cost.prices``). A shape
gets spot only when at least ``min_instance_types_per_pool`` such types exist; it takes one more when
available, because a larger number of pools shrinks the share a single reclaimed pool takes away.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, partial

import numpy as np

from advisor.capacity import CapacityEntry, ModelCapacities
from advisor.domain import (
    FargateSize,
    InstanceType,
    InterruptionBand,
    Platform,
    PurchaseOption,
    ReplicaResources,
)
from advisor.errors import AdvisorError
from advisor.platforms.nodes import NodeAllocatable, allocatable
from advisor.platforms.sagemaker import is_endpoint_type
from advisor.platforms.targets import Orchestrator
from advisor.pricing.catalog import Catalog
from advisor.pricing.fargate import smallest_fargate_size
from advisor.scenario.model import Scenario
from advisor.scenario.policies import ClusterPolicy

SpotPools = tuple[tuple[str, ...], str]  # (pool types, why none)


@dataclass(frozen=True)
class NodeTable:
    """Allocatable resources of every candidate type on one orchestrator, as arrays."""

    allocatable: tuple[NodeAllocatable, ...]
    resources: np.ndarray  # (T, 4): vcpu, memory GiB, GPUs, GPU/accelerator memory GiB
    pod_slots: np.ndarray  # replicas by pod count; inf without a cap


_WORST_BAND_RANK = InterruptionBand.GT20.rank
PREFILTER_TARGET = 0.7  # a typical utilisation target, only to rank shapes before the replay
SPOT_POOL_MAX_SIZE_RATIO = 2.0  # pool types at most twice the shape's vCPUs (the rest would sit idle)
_FIT_EPS = 1e-9


def _no_pools() -> SpotPools:
    return (), ""


@dataclass(frozen=True)
class ShapeCandidate:
    """One way to host a model's replicas, priced per unit of capacity."""

    platform: Platform
    shape: str  # EC2 type, ml.* type, or a Fargate label
    replicas_per_node: int
    capacity: CapacityEntry
    usd_per_node_hour: float
    price_estimated: bool = False
    instance: InstanceType | None = None
    fargate: FargateSize | None = None
    spot_usd_per_node_hour: float | None = None
    # Pool names and the reason for none, looked up on first use (most candidates never need them).
    spot_lookup: Callable[[], SpotPools] = field(default=_no_pools, repr=False, compare=False)

    def resolved(self) -> ShapeCandidate:
        """This candidate with its spot pools looked up now: it then holds no look-up over every type (a
        fleet's outcomes stay small) and pickles (to a worker process or a Dask worker)."""
        return replace(self, spot_lookup=partial(_fixed_pools, *self.spot_lookup()))

    @cached_property
    def spot_pools(self) -> tuple[str, ...]:
        """The spot pool types (empty: no spot for this shape; ``spot_note`` says why)."""
        return self.spot_lookup()[0]

    @cached_property
    def spot_note(self) -> str:
        return self.spot_lookup()[1]

    @property
    def rps_per_node(self) -> float:
        return self.replicas_per_node * self.capacity.rps_per_replica

    @property
    def usd_per_rps_hour(self) -> float:
        """On-demand (or SageMaker/Fargate) $ per hour per request/s of capacity at the SLO."""
        return self.usd_per_node_hour / self.rps_per_node

    @property
    def spot_usd_per_rps_hour(self) -> float | None:
        if self.spot_usd_per_node_hour is None:
            return None
        return self.spot_usd_per_node_hour / self.rps_per_node

    @cached_property
    def key(self) -> tuple[str, str]:  # kept: the search looks it up tens of thousands of times a fleet
        return (self.platform.value, self.shape)


@dataclass(frozen=True)
class CandidateTypes:
    """The scenario's candidate EC2 types in its region, with prices and specs as aligned arrays."""

    region: str
    types: tuple[InstanceType, ...]
    on_demand: np.ndarray  # $/h
    spot: np.ndarray  # $/h, NaN without a spot offer
    band_rank: np.ndarray  # 0 (<5%) .. 4 (>20%); unknown = 4
    sagemaker: np.ndarray  # $/h of ml.<type>, NaN when SageMaker is not a platform
    sagemaker_estimated: np.ndarray  # bool
    resources: np.ndarray  # (T, 4): vcpu, memory GiB, GPUs, GPU/accelerator memory GiB
    accelerated: np.ndarray  # bool
    arch: np.ndarray  # str
    cluster: ClusterPolicy = field(default_factory=ClusterPolicy)
    _fargate: dict[tuple[float, float, str, str], float | None] = field(default_factory=dict, compare=False)
    _nodes: dict[Orchestrator, NodeTable] = field(default_factory=dict, compare=False)

    def nodes(self, orchestrator: Orchestrator) -> NodeTable:
        """What a node of each type leaves for replicas on ``orchestrator`` (advisor.platforms.nodes)."""
        if orchestrator not in self._nodes:
            c = self.cluster
            alloc = tuple(
                allocatable(t, orchestrator, c.daemonsets, ecs_reserved_memory_mib=c.ecs_reserved_memory_mib)
                for t in self.types
            )
            res = np.array(
                [[a.vcpu, a.memory_gib, a.gpu_count, a.gpu_memory_gib] for a in alloc], dtype=float
            ).reshape(-1, 4)
            slots = np.array([np.inf if a.pod_slots is None else a.pod_slots for a in alloc], dtype=float)
            self._nodes[orchestrator] = NodeTable(alloc, res, slots)
        return self._nodes[orchestrator]

    def fargate_usd_per_hour(
        self, catalog: Catalog, vcpu: float, memory_gib: float, option: PurchaseOption, os_arch: str
    ) -> float | None:
        """$/h of one Fargate task of a valid size (None when not offered), looked up once per size."""
        key = (vcpu, memory_gib, option.value, os_arch)
        if key not in self._fargate:
            try:
                price = catalog.fargate_task(self.region, vcpu, memory_gib, option, os_arch).usd_per_hour
            except AdvisorError:
                price = None
            self._fargate[key] = price
        return self._fargate[key]

    @classmethod
    def build(cls, scenario: Scenario, catalog: Catalog) -> CandidateTypes:
        """Look up every candidate type once (NotFoundError for an unknown region)."""
        region = catalog.check_region(scenario.region)
        cand = scenario.candidates
        offers = catalog.offers(region)
        family = offers["family"].astype(str)
        names = offers["instance_type"].astype(str)
        wanted = family.isin(cand.families) | names.isin(cand.instance_types)
        keep = wanted & ~names.isin(cand.exclude) & ~family.str.match(r"^t\d") & ~names.str.contains("metal")
        keep &= (offers["vcpu"] <= cand.max_size_vcpu) | names.isin(cand.instance_types)
        frame = offers[keep]
        types = tuple(catalog.instance(str(n)) for n in frame["instance_type"])
        spot = np.full(len(types), np.nan)
        band = np.full(len(types), _WORST_BAND_RANK, dtype=np.int64)
        sm = np.full(len(types), np.nan)
        sm_est = np.zeros(len(types), dtype=bool)
        for i, t in enumerate(types):
            if scenario.spot.allowed and Platform.EC2 in scenario.platforms:
                try:
                    price = catalog.spot(region, t.name)
                except AdvisorError:
                    price = None
                if price is not None:
                    spot[i] = price.usd_per_hour
                    if price.interruption_band is not None:
                        band[i] = price.interruption_band.rank
            if Platform.SAGEMAKER in scenario.platforms and is_endpoint_type(t.name):
                try:
                    sm_price = catalog.sagemaker(region, t.name)
                except AdvisorError:
                    continue
                sm[i] = sm_price.usd_per_hour
                sm_est[i] = sm_price.estimated
        res = np.array(
            [
                [t.vcpu, t.memory_gib, t.gpu_count, max(t.gpu_memory_gib, t.accelerator_memory_gib)]
                for t in types
            ],
            dtype=float,
        ).reshape(-1, 4)
        return cls(
            region=region,
            cluster=scenario.cluster,
            types=types,
            on_demand=frame["usd_per_hour"].to_numpy(dtype=float),
            spot=spot,
            band_rank=band,
            sagemaker=sm,
            sagemaker_estimated=sm_est,
            resources=res,
            accelerated=np.array([t.has_gpu or t.accelerator_count > 0 for t in types], dtype=bool),
            arch=np.array([t.arch.value for t in types], dtype=object),
        )

    def replicas_per_node(
        self, need: ReplicaResources, orchestrator: Orchestrator | None = None
    ) -> np.ndarray:
        """Replicas of ``need`` one node of each type holds (0 where none fits or the role is wrong).

        With an orchestrator, on what its nodes leave allocatable (and their pod slots); without one, on the
        whole instance (a SageMaker endpoint instance).
        """
        req = np.array([need.vcpu, need.memory_gib, need.gpu_count, need.gpu_memory_gib], dtype=float)
        table = self.nodes(orchestrator) if orchestrator is not None else None
        res = table.resources if table is not None else self.resources
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(req > 0, res / np.where(req > 0, req, 1.0) + _FIT_EPS, np.inf)
        per_node = np.floor(ratio.min(axis=1))
        if table is not None:
            per_node = np.minimum(per_node, table.pod_slots)
        per_node[~np.isfinite(per_node)] = 0
        ok = np.ones(len(self.types), dtype=bool)
        needs_accel = need.gpu_count > 0 or need.gpu_memory_gib > 0
        ok &= self.accelerated if needs_accel else ~self.accelerated
        if need.arch is not None:
            ok &= self.arch == need.arch.value
        return np.where(ok, per_node, 0).astype(np.int64)


def shape_candidates(
    need: ReplicaResources,
    caps: ModelCapacities,
    types: CandidateTypes,
    scenario: Scenario,
    catalog: Catalog,
    orchestrator: Orchestrator = Orchestrator.EKS,
) -> list[ShapeCandidate]:
    """Every (platform, shape) with a fitting replica and a capacity, unsorted (see the module docstring).

    EC2 replicas per node count what ``orchestrator`` leaves allocatable; a SageMaker instance is whole.
    """
    rpn = types.replicas_per_node(need, orchestrator)
    rpn_whole = types.replicas_per_node(need)
    fits = (rpn >= 1) | (rpn_whole >= 1)
    capacity, entries = caps.entries_for(types.types, fits.tolist())
    known = np.isfinite(capacity) & (capacity > 0)
    usable = (rpn >= 1) & known
    out: list[ShapeCandidate] = []
    pool_price, pools_of = _spot_pools(usable, rpn, capacity, types, scenario)
    on_ec2, on_sagemaker = Platform.EC2 in scenario.platforms, Platform.SAGEMAKER in scenario.platforms
    # plain Python values: hundreds of types per model, each read a few times
    rpn_l, whole_l, spot_l = rpn.tolist(), rpn_whole.tolist(), pool_price.tolist()
    od_l, sm_l = types.on_demand.tolist(), types.sagemaker.tolist()
    sm_est_l = types.sagemaker_estimated.tolist()
    for i in np.flatnonzero(known & fits).tolist():
        entry = entries[i]
        assert entry is not None
        itype = types.types[i]
        if on_ec2 and rpn_l[i] >= 1:
            price = spot_l[i]
            out.append(
                ShapeCandidate(
                    platform=Platform.EC2,
                    shape=itype.name,
                    replicas_per_node=int(rpn_l[i]),
                    capacity=entry,
                    usd_per_node_hour=od_l[i],
                    instance=itype,
                    spot_usd_per_node_hour=price if math.isfinite(price) else None,
                    spot_lookup=partial(pools_of, i),
                )
            )
        if on_sagemaker and math.isfinite(sm_l[i]) and whole_l[i] >= 1:
            out.append(
                ShapeCandidate(
                    platform=Platform.SAGEMAKER,
                    shape=f"ml.{itype.name}",
                    replicas_per_node=int(whole_l[i]),
                    capacity=entry,
                    usd_per_node_hour=sm_l[i],
                    price_estimated=bool(sm_est_l[i]),
                    instance=itype,
                    spot_lookup=_no_sagemaker_spot,
                )
            )
    fargate = _fargate_candidate(need, caps, scenario, catalog, types)
    if fargate is not None:
        out.append(fargate)
    return out


def prefilter(
    candidates: list[ShapeCandidate],
    demand_rps: np.ndarray,
    per_platform: dict[Platform, int],
    *,
    min_replicas: int = 2,
    target: float = PREFILTER_TARGET,
) -> list[ShapeCandidate]:
    """The best few candidates per platform by an estimated $/h over ``demand_rps``, cheapest first.

    The estimate follows demand with whole nodes: ``max(min_replicas, ceil(d / (capacity × target)))``
    replicas per step, packed ``replicas_per_node`` to a node, at the node's on-demand price — so a big node
    that is cheap per unit of capacity but mostly idle at this traffic ranks where it belongs. For EC2 the
    best few by the same estimate at spot prices are kept too. Pass a coarse demand (hourly maxima) for
    speed; the replay decides among the survivors.
    """
    if not candidates:
        return []
    demand = np.asarray(demand_rps, dtype=np.float64)[None, :]
    cap = np.array([c.capacity.rps_per_replica * target for c in candidates])[:, None]
    rpn = np.array([c.replicas_per_node for c in candidates], dtype=np.float64)[:, None]
    replicas = np.maximum(min_replicas, np.ceil(demand / cap - 1e-9))
    mean_nodes = np.ceil(replicas / rpn - 1e-9).mean(axis=1)
    od = mean_nodes * np.array([c.usd_per_node_hour for c in candidates])
    spot = mean_nodes * np.array(
        [np.inf if c.spot_usd_per_node_hour is None else c.spot_usd_per_node_hour for c in candidates]
    )
    keep: set[int] = set()
    for platform, k in per_platform.items():
        mine = [i for i, c in enumerate(candidates) if c.platform is platform]
        keep.update(sorted(mine, key=lambda i: (od[i], candidates[i].shape))[:k])
        spotty = [i for i in mine if np.isfinite(spot[i])]
        keep.update(sorted(spotty, key=lambda i: (spot[i], candidates[i].shape))[: max(1, k // 2)])
    best = np.minimum(od, spot)
    return [candidates[i] for i in sorted(keep, key=lambda i: (best[i], candidates[i].key))]


def best_usd_per_rps_hour(candidates: list[ShapeCandidate]) -> float | None:
    """The lowest $ per (request/s)-hour over every candidate and purchase option it may use."""
    values = [c.usd_per_rps_hour for c in candidates]
    values += [v for c in candidates if (v := c.spot_usd_per_rps_hour) is not None]
    return min(values) if values else None


# ----- helpers ---------------------------------------------------------------------------------------


def _spot_pools(
    usable: np.ndarray, rpn: np.ndarray, capacity: np.ndarray, types: CandidateTypes, scenario: Scenario
) -> tuple[np.ndarray, Callable[[int], SpotPools]]:
    """For every type at once: the mean $/h of its spot pools (NaN: none), and a look-up of their names.

    Pools are eligible when they offer spot within the band, hold at least as many replicas at no less
    capacity, and have at most ``SPOT_POOL_MAX_SIZE_RATIO`` times the vCPUs; the cheapest ``n + 1`` are taken
    (``n`` = the scenario's minimum). Computed as one (types x types) mask ordered by spot price.
    """
    policy = scenario.spot
    need = policy.min_instance_types_per_pool
    none = np.full(len(types.types), np.nan)
    if not policy.allowed:
        return none, lambda i: ((), "spot not allowed by the scenario")
    spot_ok = usable & np.isfinite(types.spot) & (types.band_rank <= policy.max_interruption_band.rank)
    names = np.array([t.name for t in types.types], dtype=object)
    order = np.lexsort((names, np.where(np.isfinite(types.spot), types.spot, np.inf)))
    order = order[spot_ok[order]]  # the types that may be pools, cheapest spot first
    rows = np.flatnonzero(usable)  # the types that may run the model (only they are asked for pools)
    vcpu = types.resources[:, 0]
    cap = np.where(np.isfinite(capacity), capacity, -np.inf)
    eligible = (
        (rpn[order][None, :] >= rpn[rows, None])
        & (cap[order][None, :] >= cap[rows, None] * (1 - 1e-9))
        & (vcpu[order][None, :] <= vcpu[rows, None] * SPOT_POOL_MAX_SIZE_RATIO)
    )
    counts = np.zeros(len(types.types), dtype=np.int64)
    counts[rows] = eligible.sum(axis=1)
    chosen = np.zeros((len(types.types), order.size), dtype=bool)
    chosen[rows] = eligible & (np.cumsum(eligible, axis=1) <= need + 1)
    prices = np.where(chosen[rows], types.spot[order][None, :], 0.0)
    mean = none.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean[rows] = prices.sum(axis=1) / chosen[rows].sum(axis=1)
    mean = np.where(counts >= need, mean, np.nan)

    def pools(i: int) -> SpotPools:
        if counts[i] < need:
            return (), (
                f"only {counts[i]} spot type(s) with band <= {policy.max_interruption_band.value} host "
                f"{rpn[i]} replica(s) at this capacity; the scenario asks for {need}"
            )
        return tuple(str(n) for n in names[order[chosen[i]]]), ""

    return mean, pools


def _fargate_candidate(
    need: ReplicaResources, caps: ModelCapacities, scenario: Scenario, catalog: Catalog, types: CandidateTypes
) -> ShapeCandidate | None:
    if Platform.FARGATE not in scenario.platforms or need.gpu_count > 0 or need.gpu_memory_gib > 0:
        return None
    entry = caps.fargate_entry()
    if entry is None:
        return None
    try:
        size = smallest_fargate_size(need.vcpu, need.memory_gib)
    except AdvisorError:
        return None
    os_arch = "linux_arm" if need.arch is not None and need.arch.value == "arm64" else "linux_x86"
    shape = size.model_copy(update={"os_arch": os_arch})
    price = types.fargate_usd_per_hour(catalog, size.vcpu, size.memory_gib, PurchaseOption.FARGATE, os_arch)
    if price is None:
        return None
    spot_price: float | None = None
    note = "Fargate Spot publishes no interruption band; assumed >20%, over the scenario's maximum"
    if scenario.spot.allowed and scenario.spot.max_interruption_band.rank >= _WORST_BAND_RANK:
        spot_price = types.fargate_usd_per_hour(
            catalog, size.vcpu, size.memory_gib, PurchaseOption.FARGATE_SPOT, os_arch
        )
        note = "" if spot_price is not None else "no Fargate Spot price in this region"
    label = shape.label
    return ShapeCandidate(
        platform=Platform.FARGATE,
        shape=label,
        replicas_per_node=1,
        capacity=entry.renamed(label),
        usd_per_node_hour=price,
        fargate=shape,
        spot_usd_per_node_hour=spot_price,
        spot_lookup=partial(_fixed_pools, (label,) if spot_price is not None else (), note),
    )


def _fixed_pools(pools: tuple[str, ...], note: str) -> SpotPools:
    return pools, note


def _no_sagemaker_spot() -> SpotPools:
    return (), "SageMaker real-time endpoints have no spot option"


def nodes_for(replicas: float, replicas_per_node: int) -> int:
    """Whole nodes for ``replicas`` replicas at ``replicas_per_node`` each."""
    return math.ceil(replicas / replicas_per_node - 1e-9)
