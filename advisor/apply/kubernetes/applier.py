"""The Kubernetes applier: a Deployment's resources and placement, its autoscaler and its Karpenter NodePools,
changed by server-side apply.

What it owns (the state: an entry per object, keyed ``Kind namespace/name``; None: the object is absent)::

    NodePool <pool>[-on-demand-base]:  spec                              (Karpenter only)
    Deployment <ns>/<name>:           strategy, nodeSelector, tolerations, nodeAffinity (the required
                                      terms), container {name, requests, limits}
    HorizontalPodAutoscaler <ns>/<name>, ScaledObject <ns>/<name>:  spec (one of them; the other absent)

Every change is a server-side apply (``PATCH``, ``application/apply-patch+yaml``, ``fieldManager=advisor``,
``force=true``: advisor takes the fields it sets from whoever set them); an object the recommendation drops
(the HPA when KEDA takes over, a stale base NodePool) is deleted. A rollback applies the before-state the
same way: the API server removes fields only advisor set when advisor's next apply leaves them out
(Kubernetes docs, "Server-Side Apply", field management), and objects absent before are deleted. Capacity
first: NodePools, the Deployment, autoscaler deletions (KEDA refuses a ScaledObject while another HPA scales
the Deployment), autoscaler applies, NodePool deletions last.

Settings the recommendation does not own stay (and show in the diff): others' nodeSelector keys and
tolerations, requests other than cpu, memory and GPUs; a cpu or memory limit rises to the new request only
when below it. A kept nodeSelector key the new nodes lack is refused (the pods would stay Pending). The HPA
advisor manages is named after the Deployment. Objects go through the official ``kubernetes`` client
(``ApiClient.call_api``) and the kubeconfig given (never rewritten); without one, :meth:`read` refuses and
:meth:`render` writes the manifests as files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from advisor.apply.base import ApplyError, Intent, Progress, State, Step
from advisor.apply.kubernetes.manifests import (
    BASE_POOL_SUFFIX,
    NODE_CLASS_NAME,
    Manifest,
    kubernetes_target,
    manifests,
    validate,
)
from advisor.apply.kubernetes.state import deployment_view, desired_deployment, merged
from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION
from advisor.platforms.naming import dns_label
from advisor.platforms.targets import KubernetesTarget

FIELD_MANAGER = "advisor"
APPLY_PATCH = "application/apply-patch+yaml"
REQUEST_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 5.0  # the longest wait between two reads of a rollout
FIRST_POLL_S = 0.25
_API = {  # kind -> (API group/version, plural, namespaced)
    "Deployment": ("apps/v1", "deployments", True),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers", True),
    "ScaledObject": ("keda.sh/v1alpha1", "scaledobjects", True),
    "NodePool": ("karpenter.sh/v1", "nodepools", False),
    "Service": ("v1", "services", True),
    "HTTPRoute": ("gateway.networking.k8s.io/v1", "httproutes", True),
}
_AUTOSCALERS = ("HorizontalPodAutoscaler", "ScaledObject")
_RBAC = "the kubeconfig's user may not change this object: check its RBAC"
_FIXES = {401: _RBAC, 403: _RBAC, 422: "the API server refused the object: report this as a bug"}
_FILE_STEMS = {
    "Deployment": "deployment-patch",
    "HorizontalPodAutoscaler": "hpa",
    "ScaledObject": "scaledobject",
}


@dataclass(frozen=True)
class Ref:
    """One object advisor manages: its kind, name and namespace (None: cluster-scoped)."""

    kind: str
    name: str
    namespace: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def api_version(self) -> str:
        return _API[self.kind][0]

    @property
    def path(self) -> str:
        version, plural, _ = _API[self.kind]
        scope = f"/namespaces/{quote(self.namespace, safe='')}" if self.namespace else ""
        root = "/api" if "/" not in version else "/apis"  # the core group (v1) has its own root
        collection = f"{root}/{version}{scope}/{plural}"
        return f"{collection}/{quote(self.name, safe='')}" if self.name else collection  # no name: a list

    @classmethod
    def parse(cls, key: str) -> Ref:
        kind, _, rest = key.partition(" ")
        namespace, _, name = rest.rpartition("/") if _API[kind][2] else ("", "", rest)
        return cls(kind, name, namespace or None)

    @classmethod
    def of(cls, manifest: Manifest) -> Ref:
        meta = manifest["metadata"]
        return cls(manifest["kind"], meta["name"], meta.get("namespace"))


class KubernetesApi:
    """The API calls both Kubernetes appliers make: one kubeconfig, server-side apply, reads and deletes."""

    def __init__(
        self,
        kubeconfig: Path | None = None,
        context: str | None = None,
        *,
        poll_interval_s: float = POLL_INTERVAL_S,
        k8s_version: str = DEFAULT_K8S_VERSION,
        node_class: str = NODE_CLASS_NAME,
    ) -> None:
        self._kubeconfig, self._context = kubeconfig, context
        self._poll_s, self._version, self._node_class = poll_interval_s, k8s_version, node_class
        self._api: Any = None

    def _send(self, ref: Ref, body: Manifest | None) -> None:
        """Server-side apply ``body``, or delete the object when None (already gone is fine)."""
        if body is None:
            self._call("DELETE", ref, missing_ok=True)
            return
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        self._call("PATCH", ref, body=body, query=query, content_type=APPLY_PATCH)

    def _list(self, kind: str, namespace: str | None, selector: str) -> list[dict[str, Any]]:
        """The objects of ``kind`` in ``namespace`` whose labels match ``selector`` (none when the kind is
        not installed)."""
        ref, query = Ref(kind, "", namespace), [("labelSelector", selector)]
        found = self._call("GET", ref, query=query, missing_ok=True)
        items = (found or {}).get("items") or []
        return [i for i in items if isinstance(i, dict)]

    def _wait_rollout(
        self, ref: Ref, deadline_s: float, progress: Progress, *, missing_ok: bool = False
    ) -> None:
        """Wait for a Deployment's rollout as ``kubectl rollout status`` does (kubectl
        polymorphichelpers/rollout_status.go): observed generation current, every replica updated, no old
        replica left, every updated replica available. ``missing_ok``: an absent Deployment is done."""
        said, wait_s = "", FIRST_POLL_S
        while True:
            obj = self._call("GET", ref, missing_ok=missing_ok)
            if obj is None:
                return
            waiting = rollout_waiting(obj)
            if waiting is None:
                return
            if waiting != said:
                progress(f"{ref.key}: {waiting}")
                said = waiting
            left = deadline_s - time.monotonic()
            if left <= 0:
                raise ApplyError(f"{ref.key} did not finish its rollout in time: {waiting}", where=ref.key)
            time.sleep(min(wait_s, left))
            wait_s = min(wait_s * 2, self._poll_s)  # quick rollouts are seen quickly, long ones not hammered

    def _client(self) -> Any:
        if self._api is None:
            if self._kubeconfig is None:
                raise ApplyError(
                    "no kubeconfig to reach the cluster with",
                    fix="pass --kubeconfig (and --context), or --out DIR to write the manifests instead",
                )
            import yaml
            from kubernetes.config import ConfigException, new_client_from_config

            if not self._kubeconfig.is_file():
                what = "is a folder" if self._kubeconfig.is_dir() else "not found"
                where = str(self._kubeconfig)
                raise ApplyError(f"kubeconfig {what}", where=where, fix="pass a kubeconfig file")
            try:
                self._api = new_client_from_config(
                    config_file=str(self._kubeconfig), context=self._context, persist_config=False
                )
            except (ConfigException, OSError, ValueError, TypeError, yaml.YAMLError) as exc:
                text = " ".join(str(exc).split())
                raise ApplyError(f"cannot use the kubeconfig: {text}", where=str(self._kubeconfig)) from None
        return self._api

    def _call(
        self,
        method: str,
        ref: Ref,
        *,
        body: Manifest | None = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """One API request; the object (None on 404 when ``missing_ok``), or ApplyError naming the object
        and the API server's message (never the request's credentials)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        api = self._client()
        try:
            data = api.call_api(
                ref.path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=True,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        except ApiException as exc:
            if exc.status == 404 and missing_ok:
                return None
            raise ApplyError(
                f"{method} {ref.key}: HTTP {exc.status} {_status_message(exc)}",
                where=f"{api.configuration.host}{ref.path}",
                fix=_fix_for(ref, exc.status),
            ) from None
        except HTTPError as exc:
            raise ApplyError(
                f"cannot reach the Kubernetes API server: {type(exc).__name__}",
                where=api.configuration.host,
                fix="check the kubeconfig's server and your network",
            ) from None
        return data if isinstance(data, dict) else None


class KubernetesApplier(KubernetesApi):
    """Server-side apply of a model's Kubernetes objects (module docstring)."""

    kind = "kubernetes"

    def label(self, intent: Intent) -> str:
        target = kubernetes_target(intent)
        return f"Kubernetes Deployment {target.namespace}/{target.deployment}"

    # ----- reading ------------------------------------------------------------------------------------

    def read(self, intent: Intent) -> State:
        target = _live_target(intent)
        dep = Ref("Deployment", target.deployment, target.namespace)
        live = self._call("GET", dep, missing_ok=True)
        if live is None:
            fix = "check the namespace and name in the scenario, and the kubeconfig context"
            raise ApplyError(f"{dep.key} not found", where=f"deploy.kubernetes of {intent.name}", fix=fix)
        state: State = {dep.key: deployment_view(live, _container(live, target.container, dep))}
        for ref in _other_refs(intent, target):
            obj = self._call("GET", ref, missing_ok=True)
            state[ref.key] = None if obj is None else obj.get("spec")
        return state

    def desired(self, intent: Intent, live: State) -> State:
        target = kubernetes_target(intent)
        dep = Ref("Deployment", target.deployment, target.namespace)
        live_dep = live.get(dep.key) or {}
        named = (live_dep.get("container") or {}).get("name")
        container = str(named or target.container or dns_label(intent.name))
        documents = manifests(intent, container=container, node_class=self._node_class)
        validate(documents, self._version)
        want: State = {key: None for key in live}
        for manifest in documents:
            ref = Ref.of(manifest)
            if ref.kind == "Deployment":
                want[ref.key] = desired_deployment(intent, live_dep, deployment_view(manifest, container))
            else:
                want[ref.key] = merged(live.get(ref.key) or {}, manifest["spec"])
        return want

    # ----- changing -----------------------------------------------------------------------------------

    def steps(self, intent: Intent, now: State, want: State) -> list[Step]:
        ordered: list[tuple[int, Step]] = []
        for key in dict.fromkeys([*want, *now]):
            ref, before, after = Ref.parse(key), now.get(key), want.get(key)
            if before == after:
                continue
            if after is None:
                rank = 4 if ref.kind == "NodePool" else 2
                ordered.append((rank, Step(f"delete {ref.key}", partial(self._send, ref, None))))
                continue
            body = _body(ref, after)
            rank = {"NodePool": 0, "Deployment": 1}.get(ref.kind, 3)
            ordered.append((rank, Step(f"server-side apply {ref.key}", partial(self._send, ref, body))))
        return [step for _, step in sorted(ordered, key=lambda pair: pair[0])]

    def settle(self, intent: Intent, want: State, deadline_s: float, progress: Progress) -> None:
        """Wait for the Deployment's rollout (:meth:`KubernetesApi._wait_rollout`)."""
        target = _live_target(intent)
        self._wait_rollout(Ref("Deployment", target.deployment, target.namespace), deadline_s, progress)

    def render(self, intent: Intent) -> Mapping[str, str]:
        """The manifests as YAML files under ``<model>/`` (what ``kubectl apply --server-side`` takes)."""
        documents = manifests(intent, node_class=self._node_class)
        validate(documents, self._version)
        folder = dns_label(intent.name)
        out: dict[str, str] = {}
        for manifest in documents:
            ref = Ref.of(manifest)
            stem = f"nodepool-{ref.name}" if ref.kind == "NodePool" else _FILE_STEMS[ref.kind]
            out[f"{folder}/{stem}.yaml"] = yaml.safe_dump(manifest, sort_keys=False)
        return out


# ----- states ---------------------------------------------------------------------------------------------


def _live_target(intent: Intent) -> KubernetesTarget:
    target = intent.target.kubernetes
    if target is None:
        raise ApplyError(f"{intent.name} has no Kubernetes target", where=f"deploy of {intent.name}")
    kubernetes_target(intent)  # the plan runs on EKS nodes
    return target


def _other_refs(intent: Intent, target: KubernetesTarget) -> list[Ref]:
    """Every object but the Deployment that advisor may create or delete for this model."""
    refs = []
    if target.nodes == "karpenter":
        for pool in intent.pools:
            refs += [Ref("NodePool", pool.name + BASE_POOL_SUFFIX), Ref("NodePool", pool.name)]
    return refs + [Ref(kind, target.deployment, target.namespace) for kind in _AUTOSCALERS]


def _container(deployment: Manifest, name: str | None, ref: Ref) -> str:
    containers = [c["name"] for c in deployment["spec"]["template"]["spec"].get("containers", [])]
    if name is None and containers:
        return str(containers[0])
    if name is None or name not in containers:
        raise ApplyError(
            f"{ref.key} has no container {name!r} (it has {', '.join(containers) or 'none'})",
            where=f"deploy.kubernetes.container of {ref.name}",
            fix="name the model server's container in the scenario",
        )
    return name


def _body(ref: Ref, state: dict[str, Any]) -> Manifest:
    """The apply configuration of one object's state (absent settings left out)."""
    metadata = {"name": ref.name, **({"namespace": ref.namespace} if ref.namespace else {})}
    head = {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": metadata}
    if ref.kind != "Deployment":
        return {**head, "spec": state}
    c = state["container"]
    resources = {k: c[k] for k in ("requests", "limits") if c.get(k)}
    pod: dict[str, Any] = {k: state[k] for k in ("nodeSelector", "tolerations") if state.get(k)}
    if required := state.get("nodeAffinity"):
        pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    pod["containers"] = [{"name": c["name"], **({"resources": resources} if resources else {})}]
    spec: dict[str, Any] = {"template": {"spec": pod}}
    if state.get("strategy"):
        spec = {"strategy": state["strategy"], **spec}
    return {**head, "spec": spec}


def rollout_waiting(deployment: Manifest) -> str | None:
    """What a Deployment's rollout still waits for, or None when it is complete (see ``settle``);
    ApplyError once the Deployment reports its progress deadline exceeded."""
    meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return "waiting for the rollout to be observed"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            what = f"the rollout exceeded its progress deadline: {condition.get('message', '')}"
            fix = "look at the new pods' events (kubectl describe pod): Pending, failing probes, no image"
            raise ApplyError(what, where=f"Deployment {meta.get('namespace')}/{meta.get('name')}", fix=fix)
    wanted, updated = spec.get("replicas", 1), status.get("updatedReplicas", 0)
    if updated < wanted:
        return f"{updated} of {wanted} replicas updated"
    if status.get("replicas", 0) > updated:
        return f"{status['replicas'] - updated} old replicas pending termination"
    if status.get("availableReplicas", 0) < updated:
        return f"{status.get('availableReplicas', 0)} of {updated} updated replicas available"
    return None


def _status_message(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


_CRD_OWNERS = {"ScaledObject": "KEDA", "NodePool": "Karpenter", "HTTPRoute": "the Gateway API"}


def _fix_for(ref: Ref, status: int | None) -> str:
    if status == 404 and ref.kind in _CRD_OWNERS:
        return f"is {ref.api_version} installed ({_CRD_OWNERS[ref.kind]})?"
    return _FIXES.get(status or 0, "retry; if it persists, look at the API server's events")
