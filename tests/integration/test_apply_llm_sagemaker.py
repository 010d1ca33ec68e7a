"""Applying a language model's plan to a SageMaker endpoint against moto's server: a production variant per
instance group (a vLLM container, its type, its weight), Application Auto Scaling per variant; dry run,
apply and read back, a second run that changes nothing, rollback, and an injected failure rolled back and
audited. The endpoint runs today on one ml.p4d.24xlarge (tests/apply_helpers' moto, with its
UpdateEndpoint)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import advisor.apply
from advisor.apply.aws.sagemaker_llm import DEFAULT_IMAGE, METRIC
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import Recommendation
from advisor.recommendation.store import save_recommendation
from advisor.store import Store
from tests.apply_helpers import ACCOUNT, SageMakerBehaviour, clients, moto_aws, mutating_call_fails, snapshot
from tests.helpers import SHARED, run_cli
from tests.traffic_cost_helpers import invoke

CONV = SHARED / "traces" / "azure_llm_inference_2023_conv.csv"


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Recommendation:
    """Llama-3.1-8B on SageMaker at 40 requests/s at the peak, given two variants: the plan's group and a
    second type taking the largest prompts (a mix the endpoint's weights and TargetVariant split)."""
    if not CONV.is_file():
        pytest.skip("../shared/traces/ is not beside the checkout")
    tmp = tmp_path_factory.mktemp("llm-sm")
    chat = {
        "name": "chat",
        "llm": {"model": "llama-3.1-8b"},
        "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 100},
        "traffic": {"profile": "diurnal-business-api", "peak_rps": 40},
        "tokens": {"trace": str(CONV)},
        "current": {"platform": "sagemaker", "instance_type": "ml.p4d.24xlarge", "count": 1},
        "instance_types": ["g5.xlarge", "g6e.xlarge", "g5.12xlarge"],
        "deploy": {"sagemaker": {"endpoint": "chat"}},
    }
    path = tmp / "chat.yaml"
    path.write_text(yaml.safe_dump({"name": "chat-sm", "platforms": ["sagemaker"], "models": [chat]}))
    out = run_cli("recommend", str(path), "--json", "--no-store", env={"ADVISOR_HOME": str(tmp / "h")})
    assert out.code == 0, out.stderr
    got = Recommendation.model_validate(json.loads(out.stdout))
    (m,) = got.llm_models
    assert m.platform == "sagemaker" and m.deployment is not None
    return got.model_copy(update={"llm_models": [_two_variants(m)]})


def _two_variants(m: LLMModelRecommendation) -> LLMModelRecommendation:
    d = m.deployment
    assert d is not None
    g = d.groups[0]
    big = g.model_copy(
        update={
            "option": "ml.g5.12xlarge tp4",
            "name": "chat-ml-g5-12xlarge-tp4",
            "instance_type": "ml.g5.12xlarge",
            "accelerators_per_replica": 4,
            "share_of_requests": 0.25,
            "min_instances": 1,
            "max_instances": 2,
            "min_replicas": 1,
            "max_replicas": 2,
            "schedules": [],
        }
    )
    small = g.model_copy(update={"share_of_requests": 0.75})
    return m.model_copy(update={"deployment": d.model_copy(update={"groups": [small, big]})})


@pytest.fixture
def home(tmp_path: Path, rec: Recommendation, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ADVISOR_HOME", str(tmp_path / "home"))
    with Store(tmp_path / "home" / "advisor.db") as store:
        save_recommendation(store, rec)
    return tmp_path / "home"


@pytest.fixture
def aws() -> Iterator[SageMakerBehaviour]:
    with moto_aws() as (_, behaviour):
        sm = clients()["sagemaker"]
        sm.create_model(
            ModelName="chat-today",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
            PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/chat:1"},
        )
        variant = {"VariantName": "AllTraffic", "ModelName": "chat-today", "InitialInstanceCount": 1,
                   "InstanceType": "ml.p4d.24xlarge"}  # fmt: skip
        sm.create_endpoint_config(EndpointConfigName="chat-today", ProductionVariants=[variant])
        sm.create_endpoint(EndpointName="chat", EndpointConfigName="chat-today")
        yield behaviour


def _state() -> dict[str, Any]:
    sm = clients()["sagemaker"]
    return {
        **snapshot(),
        "models": sorted(m["ModelName"] for m in sm.list_models()["Models"]),
        "config": sm.describe_endpoint(EndpointName="chat")["EndpointConfigName"],
    }


def _check_applied(rec: Recommendation) -> None:
    c = clients()
    sm, aas = c["sagemaker"], c["application-autoscaling"]
    (m,) = rec.llm_models
    d = m.deployment
    assert d is not None
    config = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName="chat")["EndpointConfigName"]
    )
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert set(variants) == {g.name for g in d.groups}
    targets = {
        t["ResourceId"]: t
        for t in aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    }
    policies = {
        p["ResourceId"]: p
        for p in aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    }
    for g in d.groups:
        v = variants[g.name]
        assert v["InstanceType"] == g.instance_type and v["InitialVariantWeight"] == pytest.approx(
            g.share_of_requests
        )
        container = sm.describe_model(ModelName=v["ModelName"])["PrimaryContainer"]
        assert container["Image"] == DEFAULT_IMAGE.format(region="us-east-1")
        env = container["Environment"]
        assert env["SM_VLLM_TENSOR_PARALLEL_SIZE"] == str(g.accelerators_per_replica)
        assert env["SM_VLLM_MAX_MODEL_LEN"] == str(d.serving.max_model_len)
        assert env["SM_VLLM_MODEL"] == "meta-llama/Llama-3.1-8B-Instruct"
        resource = f"endpoint/chat/variant/{g.name}"
        assert (targets[resource]["MinCapacity"], targets[resource]["MaxCapacity"]) == (
            g.min_instances,
            g.max_instances,
        )
        tracking = policies[resource]["TargetTrackingScalingPolicyConfiguration"]
        assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == METRIC
        per_minute = g.requests_per_s_per_replica * g.replicas_per_instance * 60
        assert tracking["TargetValue"] == pytest.approx(per_minute, abs=1e-3)
        actions = aas.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=resource)[
            "ScheduledActions"
        ]
        assert len(actions) == 2 * len(g.schedules)  # the minimum rises, then falls back


