"""CloudWatch import against moto in server mode: PutMetricData, then GetMetricData through the importer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from advisor.errors import InputError
from advisor.traffic.cloudwatch import MetricSource, import_cloudwatch
from advisor.traffic.csvfile import read_profile_csv
from tests.pricing_api_stubs import use_fake_aws_credentials
from tests.traffic_cost_helpers import invoke


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def cloudwatch(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    use_fake_aws_credentials(monkeypatch, tmp_path, with_keys=True)
    return boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_url)


def _hour_ago() -> dt.datetime:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(second=0, microsecond=0)


def _put(client: Any, source: MetricSource, start: dt.datetime, counts: dict[int, float]) -> None:
    """One datapoint per minute offset, 10 s into the minute (as the service would publish it)."""
    data = [
        {
            "MetricName": source.metric_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in source.dimensions.items()],
            "Timestamp": start + dt.timedelta(minutes=minute, seconds=10),
            "Value": value,
            "Unit": "Count",
        }
        for minute, value in counts.items()
    ]
    client.put_metric_data(Namespace=source.namespace, MetricData=data)


def test_sagemaker_invocations_become_rates_with_zero_for_silent_minutes(
    cloudwatch: Any, moto_url: str
) -> None:
    source = MetricSource.sagemaker_endpoint("resnet-prod", "AllTraffic")
    start = _hour_ago()
    counts = {0: 600.0, 1: 1200.0, 4: 60.0, 9: 3000.0}
    _put(cloudwatch, source, start, counts)
    other = MetricSource.sagemaker_endpoint("other-endpoint")  # must not leak into the import
    _put(cloudwatch, other, start, {2: 99999.0})
    profile = import_cloudwatch(
        source, start=start, end=start + dt.timedelta(minutes=10), region="us-east-1", endpoint_url=moto_url
    )
    assert profile.step_s == 60 and profile.steps == 10
    expected = [counts.get(m, 0.0) / 60 for m in range(10)]
    assert profile.rps.tolist() == pytest.approx(expected)
    assert profile.total_requests == pytest.approx(sum(counts.values()))
    assert "AWS/SageMaker/Invocations" in profile.source and "EndpointName=resnet-prod" in profile.source


def test_alb_request_count_at_five_minute_steps(cloudwatch: Any, moto_url: str) -> None:
    source = MetricSource.application_load_balancer("app/web/50dc6c495c0c9188")
    start = _hour_ago().replace(minute=0)
    _put(cloudwatch, source, start, {m: 30.0 for m in range(15)})  # 30 requests every minute for 15 minutes
    profile = import_cloudwatch(
        source, start=start, end=start + dt.timedelta(minutes=15), step_s=300, endpoint_url=moto_url
    )
    assert profile.steps == 3 and profile.rps.tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert profile.total_requests == pytest.approx(450)


def test_no_datapoints_is_a_clear_error(cloudwatch: Any, moto_url: str) -> None:
    start = _hour_ago()
    with pytest.raises(InputError, match="no AWS/SageMaker Invocations datapoints"):
        import_cloudwatch(
            MetricSource.sagemaker_endpoint("never-existed"),
            start=start,
            end=start + dt.timedelta(minutes=5),
            endpoint_url=moto_url,
        )


def test_retention_and_step_checks_need_no_aws() -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    with pytest.raises(InputError, match="keeps 60 s datapoints 15 days"):
        import_cloudwatch(MetricSource.sagemaker_endpoint("x"), start=old, end=old + dt.timedelta(hours=1))
    with pytest.raises(InputError, match="multiple of 60"):
        import_cloudwatch(MetricSource.sagemaker_endpoint("x"), start=old, end=old, step_s=45)


def test_cli_import_from_cloudwatch(
    cloudwatch: Any,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = MetricSource.sagemaker_endpoint("cli-endpoint", "blue")
    start = _hour_ago()
    _put(cloudwatch, source, start, {0: 120.0, 2: 240.0})
    monkeypatch.setenv("ADVISOR_AWS_ENDPOINT_URL", moto_url)
    out = tmp_path / "cw.csv"
    run = invoke(
        capsys,
        "profile",
        "import",
        "--sagemaker-endpoint",
        "cli-endpoint",
        "--variant",
        "blue",
        "--start",
        start.strftime("%Y-%m-%dT%H:%M:%S"),
        "--end",
        (start + dt.timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%S"),
        "--output",
        str(out),
        "--json",
    )
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["summary"]["total_requests"] == pytest.approx(360)
    assert read_profile_csv(out).rps.tolist() == pytest.approx([2.0, 0.0, 4.0])
    both = invoke(capsys, "profile", "import", str(out), "--sagemaker-endpoint", "x")
    assert "give one source: a file, a CloudWatch metric or a Prometheus query" in both.one_error_line()
