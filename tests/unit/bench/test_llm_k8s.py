"""LLM Jobs: vLLM as a native sidecar on the type's GPUs, the bench client as the main container, validated.

The client's arguments are parsed back by the real ``advisor bench run`` command (click's parser, without
running it), so a flag renamed there fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.core import TyperCommand, TyperGroup

from advisor.bench.k8s import ACTIVE_DEADLINE_S, validate_manifest
from advisor.bench.llm.k8s import (
    PER_BUCKET_SEARCHES,
    SEARCH_WORST_S,
    STARTUP_BUDGET_S,
    VLLM_IMAGE,
    LLMJobSpec,
    client_args,
    llm_job_manifest,
    llm_job_name,
    write_llm_jobs,
)
from advisor.bench.llm.records import LLMSLO
from advisor.cli.app import app
from advisor.errors import InputError
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from tests.helpers import assert_one_line_error, run_cli

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SLO = LLMSLO(ttft_p99_ms=500, tpot_p99_ms=50, max_error_rate=0.001)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


def _spec(**kw: Any) -> LLMJobSpec:
    values: dict[str, Any] = {"hf_model": MODEL, "image": "advisor:0.1", "slo": SLO}
    return LLMJobSpec(**(values | kw))


def _pod(job: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


def _bench_run() -> TyperCommand:
    """The real ``advisor bench run`` command object (typer's click)."""
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    bench = root.commands["bench"]
    assert isinstance(bench, TyperGroup)
    run = bench.commands["run"]
    assert isinstance(run, TyperCommand)
    return run


@pytest.mark.parametrize(("itype", "gpus"), [("g5.12xlarge", 4), ("p4d.24xlarge", 8)])
def test_jobs_run_vllm_as_a_sidecar_on_every_gpu_of_the_type(catalog: Catalog, itype: str, gpus: int) -> None:
    job = llm_job_manifest(_spec(input_tokens=256, output_tokens=128), catalog.instance(itype))
    validate_manifest(job, where="job.yaml")  # kubernetes-validate, strict
    pod = _pod(job)
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": itype, "kubernetes.io/arch": "amd64"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    [server] = pod["initContainers"]
    assert server["restartPolicy"] == "Always"  # a native sidecar: the Job ends when the client does
    assert server["image"] == VLLM_IMAGE
    assert server["resources"]["requests"]["nvidia.com/gpu"] == str(gpus)
    assert server["resources"]["limits"] == {"nvidia.com/gpu": str(gpus)}
    args = server["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == str(gpus)
    assert args[args.index("--model") + 1] == MODEL and args[args.index("--port") + 1] == "8000"
    assert "--max-model-len" not in args  # not given: the model's own
    probe = server["startupProbe"]
    assert probe["httpGet"] == {"path": "/health", "port": 8000}
    assert probe["failureThreshold"] * probe["periodSeconds"] >= 30 * 60  # weights load for minutes
    [shm] = pod["volumes"]
    assert shm["emptyDir"]["medium"] == "Memory" and server["volumeMounts"] == [
        {"name": "shm", "mountPath": "/dev/shm"}
    ]
    assert "env" not in server  # no token unless asked
    [client] = pod["containers"]
    assert client["image"] == "advisor:0.1" and client["command"] == ["advisor"]
    # `kubectl logs job/NAME` must print the client's report, not vLLM's log
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/default-container"] == client["name"]
    assert "nvidia.com/gpu" not in client["resources"]["requests"]
    assert job["spec"]["activeDeadlineSeconds"] > ACTIVE_DEADLINE_S
    assert job["metadata"]["labels"]["advisor.io/instance-type"] == itype


def test_the_server_and_the_client_fit_the_node_together(catalog: Catalog) -> None:
    # g5.12xlarge: 48 vCPU, 192 GiB; the pod's requests are the sum of the sidecar's and the client's.
    pod = _pod(llm_job_manifest(_spec(), catalog.instance("g5.12xlarge")))
    requests = [c["resources"]["requests"] for c in pod["initContainers"] + pod["containers"]]
    assert sum(int(r["cpu"].removesuffix("m")) for r in requests) < 48_000
    assert sum(int(r["memory"].removesuffix("Mi")) for r in requests) < 192 * 1024


def test_client_args_parse_back_through_bench_run(catalog: Catalog) -> None:
    spec = _spec(dataset="/data/azure_conv.csv", per_bucket=True, quick=True)
    args = client_args(spec, catalog.instance("p4d.24xlarge"))
    assert args[:4] == ["--home", "/tmp/advisor", "bench", "run"]
    ctx = _bench_run().make_context("run", args[4:])  # parses and converts; the command does not run
    params = ctx.params
    assert params["endpoint"] == "http://127.0.0.1:8000/v1/chat/completions"
    assert (params["api"], params["model"], params["model_name"]) == ("openai-chat", MODEL, MODEL)
    assert params["shapes"] == "p4d.24xlarge"
    assert (params["slo_ttft_p99_ms"], params["slo_tpot_p99_ms"]) == (500.0, 50.0)
    assert params["max_error_rate"] == 0.001
    assert params["dataset"] == Path("/data/azure_conv.csv") and params["input_tokens"] is None
    assert params["per_bucket"] and params["quick"] and params["as_json"] and params["quiet"]
    sized = client_args(_spec(input_tokens=1024, output_tokens=256), catalog.instance("g5.12xlarge"))
    params = _bench_run().make_context("run", sized[4:]).params
    assert (params["input_tokens"], params["output_tokens"], params["dataset"]) == (1024.0, 256.0, None)
    assert not params["per_bucket"] and not params["quick"]


def test_the_deadline_covers_the_longest_search_bench_run_can_make() -> None:
    from advisor.bench.llm.runner import LLMBenchConfig

    config = LLMBenchConfig()
    longest = config.search.max_points * (config.max_window_s + config.drain_s + config.warmup_s)
    assert longest <= SEARCH_WORST_S
    max_buckets = next(p for p in _bench_run().params if p.name == "max_buckets").default
    assert isinstance(max_buckets, int)
    assert 1 + max_buckets <= PER_BUCKET_SEARCHES
    assert STARTUP_BUDGET_S >= 30 * 60


def test_options_reach_the_manifest(catalog: Catalog) -> None:
    spec = _spec(
        tensor_parallel_size=2,
        max_model_len=8192,
        gpu_memory_utilization=0.85,
        node_pool="gpu-od",
        hf_token_secret="hf-token",
        server_image="registry.local/vllm:mine",
        namespace="bench",
    )
    job = llm_job_manifest(spec, catalog.instance("g5.12xlarge"))
    validate_manifest(job, where="job.yaml")
    pod = _pod(job)
    [server] = pod["initContainers"]
    assert server["image"] == "registry.local/vllm:mine"
    assert server["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    args = server["args"]
    assert args[args.index("--max-model-len") + 1] == "8192"
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.85"
    assert pod["nodeSelector"]["karpenter.sh/nodepool"] == "gpu-od"
    assert server["env"] == [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}
    ]
    assert job["metadata"]["namespace"] == "bench"
    assert pod["volumes"][0]["emptyDir"]["sizeLimit"] == "4Gi"  # 2 GiB per tensor-parallel rank


@pytest.mark.parametrize(
    ("itype", "tp", "needle"),
    [
        ("g5.12xlarge", 8, "has 4 GPUs"),  # more than the type has
        ("p4d.24xlarge", 3, "divisor of 8"),  # would leave GPUs idle
        ("c6i.large", None, "c6i.large has no GPU"),
        ("g6f.large", None, "whole GPUs"),  # a slice of an L4
    ],
)
def test_impossible_gpu_layouts_are_refused(
    catalog: Catalog, itype: str, tp: int | None, needle: str
) -> None:
    with pytest.raises(InputError, match=needle):
        llm_job_manifest(_spec(tensor_parallel_size=tp), catalog.instance(itype))


def test_a_cpu_type_among_gpu_types_is_named_and_nothing_is_written(tmp_path: Path, catalog: Catalog) -> None:
    types = [catalog.instance("p4d.24xlarge"), catalog.instance("c6i.large")]
    with pytest.raises(InputError, match=r"p4d\.24xlarge has 8 GPUs; c6i\.large has none"):
        write_llm_jobs(tmp_path / "jobs", _spec(), types)
    assert not (tmp_path / "jobs").exists()


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"slo": LLMSLO()}, "--slo-ttft-p99-ms/--slo-tpot-p99-ms"),
        ({"dataset": "/d.csv", "input_tokens": 100}, "--dataset"),
        ({"per_bucket": True}, "--per-bucket"),
        ({"input_tokens": 4000, "output_tokens": 200, "max_model_len": 4096}, "--max-model-len"),
        ({"node_pool": "not a pool"}, "--node-pool"),
        ({"hf_token_secret": "HF_Token"}, "--hf-token-secret"),
    ],
)
def test_inconsistent_options_are_one_error_at_their_flag(
    catalog: Catalog, kw: dict[str, Any], where: str
) -> None:
    with pytest.raises(InputError) as err:
        llm_job_manifest(_spec(**kw), catalog.instance("g5.12xlarge"))
    assert err.value.where == where


