"""The live traffic sources a scenario's model may name, so scheduled runs refresh its profile from them.

::

    traffic:
      profile: search-api            # the imported profile the refresh writes ($ADVISOR_HOME/profiles/)
      source:
        prometheus:
          url: http://prometheus.monitoring:9090
          query: sum(rate(http_requests_total{service="search-api"}[1m]))
          since: 14d
          header_env: PROM_AUTH      # optional: an environment variable holding an Authorization value
      # or: source: {cloudwatch: {sagemaker_endpoint: search-embedder, since: 14d}}

Credentials never sit in the scenario: a Prometheus header comes from the environment variable named, and
CloudWatch uses the standard AWS credential chain.

Fetching and refreshing them is :mod:`advisor.traffic.live`'s.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrometheusSource(_Strict):
    url: str = Field(min_length=1, description="base URL of the Prometheus server")
    query: str = Field(min_length=1, description="PromQL giving one series of requests/s")
    since: str = Field(default="14d", pattern=r"^[1-9][0-9]*[smhdw]$", description="how far back")
    step_s: int = Field(default=60, ge=1, le=3600)
    header_env: str | None = Field(
        default=None, description="environment variable whose value is sent as the Authorization header"
    )


class CloudWatchSource(_Strict):
    sagemaker_endpoint: str | None = None
    variant: str = "AllTraffic"
    alb: str | None = Field(default=None, description="app/<name>/<id>")
    target_group: str | None = None
    since: str = Field(default="14d", pattern=r"^[1-9][0-9]*[smhdw]$")
    step_s: int = Field(default=60, ge=60, le=3600, multiple_of=60)
    region: str | None = None

    @model_validator(mode="after")
    def _one(self) -> CloudWatchSource:
        if (self.sagemaker_endpoint is None) == (self.alb is None):
            raise ValueError("name one of sagemaker_endpoint or alb")
        return self


class LiveTraffic(_Strict):
    """Where a model's traffic is measured: one Prometheus query or one CloudWatch metric."""

    prometheus: PrometheusSource | None = None
    cloudwatch: CloudWatchSource | None = None

    @model_validator(mode="after")
    def _one(self) -> LiveTraffic:
        if (self.prometheus is None) == (self.cloudwatch is None):
            raise ValueError("name one source: prometheus or cloudwatch")
        return self
