"""Applying a language model's plan to Kubernetes: vLLM Deployments, Services, an HTTPRoute, KEDA
ScaledObjects and a Karpenter GPU NodePool, checked against the real schemas and applied to the local API
server of tests/kube_fake.py (dry run, apply, verify, a second run that changes nothing, rollback).

The recommendation is made here from the Azure conversation trace's request sizes (Llama-3.1-8B, p99 TTFT
2 s and TPOT 100 ms, 40 requests/s at the peak) with a Kubernetes deploy target.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.utils.quantity import parse_quantity

from advisor.apply.base import ApplyError, Guardrails, LLMIntent, llm_intent_for, mismatches
from advisor.apply.kubernetes.llm import llm_manifests, scaler_queries, validate_llm
from advisor.apply.kubernetes.llm_applier import KubernetesLLMApplier
from advisor.recommendation.model import Recommendation
from tests.helpers import SHARED, run_cli
from tests.kube_fake import K8S_VERSION, TOKEN, FakeCluster, by_kind, check_against_schemas, cluster

__all__ = ["cluster"]  # the fixture, imported for this module's tests
CONV = SHARED / "traces" / "azure_llm_inference_2023_conv.csv"
TYPES = ["g5.xlarge", "g6.xlarge", "g6e.xlarge", "g5.12xlarge"]


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommendation:
    if not CONV.is_file():
        pytest.skip("../shared/traces/ is not beside the checkout")
    tmp = tmp_path_factory.mktemp("llm-apply")
    chat = {
        "name": "chat",
        "team": "assistants",
        "llm": {"model": "llama-3.1-8b"},
        "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 100},
        "traffic": {"profile": "diurnal-business-api", "peak_rps": 40},
        "tokens": {"trace": str(CONV)},
        "current": {"platform": "ec2", "instance_type": "p4d.24xlarge", "count": 1},
        "instance_types": TYPES,
        "deploy": {"kubernetes": {"namespace": "llm", "deployment": "chat", "gateway": "gateways/inference"}},
    }
    path = tmp / "chat.yaml"
    path.write_text(yaml.safe_dump({"name": "chat", "platforms": ["ec2"], "models": [chat]}))
    out = run_cli("recommend", str(path), "--json", "--no-store", env={"ADVISOR_HOME": str(tmp / "h")})
    assert out.code == 0, out.stderr
    return Recommendation.model_validate(json.loads(out.stdout))


def _intent(rec: Recommendation, guardrails: Guardrails = Guardrails()) -> LLMIntent:
    intent = llm_intent_for(rec, rec.llm_models[0], guardrails)
    assert intent is not None
    return intent


def _two_groups(intent: LLMIntent) -> LLMIntent:
    """The same deployment with a second group on g5.12xlarge (tp 4) taking the largest prompts: a mix
    the router must split by the size header."""
    d = intent.deployment
    (g,) = d.groups
    big = g.model_copy(
        update={"option": "g5.12xlarge tp4", "name": "chat-g5-12xlarge-tp4", "instance_type": "g5.12xlarge",
                "accelerators_per_replica": 4, "share_of_requests": 0.1, "shm_gib": 8.0,
                "instance_accelerators": 4, "instance_vcpu": 48.0}
    )  # fmt: skip
    large = [r.bucket for r in intent.model.routing if r.bucket.startswith(("in 2k", "in 4k"))]
    routing = {b: ({big.option: 1.0} if b in large else {g.option: 1.0}) for b in d.routing}
    small = g.model_copy(update={"share_of_requests": 0.9})
    new = d.model_copy(update={"groups": [small, big], "routing": routing, "split": "peak_mix"})
    return LLMIntent(intent.recommendation_id, intent.region, intent.model, new, intent.guardrails)


def test_the_manifests_pass_the_real_schemas_and_carry_the_plan(rec: Recommendation) -> None:
    for intent in (_intent(rec), _two_groups(_intent(rec))):
        documents = llm_manifests(intent)
        validate_llm(documents, K8S_VERSION)
        for document in documents:
            if document["kind"] != "HTTPRoute":  # no Gateway API schema among the reference schemas
                check_against_schemas(document)
        d = intent.deployment
        deployments = {m["metadata"]["name"]: m for m in by_kind(documents, "Deployment")}
        assert set(deployments) == {g.name for g in d.groups}
        for g in d.groups:
            pod = deployments[g.name]["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            resources = container["resources"]
            assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"]
            assert int(resources["limits"]["nvidia.com/gpu"]) == g.accelerators_per_replica
            args = container["args"]
            assert args[args.index("--tensor-parallel-size") + 1] == str(g.accelerators_per_replica)
            assert args[args.index("--max-model-len") + 1] == str(d.serving.max_model_len)
            assert args[args.index("--model") + 1] == "meta-llama/Llama-3.1-8B-Instruct"
            assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": g.instance_type}
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
                "tolerations"
            ]
            assert container["readinessProbe"]["httpGet"]["path"] == "/health"
            probe = container["startupProbe"]
            assert probe["failureThreshold"] * probe["periodSeconds"] >= d.serving.start_up_s
            (shm,) = pod["volumes"]
            assert shm["emptyDir"]["medium"] == "Memory"
            assert parse_quantity(resources["requests"]["cpu"]) > 0
        (pool,) = by_kind(documents, "NodePool")
        reqs = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}
        assert reqs["node.kubernetes.io/instance-type"] == sorted({g.instance_type for g in d.groups})
        assert reqs["karpenter.sh/capacity-type"] == ["on-demand"]
        assert pool["spec"]["template"]["spec"]["taints"] == [
            {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
        ]
        # Karpenter counts a node's whole capacity against the limit: every GPU of the groups' most instances
        assert all(
            g.instance_accelerators >= g.accelerators_per_replica * g.replicas_per_instance for g in d.groups
        )
        gpus = sum(g.max_instances * g.instance_accelerators for g in d.groups)
        assert pool["spec"]["limits"]["nvidia.com/gpu"] == str(gpus)


def test_the_scalers_match_the_plan(rec: Recommendation) -> None:
    intent = _intent(rec)
    target = intent.target.kubernetes
    assert target is not None
    scalers = {m["spec"]["scaleTargetRef"]["name"]: m for m in by_kind(llm_manifests(intent), "ScaledObject")}
    for g in intent.deployment.groups:
        spec = scalers[g.name]["spec"]
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (g.min_replicas, g.max_replicas)
        prom = {t["name"]: t["metadata"] for t in spec["triggers"] if t["type"] == "prometheus"}
        rate_query, queue_query = scaler_queries(target, g)
        assert prom["completions"]["query"] == rate_query and "vllm:request_success_total" in rate_query
        assert prom["queue"]["query"] == queue_query and "vllm:num_requests_waiting" in queue_query
        assert float(prom["completions"]["threshold"]) == pytest.approx(
            g.requests_per_s_per_replica, abs=1e-3
        )
        assert float(prom["queue"]["threshold"]) == pytest.approx(g.waiting_requests_per_replica, abs=1e-3)
        crons = [t["metadata"] for t in spec["triggers"] if t["type"] == "cron"]
        assert [(c["start"], c["end"], int(c["desiredReplicas"])) for c in crons] == [
            (s.start, s.end, s.min_replicas) for s in g.schedules
        ]


def test_the_router_splits_by_the_size_header(rec: Recommendation) -> None:
    intent = _two_groups(_intent(rec))
    d = intent.deployment
    (route,) = by_kind(llm_manifests(intent), "HTTPRoute")
    assert route["spec"]["parentRefs"] == [{"name": "inference", "namespace": "gateways"}]
    rules = route["spec"]["rules"]
    assert "matches" not in rules[-1]  # the default rule: the overall shares
    assert {b["name"]: b["weight"] for b in rules[-1]["backendRefs"]} == {
        "chat-g6e-xlarge-tp1": 900,
        "chat-g5-12xlarge-tp4": 100,
    }
    routed: dict[str, str] = {}
    for rule in rules[:-1]:
        (backend,) = rule["backendRefs"]
        for match in rule["matches"]:
            (header,) = match["headers"]
            assert header["name"] == d.bucket_header
            routed[header["value"]] = backend["name"]
    for bucket, split in d.routing.items():
        (option,) = split
        want = next(g.name for g in d.groups if g.option == option)
        assert routed[d.bucket_keys[bucket]] == want


def _run(steps: list[Any]) -> None:
    for step in steps:
        step.run()


def _seed_today(fake: FakeCluster) -> dict[str, Any]:
    """Today's Deployment llm/chat (3 replicas) and its HPA, set by another manager."""
    labels = {"app": "chat"}
    pod = {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.6.0"}]}
    spec = {
        "replicas": 3,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    meta = {"name": "chat", "namespace": "llm"}
    fake.seed(
        "/apis/apps/v1/namespaces/llm/deployments/chat",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "generation": 1}, "spec": spec},
    )
    cpu = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}
    hpa = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "chat"},
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [{"type": "Resource", "resource": cpu}],
    }
    fake.seed(
        "/apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/chat",
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta, "spec": hpa},
    )
    return copy.deepcopy(fake.objects)


