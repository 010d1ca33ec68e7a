"""Deployable as printed: on the demo and two more scenarios, every plan holds the platform's own facts.

The facts are checked here from their sources, not through advisor's validation step: SageMaker types
against botocore's enum, EC2 replicas per node against the EKS AMI's kubelet formula (and the ECS agent's
registered memory), pool architectures against the model's image. Then the validation step itself is fed
a plan that breaks each fact and must name it exactly.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import botocore.session
import pytest

import advisor
from advisor import Settings
from advisor.domain import Platform
from advisor.optimize.validate import InvalidRecommendation, validate, violations
from advisor.platforms import sagemaker
from advisor.platforms.nodes import eni_max_pods
from advisor.platforms.targets import Orchestrator
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import Recommendation
from advisor.scenario.model import Scenario, load_scenario
from tests.helpers import REPO_ROOT
from tests.optimize_helpers import model, scenario_dict, write_scenario

_ENDPOINT_TYPES: Any = (  # a StringShape, whose .enum the stubs do not know
    botocore.session.get_session().get_service_model("sagemaker").shape_for("ProductionVariantInstanceType")
)
ENUM = frozenset(_ENDPOINT_TYPES.enum)
DEMO = REPO_ROOT / "examples" / "demo-scenario.yaml"


def test_endpoint_types_are_botocores_enum_read_from_its_file_or_through_its_loader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # advisor reads the enum straight from the model file botocore ships (no botocore import); where a user
    # model could override that file (AWS_DATA_PATH, ~/.aws/models) it goes through botocore's loader
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    sagemaker.endpoint_instance_types.cache_clear()
    try:
        assert sagemaker._shipped_model_file() is not None
        assert sagemaker.endpoint_instance_types() == ENUM
        monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
        assert sagemaker._shipped_model_file() is None
        sagemaker.endpoint_instance_types.cache_clear()
        assert sagemaker.endpoint_instance_types() == ENUM
    finally:
        sagemaker.endpoint_instance_types.cache_clear()


def _eks_allocatable(vcpu: int, memory_gib: float, instance_type: str) -> tuple[float, float, int]:
    """(vCPU, GiB, pod slots) the EKS AMI leaves, written out from its bootstrap.sh comments."""
    millicores = vcpu * 1000
    reserved = 0.06 * min(millicores, 1000)
    reserved += 0.01 * max(0, min(millicores, 2000) - 1000)
    reserved += 0.005 * max(0, min(millicores, 4000) - 2000)
    reserved += 0.0025 * max(0, millicores - 4000)
    pods = eni_max_pods().get(instance_type, 110)
    memory_mib = memory_gib * 1024 - (255 + 11 * pods) - 100  # kube-reserved, eviction threshold
    daemonsets_m = 50 + 100  # aws-node, kube-proxy
    return (millicores - math.floor(reserved) - daemonsets_m) / 1000, memory_mib / 1024, pods - 2


def _scenarios(tmp: Path) -> dict[str, tuple[Path, Scenario]]:
    """The demo, plus: eu-west-1 with replicas sized to whole nodes, families SageMaker does not offer
    (c7a, m7a, r7a) beside Graviton and Intel ones, an x86-only and a multi-arch image, ECS and plain
    instances; us-west-2 with GPU and Inferentia candidates, SageMaker-only families and deploy targets."""
    whole = scenario_dict(
        model(
            "whole-node",
            resources={"vcpu": 2, "memory_gib": 4},  # exactly a c6i.large: fits no large node on EKS
            capacities_rps={"c6i.large": 90, "c7a.large": 110},
            traffic={"profile": "diurnal-business-api", "peak_rps": 500},
        ),
        model(
            "multi-arch",
            resources={"vcpu": 1.5, "memory_gib": 3},
            architectures=["x86_64", "arm64"],
            capacities_rps={"c7g.large": 80, "m7a.large": 95},
            traffic={"profile": "weekday-business-hours", "peak_rps": 300},
            deploy={"ecs": {"cluster": "prod", "service": "multi-arch"}},
        ),
        model(
            "plain",
            resources={"vcpu": 4, "memory_gib": 8},
            capacities_rps={"c7a.xlarge": 150},
            traffic={"profile": "flat", "peak_rps": 400},
            deploy={"aws_asg": {"name": "plain-asg"}},
        ),
        name="eu-whole-nodes",
        region="eu-west-1",
        candidates={"families": ["c7a", "m7a", "r7a", "c6i", "c7g", "m7g"], "max_size_vcpu": 16},
    )
    gpu = scenario_dict(
        model(
            "ranker",
            resources={"vcpu": 3, "memory_gib": 12, "gpu_count": 1, "gpu_memory_gib": 16},
            capacities_rps={"g5.xlarge": 40, "g6.xlarge": 32},
            slo={"latency_p99_ms": 250},
            traffic={"profile": "nightly-batch", "peak_rps": 120},
            deploy={"kubernetes": {"namespace": "ml", "deployment": "ranker", "autoscaler": "keda"}},
        ),
        model(
            "embedder",
            resources={"vcpu": 0.8, "memory_gib": 1.5},
            architectures=["arm64"],
            capacities_rps={"c7g.medium": 60},
            traffic={"profile": "bursty-spikes", "peak_rps": 200},
            current={"platform": "sagemaker", "instance_type": "ml.c6g.large", "count": 2},
            deploy={"sagemaker": {"endpoint": "embedder"}},
        ),
        name="us-west-gpu",
        region="us-west-2",
        candidates={"families": ["g5", "g6", "inf2", "c7g", "c6g", "m7g", "c6i"], "max_size_vcpu": 16},
    )
    out = {"demo": (DEMO, load_scenario(DEMO))}
    for data in (whole, gpu):
        path = write_scenario(tmp / f"{data['name']}.yaml", data)
        out[data["name"]] = (path, load_scenario(path))
    return out


@pytest.fixture(scope="module")
def recs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Scenario, Recommendation]]:
    tmp = tmp_path_factory.mktemp("deployable")
    settings = Settings(home=tmp / "home")
    return {
        name: (sc, advisor.recommend(path, settings=settings)) for name, (path, sc) in _scenarios(tmp).items()
    }


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(Settings())


NAMES = ["demo", "eu-whole-nodes", "us-west-gpu"]


@pytest.mark.parametrize("name", NAMES)
def test_every_sagemaker_type_is_an_endpoint_type(recs: dict[str, Any], name: str) -> None:
    _sc, rec = recs[name]
    shapes = []
    for m in rec.models:
        if m.plan is not None and m.plan.platform is Platform.SAGEMAKER:
            shapes.append(m.plan.shape)
        shapes += [a.shape for a in m.alternatives if a.platform is Platform.SAGEMAKER]
        shapes += [b.shape for b in m.baselines if b.platform == "sagemaker" and b.shape]
    assert shapes, "the scenario offers SageMaker: some plan, alternative or baseline is on it"
    assert [s for s in shapes if s not in ENUM] == []


@pytest.mark.parametrize("name", NAMES)
def test_every_ec2_plan_fits_its_nodes_allocatable(recs: dict[str, Any], name: str, catalog: Catalog) -> None:
    sc, rec = recs[name]
    specs = {m.name: m for m in sc.models}
    checked = 0
    for m in rec.models:
        if m.plan is None or m.plan.platform is not Platform.EC2:
            continue
        need, rpn = specs[m.model].need, m.plan.replicas_per_node
        orchestrator = specs[m.model].orchestrator(sc.cluster)
        for t in m.plan.instance_types:
            spec = catalog.instance(t)
            if orchestrator is Orchestrator.EKS:
                vcpu, mem, slots = _eks_allocatable(spec.vcpu, spec.memory_gib, t)
                assert rpn <= slots
            else:  # ECS/instance: the kernel-reported memory (AWS's m4.large example: 7,985 of 8,192 MiB)
                vcpu, mem = spec.vcpu, spec.memory_gib * 7985 / 8192
            assert rpn * need.vcpu <= vcpu + 1e-9, (m.model, t, rpn, need.vcpu, vcpu)
            assert rpn * need.memory_gib <= mem + 1e-9, (m.model, t, rpn, need.memory_gib, mem)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("name", NAMES)
def test_no_pool_mixes_in_an_architecture_the_image_lacks(
    recs: dict[str, Any], name: str, catalog: Catalog
) -> None:
    sc, rec = recs[name]
    specs = {m.name: m for m in sc.models}
    for m in rec.models:
        if m.plan is None:
            continue
        image = {a.value for a in specs[m.model].architectures}
        if m.plan.platform is not Platform.FARGATE:
            arches = {catalog.instance(t).arch.value for t in m.plan.instance_types}
            assert arches <= image, (m.model, m.plan.instance_types, image)
    for pool in rec.pools:
        for member in pool.models:
            assert {a.value for a in pool.architectures} <= {a.value for a in specs[member].architectures}
    assert violations(rec, sc, catalog) == []


def test_the_scenarios_exercise_what_they_claim(recs: dict[str, Any]) -> None:
    _sc, eu = recs["eu-whole-nodes"]
    whole = eu.model("whole-node")
    assert whole.plan is not None and whole.plan.shape != "c6i.large"  # 2 vCPU / 4 GiB needs a bigger node
    assert any("does not fit a c6i.large node on eks" in w for w in eu.warnings)
    assert eu.model("plain").plan is not None
    assert eu.model("multi-arch").deploy is not None
    _sc, west = recs["us-west-gpu"]
    embedder = west.model("embedder")
    assert embedder.plan is not None
    assert {a.value for a in embedder.plan.deployment.architectures} == {"arm64"}


def _with_plan(rec: Recommendation, model_name: str, **plan_updates: Any) -> Recommendation:
    """``rec`` with one model's plan (and its cost-model plan) changed as given."""
    models = []
    for m in rec.models:
        if m.model == model_name and m.plan is not None:
            inner = m.plan.plan.model_copy(update=plan_updates.pop("inner", {}))
            m = m.model_copy(update={"plan": m.plan.model_copy(update={**plan_updates, "plan": inner})})
        models.append(m)
    return rec.model_copy(update={"models": models})


