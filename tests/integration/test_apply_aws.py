"""`advisor apply` against moto's server: dry run, apply, verify, no-op, rollback, failure drills, drift,
guardrails, migrations. The targets are the demo's, created in moto as they run today
(tests/apply_helpers)."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

import advisor.apply
from advisor.api import recommend
from advisor.apply.aws.clients import aws_cron
from advisor.apply.base import ApplyError
from advisor.recommendation.model import Recommendation
from advisor.recommendation.store import save_recommendation
from advisor.store import Store
from tests.apply_helpers import (
    SageMakerBehaviour,
    apply_scenario,
    clients,
    create_targets,
    moto_aws,
    mutating_call_fails,
    snapshot,
)
from tests.helpers import REPO_ROOT
from tests.traffic_cost_helpers import invoke

SECRET = "testing-secret-never-printed"
AWS_MODELS = ("fraud-scorer", "search-embedder", "churn-predictor")


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommendation:
    folder = tmp_path_factory.mktemp("apply-scenario")
    return recommend(apply_scenario(folder))


@pytest.fixture
def home(tmp_path: Path, rec: Recommendation, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store holding the demo-apply recommendation, as ADVISOR_HOME."""
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    with Store(tmp_path / "home" / "advisor.db") as store:
        save_recommendation(store, rec)
    return tmp_path / "home"


@pytest.fixture
def aws(rec: Recommendation) -> Iterator[SageMakerBehaviour]:
    with moto_aws() as (_, behaviour):
        create_targets(rec)
        yield behaviour


def _frozen() -> str:
    return json.dumps(snapshot(), sort_keys=True, default=str, indent=1)


def _same(before: str, after: str) -> bool:
    """Equal snapshots; otherwise the difference is printed (pytest shows it with the failure)."""
    if before != after:
        print("\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2)))
    return before == after


def _models(*names: str) -> list[str]:
    return [arg for n in names for arg in ("--model", n)]


def test_dry_run_prints_the_diff_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], home: Path, aws: SageMakerBehaviour, rec: Recommendation
) -> None:
    before = _frozen()
    run = invoke(capsys, "apply", *_models(*AWS_MODELS))
    assert run.code == 0, run.stderr
    assert _same(before, _frozen())  # every described resource byte-equal
    fraud = rec.model("fraud-scorer")
    assert fraud.plan is not None
    assert "fraud-scorer → aws_asg fraud-scorer:" in run.stdout
    assert "MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity: (none) → " in run.stdout
    assert "search-embedder → sagemaker search-embedder/AllTraffic:" in run.stdout
    assert f"Variant.InstanceType: ml.c5.2xlarge → {rec.model('search-embedder').plan.shape}" in run.stdout  # type: ignore[union-attr]
    assert f"${fraud.current.usd_per_month:,.2f} → ${fraud.cost.usd_per_month:,.2f}/month" in run.stdout  # type: ignore[union-attr]
    assert "dry run: nothing changed" in run.stderr
    with Store(home / "advisor.db") as store:
        assert store.query("SELECT COUNT(*) AS n FROM applied_changes")[0]["n"] == 0
    assert SECRET not in run.stdout + run.stderr


