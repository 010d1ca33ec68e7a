"""Kubernetes manifests of one model's recommendation: its Deployment patch, its autoscaler, its NodePools.

Pure: an :class:`~advisor.apply.base.Intent` in, manifest dicts out, and the checks that make them safe to
send (no cluster is called here; :mod:`advisor.apply.kubernetes.applier` sends them). For a model on EC2 nodes
(``deployment.migration`` False):

- **the Deployment patch** (``apps/v1``; a strategic-merge patch and a server-side apply configuration at
  once): the container's ``resources`` (GPUs as ``nvidia.com/gpu`` requests and limits), the placement's
  ``nodeSelector`` and ``tolerations``, a required node affinity on ``kubernetes.io/arch``, and a rolling
  update replacing at most ``max_disruption_pct`` % of the replicas at once. The container is the target's;
  without one the applier names the live Deployment's first container, and a file (no cluster) the model;
- **its autoscaler**: an ``autoscaling/v2`` HPA on the plan's ``Pods`` metric (a metrics adapter serves
  it), or a KEDA ScaledObject when the target asks for KEDA or the plan has scheduled minimums;
- **its nodes**: with Karpenter, NodePools (:func:`node_pools`); with the cluster autoscaler none: its node
  group is an EKS managed node group, an Auto Scaling group, which the ASG applier changes.

The CRD schemas do not check their CEL rules or KEDA's free-form trigger metadata; :func:`validate` does
the ones that matter, and runs built-in kinds through ``kubernetes-validate`` (strict).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

from advisor.apply.base import ApplyError, Intent
from advisor.domain import cron_expression, iana_zone
from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION, check_k8s_version
from advisor.platforms.naming import dns_label, kubernetes_arch
from advisor.platforms.targets import KubernetesTarget, Orchestrator
from advisor.recommendation.deployment import NodePool
from advisor.recommendation.scaling import ScheduledMinimum

Manifest = dict[str, Any]

# Kubernetes minor version the built-in kinds are validated against (kubernetes-validate has 1.25-1.37).
# The EC2NodeClass every NodePool points at: an existing one named "default" (AMI, subnets, security
# groups, role are the cluster's, not the recommendation's).
NODE_CLASS_NAME = "default"
NODE_CLASS = {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass"}
MIN_SPOT_INSTANCE_TYPES = 2
BASE_POOL_SUFFIX = "-on-demand-base"
BASE_POOL_WEIGHT = 100  # Karpenter weights are 1-100; a NodePool without one counts as 0
DEFAULT_PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"
GPU = "nvidia.com/gpu"
ARCH_LABEL = "kubernetes.io/arch"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
# HPA API (autoscaling/v2 HPAScalingRules): stabilizationWindowSeconds is at most 3600 (one hour).
MAX_STABILISATION_S = 3600
# The HPA's default behaviour (Kubernetes docs, "Horizontal Pod Autoscaling", "Default Behavior"): scale up
# by the larger of 100% or 4 pods per 15 s with no stabilisation; scale down by up to 100% per 15 s.
_PERCENT_100 = {"type": "Percent", "value": 100, "periodSeconds": 15}
_UP_POLICIES = [_PERCENT_100, {"type": "Pods", "value": 4, "periodSeconds": 15}]
HPA_SCALE_UP: dict[str, Any] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": _UP_POLICIES,
}
HPA_SCALE_DOWN_POLICIES: list[dict[str, Any]] = [_PERCENT_100]
# Karpenter v1 CRD (karpenter.sh_nodepools.yaml), CEL rules on requirement keys and template labels.
_RESTRICTED_LABELS = ("karpenter.sh/nodepool", "kubernetes.io/hostname")
_ALLOWED_KARPENTER_LABELS = ("karpenter.sh/capacity-type", "karpenter.sh/nodepool")


# ----- quantities ------------------------------------------------------------------------------------------
# Written in the canonical form the API server returns (the largest unit that keeps the value whole), so a
# value read back compares equal to the one sent: 3.5 vCPU -> "3500m", 4 -> "4", 12 GiB -> "12Gi".


def cpu_quantity(vcpu: float) -> str:
    """CPU as a Kubernetes quantity, rounded up to a millicore."""
    milli = math.ceil(round(vcpu * 1000, 6))
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def memory_quantity(gib: float) -> str:
    """Memory as a Kubernetes quantity, rounded up to a MiB."""
    mib = math.ceil(round(gib * 1024, 6))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def decimal_quantity(value: float) -> str:
    """A metric target as a quantity in milli-units when fractional (27 -> "27", 13.5221 -> "13522m")."""
    milli = round(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


# ----- the target -----------------------------------------------------------------------------------------


def kubernetes_target(intent: Intent) -> KubernetesTarget:
    """The model's Kubernetes target; for a migration into EKS from elsewhere (files only), a Deployment
    named after the model in namespace ``default``. ApplyError when the plan does not run on EKS nodes."""
    if intent.deployment.orchestrator is not Orchestrator.EKS:
        what = f"the plan of {intent.name} does not run on EKS nodes: not a change of a Kubernetes Deployment"
        raise ApplyError(
            what, where=f"deploy of {intent.name}", fix="the plan's platform's applier writes it"
        )
    return intent.target.kubernetes or KubernetesTarget(deployment=dns_label(intent.name))


def uses_keda(intent: Intent) -> bool:
    """KEDA scales the Deployment: the target asks for it, or the plan has schedules (an HPA has none)."""
    return kubernetes_target(intent).autoscaler == "keda" or bool(intent.deployment.schedules)


def default_requests_query(namespace: str, deployment: str) -> str:
    """PromQL for a Deployment's requests/s when the target names no query."""
    return f'sum(rate(http_requests_total{{namespace="{namespace}",deployment="{deployment}"}}[1m]))'


