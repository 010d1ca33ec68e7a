"""The Kubernetes applier of language models (kind ``kubernetes-llm``): the objects of
:mod:`advisor.apply.kubernetes.llm` created and changed by server-side apply, and today's Deployment
scaled to zero once the groups serve.

What it owns (the state: an entry per object, keyed ``Kind namespace/name``; None: the object is absent):
every object :func:`~advisor.apply.kubernetes.llm.llm_manifests` makes, as its ``spec`` read back only
where advisor sets it (an API server's defaults are not advisor's settings), and, when a Deployment named
as the target runs today, its ``replicas`` (0 once the groups serve) and its autoscaler (an HPA or a
ScaledObject of the same name: absent, or it would scale the Deployment up again).

Order: NodePools, the groups' Deployments and Services, the HTTPRoute, the ScaledObjects, then today's
autoscaler removed and today's Deployment scaled to zero, after the groups' rollouts complete (the first
replica of each group must serve before the old one stops: weights take minutes to load). A rollback
moves to the before-state with the same steps: today's replicas come back first and its autoscaler next,
the objects absent before are deleted, NodePools last.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import yaml

from advisor.apply.base import LLMIntent, Progress, State, Step
from advisor.apply.kubernetes.applier import KubernetesApi, Ref
from advisor.apply.kubernetes.llm import llm_manifests, llm_target, validate_llm
from advisor.apply.kubernetes.manifests import Manifest
from advisor.platforms.naming import dns_label

_TODAY_AUTOSCALERS = ("HorizontalPodAutoscaler", "ScaledObject")
_RANK = {"NodePool": 0, "Deployment": 1, "Service": 1, "HTTPRoute": 2, "ScaledObject": 3}


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
        today = Ref("Deployment", target.deployment, target.namespace)
        if today.key not in state:
            live = self._call("GET", today, missing_ok=True)
            if live is not None:
                state[today.key] = {"replicas": (live.get("spec") or {}).get("replicas", 1)}
                for kind in _TODAY_AUTOSCALERS:
                    ref = Ref(kind, target.deployment, target.namespace)
                    obj = self._call("GET", ref, missing_ok=True)
                    state[ref.key] = None if obj is None else obj.get("spec")
        return state

    def desired(self, intent: LLMIntent, live: State) -> State:
        target = llm_target(intent)
        want: State = {Ref.of(m).key: m["spec"] for m in self._documents(intent)}
        today = Ref("Deployment", target.deployment, target.namespace)
        if today.key in live and today.key not in want:
            want[today.key] = {"replicas": 0}
            for kind in _TODAY_AUTOSCALERS:
                want[Ref(kind, target.deployment, target.namespace).key] = None
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
                call = partial(self._today, intent, ref, after, wait=rank == 5)
                what = "scale" if key == today else ("delete" if after is None else "server-side apply")
                ordered.append((rank, Step(f"{what} {ref.key} (today's)", call)))
            elif after is None:
                rank = 6 if ref.kind == "NodePool" else 4
                ordered.append((rank, Step(f"delete {ref.key}", partial(self._send, ref, None))))
            else:
                body = {**documents.get(key, _head(ref)), "spec": after}  # with the manifest's labels
                step = Step(f"server-side apply {ref.key}", partial(self._send, ref, body))
                ordered.append((_RANK[ref.kind], step))
        return [step for _, step in sorted(ordered, key=lambda pair: pair[0])]

    @staticmethod
    def _today_rank(is_deployment: bool, after: Any, before: Any) -> int:
        """Scaling today's Deployment down goes last (5), after its autoscaler is gone (4); restoring it
        goes first (0), its autoscaler right after (1)."""
        down = is_deployment and (after or {}).get("replicas", 0) < (before or {}).get("replicas", 0)
        if is_deployment:
            return 5 if down else 0
        return 4 if after is None else 1

    def _today(self, intent: LLMIntent, ref: Ref, after: Any, *, wait: bool) -> None:
        """Today's Deployment's replicas or autoscaler; scaling down first waits for every group to serve."""
        if ref.kind != "Deployment":
            self._send(ref, None if after is None else {**_head(ref), "spec": after})
            return
        if wait:
            self._wait_for_groups(intent)
        self._send(ref, {**_head(ref), "spec": {"replicas": after["replicas"]}})

    def _wait_for_groups(self, intent: LLMIntent) -> None:
        limit_s = 2 * intent.deployment.serving.start_up_s + 600
        self.settle(intent, {}, time.monotonic() + limit_s, lambda _m: None)

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


def _head(ref: Ref) -> Manifest:
    metadata = {"name": ref.name, **({"namespace": ref.namespace} if ref.namespace else {})}
    return {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": metadata}
