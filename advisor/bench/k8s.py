"""Measuring on real instances at scale: one Kubernetes Job per (model, instance type); reading results back.

``advisor bench jobs --emit k8s DIR`` writes one Job manifest per pair. Each Job is pinned to its instance
type with the well-known node label ``node.kubernetes.io/instance-type`` (and ``kubernetes.io/arch``), runs
the harness with the model server inside the same pod (``advisor bench run --model M --shapes T
--emulation none --json --quiet``: the node *is* the shape, nothing is emulated) and prints the
:class:`BenchReport` JSON on stdout. ``kubectl logs job/NAME > NAME.json`` then
``advisor bench import NAME.json`` stores it.

Every manifest is validated against the Kubernetes JSON schemas (``kubernetes-validate``, strict mode) before
it is written. Requests take 95% of what the node leaves allocatable on EKS (the kubelet reserve, eviction
threshold and default daemonsets of :mod:`advisor.platforms.nodes`), so the pod fits the node it is pinned
to beside the kubelet and daemonsets, with room for a small system pod; there are no limits, so the harness
may use the whole node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from advisor.bench.measurements import BenchReport
from advisor.domain import SLO, InstanceType
from advisor.errors import InputError
from advisor.paths import ensure_dir, read_text, write_text
from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION, check_k8s_version
from advisor.platforms.naming import dns_label, kubernetes_arch, label_value
from advisor.platforms.nodes import allocatable
from advisor.platforms.targets import Orchestrator

ALLOCATABLE_REQUEST_SHARE = 0.95
ACTIVE_DEADLINE_S = 1800


def job_name(model: str, instance_type: str) -> str:
    """A DNS-1123 label: ``advisor-bench-embedding-c6i-large`` (at most 63 characters)."""
    return dns_label("advisor-bench", model, instance_type)


def job_manifest(
    model: str,
    itype: InstanceType,
    slo: SLO,
    *,
    image: str,
    namespace: str = "default",
    quick: bool = False,
) -> dict[str, Any]:
    """The Job for one (model, instance type); GPU types also request their GPUs (``nvidia.com/gpu``)."""
    args = [
        "--home",
        "/tmp/advisor",
        "bench",
        "run",
        "--model",
        model,
        "--shapes",
        itype.name,
        "--emulation",
        "none",
        "--slo-p99-ms",
        f"{slo.latency_p99_ms:g}",
        "--max-error-rate",
        f"{slo.max_error_rate:g}",
        "--json",
        "--quiet",
    ]
    if quick:
        args.append("--quick")
    node = allocatable(itype, Orchestrator.EKS)
    requests: dict[str, str] = {
        "cpu": f"{max(int(node.vcpu * 1000 * ALLOCATABLE_REQUEST_SHARE), 100)}m",
        "memory": f"{max(int(node.memory_gib * 1024 * ALLOCATABLE_REQUEST_SHARE), 256)}Mi",
    }
    resources: dict[str, Any] = {"requests": requests}
    if itype.gpu_count >= 1:
        resources["limits"] = {"nvidia.com/gpu": str(int(itype.gpu_count))}
    labels = {
        "app.kubernetes.io/name": "advisor-bench",
        "app.kubernetes.io/component": "benchmark",
        "advisor.io/model": label_value(model),
        "advisor.io/instance-type": itype.name,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(model, itype.name), "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": ACTIVE_DEADLINE_S,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": {
                        "node.kubernetes.io/instance-type": itype.name,
                        "kubernetes.io/arch": kubernetes_arch(itype.arch),
                    },
                    "containers": [
                        {
                            "name": "bench",
                            "image": image,
                            "command": ["advisor"],
                            "args": args,
                            "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}],
                            "resources": resources,
                        }
                    ],
                },
            },
        },
    }


def validate_manifest(
    manifest: dict[str, Any], *, where: str, k8s_version: str = DEFAULT_K8S_VERSION
) -> None:
    """InputError naming the field path when the manifest breaks the Kubernetes schema."""
    import kubernetes_validate

    check_k8s_version(k8s_version)
    try:
        kubernetes_validate.validate(manifest, k8s_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "(document)"
        raise InputError(
            f"invalid Kubernetes manifest: {exc.message}",
            where=f"{where}:{path}",
            fix="report this as a bug in advisor's Job template",
        ) from None
    except (
        kubernetes_validate.SchemaNotFoundError,
        kubernetes_validate.utils.VersionNotSupportedError,
    ) as exc:
        raise InputError(
            f"no Kubernetes schema for version {k8s_version}: {exc}",
            where="--k8s-version",
            fix=f"use a version up to {kubernetes_validate.latest_version()}",
        ) from None


def write_jobs(
    directory: Path,
    models: list[str],
    itypes: list[InstanceType],
    slo: SLO,
    *,
    image: str,
    namespace: str = "default",
    quick: bool = False,
    k8s_version: str = DEFAULT_K8S_VERSION,
) -> list[Path]:
    """Validate and write one ``<job-name>.yaml`` per (model, type); returns the paths written."""
    jobs = [
        job_manifest(model, itype, slo, image=image, namespace=namespace, quick=quick)
        for model in models
        for itype in itypes
    ]
    return write_manifests(directory, jobs, k8s_version=k8s_version)


def write_manifests(
    directory: Path, manifests: list[dict[str, Any]], *, k8s_version: str = DEFAULT_K8S_VERSION
) -> list[Path]:
    """Validate every manifest first (nothing is written if one is wrong), then write ``<name>.yaml`` each."""
    for manifest in manifests:
        validate_manifest(manifest, where=f"{manifest['metadata']['name']}.yaml", k8s_version=k8s_version)
    ensure_dir(directory, "the manifests folder")
    return [
        write_text(
            directory / f"{m['metadata']['name']}.yaml", yaml.safe_dump(m, sort_keys=False), "the manifest"
        )
        for m in manifests
    ]


def read_report(path: Path) -> BenchReport:
    """A BenchReport from a file of ``bench run --json`` output, also when pod logs wrap it in other lines."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise InputError(f"the results file {what}", where=str(path), fix="pass a `bench run --json` file")
    text = read_text(path, "results file")
    try:
        document = extract_json(text)
    except RecursionError:
        raise InputError("the results file is nested too deeply to read", where=str(path)) from None
    if document is None:
        raise InputError(
            "no JSON document found",
            where=str(path),
            fix="save the output of `advisor bench run ... --json` (e.g. `kubectl logs job/NAME`)",
        )
    from pydantic import ValidationError

    try:
        return BenchReport.model_validate(document)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(document)"
        raise InputError(
            f"not a bench report: {err['msg']}",
            where=f"{path}:{field}",
            fix="import the JSON printed by `advisor bench run --json`",
        ) from None


def extract_json(text: str) -> Any:
    """The JSON document in ``text``: all of it, or the first ``{`` ... ``}`` block of lines (pod logs)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("{")]
    ends = [i for i, line in enumerate(lines) if line.startswith("}")]
    for s in starts:
        for e in reversed(ends):
            if e < s:
                break
            try:
                return json.loads("\n".join(lines[s : e + 1]))
            except json.JSONDecodeError:
                continue
    return None
