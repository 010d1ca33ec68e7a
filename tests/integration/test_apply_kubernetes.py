"""The Kubernetes and Cortex appliers: manifests checked against the real schemas, server-side apply against
a local API server, and Cortex's files.

The manifests come from the demo recommendation (tests/golden): doc-reranker is the same-platform
Kubernetes change (a GPU pool, a scheduled minimum, so KEDA); fraud-scorer's plan moves it to Fargate (no
Kubernetes change); search-embedder's pool (spot above an on-demand base, three types) is given a Kubernetes
target here. Built-in kinds are checked with kubernetes-validate (strict), CRD kinds with the CRDs'
OpenAPI schemas from ../shared/schemas (skipped when absent); the local API server models server-side
apply's field ownership (both in tests/kube_fake.py).
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from croniter import croniter
from kubernetes.utils.quantity import parse_quantity

from advisor.apply.base import ApplyError, Guardrails, Intent, mismatches
from advisor.apply.cortex import CortexApplier
from advisor.apply.kubernetes.applier import KubernetesApplier
from advisor.apply.kubernetes.manifests import manifests, validate
from advisor.platforms.targets import CortexTarget, DeployTarget, KubernetesTarget
from advisor.recommendation.migrate import load_document
from advisor.recommendation.model import Recommendation
from tests.helpers import TESTS_DIR
from tests.kube_fake import (
    APPLY_PATCH,
    K8S_VERSION,
    TOKEN,
    FakeCluster,
    by_kind,
    check_against_schemas,
    cluster,
)

GOLDEN = TESTS_DIR / "golden" / "demo-recommendation.json"
__all__ = ["cluster"]  # the fixture, imported for this module's tests


# ----- the recommendation ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rec() -> Recommendation:
    return load_document(GOLDEN.read_text(encoding="utf-8"))


def _intent(rec: Recommendation, name: str, guardrails: Guardrails = Guardrails(), **target: Any) -> Intent:
    """The runner's Intent for a model; with ``target``, a Kubernetes target given to it (not a migration)."""
    m = rec.model(name)
    assert m.plan is not None and m.plan.deployment is not None
    d = m.plan.deployment
    if target:
        d = d.model_copy(
            update={"target": DeployTarget(kubernetes=KubernetesTarget(**target)), "migration": False}
        )
    pools = tuple(p for p in rec.pools if p.name in d.pools)
    return Intent(rec.id, rec.region, m, d, pools, guardrails)


def _reranker(rec: Recommendation) -> Intent:
    return _intent(rec, "doc-reranker")


def _spot(rec: Recommendation, **extra: Any) -> Intent:
    return _intent(rec, "search-embedder", namespace="search", deployment="search-embedder", **extra)


# ----- manifests ------------------------------------------------------------------------------------------


def test_the_kubernetes_models_are_changes_and_a_plan_off_eks_is_refused(rec: Recommendation) -> None:
    kube = [m.model for m in rec.models if m.deploy is not None and m.deploy.kubernetes is not None]
    assert set(kube) == {"fraud-scorer", "doc-reranker"}
    for name in kube:
        intent = _intent(rec, name)
        assert not intent.deployment.migration and manifests(intent)
    # churn-predictor's plan runs on ECS's EC2 capacity provider, not on EKS nodes
    churn = _intent(rec, "churn-predictor")
    elsewhere = replace(
        churn, deployment=churn.deployment.model_copy(update={"target": rec.model("fraud-scorer").deploy})
    )
    with pytest.raises(ApplyError, match="does not run on EKS nodes"):
        manifests(elsewhere)


def test_every_manifest_passes_the_real_schemas(rec: Recommendation) -> None:
    for intent in (_reranker(rec), _spot(rec), _spot(rec, autoscaler="keda")):
        documents = manifests(intent)
        validate(documents, K8S_VERSION)
        for document in documents:
            check_against_schemas(document)


