"""Start-up delays by platform, accelerator and image size, as the recommendation plans with them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

import advisor
from advisor import Settings
from advisor.cost.baselines import TARGET_TRACKING_SCALE_OUT_ALARM_S
from advisor.cost.replay.provisioning import (
    IMAGE_PULL_MIB_PER_S,
    ec2_instance_start_s,
    ec2_scale_up_delay_s,
    fargate_task_start_s,
)
from tests.helpers import REPO_ROOT

REPO = REPO_ROOT


def _delays(scenario: Path, home: Path) -> dict[str, tuple[str, str, float]]:
    rec = advisor.recommend(
        scenario, settings=Settings(home=home), clock=lambda: dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    )
    return {
        m.model: (m.plan.platform.value, m.plan.shape, m.plan.scale_up_delay_s) for m in rec.models if m.plan
    }


def test_gpu_nodes_and_bigger_images_start_later(tmp_path: Path) -> None:
    source = REPO / "examples" / "demo-scenario.yaml"
    delays = _delays(source, tmp_path / "a")
    assert ec2_scale_up_delay_s(True) > ec2_scale_up_delay_s(False)
    # fraud-scorer and doc-reranker run on Kubernetes (the HPA); churn-predictor on ECS with EC2 nodes
    # (target tracking: its alarm, then a new instance); search-embedder's target is SageMaker
    assert delays["doc-reranker"][2] == pytest.approx(ec2_scale_up_delay_s(True))
    assert delays["fraud-scorer"][2] == pytest.approx(ec2_scale_up_delay_s(False))
    churn = delays["churn-predictor"]
    if churn[0] == "ec2":
        assert churn[2] == pytest.approx(TARGET_TRACKING_SCALE_OUT_ALARM_S + ec2_instance_start_s(False))
    for platform, _, delay in delays.values():
        if platform == "fargate":
            assert delay == pytest.approx(TARGET_TRACKING_SCALE_OUT_ALARM_S + fargate_task_start_s())
    assert delays["doc-reranker"][0] == "ec2" and delays["doc-reranker"][1].startswith("g")
    # a 20 GiB image on the reranker: 12 GiB more than the default GPU image to pull on each new node
    data = yaml.safe_load(source.read_text())
    for model in data["models"]:
        if model["name"] == "doc-reranker":
            model["image_gib"] = 20
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(yaml.safe_dump(data))
    moved = _delays(bigger, tmp_path / "b")["doc-reranker"][2]
    assert moved == pytest.approx(delays["doc-reranker"][2] + 12 * 1024 / IMAGE_PULL_MIB_PER_S)