def test_job_names_are_labels_and_long_model_ids_stay_apart() -> None:
    assert llm_job_name(MODEL, "g5.12xlarge") == "advisor-llm-g5-12xlarge-meta-llama-llama-3-1-8b-instruct"
    a = llm_job_name("org/a-very-long-model-name-that-goes-on-and-on-variant-one", "p4d.24xlarge")
    b = llm_job_name("org/a-very-long-model-name-that-goes-on-and-on-variant-two", "p4d.24xlarge")
    assert a != b and len(a) <= 63 and len(b) <= 63
    assert a.startswith("advisor-llm-p4d-24xlarge-") and a[-1] != "-"


def _jobs_cli(out: Path, *extra: str, command: str = "jobs") -> list[str]:
    return ["bench", command, "--emit", "k8s", str(out), "--image", "advisor:0.1", *extra]


def test_bench_jobs_writes_llm_jobs(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    result = run_cli(
        *_jobs_cli(
            out,
            "--llm-model",
            MODEL,
            "--instance-types",
            "g5.12xlarge,p4d.24xlarge",
            "--slo-ttft-p99-ms",
            "500",
            "--slo-tpot-p99-ms",
            "50",
            "--dataset",
            "/data/trace.csv",
            "--per-bucket",
            "--node-pool",
            "gpu",
            "--hf-token-secret",
            "hf-token",
            "--tensor-parallel-size",
            "4",
        )
    )
    assert result.code == 0, result.stderr
    assert "wrote 2 Job manifests" in result.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "advisor-llm-g5-12xlarge-meta-llama-llama-3-1-8b-instruct.yaml",
        "advisor-llm-p4d-24xlarge-meta-llama-llama-3-1-8b-instruct.yaml",
    ]
    job = yaml.safe_load((out / names[1]).read_text())
    validate_manifest(job, where=names[1])
    pod = _pod(job)
    [server], [client] = pod["initContainers"], pod["containers"]
    assert server["resources"]["limits"] == {"nvidia.com/gpu": "4"}  # TP 4 of the p4d's 8
    args = client["args"]
    assert args[args.index("--dataset") + 1] == "/data/trace.csv" and "--per-bucket" in args
    assert args[args.index("--shapes") + 1] == "p4d.24xlarge"
    assert pod["nodeSelector"]["karpenter.sh/nodepool"] == "gpu"
    plan = run_cli(  # the hidden alias of 0.1 takes them too
        *_jobs_cli(
            tmp_path / "plan",
            "--llm-model",
            MODEL,
            "--instance-types",
            "g5.12xlarge",
            "--slo-tpot-p99-ms",
            "50",
            command="plan",
        )
    )
    assert plan.code == 0, plan.stderr


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (("--instance-types", "g5.12xlarge", "--slo-p99-ms", "100"), ("--models", "--llm-model HF_ID")),
        (("--llm-model", MODEL, "--instance-types", "g5.12xlarge"), ("--slo-ttft-p99-ms",)),
        (
            ("--llm-model", MODEL, "--instance-types", "p4d.24xlarge,c6i.large", "--slo-ttft-p99-ms", "500"),
            ("p4d.24xlarge has 8 GPUs; c6i.large has none",),
        ),
        (
            (
                "--llm-model",
                MODEL,
                "--instance-types",
                "g5.12xlarge",
                "--slo-ttft-p99-ms",
                "500",
                "--tensor-parallel-size",
                "8",
            ),
            ("--tensor-parallel-size", "has 4 GPUs"),
        ),
        (
            (
                "--models",
                "tabular",
                "--instance-types",
                "c6i.large",
                "--slo-p99-ms",
                "100",
                "--slo-ttft-p99-ms",
                "500",
            ),
            ("--slo-ttft-p99-ms is for LLM Jobs",),
        ),
        (
            ("--models", "tabular", "--llm-model", MODEL, "--instance-types", "g5.12xlarge"),
            ("exclude each other",),
        ),
        (("--models", "tabular", "--instance-types", "c6i.large"), ("--slo-p99-ms",)),
        (
            (
                "--llm-model",
                MODEL,
                "--instance-types",
                "g5.12xlarge",
                "--slo-ttft-p99-ms",
                "500",
                "--gpu-memory-utilization",
                "1.5",
            ),
            ("--gpu-memory-utilization",),
        ),
    ],
)
def test_bench_jobs_mistakes_are_one_line(
    tmp_path: Path, extra: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    assert_one_line_error(run_cli(*_jobs_cli(tmp_path / "jobs", *extra)), *needles)
    assert not (tmp_path / "jobs").exists()