def manifests(
    intent: Intent, *, container: str | None = None, node_class: str = NODE_CLASS_NAME
) -> list[Manifest]:
    """NodePools (Karpenter only), the Deployment patch, its autoscaler: the safe order. ``container``: the
    model server's container (default: the target's, else the model's name)."""
    target = kubernetes_target(intent)
    out = node_pools(intent, node_class=node_class)
    out.append(deployment_patch(intent, container or target.container or dns_label(intent.name)))
    out.append(scaled_object(intent) if uses_keda(intent) else horizontal_pod_autoscaler(intent))
    return out


def _object(api_version: str, kind: str, target: KubernetesTarget, spec: dict[str, Any]) -> Manifest:
    meta = {"name": target.deployment, "namespace": target.namespace}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def _scale_target(target: KubernetesTarget) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": target.deployment}


# ----- the Deployment -------------------------------------------------------------------------------------


def deployment_patch(intent: Intent, container: str) -> Manifest:
    """The Deployment's settings the recommendation owns (module docstring); nothing else, not replicas
    (its autoscaler owns them)."""
    target, d = kubernetes_target(intent), intent.deployment
    requests = {"cpu": cpu_quantity(d.replica.vcpu), "memory": memory_quantity(d.replica.memory_gib)}
    resources: dict[str, Any] = {"requests": requests}
    gpus = math.ceil(d.replica.gpu_count)
    if gpus:
        # Extended resources are not overcommitted: a GPU request must equal its limit (Kubernetes docs,
        # "Schedule GPUs").
        requests[GPU] = str(gpus)
        resources["limits"] = {GPU: str(gpus)}
    pod: dict[str, Any] = {}
    placement = intent.model.plan.placement if intent.model.plan is not None else None
    if placement is not None and placement.node_selector:
        pod["nodeSelector"] = dict(placement.node_selector)
    if placement is not None and placement.tolerations:
        pod["tolerations"] = [t.model_dump(exclude_none=True) for t in placement.tolerations]
    arches = list(dict.fromkeys(kubernetes_arch(a) for a in d.architectures))
    term = {"matchExpressions": [{"key": ARCH_LABEL, "operator": "In", "values": arches}]}
    pod["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    }
    pod["containers"] = [{"name": container, "resources": resources}]
    pct = intent.guardrails.max_disruption_pct
    # maxUnavailable and maxSurge may not both be 0: with no disruption allowed, surge one pod at a time.
    rolling = {"maxUnavailable": f"{pct}%", "maxSurge": f"{pct}%" if pct > 0 else 1}
    strategy = {"type": "RollingUpdate", "rollingUpdate": rolling}
    return _object("apps/v1", "Deployment", target, {"strategy": strategy, "template": {"spec": pod}})


# ----- autoscalers ----------------------------------------------------------------------------------------


def per_replica_target(intent: Intent) -> float:
    """The autoscaler's target per replica (requests/s); ApplyError for a per-instance or per-target one."""
    metric = intent.deployment.scaling_metric
    if metric.per != "replica":
        raise ApplyError(
            f"the scaling metric of {intent.name} ({metric.name}) is per {metric.per}, not per replica",
            where=f"plan.deployment.scaling_metric of {intent.name}",
            fix="recommend again with the model's deploy target on Kubernetes or Cortex",
        )
    return metric.target_value


def behavior(intent: Intent) -> dict[str, Any]:
    """HPA behaviour: the default scale-up, and scale-down stabilised as long as the plan was replayed."""
    window = round(intent.deployment.scale_down_stabilisation_s)
    if window > MAX_STABILISATION_S:
        raise ApplyError(
            f"the scale-down stabilisation of {intent.name} is {window} s; an HPA allows at most "
            f"{MAX_STABILISATION_S} s",
            where=f"plan.deployment.scale_down_stabilisation_s of {intent.name}",
            fix="recommend again with autoscaling.scale_down_stabilisation_s of at most 3600",
        )
    down = {"stabilizationWindowSeconds": window, "selectPolicy": "Max", "policies": HPA_SCALE_DOWN_POLICIES}
    return {"scaleUp": copy.deepcopy(HPA_SCALE_UP), "scaleDown": copy.deepcopy(down)}


def horizontal_pod_autoscaler(intent: Intent) -> Manifest:
    """An autoscaling/v2 HPA on the plan's per-replica Pods metric, named after the Deployment."""
    target, d = kubernetes_target(intent), intent.deployment
    value = {"type": "AverageValue", "averageValue": decimal_quantity(per_replica_target(intent))}
    metric = {"type": "Pods", "pods": {"metric": {"name": d.scaling_metric.name}, "target": value}}
    spec = {
        "scaleTargetRef": _scale_target(target),
        "minReplicas": max(1, d.min_replicas),  # 0 needs the HPAScaleToZero feature gate
        "maxReplicas": d.max_replicas,
        "metrics": [metric],
        "behavior": behavior(intent),
    }
    return _object("autoscaling/v2", "HorizontalPodAutoscaler", target, spec)


def cron_triggers(schedules: Sequence[ScheduledMinimum]) -> list[dict[str, Any]]:
    """A KEDA ``cron`` trigger per scheduled minimum: ``desiredReplicas`` from ``start`` to ``end``."""
    out: list[dict[str, Any]] = []
    for s in schedules:
        window = {"timezone": s.timezone, "start": s.start, "end": s.end}
        out.append({"type": "cron", "metadata": {**window, "desiredReplicas": str(s.min_replicas)}})
    return out


def keda_threshold(value: float) -> str:
    """A trigger's threshold as KEDA reads it: a float, in text (``13.522``)."""
    return format(round(value, 3), "f").rstrip("0").rstrip(".")


def scaled_object(intent: Intent) -> Manifest:
    """A KEDA ScaledObject: a ``cron`` trigger per scheduled minimum (KEDA's cron scaler holds
    ``desiredReplicas`` from ``start`` to ``end``) and a ``prometheus`` trigger whose ``threshold`` is the
    per-replica target (``metricType: AverageValue``: replicas = ceil(value / threshold)). KEDA scales to
    the largest of its triggers, so a schedule is a floor under the demand."""
    target, d = kubernetes_target(intent), intent.deployment
    triggers = cron_triggers(d.schedules)
    # Read with getattr: targets written before these fields existed have neither.
    query = getattr(target, "requests_query", None) or default_requests_query(
        target.namespace, target.deployment
    )
    server = getattr(target, "prometheus_url", None) or DEFAULT_PROMETHEUS_URL
    meta = {"serverAddress": server, "query": query, "threshold": keda_threshold(per_replica_target(intent))}
    triggers.append({"type": "prometheus", "metricType": "AverageValue", "metadata": meta})
    spec = {
        "scaleTargetRef": _scale_target(target),
        "minReplicaCount": d.min_replicas,
        "maxReplicaCount": d.max_replicas,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior(intent)}},
        "triggers": triggers,
    }
    return _object("keda.sh/v1alpha1", "ScaledObject", target, spec)