def test_deployment_patch_carries_the_plan(rec: Recommendation) -> None:
    intent = _reranker(rec)
    d, target, plan = intent.deployment, intent.target.kubernetes, intent.model.plan
    assert plan is not None and plan.placement is not None and target is not None
    placement = plan.placement
    (patch,) = by_kind(manifests(intent), "Deployment")
    pod = patch["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == target.container
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert parse_quantity(requests["cpu"]) >= Decimal(str(d.replica.vcpu))
    assert parse_quantity(requests["memory"]) >= Decimal(str(d.replica.memory_gib)) * 1024**3
    assert int(requests["nvidia.com/gpu"]) == int(limits["nvidia.com/gpu"]) >= d.replica.gpu_count > 0
    assert pod["nodeSelector"] == placement.node_selector
    assert pod["tolerations"] == [t.model_dump(exclude_none=True) for t in placement.tolerations]
    required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (expression,) = required["nodeSelectorTerms"][0]["matchExpressions"]
    assert expression["key"] == "kubernetes.io/arch" and expression["operator"] == "In"
    assert set(expression["values"]) == {{"x86_64": "amd64", "arm64": "arm64"}[a] for a in d.architectures}
    rolling = patch["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == f"{intent.guardrails.max_disruption_pct}%"


def test_schedules_become_keda_cron_triggers(rec: Recommendation) -> None:
    intent = _reranker(rec)
    d = intent.deployment
    assert d.schedules, "the demo's doc-reranker has a scheduled minimum"
    documents = manifests(intent)
    assert not by_kind(documents, "HorizontalPodAutoscaler")
    (scaled,) = by_kind(documents, "ScaledObject")
    spec = scaled["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (d.min_replicas, d.max_replicas)
    crons = [t["metadata"] for t in spec["triggers"] if t["type"] == "cron"]
    assert len(crons) == len(d.schedules)
    for meta, schedule in zip(crons, d.schedules, strict=True):
        assert croniter.is_valid(meta["start"]) and croniter.is_valid(meta["end"])
        assert len(meta["start"].split()) == len(meta["end"].split()) == 5
        assert ZoneInfo(meta["timezone"]).key == schedule.timezone
        assert int(meta["desiredReplicas"]) == schedule.min_replicas > 0
    (prom,) = [t for t in spec["triggers"] if t["type"] == "prometheus"]
    assert float(prom["metadata"]["threshold"]) == pytest.approx(d.scaling_metric.target_value, abs=1e-3)
    assert 'namespace="search"' in prom["metadata"]["query"]


def test_hpa_without_schedules(rec: Recommendation) -> None:
    intent = _spot(rec)
    d = intent.deployment
    (hpa,) = by_kind(manifests(intent), "HorizontalPodAutoscaler")
    spec = hpa["spec"]
    assert spec["scaleTargetRef"]["name"] == "search-embedder"
    assert (spec["minReplicas"], spec["maxReplicas"]) == (max(1, d.min_replicas), d.max_replicas)
    (metric,) = spec["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == d.scaling_metric.name
    value = parse_quantity(metric["pods"]["target"]["averageValue"])
    assert float(value) == pytest.approx(d.scaling_metric.target_value, abs=1e-3)
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == d.scale_down_stabilisation_s


def test_spot_pool_keeps_an_on_demand_base_and_two_types(rec: Recommendation) -> None:
    intent = _spot(rec)
    (pool,) = intent.pools
    assert "spot" in pool.capacity_types and pool.on_demand_base_capacity > 0
    node_pools = by_kind(manifests(intent), "NodePool")
    by_capacity = {}
    for np in node_pools:
        reqs = {r["key"]: r for r in np["spec"]["template"]["spec"]["requirements"]}
        assert all(r["values"] for r in reqs.values() if r["operator"] == "In")
        by_capacity[tuple(reqs["karpenter.sh/capacity-type"]["values"])] = (np, reqs)
        assert np["spec"]["template"]["metadata"]["labels"] == pool.labels
    spot, spot_reqs = next(v for k, v in by_capacity.items() if "spot" in k)
    base, _ = by_capacity[("on-demand",)]
    assert len(spot_reqs["node.kubernetes.io/instance-type"]["values"]) >= 2
    assert base["spec"]["weight"] > spot["spec"].get("weight", 0)
    # Limits in node capacity: the base nodes in the base NodePool, the rest in the spot one.
    capacity = max(a.vcpu + a.reserved_vcpu for a in pool.allocatable.values())
    base_nodes = pool.on_demand_base_capacity
    assert float(parse_quantity(base["spec"]["limits"]["cpu"])) == pytest.approx(base_nodes * capacity)
    spot_cpu = float(parse_quantity(spot["spec"]["limits"]["cpu"]))
    assert spot_cpu == pytest.approx((pool.max_nodes - base_nodes) * capacity)


def test_gpu_pool_limits_gpus(rec: Recommendation) -> None:
    intent = _reranker(rec)
    (pool,) = intent.pools
    (np,) = by_kind(manifests(intent), "NodePool")
    gpus = max(a.gpu_count for a in pool.allocatable.values())
    assert int(np["spec"]["limits"]["nvidia.com/gpu"]) == pool.max_nodes * gpus
    budget = np["spec"]["disruption"]["budgets"]
    assert budget == [{"nodes": f"{intent.guardrails.max_disruption_pct}%"}]


def test_a_spot_pool_of_one_type_is_refused(rec: Recommendation) -> None:
    intent = _spot(rec)
    (pool,) = intent.pools
    one = pool.instance_types[0]
    narrow = pool.model_copy(update={"instance_types": [one], "allocatable": {one: pool.allocatable[one]}})
    one_type = Intent(
        intent.recommendation_id, intent.region, intent.model, intent.deployment, (narrow,), Guardrails()
    )
    with pytest.raises(ApplyError, match="spot with 1 instance type"):
        manifests(one_type)


def test_cluster_autoscaler_nodes_get_no_nodepool(rec: Recommendation) -> None:
    documents = manifests(_spot(rec, nodes="cluster-autoscaler"))
    assert not by_kind(documents, "NodePool")
    assert by_kind(documents, "Deployment")


def test_render_writes_yaml_files(rec: Recommendation) -> None:
    intent = _reranker(rec)
    files = KubernetesApplier().render(intent)
    documents = manifests(intent)
    assert len(files) == len(documents)
    assert all(not Path(name).is_absolute() and name.startswith("doc-reranker/") for name in files)
    assert [yaml.safe_load(text) for text in files.values()] == documents


def test_render_for_a_migration_into_eks(rec: Recommendation) -> None:
    intent = _intent(rec, "search-embedder")  # today a SageMaker endpoint; the plan runs it on EKS nodes
    assert intent.deployment.migration and intent.target.kubernetes is None
    files = KubernetesApplier().render(intent)
    patch = yaml.safe_load(files["search-embedder/deployment-patch.yaml"])
    assert patch["metadata"] == {"name": "search-embedder", "namespace": "default"}
    assert sum(name.startswith("search-embedder/nodepool-") for name in files) == 2  # base and spot


def test_keda_when_the_target_asks_for_it(rec: Recommendation) -> None:
    documents = manifests(_spot(rec, autoscaler="keda", prometheus_url="http://prom.example:9090"))
    assert not by_kind(documents, "HorizontalPodAutoscaler")
    (scaled,) = by_kind(documents, "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]  # no schedule: the requests/s trigger only
    assert (
        trigger["type"] == "prometheus" and trigger["metadata"]["serverAddress"] == "http://prom.example:9090"
    )


def test_read_needs_a_kubeconfig(rec: Recommendation) -> None:
    with pytest.raises(ApplyError, match=r"kubeconfig.*--out"):
        KubernetesApplier().read(_reranker(rec))


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "kubeconfig not found"),
        ("folder", "kubeconfig is a folder"),
        ("apiVersion: v1\nclusters: [ {\n", "cannot use the kubeconfig: while parsing a flow node"),
        ("apiVersion: v1\nkind: Config\n", "cannot use the kubeconfig"),
    ],
)
def test_a_kubeconfig_that_cannot_be_used_is_one_error_naming_it(
    rec: Recommendation, tmp_path: Path, content: str | None, said: str
) -> None:
    path = tmp_path / "kubeconfig"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ApplyError) as caught:
        KubernetesApplier(kubeconfig=path).read(_reranker(rec))
    line = caught.value.one_line()
    assert line.startswith(f"{path}: {said}") and "\n" not in line, line


def _deployment_path(target: KubernetesTarget) -> str:
    return f"/apis/apps/v1/namespaces/{target.namespace}/deployments/{target.deployment}"


def _hpa_path(target: KubernetesTarget) -> str:
    return f"/apis/autoscaling/v2/namespaces/{target.namespace}/horizontalpodautoscalers/{target.deployment}"


def _seed(fake: FakeCluster, intent: Intent, *, with_hpa: bool) -> None:
    """What runs today, set by another manager: a Deployment on an old pool (a memory limit below the new
    request, a sidecar) and, maybe, a CPU-based HPA."""
    target = intent.target.kubernetes
    assert target is not None
    gpu = {"nvidia.com/gpu": "1"} if intent.deployment.replica.gpu_count else {}
    resources = {"requests": {"cpu": "4", "memory": "1Gi", **gpu}, "limits": {"memory": "2Gi", **gpu}}
    server = {"name": target.container or "server", "image": "server:1", "resources": resources}
    pod = {
        "nodeSelector": {"advisor.io/pool": "old-pool"},
        "containers": [server, {"name": "sidecar", "image": "proxy:1"}],
    }
    labels = {"app": target.deployment}
    spec = {
        "replicas": 3,
        "selector": {"matchLabels": labels},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%", "maxSurge": "50%"}},
        "template": {"metadata": {"labels": labels}, "spec": pod},
    }
    meta = {"name": target.deployment, "namespace": target.namespace}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**meta, "generation": 1},
        "spec": spec,
    }
    fake.seed(_deployment_path(target), deployment)
    if with_hpa:
        cpu = {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}
        hpa_spec = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target.deployment},
            "minReplicas": 1,
            "maxReplicas": 20,
            "metrics": [{"type": "Resource", "resource": cpu}],
        }
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": hpa_spec,
        }
        fake.seed(_hpa_path(target), hpa)


