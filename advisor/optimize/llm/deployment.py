"""What apply needs to run a language model's plan: the engine's settings, each instance group's replicas,
requests, bounds, scaler thresholds and daily floors, and the size-bucket header the router splits on.

Replicas: a group of ``n`` instances of an option runs ``n × replicas_per_instance`` engine replicas, each
with the option's tensor-parallel degree in GPUs (``nvidia.com/gpu``) or Inferentia2 devices
(``aws.amazon.com/neuron``) and an even share of what an EKS node leaves allocatable
(:func:`advisor.platforms.nodes.allocatable`), floored to 100 millicores and 1 GiB, so a node holds
exactly its replicas.

Routing: a request's size bucket is known only to whoever reads its prompt, so the router splits on a
header the client (or a gateway filter) sets, with the weights of the plan's routing at the peak
(:mod:`advisor.apply.kubernetes.llm`). That split is fixed, so only the options the peak routes to are
deployed (one the plan uses only at lower levels would be sent nothing: ``not_deployed``), each scaled on
its own share of the load, with at least one replica (a route to no replica fails its requests). A
group kept at one replica all night can cost more than the mix saves, so the best single type (when the
plan's curve uses it, and so its facts are known) is costed the same way and the cheaper of the two is
deployed (``split``). Its cost over the profile,
instances ordered ``start_up_s`` ahead, is ``usd_per_month``: the price of a fixed split against the
plan's level-by-level mixes, shown beside it.

Scaling, per group: the plan sizes every level so that each instance carries at most its capacity on the
buckets routed to it (p99 TTFT and TPOT hold up to that rate), so the scaler's rate target is that
capacity per replica, on the engine's own completions (``vllm:request_success_total``). A second trigger
watches the engine's queue (``vllm:num_requests_waiting``): by Little's law, ``L = λ W``, a replica at its
target rate with ``λ × TTFT_SLO / 2`` requests waiting makes them wait about half the TTFT SLO, which is
where the queue must be answered with replicas whatever the rate says.

Daily floors: GPU replicas take minutes to start (``start_up_s``: boot, image pull, weights), so the plan
orders them that early; a reactive scaler cannot. For each hour of the day the floor is the fewest
replicas the deployed groups hold in that hour on any day of the profile (never above what they need on
any day), and hours whose floor is above the group's minimum become scheduled minimums (KEDA cron
triggers, Application Auto Scaling scheduled actions), at most :data:`MAX_WINDOWS` a day.
"""

from __future__ import annotations

import math
import re

import numpy as np

from advisor.domain import InstanceType
from advisor.optimize.llm.plan import forward_max
from advisor.optimize.rightsize.scheduling import zone_name
from advisor.platforms.naming import dns_label
from advisor.platforms.nodes import DEFAULT_DAEMONSETS, Daemonset, allocatable
from advisor.platforms.targets import Orchestrator
from advisor.pricing.catalog import Catalog
from advisor.recommendation.llm import (
    Accelerator,
    LLMDeployment,
    LLMGroupDeployment,
    LLMModelRecommendation,
    LLMServingFacts,
)
from advisor.recommendation.scaling import ScheduledMinimum
from advisor.scenario.model import LLMModelSpec
from advisor.traffic.profile import HOURS_PER_MONTH, TrafficProfile
from advisor.traffic.tokens import MELANGE_EDGES

MAX_WINDOWS = 6  # scheduled minimums per group and day; more is a shape the scaler follows anyway
SHM_GIB_PER_ACCELERATOR = 2.0  # /dev/shm for NCCL between tensor-parallel workers (advisor's allowance)
SHM_GIB_MIN = 1.0
CPU_STEP = 0.1
_HOUR_S = 3600


def bucket_key(label: str) -> str:
    """A bucket label as a header value: ``in 1k-2k x out <25`` -> ``in1k-2k.out-lt25``."""
    text = label.lower().replace(" x ", ".").replace("<", "-lt").replace(">", "-gt")
    return re.sub(r"[^a-z0-9.+-]", "", text)


def max_model_len(largest_request_tokens: int, max_context: int, given: int | None) -> int:
    """The engine's context: the scenario's, else the largest request rounded up to a power of two (at
    least 1,024), at most the model's context."""
    if given is not None:
        return given
    need = max(1024, 1 << max(0, largest_request_tokens - 1).bit_length())
    return min(need, max_context)


