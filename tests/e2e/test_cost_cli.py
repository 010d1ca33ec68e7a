"""`advisor cost simulate`: JSON with totals, breakdown, SLO figures and series; tables; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli_process
from tests.traffic_cost_helpers import REPO_ROOT, invoke

PLANS = REPO_ROOT / "examples" / "plans"


def test_json_carries_totals_breakdown_slo_and_series(capsys: pytest.CaptureFixture[str]) -> None:
    run = invoke(
        capsys,
        "cost",
        "simulate",
        str(PLANS / "api-c6i-spot.yaml"),
        "--profile",
        "diurnal-business-api",
        "--seed",
        "3",
        "--json",
    )
    assert run.code == 0, run.stderr
    body = json.loads(run.stdout)
    assert body["profile"]["name"] == "diurnal-business-api"
    (result,) = body["results"]
    assert result["usd_per_month"] > 0 and result["usd_per_million_requests"] > 0
    assert sum(result["breakdown"]["by_component"].values()) == pytest.approx(result["usd_per_month"])
    slo = result["slo"]
    assert {"p99_ms_estimate", "share_requests_over_slo", "overload_minutes_per_month", "queue_model"} <= set(
        slo
    )
    assert 0 < result["efficiency"] <= 1
    series = result["timeseries"]
    assert series["step_s"] == 60
    columns = series["columns"]
    assert len(columns["timestamp"]) == body["profile"]["steps"] == 7 * 1440
    assert {"demand_rps", "ready_replicas", "nodes_spot", "p99_ms", "usd_per_hour", "overloaded"} <= set(
        columns
    )
    names = {b["name"] for b in result["baselines"]}
    assert names == {"static_peak", "sagemaker_target_tracking", "fargate_target_tracking"}
    static = next(b for b in result["baselines"] if b["name"] == "static_peak")
    assert static["saving_usd_per_month"] == pytest.approx(
        static["result"]["usd_per_month"] - result["usd_per_month"]
    )


def test_several_plans_hourly_series_and_rescaled_profile(capsys: pytest.CaptureFixture[str]) -> None:
    run = invoke(
        capsys,
        "cost",
        "simulate",
        str(PLANS / "api-fargate.yaml"),
        str(PLANS / "gpu-sagemaker.yaml"),
        "--profile",
        "nightly-batch",
        "--peak-rps",
        "300",
        "--series-step",
        "3600",
        "--no-baselines",
        "--json",
    )
    assert run.code == 0, run.stderr
    body = json.loads(run.stdout)
    assert body["profile"]["peak_rps"] == pytest.approx(300)
    assert [r["plan"] for r in body["results"]] == ["api-fargate", "gpu-sagemaker"]
    for r in body["results"]:
        assert r["timeseries"]["step_s"] == 3600 and len(r["timeseries"]["columns"]["timestamp"]) == 168
        assert r["baselines"] == []
    fargate = body["results"][0]
    assert set(fargate["breakdown"]["by_purchase_option"]) >= {"fargate", "load_balancer"}


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    run = invoke(capsys, "cost", "simulate", str(PLANS / "gpu-sagemaker.yaml"), "--profile", "flat")
    assert run.code == 0, run.stderr
    assert "USD per month (730 h)" in run.stdout and "Baselines for gpu-sagemaker" in run.stdout
    assert "Fargate offers no GPUs" in run.stdout
    assert "M/D/c" in run.stdout


def test_bad_plan_file_and_unknown_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (PLANS / "api-c6i-spot.yaml")
        .read_text()
        .replace("target_utilisation: 0.65", "target_utilisation: 1.5")
    )
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "target_utilisation" in text)
    error = invoke(capsys, "cost", "simulate", str(bad), "--profile", "flat").one_error_line()
    assert f"{bad}:{line}:" in error and "autoscaling.target_utilisation" in error
    missing = invoke(capsys, "cost", "simulate", str(PLANS / "api-fargate.yaml"), "--profile", "flatt")
    assert "did you mean flat" in missing.one_error_line()
    nofile = invoke(capsys, "cost", "simulate", str(tmp_path / "nope.yaml"), "--profile", "flat")
    assert "plan file not found" in nofile.one_error_line()


@pytest.mark.parametrize(
    ("old", "new", "field", "needle"),
    [
        ("shape: c6i.xlarge", "shape: c6i.xlrage", "shape", "did you mean c6i.xlarge"),
        ("region: us-east-1", "region: us-east-9", "region", "unknown region 'us-east-9'"),
        ("m6i.xlarge]", "zz.top]", "purchase.spot_pools.2", "unknown instance type 'zz.top'"),
        ("max_replicas: 40", "max_replicas: 4000000", "autoscaling.max_replicas", "100,000"),
    ],
)
def test_a_plan_name_without_a_price_is_reported_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, field: str, needle: str
) -> None:
    text = (PLANS / "api-c6i-spot.yaml").read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new))
    line = next(i for i, row in enumerate(bad.read_text().splitlines(), 1) if new in row)
    error = invoke(capsys, "cost", "simulate", str(bad), "--profile", "flat").one_error_line()
    assert f"{bad}:{line}: {field}: " in error and needle in error, error


@pytest.mark.slow  # a fresh interpreter
def test_errors_reach_the_terminal_as_one_line_in_a_real_process(tmp_path: Path) -> None:
    bad = tmp_path / "neg.csv"
    bad.write_text("timestamp,rps\n2024-01-01T00:00:00Z,3\n2024-01-01T00:01:00Z,-1\n")
    result = run_cli_process("cost", "simulate", str(PLANS / "api-c6i-spot.yaml"), "--profile", str(bad))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {bad}:3: negative value -1; rates and counts are >= 0"
    ]
