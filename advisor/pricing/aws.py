"""boto3 clients for the price refresh, and the translation of AWS failures into one-line AdvisorErrors.

Credentials come from the standard boto3 chain (environment, shared config/credentials files, SSO, container
or instance role); advisor never stores them. ``Settings.aws_endpoint_url`` points every client at another
endpoint (a moto server in tests). Throttling and transient network errors are retried by botocore's
``standard`` retry mode; what is still failing afterwards becomes a :class:`ConfigError` (credentials,
permissions) or a :class:`DataError` (throttling, unreachable endpoint, unexpected answer) naming the AWS
operation and region, with a fix.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from advisor.errors import AdvisorError, ConfigError, DataError
from advisor.settings import Settings

# The Price List Query API is served from a few regions only: us-east-1, eu-central-1 and ap-south-1
# (AWS Billing and Cost Management API reference, "AWS Price List Service" endpoints). Its answers cover
# every region, whichever endpoint is asked.
PRICING_API_REGION = "us-east-1"

# botocore "standard" retry mode: exponential backoff with jitter on throttling and transient errors.
DEFAULT_MAX_ATTEMPTS = 6
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0

_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
    }
)
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
_PERMISSIONS = "pricing:GetProducts and ec2:DescribeSpotPriceHistory"


def client_config(user_agent_extra: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Config:
    """Every advisor boto3 client's configuration: standard retries (backoff with jitter), timeouts."""
    return Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        user_agent_extra=user_agent_extra,
    )


class AwsClients:
    """Creates (and caches) the boto3 clients a refresh needs.

    ``pricing_client`` / ``ec2_clients`` inject ready-made clients (a botocore Stubber in tests); anything
    not injected is created from ``session`` (default: a new ``boto3.Session()``, the standard chain).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: boto3.session.Session | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        pricing_client: Any | None = None,
        ec2_clients: dict[str, Any] | None = None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._config = client_config("advisor-pricing-refresh", max_attempts=max_attempts)
        self._pricing = pricing_client
        self._ec2: dict[str, Any] = dict(ec2_clients or {})

    def _client(self, service: str, region: str) -> Any:
        if self._session is None:
            self._session = boto3.session.Session()
        endpoint = self._settings.aws_endpoint_url
        try:
            return self._session.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=endpoint,
                config=self._config,
            )
        except ValueError as exc:  # botocore: "Invalid endpoint: ..." (the setting, or AWS_ENDPOINT_URL*)
            where = "ADVISOR_AWS_ENDPOINT_URL" if endpoint else "AWS_ENDPOINT_URL"
            raise ConfigError(
                f"the AWS endpoint is not a URL ({exc})",
                where=where,
                fix="give an http(s) URL such as http://127.0.0.1:5000, or unset it to reach AWS itself",
            ) from None

    def pricing(self) -> Any:
        """The Price List Query API client (always in :data:`PRICING_API_REGION`)."""
        if self._pricing is None:
            self._pricing = self._client("pricing", PRICING_API_REGION)
        return self._pricing

    def ec2(self, region: str) -> Any:
        """An EC2 client in ``region`` (DescribeSpotPriceHistory answers for its own region only)."""
        if region not in self._ec2:
            self._ec2[region] = self._client("ec2", region)
        return self._ec2[region]


def known_regions() -> list[str]:
    """Commercial regions botocore knows for EC2 (from its bundled endpoint data; no network)."""
    return sorted(boto3.session.Session().get_available_regions("ec2"))


def translate_aws_error(
    exc: Exception, operation: str, region: str, *, permissions: str = _PERMISSIONS
) -> AdvisorError:
    """One actionable AdvisorError for a boto3/botocore failure of ``operation`` for ``region``.

    ``operation`` names the call as IAM does (``pricing:GetProducts AmazonEC2``); ``permissions`` what the
    credentials need, for the fix of a refused call. Exceptions that are not
    AWS failures are returned as a DataError carrying their message (callers re-raise what they do not
    expect before getting here).
    """
    where = f"{operation} ({region})"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigError(
            "no usable AWS credentials found",
            where=where,
            fix="configure the standard AWS credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/"
            f"AWS_SECRET_ACCESS_KEY, SSO or an instance role) with {permissions}",
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = _shorten(" ".join(str(error.get("Message", "")).split()))
        if code in _CREDENTIAL_CODES:
            return ConfigError(
                f"AWS refused the call ({code}: {message or 'access denied'})",
                where=where,
                fix=f"use credentials whose IAM policy allows {permissions} and that have not expired",
            )
        if code in _THROTTLING_CODES:
            return DataError(
                f"AWS kept throttling the call after retries ({code})",
                where=where,
                fix="wait a few minutes and run again",
            )
        return DataError(
            f"AWS answered with an error ({code}: {message or 'no message'})",
            where=where,
            fix="check the region and service names; run again later if AWS reports an internal error",
        )
    if isinstance(
        exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError
    ):
        return DataError(
            f"cannot reach the AWS endpoint ({_shorten(' '.join(str(exc).split()))})",
            where=where,
            fix="check the network, proxy (HTTPS_PROXY) and ADVISOR_AWS_ENDPOINT_URL, then run again",
        )
    if isinstance(exc, BotoCoreError):
        return DataError(
            f"the AWS SDK failed ({exc.__class__.__name__}: {' '.join(str(exc).split())})",
            where=where,
            fix="check the AWS configuration (region, profile, endpoint) and run again",
        )
    return DataError(f"unexpected failure: {exc}", where=where, fix="run again; report it if it persists")


def _shorten(text: str, limit: int = 160) -> str:
    """AWS messages can be whole HTML error pages; keep the error line readable."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


AWS_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
"""The exception types :func:`translate_aws_error` is meant for."""
