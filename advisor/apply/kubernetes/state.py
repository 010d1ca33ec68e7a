"""What the Kubernetes applier owns of a live Deployment, and the desired state merged over the live one.

:func:`deployment_view` reads the owned fields of a Deployment (rollout strategy, nodeSelector,
tolerations, the required node affinity, one container's requests and limits); :func:`desired_deployment`
puts the recommendation's settings over the live ones (others' selector keys and tolerations kept, limits
raised to new requests, the rollout's disruption capped by the guardrail but never loosened); :func:`merged`
lays a manifest's spec over a live object's, so that server defaults do not show as a diff.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.apply.base import ApplyError, Intent
from advisor.apply.kubernetes.manifests import GPU, Manifest
from advisor.platforms.naming import kubernetes_arch


def deployment_view(obj: Manifest, container: str) -> dict[str, Any]:
    """The owned settings of a Deployment, or of a patch of one (absent or empty: None)."""
    spec = obj.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    node_affinity = (pod.get("affinity") or {}).get("nodeAffinity") or {}
    chosen: dict[str, Any] = next((c for c in pod.get("containers") or [] if c.get("name") == container), {})
    resources = chosen.get("resources") or {}
    return {
        "strategy": spec.get("strategy") or None,
        "nodeSelector": pod.get("nodeSelector") or None,
        "tolerations": pod.get("tolerations") or None,
        "nodeAffinity": node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or None,
        "container": {
            "name": container,
            "requests": resources.get("requests") or None,
            "limits": resources.get("limits") or None,
        },
    }


def desired_deployment(intent: Intent, live: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """The recommendation's settings over the live Deployment's (module docstring)."""
    mine_selector = ours["nodeSelector"] or {}
    kept = {k: v for k, v in (live.get("nodeSelector") or {}).items() if k not in mine_selector}
    _check_kept_selector(intent, kept)
    mine_tolerations = ours["tolerations"] or []
    tolerations = mine_tolerations + [t for t in live.get("tolerations") or [] if t not in mine_tolerations]
    live_c, ours_c = live.get("container") or {}, ours["container"]
    requests = {**(live_c.get("requests") or {}), **(ours_c["requests"] or {})}
    limits = {**(live_c.get("limits") or {}), **(ours_c["limits"] or {})}
    if (GPU in requests or GPU in limits) and GPU not in (ours_c["requests"] or {}):
        # A GPU request set by someone else cannot be removed by an apply of advisor's: set it to 0 instead.
        requests[GPU] = limits[GPU] = "0"
    _raise_limits(requests, limits)
    return {
        "strategy": _stricter_rollout(live.get("strategy"), ours["strategy"]),
        "nodeSelector": {**mine_selector, **kept} or None,
        "tolerations": tolerations or None,
        "nodeAffinity": ours["nodeAffinity"],
        "container": {"name": ours_c["name"], "requests": requests or None, "limits": limits or None},
    }


def _stricter_rollout(live: Any, ours: Any) -> Any:
    """The guardrail caps a rollout's disruption: a live maxUnavailable already lower (both percentages)
    is kept."""
    try:
        live_pct = int(str(live["rollingUpdate"]["maxUnavailable"]).removesuffix("%"))
        ours_pct = int(str(ours["rollingUpdate"]["maxUnavailable"]).removesuffix("%"))
        both = str(live["rollingUpdate"]["maxUnavailable"]).endswith("%")
    except (KeyError, TypeError, ValueError):
        return ours
    if both and live_pct < ours_pct:
        return {**ours, "rollingUpdate": {**ours["rollingUpdate"], "maxUnavailable": f"{live_pct}%"}}
    return ours


def _raise_limits(requests: dict[str, str], limits: dict[str, str]) -> None:
    """A cpu or memory limit below its new request rises to it (the API refuses a request over a limit)."""
    from kubernetes.utils.quantity import parse_quantity

    for resource in ("cpu", "memory"):
        below = resource in limits and resource in requests
        if below and parse_quantity(limits[resource]) < parse_quantity(requests[resource]):
            limits[resource] = requests[resource]


def _check_kept_selector(intent: Intent, kept: Mapping[str, str]) -> None:
    """ApplyError when a nodeSelector key advisor keeps (it cannot remove another's) does not match every
    pool the replicas go to: their pods would never schedule."""
    for pool in intent.pools:
        carried = {k: {v} for k, v in pool.labels.items()} | {
            "node.kubernetes.io/instance-type": set(pool.instance_types),
            "kubernetes.io/arch": {kubernetes_arch(a) for a in pool.architectures},
            "karpenter.sh/capacity-type": set(pool.capacity_types),
        }
        for key, value in kept.items():
            if value not in carried.get(key, set()):
                raise ApplyError(
                    f"the Deployment's nodeSelector {key}={value} does not match pool {pool.name}'s nodes: "
                    "its pods would stay Pending",
                    where=f"deploy.kubernetes of {intent.name}",
                    fix=f"remove {key} from the Deployment's nodeSelector, then apply again",
                )


def merged(live: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """``ours`` over ``live``: maps merge key by key, anything else (lists, values) is ours."""
    out = dict(live)
    for key, value in ours.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = merged(out[key], value) if both else value
    return out