def test_validation_names_a_sagemaker_type_that_does_not_exist(
    recs: dict[str, Any], catalog: Catalog
) -> None:
    sc, rec = recs["demo"]
    broken = _with_plan(
        rec,
        "fraud-scorer",
        platform=Platform.SAGEMAKER,
        shape="ml.c7a.medium",
        instance_types=["ml.c7a.medium"],
        inner={"platform": Platform.SAGEMAKER, "shape": "ml.c7a.medium", "purchase": {}},
    )
    found = [str(v) for v in violations(broken, sc, catalog)]
    assert (
        "fraud-scorer: plan.shape: ml.c7a.medium is not a SageMaker endpoint instance type (botocore "
        in found[0]
    )
    with pytest.raises(InvalidRecommendation) as err:
        validate(broken, sc, catalog)
    assert str(err.value).startswith(
        "the recommendation is not deployable as computed: fraud-scorer: plan.shape"
    )


def test_validation_names_a_replica_that_does_not_fit_its_node(
    recs: dict[str, Any], catalog: Catalog
) -> None:
    sc, rec = recs["demo"]
    churn = rec.model("churn-predictor")
    assert churn.plan is not None
    two_by_four = churn.plan.plan.replica.model_copy(update={"vcpu": 2.0, "memory_gib": 4.0})
    eks = sc.model_copy(
        update={"models": tuple(m.model_copy(update={"deploy": None}) for m in sc.models)}
    )  # no deploy target: the scenario's cluster, EKS
    broken = _with_plan(
        rec,
        "churn-predictor",
        shape="c6i.large",
        instance_types=["c6i.large"],
        replicas_per_node=1,
        inner={"shape": "c6i.large", "replicas_per_node": 1, "replica": two_by_four},
    )
    found = [str(v) for v in violations(broken, eks, catalog) if v.model == "churn-predictor"]
    assert found == [
        "churn-predictor: plan.replicas_per_node: 1 replica(s) of 2 vCPU / 4 GiB do not fit a c6i.large node "
        "on eks (allocatable 1.78 vCPU / 3.34 GiB, 27 pod slots; 0 fit)"
    ]