def llm_deployment(
    doc: LLMModelRecommendation,
    spec: LLMModelSpec,
    profile: TrafficProfile,
    catalog: Catalog,
    *,
    context_tokens: int,
    weights: str | None,
    bucketed: bool,
    daemonsets: tuple[Daemonset, ...] = DEFAULT_DAEMONSETS,
) -> LLMDeployment:
    """The deployment section of ``doc`` over ``profile``, the model's traffic (module docstring).
    ``context_tokens``: the engine's max model length; ``bucketed``: the sizes come from a trace cut at
    Mélange's edges (else one fixed size); ``daemonsets``: what every EKS node runs besides (the scenario's
    ``cluster.daemonsets``), left out of what a replica may request."""
    target = spec.deploy
    runs_on = "sagemaker" if doc.platform == "sagemaker" else "kubernetes"
    serving = LLMServingFacts(
        engine=doc.engine,
        image=spec.llm.image,
        neuron_image=spec.llm.neuron_image,
        sagemaker_image=spec.llm.sagemaker_image,
        weights=weights,
        served_model_name=doc.model,
        max_model_len=context_tokens,
        gpu_memory_utilization=spec.llm.gpu_memory_utilization,
        hf_token_secret=spec.llm.hf_token_secret,
        start_up_s=doc.start_up_s,
    )
    lead = max(0, math.ceil(doc.start_up_s / profile.step_s))
    peak: Split = {r.bucket: dict(r.to) for r in doc.routing}
    splits = [("peak_mix", peak)]
    best = next((b.detail for b in doc.baselines if b.name == "best_single_type"), None)
    if best is not None and any(g.option == best for g in doc.groups) and len(_routed(doc, peak)) > 1:
        splits.append(("single_type", {r.bucket: {best: 1.0} for r in doc.routing}))
    costed = [(name, split, *_as_deployed(doc, split, profile, lead)) for name, split in splits]
    name, split, counts, usd = min(costed, key=lambda c: c[3])
    return LLMDeployment(
        target=target,
        migration=target is not None and target.kind != runs_on,
        serving=serving,
        groups=[_group(doc, split, o, counts[o], profile, catalog, daemonsets) for o in counts],
        split=name,
        routing=split,
        bucket_keys={r.bucket: bucket_key(r.bucket) for r in doc.routing},
        bucket_edges_tokens=list(MELANGE_EDGES) if bucketed else [],
        usd_per_month=usd,
        not_deployed=[g.option for g in doc.groups if g.option not in counts],
    )


Split = dict[str, dict[str, float]]  # bucket -> option -> share of the bucket's requests


def _routed(doc: LLMModelRecommendation, split: Split) -> list[str]:
    return [g.option for g in doc.groups if _share(doc, split, g.option) > 0]


def _as_deployed(
    doc: LLMModelRecommendation, split: Split, profile: TrafficProfile, lead: int
) -> tuple[dict[str, np.ndarray], float]:
    """Instances per routed option at each step under a fixed ``split``, and their $/month."""
    counts = {
        o: _counts(profile.rps, _share(doc, split, o), _capacity(doc, split, o), lead)
        for o in _routed(doc, split)
    }
    hours = HOURS_PER_MONTH / profile.steps
    price = {g.option: g.usd_per_hour for g in doc.groups}
    return counts, sum(float(c.sum()) * hours * price[o] for o, c in counts.items())


def _share(doc: LLMModelRecommendation, split: Split, option: str) -> float:
    """The share of all requests ``split`` sends to ``option``."""
    return sum(r.share_of_requests * split.get(r.bucket, {}).get(option, 0.0) for r in doc.routing)


def _counts(rps: np.ndarray, share: float, per_instance: float, lead: int) -> np.ndarray:
    """Instances at each step for ``share`` of ``rps`` at ``per_instance`` requests/s each, at least one
    (a route to no replica fails its requests), each step's count held from ``lead`` steps before it."""
    need = np.maximum(1.0, np.ceil(rps * share / per_instance - 1e-9))
    return forward_max(need, lead).astype(np.int64)