def _run(steps: list[Any]) -> None:
    for step in steps:
        step.run()


@pytest.mark.parametrize("which", ["doc-reranker", "spot"])
def test_server_side_apply_verify_and_roll_back(
    rec: Recommendation, cluster: tuple[FakeCluster, Path], which: str
) -> None:
    fake, kubeconfig = cluster
    intent = _reranker(rec) if which == "doc-reranker" else _spot(rec)
    _seed(fake, intent, with_hpa=which == "doc-reranker")
    applier = KubernetesApplier(kubeconfig, poll_interval_s=0.01)
    before = applier.read(intent)
    snapshot = copy.deepcopy(fake.objects)
    want = applier.desired(intent, before)
    steps = applier.steps(intent, before, want)
    assert all(TOKEN not in s.description for s in steps)
    _run(steps)

    writes = [r for r in fake.requests if r["method"] in ("PATCH", "DELETE")]
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in fake.requests)
    patches = [r for r in writes if r["method"] == "PATCH"]
    for r in patches:
        assert r["content_type"] == APPLY_PATCH
        assert r["query"]["fieldManager"] == ["advisor"] and r["query"]["force"] == ["true"]
        check_against_schemas(r["body"])
    kinds = [r["body"]["kind"] if r["body"] else "delete " + r["path"].split("/")[-2] for r in writes]
    expected_autoscaler = "ScaledObject" if intent.deployment.schedules else "HorizontalPodAutoscaler"
    assert kinds[-1] == expected_autoscaler
    assert kinds.index("Deployment") > max(i for i, k in enumerate(kinds) if k == "NodePool")
    assert kinds.count("NodePool") == len(by_kind(manifests(intent), "NodePool"))
    if which == "doc-reranker":  # KEDA takes over from the HPA, which goes first
        assert kinds.index("delete horizontalpodautoscalers") < kinds.index("ScaledObject")

    said: list[str] = []
    applier.settle(intent, want, time.monotonic() + 10, said.append)
    assert said, "the first read after the change saw the rollout in progress"
    after = applier.read(intent)
    assert mismatches(after, want) == []
    _check_live_deployment(fake, intent)
    assert applier.steps(intent, after, applier.desired(intent, after)) == []  # a second run changes nothing

    fake.requests.clear()
    _run(applier.steps(intent, after, before))  # the rollback: the same machinery, before as the goal
    assert applier.read(intent) == before
    assert {p: o["spec"] for p, o in fake.objects.items()} == {p: o["spec"] for p, o in snapshot.items()}
    deleted = {r["path"] for r in fake.requests if r["method"] == "DELETE"}
    assert deleted == {p for p in _created_paths(intent)}


