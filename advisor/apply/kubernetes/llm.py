"""Kubernetes manifests of one language model's plan: a vLLM Deployment, Service and KEDA ScaledObject per
instance group, a Gateway API HTTPRoute splitting requests by size bucket, and Karpenter GPU NodePools.

Pure: an :class:`~advisor.apply.base.LLMIntent` in, manifest dicts out, in the target's ``namespace``
(:mod:`advisor.apply.kubernetes.llm_applier` sends them). A group's objects are named after the group
(``<model>-<instance type>-tp<n>``) and labelled ``app.kubernetes.io/name: <deployment>`` and
``advisor.io/llm-group``; the route is named after the target's ``deployment``:

- **a Deployment per group**: vLLM's OpenAI server (image, weights,
  ``--tensor-parallel-size``, ``--max-model-len``, ``--gpu-memory-utilization``, ``--served-model-name``),
  the degree's GPUs (``nvidia.com/gpu``, or ``aws.amazon.com/neuron`` devices on Inferentia2) as requests
  and limits with the group's CPU and memory, ``/dev/shm`` as a memory-backed ``emptyDir`` for the
  tensor-parallel workers, a node selector on the group's instance type, tolerations of the accelerator
  taint, readiness and liveness on vLLM's ``/health``, and a start-up probe allowing the plan's start-up time
  (weights loading) before either counts, and ``HF_TOKEN`` from ``llm.hf_token_secret`` for gated weights.
  This follows vLLM's own Kubernetes guide (docs.vllm.ai, "Using Kubernetes", v0.8.2: the
  ``vllm/vllm-openai`` image, a ``dshm`` memory volume, probes on ``/health`` port 8000, the token from a
  Secret); a CPU group needs ``llm.image`` to name a build for CPUs;
- **a Service per group**, selecting that group's pods, port 8000;
- **the router**: an HTTPRoute (``gateway.networking.k8s.io/v1``) named after the target. A rule per set
  of size buckets routed alike, matching the header ``x-advisor-size-bucket`` (the bucket's key) and
  splitting across the groups' Services in the plan's shares, and a last rule without a match carrying
  the overall shares. Why a header: an HTTPRoute matches paths, headers and query parameters, never the
  body, and the Gateway API inference extension's InferencePool picks an endpoint inside one pool by its
  load and KV cache, not a pool by request size; only the caller knows a prompt's length, so the client
  (or a gateway filter) sets the header from the bucket edges (``bucket_edges_tokens``). Without the
  header a request takes the last rule's split, which is the plan's split on average;
- **a KEDA ScaledObject per group**: KEDA rather than the HPA, because the engine's metrics live in
  Prometheus and KEDA reads them with no metrics adapter to install. Two ``prometheus`` triggers (the
  group's completions/s against its capacity per replica; ``vllm:num_requests_waiting`` against the queue
  threshold) and a ``cron`` trigger per daily floor; KEDA scales to the largest;
- **Karpenter NodePools** (``<namespace>-<deployment>-gpu``, ``-neuron``, ``-cpu``): on-demand, exactly
  the plan's instance types of that kind, tainted ``nvidia.com/gpu`` (``aws.amazon.com/neuron``)
  ``NoSchedule`` so that nothing else lands on accelerator nodes, limited to the groups' most instances'
  devices (a CPU pool: untainted, limited in vCPUs), counted whole per node as Karpenter counts them. A
  group on a CPU instance (a small model measured there) requests and tolerates no accelerator and gets no
  GPU flags.

Limits the manifests keep, from the Gateway API's HTTPRoute CRD (``apis/v1/httproute_types.go``): at most
16 rules, 16 backendRefs a rule, weights 0-1,000,000; 8 matches a rule (the bound of its first versions,
so any installed version accepts them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from advisor.apply.base import ApplyError, LLMIntent
from advisor.apply.kubernetes.manifests import (
    CAPACITY_TYPE_LABEL,
    DEFAULT_PROMETHEUS_URL,
    INSTANCE_TYPE_LABEL,
    NODE_CLASS,
    NODE_CLASS_NAME,
    Manifest,
    check_node_pool,
    check_scaled_object,
    cpu_quantity,
    cron_triggers,
    keda_threshold,
    memory_quantity,
)
from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION, check_k8s_version
from advisor.platforms.naming import dns_label
from advisor.platforms.targets import KubernetesTarget
from advisor.recommendation.llm import LLMGroupDeployment
from advisor.scenario.llm import DEFAULT_VLLM_IMAGE

MAX_RULES = 16
MAX_BACKENDS = 16
MAX_MATCHES = 8
WEIGHT_SCALE = 1000  # a share of 1 is weight 1,000: three digits of the plan's split
GROUP_LABEL = "advisor.io/llm-group"
MODEL_LABEL = "app.kubernetes.io/name"
PROBE_PERIOD_S = 10
# rate() needs two samples in its window: 2 minutes holds them at Prometheus' common 1-minute scrape interval
RATE_WINDOW = "2m"
ACCELERATOR_POOL: dict[str | None, str] = {
    "nvidia.com/gpu": "gpu",
    "aws.amazon.com/neuron": "neuron",
    None: "cpu",
}


def llm_target(intent: LLMIntent) -> KubernetesTarget:
    """The model's Kubernetes target; for a migration into EKS (files only), objects named after the model
    in namespace ``default``."""
    return intent.target.kubernetes or KubernetesTarget(deployment=dns_label(intent.name))


def llm_manifests(intent: LLMIntent, *, node_class: str = NODE_CLASS_NAME) -> list[Manifest]:
    """NodePools, then per group its Deployment and Service, the HTTPRoute, then per group its
    ScaledObject: the order they are created in (capacity first, the scalers last)."""
    target, d = llm_target(intent), intent.deployment
    out = node_pools(intent, node_class) if target.nodes == "karpenter" else []
    for g in d.groups:
        out += [group_deployment(intent, g), group_service(intent, g)]
    out.append(http_route(intent))
    out += [group_scaler(intent, g) for g in d.groups]
    return out


def _meta(target: KubernetesTarget, name: str, group: str | None = None) -> dict[str, Any]:
    labels = {MODEL_LABEL: target.deployment, **({GROUP_LABEL: group} if group else {})}
    return {"name": name, "namespace": target.namespace, "labels": labels}


def _image(intent: LLMIntent, g: LLMGroupDeployment) -> str:
    serving = intent.deployment.serving
    if g.accelerator is None and serving.image == DEFAULT_VLLM_IMAGE:
        raise ApplyError(
            f"{g.instance_type} has no GPU, and {DEFAULT_VLLM_IMAGE} is vLLM's CUDA build",
            where=f"llm.image of {intent.name}",
            fix="give llm.image a vLLM build for CPUs (or the server you measured) and recommend again",
        )
    if g.accelerator != "aws.amazon.com/neuron":
        return serving.image
    if serving.neuron_image is None:
        raise ApplyError(
            f"{g.instance_type} runs on Inferentia2, and no vLLM image for Neuron is named",
            where=f"llm.neuron_image of {intent.name}",
            fix="give llm.neuron_image (a vLLM build for AWS Neuron) and recommend again",
        )
    return serving.neuron_image


def engine_args(intent: LLMIntent, g: LLMGroupDeployment) -> list[str]:
    """The vLLM OpenAI server's arguments (the image's entrypoint is the server)."""
    s = intent.deployment.serving
    args = ["--model", intent.weights, "--served-model-name", s.served_model_name]
    if g.accelerator is not None:
        args += ["--tensor-parallel-size", str(g.accelerators_per_replica)]
    args += ["--max-model-len", str(s.max_model_len)]
    if g.accelerator is not None:
        args += ["--gpu-memory-utilization", format(s.gpu_memory_utilization, "g")]
    return [*args, "--port", str(s.port)]


def group_deployment(intent: LLMIntent, g: LLMGroupDeployment) -> Manifest:
    """One group's vLLM Deployment (module docstring). No ``replicas``: its ScaledObject owns them."""
    target, s = llm_target(intent), intent.deployment.serving
    accel = {g.accelerator: str(g.accelerators_per_replica)} if g.accelerator else {}
    requests = {"cpu": cpu_quantity(g.vcpu_per_replica), "memory": memory_quantity(g.memory_gib_per_replica)}
    health: dict[str, Any] = {
        "httpGet": {"path": s.health_path, "port": "http"},
        "periodSeconds": PROBE_PERIOD_S,
    }
    container: dict[str, Any] = {
        "name": "vllm",
        "image": _image(intent, g),
        "args": engine_args(intent, g),
        "ports": [{"name": "http", "containerPort": s.port}],
        **({"env": [_hf_token(s.hf_token_secret)]} if s.hf_token_secret else {}),
        "resources": {"requests": {**requests, **accel}, "limits": {"memory": requests["memory"], **accel}},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
        # weights load before /health answers: up to twice the plan's start-up allowance
        "startupProbe": {**health, "failureThreshold": max(3, round(2 * s.start_up_s / PROBE_PERIOD_S))},
        "readinessProbe": {**health, "failureThreshold": 3},
        "livenessProbe": {**health, "failureThreshold": 6},
    }
    selector = {MODEL_LABEL: target.deployment, GROUP_LABEL: g.name}
    pod: dict[str, Any] = {
        "nodeSelector": {INSTANCE_TYPE_LABEL: g.instance_type},
        "containers": [container],
        "volumes": [
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": memory_quantity(g.shm_gib)}}
        ],
    }
    if g.accelerator:
        pod["tolerations"] = [{"key": g.accelerator, "operator": "Exists", "effect": "NoSchedule"}]
    rolling = {"maxUnavailable": f"{intent.guardrails.max_disruption_pct}%", "maxSurge": 1}
    spec = {
        "selector": {"matchLabels": selector},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling},
        "template": {"metadata": {"labels": selector}, "spec": pod},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(target, g.name, g.name),
        "spec": spec,
    }