def test_dry_run_apply_noop_and_rollback(
    capsys: pytest.CaptureFixture[str], home: Path, aws: SageMakerBehaviour, rec: Recommendation
) -> None:
    before = _state()
    dry = invoke(capsys, "apply", "--model", "chat")
    assert dry.code == 0 and "chat → sagemaker chat/AllTraffic:" in dry.stdout, dry.stdout + dry.stderr
    assert "create endpoint config" in dry.stdout and "dry run" in dry.stderr
    assert _state() == before
    run = invoke(capsys, "apply", "--model", "chat", "--yes")
    assert run.code == 0, run.stderr
    applied = re.search(r"applied chat \(change (\d+)\), verified", run.stderr)
    assert applied, run.stderr
    _check_applied(rec)
    again = invoke(capsys, "apply", "--model", "chat", "--yes")
    assert again.code == 0 and again.stderr.strip().endswith("nothing to change")
    undo = invoke(capsys, "apply", "rollback", applied.group(1), "--yes")
    assert undo.code == 0, undo.stderr
    assert _state() == before  # the endpoint on its config, advisor's config, models and scaling gone


@pytest.mark.parametrize("failing", [3, 5])
def test_a_failure_rolls_back_what_was_made_and_is_audited(
    capsys: pytest.CaptureFixture[str],
    home: Path,
    aws: SageMakerBehaviour,
    monkeypatch: pytest.MonkeyPatch,
    failing: int,
) -> None:
    """The 3rd call (the endpoint config, after both models) or the 5th (the first variant's scaling,
    after the update) fails: everything made before is undone, the models and config advisor made too."""
    before = _state()
    calls: list[str] = []
    monkeypatch.setattr(advisor.apply, "default_registry", mutating_call_fails(failing, calls))
    run = invoke(capsys, "apply", "--model", "chat", "--yes")
    assert run.code != 0 and "Traceback" not in run.stderr
    (error,) = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert "injected failure" in error and "rolled back (chat)" in error
    made = ["CreateModel", "CreateModel", "CreateEndpointConfig", "UpdateEndpoint", "RegisterScalableTarget"]
    assert calls[:failing] == made[:failing]
    assert _state() == before
    with Store(home / "advisor.db") as store:
        rows = store.query("SELECT model, action, status FROM applied_changes ORDER BY id")
    assert [(r["model"], r["action"], r["status"]) for r in rows] == [
        ("chat", "apply", "failed"),
        ("chat", "rollback", "applied"),
    ]


def test_a_new_variant_starts_at_the_floor_in_force(rec: Recommendation) -> None:
    import datetime as dt

    from advisor.apply.aws.sagemaker_llm import floor_now
    from advisor.recommendation.scaling import ScheduledMinimum

    (m,) = rec.llm_models
    assert m.deployment is not None
    g = m.deployment.groups[0].model_copy(
        update={"min_instances": 1, "max_instances": 6, "replicas_per_instance": 1, "schedules": [
            ScheduledMinimum(start="0 9 * * *", end="0 18 * * *", timezone="Europe/Berlin", min_replicas=4),
            ScheduledMinimum(start="0 22 * * *", end="0 2 * * *", timezone="Europe/Berlin", min_replicas=2),
        ]}
    )  # fmt: skip

    def at(hour: int) -> dt.datetime:  # Berlin is UTC+1 in January
        return dt.datetime(2026, 1, 5, hour, 30, tzinfo=dt.UTC)

    assert [floor_now(g, at(h)) for h in (7, 8, 16, 17, 21, 23, 1, 3)] == [1, 4, 4, 1, 2, 2, 1, 1]