def test_apply_verify_a_second_run_and_roll_back(
    rec: Recommendation, cluster: tuple[FakeCluster, Path]
) -> None:
    fake, kubeconfig = cluster
    intent = _two_groups(_intent(rec))
    snapshot = _seed_today(fake)
    applier = KubernetesLLMApplier(kubeconfig, poll_interval_s=0.01)
    before = applier.read(intent)
    assert before["Deployment llm/chat"] == {"replicas": 3}
    want = applier.desired(intent, before)
    assert want["Deployment llm/chat"] == {"replicas": 0} and want["HorizontalPodAutoscaler llm/chat"] is None
    steps = applier.steps(intent, before, want)
    descriptions = [s.description for s in steps]
    assert descriptions[-1] == "scale Deployment llm/chat (today's)"
    assert descriptions.index("delete HorizontalPodAutoscaler llm/chat (today's)") < len(descriptions) - 1
    assert all(TOKEN not in d for d in descriptions)
    _run(steps)
    for r in fake.requests:
        if (
            r["method"] == "PATCH"
            and r["body"]["kind"] not in ("HTTPRoute",)
            and r["path"] != ("/apis/apps/v1/namespaces/llm/deployments/chat")
        ):
            check_against_schemas(r["body"])
    assert "/api/v1/namespaces/llm/services/chat-g5-12xlarge-tp4" in fake.objects
    assert "/apis/gateway.networking.k8s.io/v1/namespaces/llm/httproutes/chat" in fake.objects
    applier.settle(intent, want, time.monotonic() + 10, lambda _m: None)
    after = applier.read(intent)
    assert mismatches(after, want) == []
    assert fake.objects["/apis/apps/v1/namespaces/llm/deployments/chat"]["spec"]["replicas"] == 0
    assert applier.steps(intent, after, applier.desired(intent, after)) == []  # a second run: nothing
    _run(applier.steps(intent, after, before))  # the rollback
    assert applier.read(intent) == before
    assert {p: o["spec"] for p, o in fake.objects.items()} == {p: o["spec"] for p, o in snapshot.items()}


