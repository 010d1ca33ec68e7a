"""Pool names, node labels, taints and the pod terms that land a model on its pool: defined once.

Every pool advisor proposes is kept apart for inference: its nodes carry ``<prefix>/pool``,
``<prefix>/workload=inference`` and ``<prefix>/accelerator`` labels and the ``<prefix>/inference`` taint;
a dedicated pool also carries its model's label and taint, and GPU (Neuron) pools the ``nvidia.com/gpu``
(``aws.amazon.com/neuron``) taint the device plugins' docs use. A model's pods get the node selector of
their pool (or of the inference workload when they span several) plus their architecture, and a toleration
for every taint of the pools they use. Names follow :mod:`advisor.platforms.naming`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from advisor.domain import Arch, ReplicaResources
from advisor.optimize.packing.types import PackingOptions
from advisor.platforms.naming import dns_label, kubernetes_arch
from advisor.recommendation.pools import Taint, Toleration

AcceleratorKind = Literal["cpu", "gpu", "accel"]
_DEVICE_TAINT = {"gpu": "nvidia.com/gpu", "accel": "aws.amazon.com/neuron"}


def accelerator_kind(resources: ReplicaResources) -> AcceleratorKind:
    """What a replica needs: a GPU, another accelerator (GPU memory without GPUs), or neither."""
    if resources.gpu_count > 0:
        return "gpu"
    return "accel" if resources.gpu_memory_gib > 0 else "cpu"


def pool_name(options: PackingOptions, kind: AcceleratorKind, model: str | None = None) -> str:
    """``inference-fraud-scorer`` for a model's own pool, ``inference-shared-cpu`` for a shared one."""
    if model is not None:
        return f"{options.pool_prefix}-{dns_label(model)}"
    return f"{options.pool_prefix}-shared-{kind}"


def pool_labels(
    options: PackingOptions, name: str, kind: AcceleratorKind, model: str | None = None
) -> dict[str, str]:
    """The labels every node of the pool carries."""
    lp = options.label_prefix
    labels = {f"{lp}/pool": name, f"{lp}/workload": "inference", f"{lp}/accelerator": kind}
    if model is not None:
        labels[f"{lp}/model"] = dns_label(model)
    return labels


def pool_taints(options: PackingOptions, kind: AcceleratorKind, model: str | None = None) -> list[Taint]:
    """The taints that keep other workloads (and other models, for a dedicated pool) off the pool."""
    lp = options.label_prefix
    taints = [Taint(key=f"{lp}/inference", value="true")]
    if model is not None:
        taints.append(Taint(key=f"{lp}/model", value=dns_label(model)))
    if kind in _DEVICE_TAINT:
        taints.append(Taint(key=_DEVICE_TAINT[kind], value="true"))
    return taints


def node_selector(options: PackingOptions, pools: list[str], arch: Arch | str | None) -> dict[str, str]:
    """The pod's node selector: its one pool (or any inference node when it spans pools) and its arch."""
    lp = options.label_prefix
    selector = {f"{lp}/pool": pools[0]} if len(pools) == 1 else {f"{lp}/workload": "inference"}
    if arch is not None:
        selector["kubernetes.io/arch"] = kubernetes_arch(arch)
    return selector


def tolerations(taints: Iterable[Taint]) -> list[Toleration]:
    """One toleration per distinct taint, sorted by key and value."""
    unique = {(t.key, t.value): Toleration(key=t.key, value=t.value, effect=t.effect) for t in taints}
    return [unique[k] for k in sorted(unique, key=lambda kv: (kv[0], kv[1] or ""))]
