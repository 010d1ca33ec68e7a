"""How a plan scales and spreads load, as values the recommendation stores: the load balancer's algorithm
and scheduled minimums. What they do to a replay is :mod:`advisor.cost.replay`'s (balancing, schedules).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from advisor.domain import MAX_REPLICAS, cron_expression, iana_zone
from advisor.domain import InputModel as _Model


class Balancing(StrEnum):
    RANDOM = "random"
    ROUND_ROBIN = "round_robin"
    LEAST_OUTSTANDING_REQUESTS = "least_outstanding_requests"

    @property
    def pools_backlog(self) -> bool:
        """Whether a backlog drains at every ready replica (else only at those holding it)."""
        return self is Balancing.LEAST_OUTSTANDING_REQUESTS


class ScheduledMinimum(_Model):
    """Hold at least ``min_replicas`` from each ``start`` to the following ``end``."""

    start: str = Field(description="cron expression (5 fields): when the minimum rises")
    end: str = Field(description="cron expression (5 fields): when it falls back")
    timezone: str = Field(default="UTC", description="IANA time zone the cron expressions are read in")
    min_replicas: int = Field(ge=1, le=MAX_REPLICAS)

    _cron = field_validator("start", "end")(cron_expression)
    _zone = field_validator("timezone")(iana_zone)

    @model_validator(mode="after")
    def _distinct(self) -> ScheduledMinimum:
        if self.start == self.end:
            raise ValueError("start and end are the same cron expression: the window would be empty")
        return self

    @property
    def label(self) -> str:
        return f"min {self.min_replicas} from '{self.start}' to '{self.end}' ({self.timezone})"