def test_apply_out_and_yes_through_the_command_line(
    rec: Recommendation, cluster: tuple[FakeCluster, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from advisor.recommendation.store import save_recommendation
    from advisor.store import Store
    from tests.traffic_cost_helpers import invoke

    fake, kubeconfig = cluster
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    with Store(tmp_path / "home" / "advisor.db") as store:
        save_recommendation(store, rec)
    out = tmp_path / "out"
    written = invoke(capsys, "apply", "--model", "chat", "--out", str(out))
    assert written.code == 0, written.stderr
    documents = [yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.yaml"))]
    assert {d["kind"] for d in documents} == {
        "NodePool",
        "Deployment",
        "Service",
        "HTTPRoute",
        "ScaledObject",
    }
    snapshot = _seed_today(fake)
    args = ("apply", "--model", "chat", "--kubeconfig", str(kubeconfig))
    dry = invoke(capsys, *args)
    assert dry.code == 0 and "chat → kubernetes llm/chat:" in dry.stdout, dry.stdout + dry.stderr
    assert {r["method"] for r in fake.requests} == {"GET"}
    run = invoke(capsys, *args, "--yes")
    assert run.code == 0, run.stderr
    applied = re.search(r"applied chat \(change (\d+)\), verified", run.stderr)
    assert applied, run.stderr
    assert invoke(capsys, *args, "--yes").stderr.strip().endswith("nothing to change")
    undo = invoke(capsys, "apply", "rollback", applied.group(1), "--yes", "--kubeconfig", str(kubeconfig))
    assert undo.code == 0, undo.stderr
    assert {p: o["spec"] for p, o in fake.objects.items()} == {p: o["spec"] for p, o in snapshot.items()}


def test_a_platform_change_writes_files_and_a_checklist(rec: Recommendation) -> None:
    """The plan runs on EC2 but the model is a SageMaker endpoint today: the vLLM manifests and a
    MIGRATION.md are written, nothing is read or changed."""
    from advisor.apply import default_registry, prepare
    from advisor.platforms.targets import DeployTarget, SageMakerTarget

    m = rec.llm_models[0]
    assert m.deployment is not None
    target = DeployTarget(sagemaker=SageMakerTarget(endpoint="chat"))
    moved = m.model_copy(
        update={"deployment": m.deployment.model_copy(update={"target": target, "migration": True})}
    )
    changes = prepare(rec.model_copy(update={"llm_models": [moved]}), default_registry())
    (chat,) = changes.models
    assert chat.kind == "migration" and chat.target == "sagemaker chat/AllTraffic"
    checklist = chat.files["chat/MIGRATION.md"]
    assert "x-advisor-size-bucket" in checklist and "meta-llama/Llama-3.1-8B-Instruct" in checklist
    kinds = {yaml.safe_load(text)["kind"] for name, text in chat.files.items() if name.endswith(".yaml")}
    assert kinds == {"NodePool", "Deployment", "Service", "HTTPRoute", "ScaledObject"}


def test_a_cpu_group_has_no_gpus_no_taint_and_a_cpu_pool(rec: Recommendation) -> None:
    """A group on a CPU instance (a small model measured there): no accelerator requested or tolerated,
    no GPU flags for the engine, and its NodePool untainted with a CPU limit."""
    intent = _intent(rec)
    d = intent.deployment
    (g,) = d.groups
    cpu = g.model_copy(
        update={"instance_type": "c7a.xlarge", "accelerator": None, "accelerators_per_replica": 0,
                "instance_accelerators": 0, "instance_vcpu": 4.0}
    )  # fmt: skip
    cuda = d.model_copy(update={"groups": [cpu]})
    with pytest.raises(ApplyError, match="CUDA build"):  # the default image does not run on a CPU node
        llm_manifests(
            LLMIntent(intent.recommendation_id, intent.region, intent.model, cuda, intent.guardrails)
        )
    serving = d.serving.model_copy(update={"image": "registry.example/vllm-cpu:v0.8.2"})
    cpu_d = cuda.model_copy(update={"serving": serving})
    intent = LLMIntent(intent.recommendation_id, intent.region, intent.model, cpu_d, intent.guardrails)
    documents = llm_manifests(intent)
    validate_llm(documents, K8S_VERSION)
    for document in documents:
        if document["kind"] != "HTTPRoute":
            check_against_schemas(document)
    (deployment,) = by_kind(documents, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "tolerations" not in pod and "nvidia.com/gpu" not in container["resources"]["requests"]
    assert (
        "--tensor-parallel-size" not in container["args"]
        and "--gpu-memory-utilization" not in container["args"]
    )
    (pool,) = by_kind(documents, "NodePool")
    assert pool["metadata"]["name"].endswith("-cpu") and "taints" not in pool["spec"]["template"]["spec"]
    assert pool["spec"]["limits"] == {"cpu": str(4 * cpu.max_instances)}  # whole nodes' vCPUs


def test_the_live_state_is_read_where_advisor_sets_it() -> None:
    """An API server's defaults and others' additions (an injected sidecar) are not differences."""
    from advisor.apply.kubernetes.llm_applier import project

    ours = {
        "template": {"spec": {"containers": [{"name": "vllm", "image": "v:1", "ports": [{"name": "http"}]}]}}
    }
    live: dict[str, Any] = {
        "revisionHistoryLimit": 10,
        "template": {"spec": {
            "containers": [
                {"name": "istio-proxy", "image": "proxy:1"},
                {"name": "vllm", "image": "v:1", "imagePullPolicy": "IfNotPresent",
                 "ports": [{"name": "http", "protocol": "TCP"}]},
            ],
            "dnsPolicy": "ClusterFirst",
        }},
    }  # fmt: skip
    assert project(live, ours) == ours
    changed = copy.deepcopy(live)
    changed["template"]["spec"]["containers"][1]["image"] = "v:2"
    assert project(changed, ours) != ours


def test_a_group_the_new_plan_drops_is_removed_and_a_rollback_brings_it_back(
    rec: Recommendation, cluster: tuple[FakeCluster, Path]
) -> None:
    fake, kubeconfig = cluster
    applier = KubernetesLLMApplier(kubeconfig, poll_interval_s=0.01)
    two, one = _two_groups(_intent(rec)), _intent(rec)
    _run(applier.steps(two, applier.read(two), applier.desired(two, applier.read(two))))
    dropped = "/apis/apps/v1/namespaces/llm/deployments/chat-g5-12xlarge-tp4"
    assert dropped in fake.objects
    before = applier.read(one)  # finds the earlier plan's group by its labels
    assert before["Deployment llm/chat-g5-12xlarge-tp4"] is not None
    steps = applier.steps(one, before, applier.desired(one, before))
    deletes = [s.description for s in steps if s.description.startswith("delete")]
    assert deletes == [
        "delete ScaledObject llm/chat-g5-12xlarge-tp4",
        "delete Deployment llm/chat-g5-12xlarge-tp4",
        "delete Service llm/chat-g5-12xlarge-tp4",
    ]
    _run(steps)
    assert dropped not in fake.objects
    assert applier.steps(one, applier.read(one), applier.desired(one, applier.read(one))) == []
    _run(applier.steps(one, applier.read(one), before))  # the rollback makes it again, labelled
    assert fake.objects[dropped]["metadata"]["labels"] == {
        "app.kubernetes.io/name": "chat",
        "advisor.io/llm-group": "chat-g5-12xlarge-tp4",
    }
    assert applier.read(one) == before


def test_gated_weights_read_a_token_from_a_secret(rec: Recommendation) -> None:
    intent = _intent(rec)
    serving = intent.deployment.serving.model_copy(update={"hf_token_secret": "hf-token"})
    d = intent.deployment.model_copy(update={"serving": serving})
    (deployment,) = by_kind(
        llm_manifests(LLMIntent(intent.recommendation_id, intent.region, intent.model, d, intent.guardrails)),
        "Deployment",
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}
    ]


def test_without_a_gateway_todays_deployment_keeps_serving(
    rec: Recommendation, cluster: tuple[FakeCluster, Path]
) -> None:
    """The route is written unattached, so nothing moves today's traffic: today's Deployment and its
    autoscaler are left as they run."""
    fake, kubeconfig = cluster
    intent = _intent(rec)
    target = intent.deployment.target
    assert target is not None and target.kubernetes is not None
    unattached = target.model_copy(
        update={"kubernetes": target.kubernetes.model_copy(update={"gateway": None})}
    )
    d = intent.deployment.model_copy(update={"target": unattached})
    intent = LLMIntent(intent.recommendation_id, intent.region, intent.model, d, intent.guardrails)
    _seed_today(fake)
    applier = KubernetesLLMApplier(kubeconfig, poll_interval_s=0.01)
    before = applier.read(intent)
    assert "Deployment llm/chat" not in before and "HorizontalPodAutoscaler llm/chat" not in before
    _run(applier.steps(intent, before, applier.desired(intent, before)))
    assert fake.objects["/apis/apps/v1/namespaces/llm/deployments/chat"]["spec"]["replicas"] == 3
    assert "/apis/autoscaling/v2/namespaces/llm/horizontalpodautoscalers/chat" in fake.objects


def test_a_model_that_would_cost_more_as_deployed_is_left_as_it_runs(rec: Recommendation) -> None:
    from advisor.apply import default_registry, prepare

    (m,) = rec.llm_models
    assert m.deployment is not None
    cheap_today = m.model_copy(update={"current_usd_per_month": m.deployment.usd_per_month * 0.9})
    (chat,) = prepare(rec.model_copy(update={"llm_models": [cheap_today]}), default_registry()).models
    assert chat.kind == "skipped" and "as deployed (a fixed router split) it would cost" in chat.reason
