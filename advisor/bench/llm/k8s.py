"""Measuring an LLM on real GPU instances: one Kubernetes Job per instance type, vLLM beside the bench client.

``advisor bench jobs --emit k8s DIR --llm-model HF_ID`` writes one Job per instance type. Its pod runs

* the model server as a **native sidecar** (an init container with ``restartPolicy: Always``, Kubernetes
  >= 1.29): vLLM's OpenAI-compatible server by default (:data:`VLLM_IMAGE`; pass your own build with
  ``--server-image``), on port 8000, with the instance type's GPUs (``nvidia.com/gpu`` requests = limits =
  the tensor-parallel size), a memory-backed ``/dev/shm`` (PyTorch and NCCL share tensors between the
  tensor-parallel workers through it; a container's default is 64 MiB) and a startup probe on
  ``GET /health`` that allows :data:`STARTUP_BUDGET_S` for downloading and loading the weights. The
  kubelet starts the next container only once a sidecar's startup probe has passed, so the client never
  measures a server that is still loading;
* the bench client as the main container: ``advisor bench run --endpoint http://127.0.0.1:8000/v1/chat/
  completions --api openai-chat ... --json --quiet`` with ``--shapes TYPE`` as the label, which prints the
  :class:`~advisor.bench.llm.records.LLMBenchReport` JSON on stdout exactly as ``bench run --json`` does.
  When it exits the kubelet stops the sidecar and the Job completes (failed when the client failed);
  ``kubectl logs job/NAME > NAME.json`` (the pod names the client its default container) then
  ``advisor bench import NAME.json`` stores the report.

The pod is pinned to its type (``node.kubernetes.io/instance-type``, ``kubernetes.io/arch``, and
``karpenter.sh/nodepool`` with ``--node-pool``) and tolerates the ``nvidia.com/gpu`` taint that GPU node
groups carry. The server requests what the node leaves allocatable (the share of :mod:`advisor.bench.k8s`)
less the client's small request. The node's disk must hold the weights: vLLM downloads them into the
container's file system.

vLLM's flags were checked against its source: ``--model``, ``--max-model-len``, ``--tensor-parallel-size``
and ``--gpu-memory-utilization`` in ``vllm/engine/arg_utils.py`` (``EngineArgs.add_cli_args``) at commit
99d7eb5d6a512cfcc5a2b104f24ebf2d6cda772b (the v0.11 line: it announces removals for v0.12.0, hence the
pinned :data:`VLLM_VERSION`); ``--port`` (default 8000) in ``vllm/entrypoints/openai/cli_args.py``
(``FrontendArgs``, a later snapshot, 00522333); ``GET /health`` answers 200 once the engine is up
(``vllm/entrypoints/openai/api_server.py``, ``vllm/entrypoints/serve/instrumentator/health.py`` later). The
image's entrypoint (``vllm serve``, or ``python3 -m vllm.entrypoints.openai.api_server`` in older images)
takes these flags; the image of another server must take them too.

Every manifest is validated with :func:`advisor.bench.k8s.validate_manifest` (kubernetes-validate, strict)
before any file is written.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from advisor.bench.k8s import ALLOCATABLE_REQUEST_SHARE, write_manifests
from advisor.bench.llm.records import LLMSLO, Api
from advisor.domain import InputModel, InstanceType
from advisor.errors import InputError
from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION
from advisor.platforms.naming import MAX_LABEL_LENGTH, dns_label, kubernetes_arch, label_value
from advisor.platforms.nodes import allocatable
from advisor.platforms.targets import Orchestrator

VLLM_VERSION = "0.11.0"
VLLM_IMAGE = f"vllm/vllm-openai:v{VLLM_VERSION}"
SERVER_PORT = 8000
HEALTH_PATH = "/health"
CHAT_PATH = "/v1/chat/completions"
# Weights download and load: 240 probes 10 s apart = 40 minutes before the kubelet gives up on the server.
STARTUP_PERIOD_S = 10
STARTUP_FAILURES = 240
STARTUP_BUDGET_S = STARTUP_PERIOD_S * STARTUP_FAILURES
# One capacity search at its longest with LLMBenchConfig's defaults: 16 points x (300 s window + 30 s drain
# + 2 s warm-up) = 5,312 s; rounded up. --per-bucket adds one search per bucket (bench run: 8 at most).
SEARCH_WORST_S = 5400
PER_BUCKET_SEARCHES = 1 + 8
CLIENT_CPU_MILLI = 1000  # one asyncio process sends and reads the streams
CLIENT_MEMORY_MIB = 1024
# /dev/shm: 2 GiB per tensor-parallel rank (NCCL's buffers grow with the ranks); a cap, the node's memory
# is taken only as it is used
SHM_GIB_PER_GPU = 2
CLIENT_HOME = "/tmp/advisor"
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


class LLMJobSpec(InputModel):
    """What the Jobs of one ``bench jobs --llm-model`` call share: the server, the client, the SLO, sizes."""

    hf_model: str = Field(min_length=1, description="Hugging Face model id vLLM serves (the label stored)")
    image: str = Field(min_length=1, description="container image with advisor installed (the client)")
    slo: LLMSLO
    server_image: str = Field(default=VLLM_IMAGE, min_length=1, description="OpenAI-compatible server image")
    tensor_parallel_size: int | None = Field(
        default=None, ge=1, description="GPUs per server (default: every GPU of the instance type)"
    )
    max_model_len: int | None = Field(
        default=None, ge=1, description="context length vLLM reserves KV cache for (default: the model's)"
    )
    gpu_memory_utilization: float = Field(
        default=0.9, gt=0, le=1, description="share of GPU memory vLLM takes"
    )
    node_pool: str | None = Field(default=None, description="Karpenter NodePool to pin the pods to")
    hf_token_secret: str | None = Field(
        default=None, description="Secret whose key 'token' is HF_TOKEN (as in vLLM's Kubernetes guide)"
    )
    input_tokens: float | None = Field(default=None, ge=1, le=1_000_000, description="prompt tokens (mean)")
    output_tokens: float | None = Field(default=None, ge=1, le=1_000_000, description="output tokens (mean)")
    dataset: str | None = Field(default=None, min_length=1, description="token trace path inside the image")
    per_bucket: bool = False
    quick: bool = False
    namespace: str = "default"


def llm_job_name(model: str, instance_type: str) -> str:
    """A DNS-1123 label, the type first: ``advisor-llm-g5-12xlarge-meta-llama-llama-3-1-8b-instruct``.

    A name cut at 63 characters ends in 8 hex digits of the model id's SHA-256, so two long ids sharing a
    prefix get two names.
    """
    name = dns_label("advisor-llm", instance_type, model)
    if len(name) < MAX_LABEL_LENGTH - 1:  # dns_label cuts to 63 and strips a trailing '-': not cut
        return name
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"{name[: MAX_LABEL_LENGTH - len(digest) - 1].rstrip('-')}-{digest}"


def tensor_parallel_size(spec: LLMJobSpec, itype: InstanceType) -> int:
    """GPUs one server uses on ``itype``: ``spec``'s, else all of the type's; InputError when impossible."""
    gpus = _whole_gpus(itype)
    size = spec.tensor_parallel_size or gpus
    if size > gpus or gpus % size:
        raise InputError(
            f"a tensor-parallel size of {size} does not fit {itype.name}, which has {gpus} GPU"
            f"{'s' if gpus != 1 else ''}",
            where="--tensor-parallel-size",
            fix=f"use a divisor of {gpus}, e.g. {gpus}, or pick a type with more GPUs",
        )
    return size


def llm_job_manifest(spec: LLMJobSpec, itype: InstanceType) -> dict[str, Any]:
    """The Job measuring ``spec.hf_model`` on ``itype`` (module docstring); InputError where it cannot run."""
    check_spec(spec)
    tp = tensor_parallel_size(spec, itype)
    labels = {
        "app.kubernetes.io/name": "advisor-bench",
        "app.kubernetes.io/component": "benchmark",
        "advisor.io/bench": "llm",
        "advisor.io/model": label_value(spec.hf_model),
        "advisor.io/instance-type": itype.name,
    }
    node_selector = {
        "node.kubernetes.io/instance-type": itype.name,
        "kubernetes.io/arch": kubernetes_arch(itype.arch),
    }
    if spec.node_pool is not None:
        node_selector["karpenter.sh/nodepool"] = spec.node_pool
    searches = PER_BUCKET_SEARCHES if spec.per_bucket else 1
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": llm_job_name(spec.hf_model, itype.name),
            "namespace": spec.namespace,
            "labels": labels,
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": STARTUP_BUDGET_S + searches * SEARCH_WORST_S,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {
                    "labels": dict(labels),  # a copy: no YAML anchors in the file
                    # `kubectl logs job/NAME` reads the client's stdout, the report, not the server's
                    "annotations": {"kubectl.kubernetes.io/default-container": "bench"},
                },
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": node_selector,
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "initContainers": [_server(spec, itype, tp)],
                    "containers": [_client(spec, itype)],
                    "volumes": [
                        {
                            "name": "shm",
                            "emptyDir": {"medium": "Memory", "sizeLimit": f"{SHM_GIB_PER_GPU * tp}Gi"},
                        }
                    ],
                },
            },
        },
    }


def write_llm_jobs(
    directory: Path, spec: LLMJobSpec, itypes: list[InstanceType], *, k8s_version: str = DEFAULT_K8S_VERSION
) -> list[Path]:
    """Validate every Job first, then write one ``<job-name>.yaml`` per type; returns the paths written."""
    with_gpus = [t for t in itypes if t.gpu_count >= 1]
    for itype in itypes:
        if itype.gpu_count == 0 and with_gpus:
            g = with_gpus[0]
            raise InputError(
                f"{g.name} has {g.gpu_count:g} GPU{'s' if g.gpu_count != 1 else ''}; {itype.name} has none",
                where="--instance-types",
                fix=f"an LLM Job needs GPU instance types: drop {itype.name}",
            )
    return write_manifests(directory, [llm_job_manifest(spec, t) for t in itypes], k8s_version=k8s_version)


def check_spec(spec: LLMJobSpec) -> None:
    """InputError, at the flag, for what the fields alone do not rule out (sizes, SLO, Kubernetes names)."""
    if not spec.slo.bounds():
        raise InputError(
            "an LLM Job needs a latency bound",
            where="--slo-ttft-p99-ms/--slo-tpot-p99-ms",
            fix="pass e.g. --slo-ttft-p99-ms 2000 --slo-tpot-p99-ms 100",
        )
    if spec.dataset is not None and (spec.input_tokens is not None or spec.output_tokens is not None):
        raise InputError(
            "--dataset gives the sizes",
            where="--dataset",
            fix="drop --input-tokens/--output-tokens or --dataset",
        )
    if spec.per_bucket and spec.dataset is None:
        raise InputError("--per-bucket needs --dataset", where="--per-bucket", fix="pass a token trace")
    longest = (spec.input_tokens or 0) + (spec.output_tokens or 0)
    if spec.max_model_len is not None and longest > spec.max_model_len:
        raise InputError(
            f"requests of {longest:g} tokens do not fit a context of {spec.max_model_len}",
            where="--max-model-len",
            fix=f"raise --max-model-len to at least {int(longest) + 1}",
        )
    if spec.node_pool is not None and not _LABEL_VALUE.match(spec.node_pool):
        raise InputError(
            f"{spec.node_pool!r} is not a label value", where="--node-pool", fix="use a NodePool's name"
        )
    if spec.hf_token_secret is not None and not _SECRET_NAME.match(spec.hf_token_secret):
        raise InputError(
            f"{spec.hf_token_secret!r} is not a Secret name",
            where="--hf-token-secret",
            fix="use lowercase letters, digits, '-' and '.', e.g. hf-token",
        )


def _whole_gpus(itype: InstanceType) -> int:
    if itype.gpu_count == 0:
        raise InputError(
            f"{itype.name} has no GPU",
            where="--instance-types",
            fix="an LLM Job needs GPU instance types, e.g. g5.12xlarge (4 A10G) or p4d.24xlarge (8 A100)",
        )
    if itype.gpu_count < 1 or itype.gpu_count != int(itype.gpu_count):
        raise InputError(
            f"{itype.name} has {itype.gpu_count:g} of a {itype.gpu_model or 'GPU'}; vLLM needs whole GPUs",
            where="--instance-types",
            fix="pick a type with one or more whole GPUs",
        )
    return int(itype.gpu_count)


def _server(spec: LLMJobSpec, itype: InstanceType, tp: int) -> dict[str, Any]:
    args = ["--model", spec.hf_model, "--tensor-parallel-size", str(tp), "--port", str(SERVER_PORT)]
    if spec.max_model_len is not None:
        args += ["--max-model-len", str(spec.max_model_len)]
    args += ["--gpu-memory-utilization", f"{spec.gpu_memory_utilization:g}"]
    node = allocatable(itype, Orchestrator.EKS)
    cpu_m = int(node.vcpu * 1000 * ALLOCATABLE_REQUEST_SHARE) - CLIENT_CPU_MILLI
    mem_mib = int(node.memory_gib * 1024 * ALLOCATABLE_REQUEST_SHARE) - CLIENT_MEMORY_MIB
    gpus = {"nvidia.com/gpu": str(tp)}
    server: dict[str, Any] = {
        "name": "server",
        "image": spec.server_image,
        "restartPolicy": "Always",  # a native sidecar: stopped once the client exits
        "args": args,
        "ports": [{"name": "http", "containerPort": SERVER_PORT}],
        "resources": {
            "requests": {"cpu": f"{max(cpu_m, 100)}m", "memory": f"{max(mem_mib, 256)}Mi", **gpus},
            "limits": gpus,
        },
        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
        "startupProbe": {
            "httpGet": {"path": HEALTH_PATH, "port": SERVER_PORT},
            "periodSeconds": STARTUP_PERIOD_S,
            "failureThreshold": STARTUP_FAILURES,
            "timeoutSeconds": 5,
        },
    }
    if spec.hf_token_secret is not None:
        server["env"] = [
            {
                "name": "HF_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": spec.hf_token_secret, "key": "token"}},
            }
        ]
    return server


def client_args(spec: LLMJobSpec, itype: InstanceType) -> list[str]:
    """The ``advisor`` arguments of the client container: ``bench run`` against the sidecar, JSON out."""
    args = [
        "--home", CLIENT_HOME, "bench", "run",
        "--endpoint", f"http://127.0.0.1:{SERVER_PORT}{CHAT_PATH}", "--api", Api.CHAT.value,
        "--model", spec.hf_model, "--model-name", spec.hf_model, "--shapes", itype.name,
    ]  # fmt: skip
    for flag, value in (("--input-tokens", spec.input_tokens), ("--output-tokens", spec.output_tokens)):
        if value is not None:
            args += [flag, f"{value:g}"]
    if spec.dataset is not None:
        args += ["--dataset", spec.dataset]
    slo = spec.slo
    bounds = (
        ("--slo-ttft-p99-ms", slo.ttft_p99_ms),
        ("--slo-tpot-p99-ms", slo.tpot_p99_ms),
        ("--slo-e2e-p99-ms", slo.e2e_p99_ms),
        ("--slo-attainment", slo.min_attainment),
    )
    for flag, bound in bounds:
        if bound is not None:
            args += [flag, f"{bound:g}"]
    if slo.quantile != 0.99:
        args += ["--slo-percentile", f"{slo.quantile * 100:g}"]
    args += ["--max-error-rate", f"{slo.max_error_rate:g}"]
    if spec.per_bucket:
        args.append("--per-bucket")
    if spec.quick:
        args.append("--quick")
    return [*args, "--json", "--quiet"]


def _client(spec: LLMJobSpec, itype: InstanceType) -> dict[str, Any]:
    return {
        "name": "bench",
        "image": spec.image,
        "command": ["advisor"],
        "args": client_args(spec, itype),
        "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}],  # prompts need no tokenizer
        "resources": {"requests": {"cpu": f"{CLIENT_CPU_MILLI}m", "memory": f"{CLIENT_MEMORY_MIB}Mi"}},
    }