def _hf_token(secret: str) -> dict[str, Any]:
    """HF_TOKEN from a Secret's key ``token``: gated weights need one (vLLM's guide does the same)."""
    return {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}}}


def group_service(intent: LLMIntent, g: LLMGroupDeployment) -> Manifest:
    target, port = llm_target(intent), intent.deployment.serving.port
    spec = {
        "selector": {MODEL_LABEL: target.deployment, GROUP_LABEL: g.name},
        "ports": [{"name": "http", "port": port, "targetPort": "http"}],
    }
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(target, g.name, g.name), "spec": spec}


def _backends(intent: LLMIntent, shares: dict[str, float]) -> list[dict[str, Any]]:
    port = intent.deployment.serving.port
    by_option = {g.option: g for g in intent.deployment.groups}
    out = [
        {"name": by_option[o].name, "port": port, "weight": round(share * WEIGHT_SCALE)}
        for o, share in shares.items()
        if o in by_option and round(share * WEIGHT_SCALE) > 0
    ]
    return sorted(out, key=lambda b: b["name"])


def http_route(intent: LLMIntent) -> Manifest:
    """The size-bucket router (module docstring): buckets with the same split share a rule; past the
    rule limit, the smallest buckets fall to the last rule."""
    target, d = llm_target(intent), intent.deployment
    splits: dict[tuple[tuple[str, int], ...], list[str]] = {}
    for r in sorted(intent.model.routing, key=lambda r: -r.share_of_requests):
        backends = _backends(intent, d.routing.get(r.bucket, {}))
        if backends:
            key = tuple((b["name"], b["weight"]) for b in backends)
            splits.setdefault(key, []).append(d.bucket_keys[r.bucket])
    rules: list[dict[str, Any]] = []
    for key, buckets in splits.items():
        for i in range(0, len(buckets), MAX_MATCHES):
            if len(rules) == MAX_RULES - 1:
                break
            matches = [
                {"headers": [{"type": "Exact", "name": d.bucket_header, "value": b}]}
                for b in buckets[i : i + MAX_MATCHES]
            ]
            refs = [{"name": n, "port": d.serving.port, "weight": w} for n, w in key]
            rules.append({"matches": matches, "backendRefs": refs})
    overall = {g.option: g.share_of_requests for g in d.groups}
    rules.append({"backendRefs": _backends(intent, overall)})
    spec: dict[str, Any] = {"rules": rules}
    if target.gateway:
        namespace, _, name = target.gateway.rpartition("/")
        spec = {"parentRefs": [{"name": name, **({"namespace": namespace} if namespace else {})}], **spec}
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"}
    return {**route, "metadata": _meta(target, target.deployment), "spec": spec}