# ----- Karpenter NodePools --------------------------------------------------------------------------------


def node_pools(
    intent: Intent, *, node_class: str = NODE_CLASS_NAME, min_instance_types: int = MIN_SPOT_INSTANCE_TYPES
) -> list[Manifest]:
    """One Karpenter NodePool per pool of the model (none with the cluster autoscaler); ApplyError for a spot
    NodePool of fewer than ``min_instance_types`` types.

    A spot pool keeping an on-demand base (``on_demand_base_capacity`` nodes, at least the guardrail's
    ``min_on_demand_base``) is two NodePools with the same labels and taints: ``<pool>-on-demand-base``,
    on-demand, weight 100, limits of the base nodes, and ``<pool>``, spot, limits of the nodes above it.
    Karpenter tries NodePools by weight and stops using one at its limits (karpenter.sh docs, "Weighted
    NodePools", "spec.limits", as for reserved capacity): the first nodes are on-demand, the rest spot. Above
    the base, 0% on-demand is spot only; 1-99% lists both, and Karpenter prefers spot, on-demand when spot
    has no capacity ("Capacity Type"): it has no ratio. ``min_nodes`` has no field: Karpenter launches nodes
    for pending pods, so the autoscaler's minimum keeps them. Limits count node capacity, not allocatable
    (Karpenter "limits instance types when scheduling to those that will not exceed the specified limits"),
    so they are nodes × the largest type's capacity (allocatable + what the node reserves).
    """
    if kubernetes_target(intent).nodes != "karpenter":
        return []
    out: list[Manifest] = []
    for pool in intent.pools:
        base = max(pool.on_demand_base_capacity, intent.guardrails.min_on_demand_base)
        base = min(base, pool.max_nodes) if "spot" in pool.capacity_types else 0
        if base:
            base_name = pool.name + BASE_POOL_SUFFIX
            out.append(_node_pool(intent, pool, base_name, ["on-demand"], base, node_class, BASE_POOL_WEIGHT))
        if pool.max_nodes > base or not base:
            types = _above_base_capacity_types(pool)
            out.append(_node_pool(intent, pool, pool.name, types, pool.max_nodes - base, node_class, None))
    for manifest in out:
        check_node_pool(manifest, min_instance_types=min_instance_types)
    return out