def _created_paths(intent: Intent) -> set[str]:
    """The objects the apply created (absent before): the NodePools and, with schedules, the ScaledObject."""
    target = intent.target.kubernetes
    assert target is not None
    paths = {
        f"/apis/karpenter.sh/v1/nodepools/{n['metadata']['name']}"
        for n in by_kind(manifests(intent), "NodePool")
    }
    if intent.deployment.schedules:
        paths.add(f"/apis/keda.sh/v1alpha1/namespaces/{target.namespace}/scaledobjects/{target.deployment}")
    else:
        paths.add(_hpa_path(target))
    return paths


def _check_live_deployment(fake: FakeCluster, intent: Intent) -> None:
    """What the API server holds after the apply, against the plan (not against advisor's own view)."""
    target = intent.target.kubernetes
    assert target is not None
    live = fake.objects[_deployment_path(target)]["spec"]["template"]["spec"]
    server, sidecar = live["containers"]
    assert sidecar == {"name": "sidecar", "image": "proxy:1"}, "other containers are left alone"
    requests, limits = server["resources"]["requests"], server["resources"]["limits"]
    d = intent.deployment
    assert parse_quantity(requests["cpu"]) >= Decimal(str(d.replica.vcpu))
    assert parse_quantity(limits["memory"]) >= parse_quantity(requests["memory"])  # a low limit rose
    assert requests.get("nvidia.com/gpu", "0") == limits.get("nvidia.com/gpu", "0")
    plan = intent.model.plan
    assert plan is not None and plan.placement is not None
    assert live["nodeSelector"] == plan.placement.node_selector  # the old pool label replaced