def _selector(target: KubernetesTarget, g: LLMGroupDeployment) -> str:
    # a Deployment's pods are <deployment>-<replica set hash>-<suffix>
    return f'namespace="{target.namespace}",pod=~"{g.name}-[a-z0-9]+-[a-z0-9]+"'


def scaler_queries(target: KubernetesTarget, g: LLMGroupDeployment) -> tuple[str, str]:
    """PromQL of the group's completions/s and of its waiting requests (vLLM's own metrics)."""
    where = _selector(target, g)
    return (
        f"sum(rate(vllm:request_success_total{{{where}}}[{RATE_WINDOW}]))",
        f"sum(vllm:num_requests_waiting{{{where}}})",
    )


def group_scaler(intent: LLMIntent, g: LLMGroupDeployment) -> Manifest:
    """One group's KEDA ScaledObject (module docstring)."""
    target, d = llm_target(intent), intent.deployment
    server = target.prometheus_url or DEFAULT_PROMETHEUS_URL
    triggers = cron_triggers(g.schedules)
    rate, waiting = scaler_queries(target, g)
    for name, query, threshold in (
        ("completions", rate, g.requests_per_s_per_replica),
        ("queue", waiting, g.waiting_requests_per_replica),
    ):
        meta = {"serverAddress": server, "query": query, "threshold": keda_threshold(threshold)}
        triggers.append({"type": "prometheus", "name": name, "metricType": "AverageValue", "metadata": meta})
    scale_down = {"stabilizationWindowSeconds": round(d.scale_down_stabilisation_s)}
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": g.name},
        "minReplicaCount": g.min_replicas,
        "maxReplicaCount": g.max_replicas,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": scale_down}}},
        "triggers": triggers,
    }
    meta = _meta(target, g.name, g.name)
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": meta, "spec": spec}


