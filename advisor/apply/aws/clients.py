"""boto3 clients for the AWS appliers, their failures as one-line ApplyErrors, and AWS's cron dialect.

Credentials come from the standard boto3 chain (environment, shared files, SSO, container or instance role);
advisor never stores or prints them. boto3 itself honours ``AWS_ENDPOINT_URL`` (a moto server in tests), and
``Settings.aws_endpoint_url`` overrides it. Throttled and transient calls are retried by botocore's
``standard`` retry mode (exponential backoff with jitter); what still fails becomes an :class:`ApplyError`
naming the operation (:func:`call`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import boto3

from advisor.apply.base import AnyIntent, ApplyError
from advisor.pricing.aws import AWS_ERRORS, client_config, translate_aws_error

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 6

PERMISSIONS = (
    "the read and write actions of the target (autoscaling:*, sagemaker:*Endpoint*, ecs:*Service*, "
    "ecs:RegisterTaskDefinition, application-autoscaling:*)"
)


class AwsSession:
    """Creates and caches one client per service for a region (``client_hook`` sees each new client)."""

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        client_hook: Callable[[Any], None] | None = None,
    ) -> None:
        self.region = region
        self._endpoint_url = endpoint_url
        self._config = client_config("advisor-apply", max_attempts=max_attempts)
        self._hook = client_hook
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            try:  # a missing profile or a broken config file fails here, before any call
                if self._session is None:
                    self._session = boto3.session.Session()
                made = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
            except AWS_ERRORS as exc:
                inner = translate_aws_error(exc, f"{service} client", self.region, permissions=PERMISSIONS)
                raise ApplyError(inner.what, where=inner.where, fix=inner.fix) from None
            if self._hook is not None:
                self._hook(made)
            self._clients[service] = made
        return self._clients[service]


SessionFor = Callable[[str], "AwsSession"]


class AwsApplier:
    """What the AWS appliers share: one :class:`AwsSession` per region, from ``session_for(region)``."""

    def __init__(self, session_for: SessionFor) -> None:
        self._session_for = session_for

    def _session(self, intent: AnyIntent) -> AwsSession:
        return self._session_for(intent.region)


# Waiting for a target to settle: the first read again after FIRST_POLL_S, then twice as long each time up
# to MAX_POLL_S, so a quick change is seen at once and a long one (an endpoint update takes minutes) does
# not spend the Describe* request quota.
FIRST_POLL_S = 0.25
MAX_POLL_S = 10.0


def poll_waits() -> Iterator[float]:
    """Seconds to sleep between reads of a settling target (see the constants above)."""
    wait = FIRST_POLL_S
    while True:
        yield wait
        wait = min(wait * 2, MAX_POLL_S)


def call(operation: str, region: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """``fn(**kwargs)``; an AWS failure becomes one ApplyError naming ``operation`` (ecs:UpdateService)."""
    try:
        return fn(**kwargs)
    except AWS_ERRORS as exc:
        inner = translate_aws_error(exc, operation, region, permissions=PERMISSIONS)
        raise ApplyError(inner.what, where=inner.where, fix=inner.fix) from None


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError (``ValidationError``), else ''."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


# AWS cron (EventBridge / Application Auto Scaling): ``cron(minutes hours day-of-month month day-of-week
# year)``, one of day-of-month and day-of-week must be ``?``, and days of the week are 1-7 from Sunday
# (Application Auto Scaling User Guide, "Scheduled scaling", cron expressions). Unix cron counts them 0-6
# from Sunday (7 is Sunday too), with ranges and steps over those numbers; so the day-of-week field is
# expanded (croniter) and written as day names, which both dialects read the same.
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def aws_cron(unix: str) -> str:
    """``30 0 * * 1-5`` → ``cron(30 0 ? * MON,TUE,WED,THU,FRI *)``; ApplyError for what AWS cannot express."""
    from croniter import croniter

    fields = unix.split()
    if len(fields) != 5:
        raise ApplyError(f"{unix!r} is not a 5-field cron expression", fix="use minute hour dom month dow")
    minute, hour, dom, month, _ = fields
    try:
        days = croniter.expand(unix)[0][4]
    except (ValueError, KeyError) as exc:
        raise ApplyError(f"{unix!r} is not a valid cron expression ({exc})") from None
    if days == ["*"]:
        return f"cron({minute} {hour} {dom} {month} ? *)"
    if dom != "*":
        raise ApplyError(
            f"{unix!r} sets both the day of the month and of the week, which AWS cron cannot express",
            fix="give one of them as *",
        )
    names = ",".join(_DAY_NAMES[int(d) % 7] for d in sorted({int(d) % 7 for d in days}))
    return f"cron({minute} {hour} ? {month} {names} *)"


def resource_label(elbv2: Any, target_group_arn: str, region: str) -> str:
    """``app/<lb>/<id>/targetgroup/<tg>/<id>``: the ResourceLabel of ``ALBRequestCountPerTarget`` for a
    target group (Application Auto Scaling API reference, PredefinedMetricSpecification)."""
    groups = call(
        "elasticloadbalancing:DescribeTargetGroups",
        region,
        elbv2.describe_target_groups,
        TargetGroupArns=[target_group_arn],
    )["TargetGroups"]
    balancers = groups[0].get("LoadBalancerArns", []) if groups else []
    if not balancers:
        raise ApplyError(
            f"target group {target_group_arn} is not attached to a load balancer",
            fix="attach it to the Application Load Balancer that serves the model",
        )
    return f"{balancers[0].split(':loadbalancer/', 1)[1]}/{target_group_arn.split(':', 5)[5]}"