def test_the_demo_explains_its_platform_choices_with_data_processing_and_premiums(
    recs: dict[str, Any], catalog: Catalog
) -> None:
    _sc, rec = recs["demo"]
    fraud = rec.model("fraud-scorer")
    assert fraud.plan is not None and fraud.platform_choice is not None
    chosen = fraud.platform_choice.split(", against ")[0]
    assert chosen.startswith(f"{fraud.plan.platform.value} {fraud.plan.shape} ")
    sagemaker = next(a for a in fraud.alternatives if a.platform is Platform.SAGEMAKER)
    data = sagemaker.by_component["data_processing"]
    assert data > 0 and f"data processing ${data:,.2f}" in fraud.platform_choice
    ec2 = catalog.on_demand("us-east-1", sagemaker.shape.removeprefix("ml."))
    ratio = catalog.sagemaker("us-east-1", sagemaker.shape).usd_per_hour / ec2.usd_per_hour
    assert f"instance at {ratio:.2f}x EC2" in fraud.platform_choice
    if fraud.plan.platform is not Platform.SAGEMAKER:  # the load balancer is in the chosen plan's figures
        lb = (
            fraud.cost.by_component["load_balancer_hours"]
            + fraud.cost.by_component["load_balancer_capacity_units"]
        )
        assert f"load balancer ${lb:,.2f}" in chosen