def _check_applied(rec: Recommendation) -> None:
    """What boto3 reads back equals the recommendation, target by target."""
    c = clients()
    fraud = rec.model("fraud-scorer")
    assert fraud.plan is not None and fraud.plan.deployment is not None
    pool = next(p for p in rec.pools if p.name in fraud.plan.deployment.pools)
    group = c["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=["fraud-scorer"])[
        "AutoScalingGroups"
    ][0]
    mixed = group["MixedInstancesPolicy"]
    assert [o["InstanceType"] for o in mixed["LaunchTemplate"]["Overrides"]] == pool.instance_types
    dist = mixed["InstancesDistribution"]
    assert dist["OnDemandPercentageAboveBaseCapacity"] == pool.on_demand_percentage_above_base_capacity
    assert dist["SpotAllocationStrategy"] == "price-capacity-optimized"
    assert (group["MinSize"], group["MaxSize"]) == (pool.min_nodes, pool.max_nodes)
    assert dist["OnDemandBaseCapacity"] == pool.on_demand_base_capacity
    need = fraud.plan.deployment.replica
    fits = {
        t: math.floor(min(a.vcpu / need.vcpu, a.memory_gib / need.memory_gib, a.pod_slots or math.inf))
        for t, a in pool.allocatable.items()
    }
    shape = fits[pool.instance_types[0]]
    weights = {o["InstanceType"]: int(o["WeightedCapacity"]) for o in mixed["LaunchTemplate"]["Overrides"]}
    assert weights == {t: max(1, fits[t] // shape) for t in pool.instance_types}
    policy = c["autoscaling"].describe_policies(AutoScalingGroupName="fraud-scorer")["ScalingPolicies"][0]
    label = policy["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["ResourceLabel"]
    assert label.startswith("app/demo/") and "/targetgroup/fraud-scorer/" in label
    assert policy["TargetTrackingConfiguration"]["TargetValue"] == pytest.approx(
        fraud.plan.deployment.scaling_metric.target_value, abs=1e-3
    )

    search = rec.model("search-embedder")
    assert search.plan is not None and search.plan.deployment is not None
    variant = search.plan.deployment.sagemaker_variant
    assert variant is not None
    endpoint = c["sagemaker"].describe_endpoint(EndpointName="search-embedder")
    config = c["sagemaker"].describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["InstanceType"] == variant.instance_type
    count = endpoint["ProductionVariants"][0]["DesiredInstanceCount"]
    assert variant.min_instance_count <= count <= variant.max_instance_count
    aas = c["application-autoscaling"]
    target = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        variant.min_instance_count,
        variant.max_instance_count,
    )
    sm_policy = aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    tracking = sm_policy["TargetTrackingScalingPolicyConfiguration"]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert tracking["TargetValue"] == pytest.approx(
        search.plan.deployment.scaling_metric.target_value, abs=1e-3
    )

    churn = rec.model("churn-predictor")
    assert churn.plan is not None and churn.plan.deployment is not None
    svc = c["ecs"].describe_services(cluster="prod", services=["churn-predictor"])["services"][0]
    want = [
        {"capacityProvider": i.capacity_provider, "base": i.base, "weight": i.weight}
        for i in churn.plan.deployment.capacity_provider_strategy
    ]
    got = [
        {"capacityProvider": i["capacityProvider"], "base": i.get("base", 0), "weight": i["weight"]}
        for i in svc["capacityProviderStrategy"]
    ]
    assert sorted(got, key=str) == sorted(want, key=str)
    ecs_target = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]
    bounds = (max(1, churn.plan.deployment.min_replicas), churn.plan.deployment.max_replicas)
    assert (ecs_target["MinCapacity"], ecs_target["MaxCapacity"]) == bounds
    (ecs_policy,) = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    ecs_tracking = ecs_policy["TargetTrackingScalingPolicyConfiguration"]
    assert ecs_tracking["TargetValue"] == pytest.approx(
        churn.plan.deployment.scaling_metric.target_value, abs=1e-3
    )


def test_apply_verify_noop_history_and_rollback(
    capsys: pytest.CaptureFixture[str], home: Path, aws: SageMakerBehaviour, rec: Recommendation
) -> None:
    before = _frozen()
    run = invoke(capsys, "apply", "latest", *_models(*AWS_MODELS), "--yes")
    assert run.code == 0, run.stderr
    for name in AWS_MODELS:
        assert f"applied {name} (change " in run.stderr
    _check_applied(rec)

    again = invoke(capsys, "apply", *_models(*AWS_MODELS), "--yes")
    assert again.code == 0 and "nothing to change" in again.stderr
    for name in AWS_MODELS:
        assert f"{name} → " in again.stdout and "nothing: nothing to change" in again.stdout

    history = invoke(capsys, "apply", "history", "--json")
    rows = json.loads(history.stdout)
    applied = {r["model"]: r["id"] for r in rows if r["action"] == "apply"}
    assert set(applied) == set(AWS_MODELS) and all(r["status"] == "applied" for r in rows)
    assert all(r["verification"].startswith("verified") for r in rows)

    for name in reversed(AWS_MODELS):
        dry = invoke(capsys, "apply", "rollback", str(applied[name]))
        assert dry.code == 0 and "dry run" in dry.stderr
        undo = invoke(capsys, "apply", "rollback", str(applied[name]), "--yes")
        assert undo.code == 0, undo.stderr
        assert f"rolled back change {applied[name]}" in undo.stderr
    assert _same(before, _frozen())  # the exact before-state, read back

    listed = invoke(capsys, "apply", "history")
    for name, change_id in applied.items():
        assert f"{change_id:>5}" in listed.stdout and name in listed.stdout
    assert listed.stdout.count("rolled_back") == 3 and listed.stdout.count("(undoes ") == 3
    again_undo = invoke(capsys, "apply", "rollback", str(applied["fraud-scorer"]), "--yes")
    assert again_undo.code != 0 and "only an applied change can be rolled back" in again_undo.stderr
    assert SECRET not in run.stdout + run.stderr + listed.stdout


def test_failure_on_the_third_of_five_calls_rolls_back_the_first_two(
    capsys: pytest.CaptureFixture[str],
    home: Path,
    aws: SageMakerBehaviour,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _frozen()
    calls: list[str] = []
    monkeypatch.setattr(advisor.apply, "default_registry", mutating_call_fails(3, calls))
    dry = invoke(capsys, "apply", *_models("fraud-scorer", "churn-predictor"), "--json")
    plan = json.loads(dry.stdout)
    assert sum(len(m["steps"]) for m in plan["models"]) == 5  # the five calls the run will make
    run = invoke(capsys, "apply", *_models("fraud-scorer", "churn-predictor"), "--yes")
    assert run.code != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert (
        len(errors) == 1
        and "injected failure" in errors[0]
        and "rolled back (churn-predictor, fraud-scorer)" in errors[0]
    )
    assert "Traceback" not in run.stderr
    assert calls[:3] == ["UpdateAutoScalingGroup", "PutScalingPolicy", "UpdateService"]
    assert _same(before, _frozen())
    with Store(home / "advisor.db") as store:
        rows = store.query("SELECT model, action, status, rollback_of FROM applied_changes ORDER BY id")
    assert [(r["model"], r["action"], r["status"]) for r in rows] == [
        ("fraud-scorer", "apply", "rolled_back"),
        ("churn-predictor", "apply", "failed"),
        ("churn-predictor", "rollback", "applied"),
        ("fraud-scorer", "rollback", "applied"),
    ]
    assert rows[3]["rollback_of"] == 1 and rows[2]["rollback_of"] == 2


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def test_a_throttled_call_is_retried_with_backoff(
    capsys: pytest.CaptureFixture[str], home: Path, aws: SageMakerBehaviour, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two Throttling answers to UpdateAutoScalingGroup, then the real one: botocore's standard retry mode
    retries it and the change goes through."""
    attempts: list[str] = []
    real = advisor.apply.default_registry
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        b"</Error><RequestId>1</RequestId></ErrorResponse>"
    )

    def hook(client: Any) -> None:
        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            sent = request.body or b""
            if b"Action=UpdateAutoScalingGroup" in (sent if isinstance(sent, bytes) else sent.encode()):
                attempts.append("UpdateAutoScalingGroup")
                if len(attempts) <= 2:
                    return AWSResponse(request.url, 400, HTTPHeaders(), _Raw(body))
            return None

        client.meta.events.register("before-send.auto-scaling", before_send)

    monkeypatch.setattr(advisor.apply, "default_registry", lambda **kw: real(**kw, client_hook=hook))
    run = invoke(capsys, "apply", *_models("fraud-scorer"), "--yes")
    assert run.code == 0, run.stderr
    assert attempts == ["UpdateAutoScalingGroup"] * 3
    assert "applied fraud-scorer" in run.stderr


def test_a_verification_timeout_fails_and_restores(
    capsys: pytest.CaptureFixture[str], home: Path, rec: Recommendation
) -> None:
    """ECS keeps the new deployment IN_PROGRESS (no task ever runs): apply waits --timeout, fails, and
    restores the service's settings (the rollback notes the service is still rolling out)."""
    with moto_aws(ecs_tasks_start=False):
        create_targets(rec)
        before = _frozen()
        run = invoke(capsys, "apply", *_models("churn-predictor"), "--yes", "--timeout", "1")
        assert run.code == 1
        assert (
            "did not reach a steady state in time" in run.stderr
            and "rolled back (churn-predictor)" in run.stderr
        )
        after = json.loads(_frozen())
    before_svc = json.loads(before)["ecs arn:aws:ecs:us-east-1:123456789012:cluster/prod"][0]
    after_svc = after["ecs arn:aws:ecs:us-east-1:123456789012:cluster/prod"][0]
    assert after_svc["deploymentConfiguration"] == before_svc["deploymentConfiguration"]
    assert after["aas ecs"] == json.loads(before)["aas ecs"]
    with Store(home / "advisor.db") as store:
        rows = store.query("SELECT action, status, verification FROM applied_changes ORDER BY id")
    assert [(r["action"], r["status"]) for r in rows] == [("apply", "failed"), ("rollback", "applied")]
    assert "not yet stable" in rows[1]["verification"]


def test_drift_is_refused_unless_forced(
    capsys: pytest.CaptureFixture[str], home: Path, aws: SageMakerBehaviour, rec: Recommendation
) -> None:
    current = rec.model("fraud-scorer").current
    assert current is not None and current.count is not None
    clients()["autoscaling"].update_auto_scaling_group(
        AutoScalingGroupName="fraud-scorer", MaxSize=current.count * 3, DesiredCapacity=current.count * 3
    )
    before = _frozen()
    dry = invoke(capsys, "apply", *_models("fraud-scorer"))
    assert dry.code == 1
    assert "refused: the target runs 12 but the recommendation was computed against 4" in dry.stdout
    assert dry.stderr.startswith("error: fraud-scorer: the target runs 12") and dry.stderr.count("\n") == 1
    run = invoke(capsys, "apply", *_models("fraud-scorer"), "--yes")
    assert run.code != 0 and run.stderr.count("\n") == 1 and "drifted" in run.stderr
    assert _same(before, _frozen())
    forced = invoke(capsys, "apply", *_models("fraud-scorer"), "--yes", "--force", "--max-disruption", "100")
    assert forced.code == 0, forced.stderr


def test_guardrails_hold_the_on_demand_base_and_the_disruption_share(
    capsys: pytest.CaptureFixture[str], home: Path, aws: SageMakerBehaviour
) -> None:
    """--min-on-demand raises the on-demand base; --max-disruption caps what a rollout may stop (a service
    that already allows less keeps its setting, one that allows more is held to the guardrail)."""
    clients()["ecs"].update_service(
        cluster="prod",
        service="churn-predictor",
        deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
    )
    run = invoke(
        capsys,
        "apply",
        *_models("fraud-scorer", "churn-predictor"),
        "--yes",
        "--min-on-demand",
        "3",
        "--max-disruption",
        "10",
    )
    assert run.code == 0, run.stderr
    c = clients()
    group = c["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=["fraud-scorer"])[
        "AutoScalingGroups"
    ][0]
    assert group["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandBaseCapacity"] >= 3
    svc = c["ecs"].describe_services(cluster="prod", services=["churn-predictor"])["services"][0]
    assert svc["deploymentConfiguration"]["minimumHealthyPercent"] == 90
    fargate = [i for i in svc["capacityProviderStrategy"] if i["capacityProvider"] == "FARGATE"]
    assert fargate and fargate[0]["base"] >= 3


def test_a_platform_change_writes_configuration_and_a_checklist(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo as it is: search-embedder's SageMaker endpoint is recommended onto EC2 nodes, a migration:
    apply writes the EC2 configuration and a checklist and calls no AWS API (no endpoint is reachable)."""
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: any call would fail
    demo = recommend(REPO_ROOT / "examples" / "demo-scenario.yaml")
    with Store(tmp_path / "home" / "advisor.db") as store:
        save_recommendation(store, demo)
    moved = demo.model("search-embedder")
    assert moved.plan is not None and moved.plan.deployment is not None and moved.plan.deployment.migration
    assert (
        moved.deploy is not None and moved.deploy.sagemaker is not None and moved.plan.platform.value == "ec2"
    )
    out = tmp_path / "out"
    run = invoke(capsys, "apply", *_models("search-embedder"), "--out", str(out))
    assert run.code == 0, run.stderr
    assert "migration: platform change to ec2" in run.stdout
    checklist = (out / "search-embedder" / "MIGRATION.md").read_text()
    assert "advisor apply created nothing" in checklist and "- [ ] Image" in checklist
    written = sorted(f.name for f in (out / "search-embedder").iterdir())
    assert len(written) > 1, written  # the configuration beside the checklist
    for name in written:
        assert name in checklist or name == "MIGRATION.md"


@pytest.mark.parametrize(
    ("unix", "aws"),
    [
        ("30 0 * * *", "cron(30 0 * * ? *)"),
        ("0 8 * * 1-5", "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"),
        ("0 8 * * MON", "cron(0 8 ? * MON *)"),
        ("0 1 * * 0,6", "cron(0 1 ? * SUN,SAT *)"),
        ("0 1 * * 7", "cron(0 1 ? * SUN *)"),
        ("0 1 * * */2", "cron(0 1 ? * SUN,TUE,THU,SAT *)"),
        ("0 1 * * 5-7", "cron(0 1 ? * SUN,FRI,SAT *)"),
    ],
)
def test_unix_cron_becomes_aws_cron(unix: str, aws: str) -> None:
    assert aws_cron(unix) == aws


def test_aws_cron_refuses_what_it_cannot_express() -> None:
    with pytest.raises(ApplyError, match="both the day of the month and of the week"):
        aws_cron("0 0 1 * 1")


def test_an_ecs_plan_on_ec2_needs_its_pools_capacity_provider(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo as it is puts churn-predictor's ECS service on EC2 nodes (pool inference-churn-predictor):
    apply uses the capacity provider of that name and says so, in one line, when the cluster lacks it."""
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    demo = recommend(REPO_ROOT / "examples" / "demo-scenario.yaml")
    with Store(tmp_path / "home" / "advisor.db") as store:
        save_recommendation(store, demo)
    churn = demo.model("churn-predictor")
    assert churn.plan is not None and churn.plan.deployment is not None
    (pool,) = churn.plan.deployment.pools
    with moto_aws():
        create_targets(demo)
        run = invoke(capsys, "apply", *_models("churn-predictor"))
    assert run.code == 1
    assert f"cluster 'prod' has no capacity provider '{pool}' for the plan's EC2 pool" in run.stdout
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: churn-predictor:")


def test_scaling_policies_advisor_did_not_make_are_refused_unless_forced(
    capsys: pytest.CaptureFixture[str], home: Path, aws: SageMakerBehaviour
) -> None:
    """A step-scaling policy someone set on the group would scale it beside advisor's target tracking."""
    asg = clients()["autoscaling"]
    asg.put_scaling_policy(
        AutoScalingGroupName="fraud-scorer",
        PolicyName="ops-cpu-steps",
        PolicyType="SimpleScaling",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=1,
    )
    dry = invoke(capsys, "apply", *_models("fraud-scorer"))
    assert dry.code == 1 and "refused:" in dry.stdout and "ops-cpu-steps" in dry.stdout
    forced = invoke(capsys, "apply", *_models("fraud-scorer"), "--yes", "--force")
    assert forced.code == 0, forced.stderr
    names = {
        p["PolicyName"] for p in asg.describe_policies(AutoScalingGroupName="fraud-scorer")["ScalingPolicies"]
    }
    assert names == {"ops-cpu-steps", "advisor-target-tracking"}


def test_a_failed_endpoint_update_leaves_no_endpoint_config_behind(
    capsys: pytest.CaptureFixture[str],
    home: Path,
    aws: SageMakerBehaviour,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """UpdateEndpoint fails after CreateEndpointConfig: the rollback deletes the config the run made."""
    before = _frozen()
    calls: list[str] = []
    monkeypatch.setattr(advisor.apply, "default_registry", mutating_call_fails(2, calls))
    run = invoke(capsys, "apply", *_models("search-embedder"), "--yes")
    assert run.code == 1 and "injected failure" in run.stderr
    assert calls[:3] == ["CreateEndpointConfig", "UpdateEndpoint", "DeleteEndpointConfig"]
    assert _same(before, _frozen())