def node_pools(intent: LLMIntent, node_class: str = NODE_CLASS_NAME) -> list[Manifest]:
    """A GPU (and a Neuron) NodePool with exactly the plan's instance types of that accelerator."""
    target = llm_target(intent)
    out = []
    for accelerator, suffix in ACCELERATOR_POOL.items():
        groups = [g for g in intent.deployment.groups if g.accelerator == accelerator]
        if not groups:
            continue
        types = sorted({g.instance_type for g in groups})
        # Karpenter counts a node's whole capacity against the limits, not what it leaves allocatable
        accelerators = sum(g.max_instances * g.instance_accelerators for g in groups)
        vcpus = sum(g.max_instances * g.instance_vcpu for g in groups)
        node_spec: dict[str, Any] = {
            "nodeClassRef": {**NODE_CLASS, "name": node_class},
            "requirements": [
                {"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": types},
                {"key": CAPACITY_TYPE_LABEL, "operator": "In", "values": ["on-demand"]},
            ],
        }
        if accelerator is not None:
            node_spec["taints"] = [{"key": accelerator, "value": "true", "effect": "NoSchedule"}]
        spec = {
            "template": {"metadata": {"labels": {MODEL_LABEL: target.deployment}}, "spec": node_spec},
            "disruption": {
                "consolidationPolicy": "WhenEmpty",  # a GPU node goes when its replicas scaled away
                "consolidateAfter": f"{round(intent.deployment.scale_down_stabilisation_s)}s",
                "budgets": [{"nodes": f"{intent.guardrails.max_disruption_pct}%"}],
            },
            "limits": {accelerator: str(accelerators)} if accelerator else {"cpu": cpu_quantity(vcpus)},
        }
        name = dns_label(target.namespace, target.deployment, suffix)
        out.append(
            {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": name}, "spec": spec}
        )
    return out


def check_http_route(manifest: Manifest) -> None:
    """ApplyError for what the HTTPRoute CRD refuses (module docstring's limits)."""
    name, rules = manifest["metadata"]["name"], manifest["spec"]["rules"]
    where = f"HTTPRoute {name}"
    if not 1 <= len(rules) <= MAX_RULES:
        raise ApplyError(f"{len(rules)} rules (1 to {MAX_RULES} allowed)", where=where)
    for i, rule in enumerate(rules):
        refs = rule.get("backendRefs", [])
        if not 1 <= len(refs) <= MAX_BACKENDS or len(rule.get("matches", [])) > MAX_MATCHES:
            raise ApplyError(f"rules[{i}] has {len(refs)} backends or too many matches", where=where)
        if any(not 0 <= r["weight"] <= 1_000_000 for r in refs):
            raise ApplyError(f"rules[{i}] has a weight outside 0..1,000,000", where=where)


def validate_llm(documents: Sequence[Manifest], k8s_version: str = DEFAULT_K8S_VERSION) -> None:
    """ApplyError naming the manifest and field path when one would be refused: built-in kinds through
    ``kubernetes-validate`` (strict), NodePools, ScaledObjects and the HTTPRoute by their CRDs' rules."""
    import kubernetes_validate

    check_k8s_version(k8s_version)
    checks = {"NodePool": check_node_pool, "ScaledObject": check_scaled_object, "HTTPRoute": check_http_route}
    for manifest in documents:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if kind in checks:
            checks[kind](manifest)
            continue
        try:
            kubernetes_validate.validate(manifest, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(document)"
            what, where = f"invalid {kind} manifest: {exc.message}", f"{kind} {name}:{path}"
            raise ApplyError(what, where=where, fix="report this as a bug") from None