def test_a_sagemaker_plan_lists_its_data_processing_and_premium_with_sources(catalog: Catalog) -> None:
    from advisor.cost import resolve_prices, simulate
    from tests.traffic_cost_helpers import flat_profile, make_plan

    plan = make_plan(
        platform="sagemaker", shape="ml.c6i.large", autoscaling={"min_replicas": 2, "max_replicas": 2}
    )
    result = simulate(plan, flat_profile(50.0, 24), resolve_prices(plan, catalog))
    assert result.breakdown.by_component["data_processing"] > 0 and result.prices_estimated
    sources = "\n".join(result.price_sources)
    assert "sagemaker data processing: 0.016 $/GB in, 0.016 $/GB out, infracost-sagemaker@157609da" in sources
    assert "median SageMaker/EC2 ratio over the" in sources and "CPU types" in sources


def test_a_model_held_to_some_platforms_is_recommended_on_them_only() -> None:
    """`platforms:` under a model narrows the scenario's: the same model on EC2 by default, on SageMaker
    when held there; a platform the scenario does not allow is refused with the reason."""
    from tests.optimize_helpers import scenario

    given = {"c6i.large": 100.0}
    free = advisor.recommend(scenario(model(capacities_rps=given)), settings=Settings())
    held = advisor.recommend(
        scenario(model(capacities_rps=given, platforms=["sagemaker"])), settings=Settings()
    )
    free_plan, held_plan = free.models[0].plan, held.models[0].plan
    assert free_plan is not None and held_plan is not None
    assert free_plan.platform is not Platform.SAGEMAKER and held_plan.platform is Platform.SAGEMAKER
    with pytest.raises(ValueError, match="model m lists platforms fargate, which the scenario's platforms"):
        scenario(model(platforms=["fargate"]), platforms=["ec2", "sagemaker"])