def test_missing_deployment_is_a_clear_error(rec: Recommendation, cluster: tuple[FakeCluster, Path]) -> None:
    _, kubeconfig = cluster
    with pytest.raises(ApplyError, match="Deployment search/doc-reranker not found"):
        KubernetesApplier(kubeconfig).read(_reranker(rec))


def test_refused_write_never_prints_the_token(rec: Recommendation, cluster: tuple[FakeCluster, Path]) -> None:
    fake, kubeconfig = cluster
    intent = _reranker(rec)
    _seed(fake, intent, with_hpa=False)
    target = intent.target.kubernetes
    assert target is not None
    applier = KubernetesApplier(kubeconfig, poll_interval_s=0.01)
    before = applier.read(intent)
    steps = applier.steps(intent, before, applier.desired(intent, before))
    fake.forbid.add(_deployment_path(target))  # the NodePool goes in, the Deployment is refused
    with pytest.raises(ApplyError) as caught:
        _run(steps)
    assert "HTTP 403" in str(caught.value) and "RBAC" in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)


def test_a_kept_node_selector_the_pool_lacks_is_refused(
    rec: Recommendation, cluster: tuple[FakeCluster, Path]
) -> None:
    fake, kubeconfig = cluster
    intent = _reranker(rec)
    _seed(fake, intent, with_hpa=False)
    target = intent.target.kubernetes
    assert target is not None
    pod = fake.objects[_deployment_path(target)]["spec"]["template"]["spec"]
    pod["nodeSelector"]["team"] = "ml"
    applier = KubernetesApplier(kubeconfig)
    with pytest.raises(ApplyError, match="nodeSelector team=ml"):
        applier.desired(intent, applier.read(intent))


# ----- Cortex ---------------------------------------------------------------------------------------------


def test_cortex_writes_node_groups_and_autoscaling(rec: Recommendation) -> None:
    m = rec.model("search-embedder")
    assert m.plan is not None and m.plan.deployment is not None
    target = DeployTarget(cortex=CortexTarget(api="search-embedder", cluster="ml-prod"))
    d = m.plan.deployment.model_copy(update={"target": target, "migration": False})
    (pool,) = [p for p in rec.pools if p.name in d.pools]
    intent = Intent(rec.id, rec.region, m, d, (pool,), Guardrails())
    applier = CortexApplier()
    files = applier.render(intent)
    (group,) = yaml.safe_load(files["search-embedder/cortex-cluster-node-groups.yaml"])["node_groups"]
    assert len(group["name"]) <= 26
    listed = [group["instance_type"], *group["spot_config"]["instance_distribution"]]
    assert set(listed) < set(pool.instance_types) and "m7g.large" not in listed  # Cortex runs no ARM
    assert group["spot"] is True and group["max_instances"] == pool.max_nodes
    assert group["spot_config"]["on_demand_base_capacity"] == pool.on_demand_base_capacity
    (api,) = yaml.safe_load(files["search-embedder/cortex-api.yaml"])
    assert api["name"] == "search-embedder" and api["node_groups"] == [group["name"]]
    scaling = api["autoscaling"]
    assert (scaling["min_replicas"], scaling["max_replicas"]) == (d.min_replicas, d.max_replicas)
    # Little's law with a one-at-a-time server: the target rate x 1/capacity.
    in_flight = d.scaling_metric.target_value / m.plan.capacity.rps_per_replica
    assert scaling["target_in_flight"] == pytest.approx(in_flight, abs=1e-3)
    assert scaling["downscale_stabilization_period"] == f"{d.scale_down_stabilisation_s:g}s"
    with pytest.raises(ApplyError, match="Cortex is archived"):
        applier.read(intent)


# ----- through the command line ---------------------------------------------------------------------------


