"""Refreshing a model's traffic profile from the live source its scenario names
(:mod:`advisor.scenario.live`: one Prometheus query or one CloudWatch metric), for scheduled runs.

Credentials never sit in the scenario: a Prometheus header comes from the environment variable named, and
CloudWatch uses the standard AWS credential chain.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from advisor.errors import ConfigError
from advisor.scenario.live import LiveTraffic
from advisor.settings import Settings
from advisor.traffic.csvfile import write_profile_csv
from advisor.traffic.library import check_profile_name, imported_dir
from advisor.traffic.profile import TrafficProfile


def fetch(source: LiveTraffic, name: str, settings: Settings, now: dt.datetime) -> TrafficProfile:
    """The profile ``source`` measured over its ``since`` window up to ``now``."""
    from advisor.traffic.prometheus import import_prometheus, parse_duration

    end = pd.Timestamp(now).tz_convert("UTC")
    if source.prometheus is not None:
        p = source.prometheus
        headers = {}
        if p.header_env is not None:
            value = os.environ.get(p.header_env)
            if not value:
                raise ConfigError(
                    f"environment variable {p.header_env} (the Prometheus Authorization header) is not set",
                    where="traffic.source.prometheus.header_env",
                    fix=f"export {p.header_env}='Bearer <token>'",
                )
            headers["Authorization"] = value
        start = end - parse_duration(p.since, "traffic.source.prometheus.since")
        return import_prometheus(
            p.url, p.query, start=start, end=end, step_s=p.step_s, headers=headers, name=name
        )
    from advisor.traffic.cloudwatch import MetricSource, import_cloudwatch

    c = source.cloudwatch
    assert c is not None
    metric = (
        MetricSource.sagemaker_endpoint(c.sagemaker_endpoint, c.variant)
        if c.sagemaker_endpoint is not None
        else MetricSource.application_load_balancer(c.alb or "", c.target_group)
    )
    start = end - parse_duration(c.since, "traffic.source.cloudwatch.since")
    return import_cloudwatch(
        metric,
        start=start.to_pydatetime(),
        end=end.to_pydatetime(),
        step_s=c.step_s,
        region=c.region or settings.default_region,
        endpoint_url=settings.aws_endpoint_url,
        name=name,
    )


def refresh(source: LiveTraffic, name: str, settings: Settings, now: dt.datetime) -> Path:
    """Re-import ``name`` from ``source`` into the imported profiles (written whole, or not at all)."""
    check_profile_name(name, where="traffic.profile")
    profile = fetch(source, name, settings, now)
    return write_profile_csv(profile, imported_dir(settings) / f"{name}.csv")
