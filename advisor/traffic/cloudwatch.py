"""Traffic profiles from CloudWatch request-count metrics, read with boto3 ``GetMetricData``.

Two sources are built in, both count metrics read with the ``Sum`` statistic:

- a SageMaker real-time endpoint: namespace ``AWS/SageMaker``, metric ``Invocations``, dimensions
  ``EndpointName`` and ``VariantName``;
- an Application Load Balancer: namespace ``AWS/ApplicationELB``, metric ``RequestCount``, dimension
  ``LoadBalancer`` (``app/<name>/<id>``) and optionally ``TargetGroup``.

The rate of a step is its ``Sum`` ÷ step. CloudWatch publishes no datapoint for a period without requests,
so a missing period is read as zero requests. CloudWatch keeps 1-minute datapoints for 15 days, 5-minute
ones for 63 days and 1-hour ones for 455 days (Amazon CloudWatch User Guide, "Metrics retention"); ask for
a longer step to look further back. The step must be a multiple of 60 s. This module is the only one in
``advisor.traffic`` that imports boto3, and only when called.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from advisor.errors import ConfigError, InputError
from advisor.traffic.profile import DEFAULT_STEP_S, TrafficProfile

# Amazon CloudWatch User Guide, "Metrics retention" (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
# cloudwatch_concepts.html#metrics-retention), as of 2025.
RETENTION_DAYS_BY_MIN_PERIOD_S = {60: 15, 300: 63, 3600: 455}
MAX_DATAPOINTS_PER_CALL = 100_800  # GetMetricData API reference: at most 100,800 datapoints per call


@dataclass(frozen=True)
class MetricSource:
    """One CloudWatch count metric that measures requests."""

    namespace: str
    metric_name: str
    dimensions: dict[str, str] = field(default_factory=dict)
    label: str = ""

    @classmethod
    def sagemaker_endpoint(cls, endpoint: str, variant: str = "AllTraffic") -> MetricSource:
        return cls(
            "AWS/SageMaker",
            "Invocations",
            {"EndpointName": endpoint, "VariantName": variant},
            label=f"sagemaker:{endpoint}/{variant}",
        )

    @classmethod
    def application_load_balancer(cls, load_balancer: str, target_group: str | None = None) -> MetricSource:
        dims = {"LoadBalancer": load_balancer}
        if target_group:
            dims["TargetGroup"] = target_group
        return cls("AWS/ApplicationELB", "RequestCount", dims, label=f"alb:{load_balancer}")


def import_cloudwatch(
    source: MetricSource,
    *,
    start: dt.datetime,
    end: dt.datetime,
    step_s: int = DEFAULT_STEP_S,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    timezone: str = "UTC",
    name: str | None = None,
    client: Any = None,
) -> TrafficProfile:
    """Read ``source`` between ``start`` and ``end`` (tz-aware or UTC) into a profile at ``step_s``.

    ``client`` is a boto3 CloudWatch client (one is made for ``region``/``endpoint_url`` if None). Raises
    InputError for a bad range or step, or when CloudWatch holds no datapoint at all for the metric in the
    range (wrong dimensions, or data past its retention); ConfigError when AWS refuses the call.
    """
    start_utc, end_utc = _utc(start), _utc(end)
    if step_s < 60 or step_s % 60:
        raise InputError(f"CloudWatch step must be a multiple of 60 s, got {step_s}", where="--step")
    if end_utc <= start_utc:
        raise InputError("the end must be after the start", where="--start/--end")
    start_utc = start_utc.floor(f"{step_s}s")
    n = int(np.ceil((end_utc - start_utc).total_seconds() / step_s))
    _check_retention(start_utc, step_s)
    if client is None:
        import boto3

        client = boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url)
    counts = np.zeros(n)
    seen = 0
    chunk = pd.Timedelta(seconds=step_s * (MAX_DATAPOINTS_PER_CALL - 1))
    lo = start_utc
    while lo < start_utc + pd.Timedelta(seconds=n * step_s):
        hi = min(lo + chunk, start_utc + pd.Timedelta(seconds=n * step_s))
        for ts, value in _fetch(client, source, lo, hi, step_s):
            slot = int((pd.Timestamp(ts).tz_convert("UTC") - start_utc).total_seconds() // step_s)
            if 0 <= slot < n:
                counts[slot] += float(value)
                seen += 1
        lo = hi
    if seen == 0:
        raise InputError(
            f"CloudWatch has no {source.namespace} {source.metric_name} datapoints for "
            f"{_dims(source)} between {start_utc.isoformat()} and {end_utc.isoformat()}",
            where=source.label or source.metric_name,
            fix="check names and region; 1-minute data is kept 15 days (use --step 300 or 3600 further back)",
        )
    return TrafficProfile.from_array(
        name or (source.label or source.metric_name).replace("/", "-").replace(":", "-"),
        counts / step_s,
        start=start_utc.tz_convert(timezone),
        step_s=step_s,
        source=f"cloudwatch:{source.namespace}/{source.metric_name} {_dims(source)} Sum/{step_s}s ({region})",
    )


def _fetch(
    client: Any, source: MetricSource, lo: pd.Timestamp, hi: pd.Timestamp, step_s: int
) -> list[tuple[Any, float]]:
    from botocore.exceptions import BotoCoreError, ClientError

    query = {
        "Id": "requests",
        "MetricStat": {
            "Metric": {
                "Namespace": source.namespace,
                "MetricName": source.metric_name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in source.dimensions.items()],
            },
            "Period": step_s,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }
    out: list[tuple[Any, float]] = []
    token: str | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {
                "MetricDataQueries": [query],
                "StartTime": lo.to_pydatetime(),
                "EndTime": hi.to_pydatetime(),
                "ScanBy": "TimestampAscending",
            }
            if token:
                kwargs["NextToken"] = token
            reply = client.get_metric_data(**kwargs)
            for result in reply.get("MetricDataResults", []):
                out.extend(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
            token = reply.get("NextToken")
            if not token:
                return out
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise ConfigError(
            f"CloudWatch refused GetMetricData: {err.get('Code', '?')}: {err.get('Message', '')}",
            where=source.label or source.metric_name,
            fix="check credentials (cloudwatch:GetMetricData permission), region and metric names",
        ) from None
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot reach CloudWatch: {exc}",
            where=source.label or source.metric_name,
            fix="check AWS credentials, region and network (or ADVISOR_AWS_ENDPOINT_URL)",
        ) from None


def _check_retention(start_utc: pd.Timestamp, step_s: int) -> None:
    age_days = (pd.Timestamp.now(tz="UTC") - start_utc).total_seconds() / 86400
    allowed = max(days for period, days in RETENTION_DAYS_BY_MIN_PERIOD_S.items() if step_s >= period)
    if age_days > allowed:
        raise InputError(
            f"CloudWatch keeps {step_s} s datapoints {allowed} days; the start is {age_days:.0f} days ago",
            where="--start",
            fix="use --step 300 (63 days) or --step 3600 (455 days), or a later start",
        )


def _utc(value: dt.datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _dims(source: MetricSource) -> str:
    return ",".join(f"{k}={v}" for k, v in source.dimensions.items())