def _group(
    doc: LLMModelRecommendation,
    split: Split,
    option: str,
    counts: np.ndarray,
    profile: TrafficProfile,
    catalog: Catalog,
    daemonsets: tuple[Daemonset, ...],
) -> LLMGroupDeployment:
    g = next(x for x in doc.groups if x.option == option)
    itype = catalog.instance(g.instance_type.removeprefix("ml."))  # a SageMaker type's instance
    accelerator, devices, per_replica = _accelerator(g.device, g.tensor_parallel, itype)
    node = allocatable(itype, Orchestrator.EKS, daemonsets)
    per = g.replicas_per_instance
    vcpu = math.floor(node.vcpu / per / CPU_STEP) * CPU_STEP
    memory = float(math.floor(node.memory_gib / per))
    rate = _capacity(doc, split, option) / per
    replicas = counts * per
    return LLMGroupDeployment(
        option=option,
        name=dns_label(doc.model, g.instance_type, f"tp{g.tensor_parallel}"),
        instance_type=g.instance_type,
        accelerator=accelerator,
        accelerators_per_replica=per_replica,
        replicas_per_instance=per,
        instance_vcpu=float(itype.vcpu),
        instance_accelerators=devices,
        vcpu_per_replica=max(CPU_STEP, round(vcpu, 1)),
        memory_gib_per_replica=max(1.0, memory),
        shm_gib=max(SHM_GIB_MIN, SHM_GIB_PER_ACCELERATOR * per_replica),
        min_instances=int(counts.min()),
        max_instances=int(counts.max()),
        min_replicas=int(replicas.min()),
        max_replicas=int(replicas.max()),
        requests_per_s_per_replica=rate,
        waiting_requests_per_replica=max(1.0, round(rate * doc.slo_ttft_p99_ms / 1000.0 / 2.0, 1)),
        share_of_requests=_share(doc, split, option),
        schedules=hourly_floors(replicas, profile, int(replicas.min())),
    )


def _accelerator(device: str, tp: int, itype: InstanceType) -> tuple[Accelerator | None, int, int]:
    """(extended resource, devices an instance has, devices a replica takes): a modelled device's degree;
    an accelerated type the prior does not model takes its instance's every device; a CPU type none."""
    name = device.lower()
    if name == "inferentia2":
        return "aws.amazon.com/neuron", int(itype.accelerator_count), tp
    if name not in ("cpu", "unmodelled"):
        return "nvidia.com/gpu", int(itype.gpu_count), tp
    if itype.gpu_count >= 1:
        return "nvidia.com/gpu", int(itype.gpu_count), int(itype.gpu_count)
    if itype.accelerator_count:
        return "aws.amazon.com/neuron", int(itype.accelerator_count), int(itype.accelerator_count)
    return None, 0, 0


def _capacity(doc: LLMModelRecommendation, split: Split, option: str) -> float:
    """An instance's requests/s on the mix of buckets ``split`` routes to it, the harmonic mean of its
    per-bucket capacities weighted by those requests."""
    g = next(x for x in doc.groups if x.option == option)
    caps = g.capacity_rps_per_instance
    weights = {r.bucket: r.share_of_requests * split.get(r.bucket, {}).get(option, 0.0) for r in doc.routing}
    served = {b: w for b, w in weights.items() if w > 0 and caps.get(b, 0.0) > 0}
    total = sum(served.values())
    if total <= 0:
        return max(caps.values(), default=1.0)
    return total / sum(w / caps[b] for b, w in served.items())


def hourly_floors(replicas: np.ndarray, profile: TrafficProfile, minimum: int) -> list[ScheduledMinimum]:
    """Scheduled minimums from the plan's replicas per step (module docstring); empty without a whole day
    of steps, or when no hour needs more than ``minimum``."""
    step = profile.step_s
    per_hour = _HOUR_S // step if step <= _HOUR_S and _HOUR_S % step == 0 else 0
    index = profile.index
    if not per_hour or replicas.size < 24 * per_hour or index[0].minute or index[0].second:
        return []
    hours = replicas.size // per_hour
    hourly = replicas[: hours * per_hour].reshape(hours, per_hour).max(axis=1)
    hour_of_day = (index[0].hour + np.arange(hours)) % 24
    floor = np.array([int(hourly[hour_of_day == h].min()) for h in range(24)])
    windows = _windows(floor, minimum)
    zone = zone_name(profile)
    return [
        ScheduledMinimum(start=f"0 {start} * * *", end=f"0 {end % 24} * * *", timezone=zone, min_replicas=n)
        for start, end, n in windows
    ]


def _windows(floor: np.ndarray, minimum: int) -> list[tuple[int, int, int]]:
    """(start hour, end hour, replicas) of each run of hours with one floor above ``minimum``; the least
    valuable (extra replica-hours) dropped past :data:`MAX_WINDOWS`."""
    runs: list[tuple[int, int, int]] = []
    h = 0
    while h < 24:
        n = int(floor[h])
        end = h + 1
        while end < 24 and floor[end] == n:
            end += 1
        if n > minimum and end - h < 24:  # all day: that is a minimum, not a schedule
            runs.append((h, end, n))
        h = end
    if len(runs) > MAX_WINDOWS:
        keep = sorted(runs, key=lambda r: -(r[1] - r[0]) * (r[2] - minimum))[:MAX_WINDOWS]
        runs = sorted(keep)
    return runs