@pytest.fixture
def stored(rec: Recommendation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Recommendation:
    """The demo recommendation in the store of ADVISOR_HOME."""
    from advisor.recommendation.store import save_recommendation
    from advisor.store import Store

    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    with Store(tmp_path / "home" / "advisor.db") as store:
        save_recommendation(store, rec)
    return rec


def test_apply_out_writes_the_files_it_can_when_another_target_cannot_be_read(
    stored: Recommendation,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`advisor apply --out DIR` where one model's target cannot be read (churn-predictor's ECS service, with
    no AWS credentials): the models that only need files get them (files change no cluster), then the run
    fails with one line naming the model it could not read."""
    from tests.traffic_cost_helpers import invoke

    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask for
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    out = tmp_path / "out"
    run = invoke(capsys, "apply", "--model", "doc-reranker", "--model", "churn-predictor", "--out", str(out))
    assert run.code == 1 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: churn-predictor: ecs:DescribeServices"), errors
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written and all(w.startswith("doc-reranker/") for w in written), written
    assert f"wrote {len(written)} files under {out}" in run.stderr
    history = invoke(capsys, "apply", "history", "--json")
    assert [(r["model"], r["action"]) for r in json.loads(history.stdout)] == [("doc-reranker", "write")]


def test_apply_out_writes_manifests_that_pass_the_schemas(
    stored: Recommendation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`advisor apply --out DIR`: doc-reranker's manifests, and search-embedder's (a migration from SageMaker
    into EKS) with its checklist; every document passes kubernetes-validate or its CRD's schema."""
    from tests.traffic_cost_helpers import invoke

    out = tmp_path / "out"
    run = invoke(capsys, "apply", "--model", "doc-reranker", "--model", "search-embedder", "--out", str(out))
    assert run.code == 0, run.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "doc-reranker/scaledobject.yaml" in written and "search-embedder/MIGRATION.md" in written
    documents = [d for p in out.rglob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d]
    assert {d["kind"] for d in documents} >= {
        "Deployment",
        "ScaledObject",
        "NodePool",
        "HorizontalPodAutoscaler",
    }
    for document in documents:
        check_against_schemas(document)
    spot = [
        n for n in by_kind(documents, "NodePool")
        for r in n["spec"]["template"]["spec"]["requirements"]
        if r["key"] == "karpenter.sh/capacity-type" and r["values"] == ["spot"]
    ]  # fmt: skip
    assert spot, "search-embedder's pool above its on-demand base is spot"
    for pool in spot:
        (types,) = [
            r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]
            if r["key"] == "node.kubernetes.io/instance-type"
        ]  # fmt: skip
        assert len(types) >= 2  # the demo scenario's spot.min_instance_types_per_pool
    (scaled,) = by_kind(documents, "ScaledObject")
    crons = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "cron"]
    assert crons and all(croniter.is_valid(c["start"]) and croniter.is_valid(c["end"]) for c in crons)
    assert all(ZoneInfo(c["timezone"]) for c in crons)


def test_apply_yes_on_a_cluster_then_history_and_rollback(
    stored: Recommendation, cluster: tuple[FakeCluster, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.traffic_cost_helpers import invoke

    fake, kubeconfig = cluster
    intent = _reranker(stored)
    _seed(fake, intent, with_hpa=True)
    before = copy.deepcopy(fake.objects)
    args = ("apply", "--model", "doc-reranker", "--kubeconfig", str(kubeconfig))
    dry = invoke(capsys, *args)
    assert dry.code == 0 and "doc-reranker → kubernetes search/doc-reranker:" in dry.stdout
    assert {r["method"] for r in fake.requests} == {"GET"}
    assert {p: o["spec"] for p, o in fake.objects.items()} == {p: o["spec"] for p, o in before.items()}
    run = invoke(capsys, *args, "--yes")
    assert run.code == 0, run.stderr
    assert "applied doc-reranker (change 1), verified" in run.stderr
    assert invoke(capsys, *args, "--yes").stderr.strip().endswith("nothing to change")
    undo = invoke(capsys, "apply", "rollback", "1", "--yes", "--kubeconfig", str(kubeconfig))
    assert undo.code == 0, undo.stderr
    assert {p: o["spec"] for p, o in fake.objects.items()} == {p: o["spec"] for p, o in before.items()}
    listed = invoke(capsys, "apply", "history")
    assert "rolled_back" in listed.stdout and "(undoes 1)" in listed.stdout
    assert TOKEN not in dry.stdout + run.stdout + run.stderr + listed.stdout
