"""The Kubernetes applier of language models (kind ``kubernetes-llm``): the objects of
:mod:`advisor.apply.kubernetes.llm` created and changed by server-side apply, what an earlier plan made and
this one does not removed, and today's Deployment scaled to zero once the groups serve.

What it owns (the state: an entry per object, keyed ``Kind namespace/name``; None: the object is absent):
every object :func:`~advisor.apply.kubernetes.llm.llm_manifests` makes, as its ``spec`` read back only
where advisor sets it (an API server's defaults and others' additions are not advisor's settings); the
objects an earlier recommendation made for the model (found by their labels, and its NodePools by name),
whole, so that a rollback makes them again; and, when the target names a gateway and a Deployment named
as the target runs today, that Deployment's ``replicas`` (0 once the groups serve) and its autoscaler (an
HPA or a ScaledObject of the same name: absent, or it would scale the Deployment up again). Without a
gateway the route is unattached and nothing moves today's clients, so today's Deployment is left alone.

Order: NodePools, the groups' Deployments and Services, their ScaledObjects, the HTTPRoute once every group
has its fewest replicas serving (weights take minutes to load), today's autoscaler removed and today's
Deployment scaled to zero, then what the plan no longer makes deleted, NodePools last. A rollback moves to
the before-state with the same steps: today's replicas come back first (and are waited for), its
autoscaler next, then the rest.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import yaml

from advisor.apply.base import ApplyError, LLMIntent, Progress, State, Step
from advisor.apply.kubernetes.applier import KubernetesApi, Ref
from advisor.apply.kubernetes.llm import (
    ACCELERATOR_POOL,
    GROUP_LABEL,
    MODEL_LABEL,
    llm_manifests,
    llm_target,
    validate_llm,
)
from advisor.apply.kubernetes.manifests import Manifest
from advisor.platforms.naming import dns_label
from advisor.platforms.targets import KubernetesTarget

_TODAY_AUTOSCALERS = ("HorizontalPodAutoscaler", "ScaledObject")
_GROUP_KINDS = ("Deployment", "Service", "ScaledObject")
_RANK = {"NodePool": 0, "Deployment": 1, "Service": 1, "ScaledObject": 2, "HTTPRoute": 3}


def project(live: Any, ours: Any) -> Any:
    """``live`` cut down to the fields ``ours`` sets: maps by key, lists of named items by name (items only
    ``live`` has are left out), other lists of maps item by item when as long, anything else whole. A field
    ``ours`` sets that ``live`` lacks is left out (it shows as a change)."""
    if isinstance(ours, dict) and isinstance(live, dict):
        return {k: project(live[k], v) for k, v in ours.items() if k in live}
    if isinstance(ours, list) and isinstance(live, list):
        named = all(isinstance(i, dict) and "name" in i for i in [*ours, *live])
        if named and ours:
            by_name = {i["name"]: i for i in live}
            # items others add (an injected sidecar) are theirs, not a difference
            return [project(by_name[i["name"]], i) for i in ours if i["name"] in by_name]
        if len(ours) == len(live) and all(isinstance(i, dict) for i in [*ours, *live]):
            return [project(a, b) for a, b in zip(live, ours, strict=True)]
    return live


class KubernetesLLMApplier(KubernetesApi):
    """Server-side apply of a language model's objects (module docstring)."""

    kind = "kubernetes-llm"

    def label(self, intent: LLMIntent) -> str:
        target = llm_target(intent)
        groups = len(intent.deployment.groups)
        return f"Kubernetes {target.namespace}/{target.deployment}-* (vLLM, {groups} groups)"

    def _documents(self, intent: LLMIntent) -> list[Manifest]:
        documents = llm_manifests(intent, node_class=self._node_class)
        validate_llm(documents, self._version)
        return documents

    def read(self, intent: LLMIntent) -> State:
        target = llm_target(intent)
        state: State = {}
        for manifest in self._documents(intent):
            ref = Ref.of(manifest)
            live = self._call("GET", ref, missing_ok=True)
            state[ref.key] = None if live is None else project(live.get("spec") or {}, manifest["spec"])
        for key, spec in self._earlier(intent).items():  # an earlier plan's groups and pools
            state.setdefault(key, spec)
        today = Ref("Deployment", target.deployment, target.namespace)
        if target.gateway and today.key not in state:  # without a gateway, nothing moves its traffic
            live = self._call("GET", today, missing_ok=True)
            if live is not None:
                state[today.key] = {"replicas": (live.get("spec") or {}).get("replicas", 1)}
                for kind in _TODAY_AUTOSCALERS:
                    ref = Ref(kind, target.deployment, target.namespace)
                    obj = self._call("GET", ref, missing_ok=True)
                    state[ref.key] = None if obj is None else obj.get("spec")
        return state

    def _earlier(self, intent: LLMIntent) -> dict[str, Any]:
        """Objects advisor made for this model before (its labels; its NodePools by name), whole: those the
        plan no longer makes are deleted, and a rollback makes them again."""
        target = llm_target(intent)
        selector = f"{MODEL_LABEL}={target.deployment},{GROUP_LABEL}"
        out: dict[str, Any] = {}
        for kind in _GROUP_KINDS:
            for obj in self._list(kind, target.namespace, selector):
                out[Ref(kind, obj["metadata"]["name"], target.namespace).key] = obj.get("spec")
        for suffix in ACCELERATOR_POOL.values():
            pool = Ref("NodePool", dns_label(target.namespace, target.deployment, suffix))
            found = self._call("GET", pool, missing_ok=True)
            if found is not None:
                out[pool.key] = found.get("spec")
        return out

    def desired(self, intent: LLMIntent, live: State) -> State:
        target = llm_target(intent)
        want: State = {key: None for key in live}  # what the plan does not make goes
        want.update({Ref.of(m).key: m["spec"] for m in self._documents(intent)})
        today = Ref("Deployment", target.deployment, target.namespace)
        if today.key in live and today.key not in {Ref.of(m).key for m in self._documents(intent)}:
            want[today.key] = {"replicas": 0}
        return want

    def steps(self, intent: LLMIntent, now: State, want: State) -> list[Step]:
        target = llm_target(intent)
        today = Ref("Deployment", target.deployment, target.namespace).key
        today_parts = {today} | {Ref(k, target.deployment, target.namespace).key for k in _TODAY_AUTOSCALERS}
        documents = {Ref.of(m).key: m for m in self._documents(intent)}
        ordered: list[tuple[int, Step]] = []
        for key in dict.fromkeys([*want, *now]):
            ref, before, after = Ref.parse(key), now.get(key), want.get(key)
            if before == after:
                continue
            if key in today_parts:
                rank = self._today_rank(key == today, after, before)
                call = partial(self._today, intent, ref, after, down=rank == 5)
                what = "scale" if key == today else ("delete" if after is None else "server-side apply")
                ordered.append((rank, Step(f"{what} {ref.key} (today's)", call)))
            elif after is None:
                rank = 7 if ref.kind == "NodePool" else (5 if ref.kind == "ScaledObject" else 6)
                ordered.append((rank, Step(f"delete {ref.key}", partial(self._send, ref, None))))
            else:
                body = {**documents.get(key, _head(ref, target)), "spec": after}  # with the manifest's labels
                forward = key in documents and after == documents[key]["spec"]
                if ref.kind == "HTTPRoute" and forward:  # traffic moves once every group serves
                    call = partial(self._route, intent, ref, body)
                    ordered.append(
                        (_RANK[ref.kind], Step(f"wait for the groups, then apply {ref.key}", call))
                    )
                    continue
                step = Step(f"server-side apply {ref.key}", partial(self._send, ref, body))
                ordered.append((_RANK[ref.kind], step))
        return [step for _, step in sorted(ordered, key=lambda pair: pair[0])]

    @staticmethod
    def _today_rank(is_deployment: bool, after: Any, before: Any) -> int:
        """Scaling today's Deployment down goes after the route (5), its autoscaler's removal right before
        (4); restoring it goes first (0), its autoscaler right after (1), before anything is deleted."""
        down = is_deployment and (after or {}).get("replicas", 0) < (before or {}).get("replicas", 0)
        if is_deployment:
            return 5 if down else 0
        return 4 if after is None else 1

    def _today(self, intent: LLMIntent, ref: Ref, after: Any, *, down: bool) -> None:
        """Today's Deployment's replicas or autoscaler. Scaling down first waits for every group to serve;
        scaling back up (a rollback) waits for today's replicas to serve before the groups go."""
        target = llm_target(intent)
        if ref.kind != "Deployment":
            self._send(ref, None if after is None else {**_head(ref, target), "spec": after})
            return
        if down:
            self._wait_for_groups(intent)
        self._send(ref, {**_head(ref, target), "spec": {"replicas": after["replicas"]}})
        if not down:
            self._wait_rollout(ref, time.monotonic() + self._allowance(intent), lambda _m: None)

    def _route(self, intent: LLMIntent, ref: Ref, body: Manifest) -> None:
        self._wait_for_groups(intent)
        self._send(ref, body)

    @staticmethod
    def _allowance(intent: LLMIntent) -> float:
        """How long a replica may take to serve: twice the plan's start-up time, and ten minutes more."""
        return 2 * intent.deployment.serving.start_up_s + 600

    def _wait_for_groups(self, intent: LLMIntent) -> None:
        """Every group rolled out with at least its fewest replicas available (KEDA raises it there)."""
        namespace, deadline = llm_target(intent).namespace, time.monotonic() + self._allowance(intent)
        for g in intent.deployment.groups:
            ref = Ref("Deployment", g.name, namespace)
            while True:
                self._wait_rollout(ref, deadline, lambda _m: None)
                obj = self._call("GET", ref) or {}
                available = (obj.get("status") or {}).get("availableReplicas", 0)
                if available >= g.min_replicas:
                    break
                if time.monotonic() >= deadline:
                    raise ApplyError(
                        f"{ref.key} has {available} of {g.min_replicas} replicas serving", where=ref.key
                    )
                time.sleep(min(self._poll_s, max(0.0, deadline - time.monotonic())))

    def settle(self, intent: LLMIntent, want: State, deadline_s: float, progress: Progress) -> None:
        """Wait for every group Deployment's rollout (a group a rollback removed has none to wait for)."""
        namespace = llm_target(intent).namespace
        for g in intent.deployment.groups:
            self._wait_rollout(Ref("Deployment", g.name, namespace), deadline_s, progress, missing_ok=True)

    def render(self, intent: LLMIntent) -> Mapping[str, str]:
        """The manifests as YAML files under ``<model>/`` (what ``kubectl apply --server-side`` takes)."""
        folder = dns_label(intent.name)
        out: dict[str, str] = {}
        for manifest in self._documents(intent):
            ref = Ref.of(manifest)
            out[f"{folder}/{ref.kind.lower()}-{ref.name}.yaml"] = yaml.safe_dump(manifest, sort_keys=False)
        return out


def _head(ref: Ref, target: KubernetesTarget) -> Manifest:
    """An object's apply configuration head; a group's objects carry the labels advisor finds them by."""
    metadata: dict[str, Any] = {"name": ref.name, **({"namespace": ref.namespace} if ref.namespace else {})}
    if ref.kind in _GROUP_KINDS and ref.name != target.deployment:
        metadata["labels"] = {MODEL_LABEL: target.deployment, GROUP_LABEL: ref.name}
    return {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": metadata}