def _above_base_capacity_types(pool: NodePool) -> list[str]:
    share = pool.on_demand_percentage_above_base_capacity
    if "spot" not in pool.capacity_types or share >= 100:
        return ["on-demand"]
    return ["spot"] if share == 0 else ["spot", "on-demand"]


def _node_pool(
    intent: Intent,
    pool: NodePool,
    name: str,
    capacity_types: list[str],
    nodes: int,
    node_class: str,
    weight: int | None,
) -> Manifest:
    missing = [t for t in pool.instance_types if t not in pool.allocatable]
    if missing:
        what, fix = f"pool {pool.name} has no node capacity for {', '.join(missing)}", "recommend again"
        raise ApplyError(what, where=f"pools.{pool.name}.allocatable", fix=fix)
    nodes_of = [pool.allocatable[t] for t in pool.instance_types]
    vcpu = max(n.vcpu + n.reserved_vcpu for n in nodes_of)
    memory = max(n.memory_gib + n.reserved_memory_gib for n in nodes_of)
    gpus = max(math.ceil(n.gpu_count) for n in nodes_of)
    limits = {"cpu": cpu_quantity(nodes * vcpu), "memory": memory_quantity(nodes * memory)}
    if gpus:
        limits[GPU] = str(nodes * gpus)
    arches = list(dict.fromkeys(kubernetes_arch(a) for a in pool.architectures))
    node_spec: dict[str, Any] = {
        "nodeClassRef": {**NODE_CLASS, "name": node_class},
        "requirements": [
            {"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": list(pool.instance_types)},
            {"key": CAPACITY_TYPE_LABEL, "operator": "In", "values": capacity_types},
            {"key": ARCH_LABEL, "operator": "In", "values": arches},
        ],
    }
    if pool.taints:
        node_spec["taints"] = [t.model_dump() for t in pool.taints]
    template: dict[str, Any] = {"spec": node_spec}
    if pool.labels:
        template = {"metadata": {"labels": dict(pool.labels)}, **template}
    spec: dict[str, Any] = {
        "template": template,
        # Empty or underutilised nodes go after the plan's scale-down stabilisation, at most the guardrail's
        # share of nodes at once (Karpenter "Disruption budgets": a percentage of the NodePool's nodes).
        "disruption": {
            # A base node goes only when empty: consolidating an underused one would move its pods to spot.
            "consolidationPolicy": "WhenEmpty" if weight is not None else "WhenEmptyOrUnderutilized",
            "consolidateAfter": f"{round(intent.deployment.scale_down_stabilisation_s)}s",
            "budgets": [{"nodes": f"{intent.guardrails.max_disruption_pct}%"}],
        },
        "limits": limits,
    }
    if weight is not None:
        spec["weight"] = weight
    return {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": name}, "spec": spec}


# ----- checks ---------------------------------------------------------------------------------------------


def _label_key_error(key: str) -> str | None:
    """Karpenter's CEL rules on requirement keys and template labels (karpenter.sh_nodepools.yaml)."""
    domain = key.split("/", 1)[0] if "/" in key else ""
    if key in _RESTRICTED_LABELS:
        return f'label "{key}" is restricted'
    if domain.endswith("karpenter.sh") and key not in _ALLOWED_KARPENTER_LABELS:
        return 'label domain "karpenter.sh" is restricted'
    return None


def check_node_pool(manifest: Manifest, *, min_instance_types: int = MIN_SPOT_INSTANCE_TYPES) -> None:
    """ApplyError for what Karpenter's CEL rules refuse, and for a spot NodePool with fewer than
    ``min_instance_types`` instance types (one spot interruption wave could take every node at once)."""
    name, template = manifest["metadata"]["name"], manifest["spec"]["template"]
    labels = template.get("metadata", {}).get("labels", {})
    problems = [f"template label {k}: {e}" for k in labels if (e := _label_key_error(k))]
    values: dict[str, list[str]] = {}
    for i, req in enumerate(template["spec"]["requirements"]):
        key, listed = req["key"], list(req.get("values", []))
        if error := _label_key_error(key):
            problems.append(f"requirements[{i}] {key}: {error}")
        if req["operator"] == "In":
            values[key] = listed
            if not listed or len(listed) < req.get("minValues", 0):
                problems.append(f"requirements[{i}] {key}: 'In' needs values, at least minValues of them")
    if problems:
        raise ApplyError(
            f"NodePool {name}: {problems[0]}", where=f"NodePool {name}", fix="report this as a bug"
        )
    types = values.get(INSTANCE_TYPE_LABEL, [])
    if "spot" in values.get(CAPACITY_TYPE_LABEL, []) and len(types) < min_instance_types:
        raise ApplyError(
            f"NodePool {name} is spot with {len(types)} instance type(s) ({', '.join(types)}); spot needs at "
            f"least {min_instance_types}, so that one reclaimed spot pool does not take every node",
            where=f"NodePool {name}",
            fix="recommend again with more spot pools (spot.min_instance_types_per_pool), or on-demand",
        )


def check_scaled_object(manifest: Manifest) -> None:
    """ApplyError for what KEDA would refuse at run time: its CEL rule min <= max, and the cron and
    prometheus trigger metadata (5-field cron, IANA zone, desiredReplicas > 0, a positive threshold)."""
    name, spec = manifest["metadata"]["name"], manifest["spec"]
    where = f"ScaledObject {name}"
    low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if low > high:
        raise ApplyError(f"minReplicaCount {low} exceeds maxReplicaCount {high}", where=where)
    for i, trigger in enumerate(spec["triggers"]):
        meta, at = trigger.get("metadata", {}), f"{where} triggers[{i}]"
        try:
            if trigger["type"] == "cron":
                cron_expression(meta["start"])
                cron_expression(meta["end"])
                iana_zone(meta["timezone"])
                if not 0 < int(meta["desiredReplicas"]) <= high:
                    raise ValueError(f"desiredReplicas {meta['desiredReplicas']} is not in 1..{high}")
            elif trigger["type"] == "prometheus":
                if not meta.get("serverAddress") or not meta.get("query"):
                    raise ValueError("serverAddress and query are required")
                if not float(meta["threshold"]) > 0:
                    raise ValueError(f"threshold {meta['threshold']} is not positive")
        except (KeyError, ValueError) as exc:
            raise ApplyError(f"invalid {trigger['type']} trigger: {exc}", where=at) from None


def _deployment_skeleton(patch: Manifest) -> Manifest:
    """The patch merged into the smallest valid Deployment, for the schema to check the patch's fields."""
    labels, merged = {"app": patch["metadata"]["name"]}, copy.deepcopy(patch)
    spec = merged.setdefault("spec", {})
    spec["selector"] = {"matchLabels": labels}
    template = spec.setdefault("template", {})
    template["metadata"] = {"labels": labels}
    for container in template.setdefault("spec", {}).setdefault("containers", []):
        container.setdefault("image", "model-server")
    return merged


def validate(documents: Sequence[Manifest], k8s_version: str = DEFAULT_K8S_VERSION) -> None:
    """ApplyError naming the manifest and field path when one would be refused (module docstring)."""
    import kubernetes_validate

    check_k8s_version(k8s_version)
    for manifest in documents:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if kind in ("NodePool", "ScaledObject"):
            (check_node_pool if kind == "NodePool" else check_scaled_object)(manifest)
            continue
        whole = _deployment_skeleton(manifest) if kind == "Deployment" else manifest
        try:
            kubernetes_validate.validate(whole, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(document)"
            what, where = f"invalid {kind} manifest: {exc.message}", f"{kind} {name}:{path}"
            raise ApplyError(what, where=where, fix="report this as a bug") from None
