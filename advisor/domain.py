"""Domain types shared by every stage of the pipeline.

Units live in field names (``usd_per_hour``, ``memory_gib``, ``latency_p99_ms``). Values are frozen pydantic
models: they cross module boundaries and files, so they validate on the way in. Later stages (bench, cost,
optimize) define their own richer models in their packages and build on these.
"""

from __future__ import annotations

import datetime as dt
import functools
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter
from pydantic import BaseModel, ConfigDict, Field


class FrozenModel(BaseModel):
    """Base of advisor's value types: immutable, and unknown fields are an error (typos never pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class InputModel(FrozenModel):
    """Base of what a user writes (scenarios, plans, profile specs, resource needs): no NaN or infinity.

    YAML reads ``.inf`` and ``.nan`` as floats and a CLI flag parses ``nan``; none is a capacity, a rate or
    a size, so each is refused at the field that holds it, before any arithmetic divides by it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# Bounds on what a user writes (rates, replica counts) that keep every plan computable in seconds and are far
# beyond any one model's deployment; a value above them is a typo (a unit slip, digits too many).
MAX_RPS = 1e8
MIN_CAPACITY_RPS = 1e-3
"""The least requests/s a replica may be said to serve (one request in about 17 minutes): below it a
capacity is a typo or a unit slip, and a plan would need more replicas than any fleet has."""
MAX_COUNT = 2**63 - 1
"""The largest count the store can hold (SQLite's INTEGER is a signed 64-bit number)."""
MAX_REPLICAS = 100_000


class Arch(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"


class Platform(StrEnum):
    """Where replicas run: self-managed EC2 (incl. EKS/ECS on EC2), a SageMaker endpoint, or Fargate."""

    EC2 = "ec2"
    SAGEMAKER = "sagemaker"
    FARGATE = "fargate"


class PurchaseOption(StrEnum):
    ON_DEMAND = "on_demand"
    SPOT = "spot"
    SAGEMAKER = "sagemaker"
    FARGATE = "fargate"
    FARGATE_SPOT = "fargate_spot"


class InterruptionBand(StrEnum):
    """AWS Spot Instance Advisor interruption-frequency bands (share of instances interrupted per month)."""

    LT5 = "<5%"
    P5_10 = "5-10%"
    P10_15 = "10-15%"
    P15_20 = "15-20%"
    GT20 = ">20%"

    @property
    def rank(self) -> int:
        """0 for the calmest band, 4 for the most interrupted."""
        return list(InterruptionBand).index(self)

    @property
    def monthly_rate_midpoint(self) -> float:
        """A representative monthly interruption probability for the band (midpoint; 25% for >20%)."""
        return (0.025, 0.075, 0.125, 0.175, 0.25)[self.rank]


class InstanceType(FrozenModel):
    """Specs of one EC2 instance type (SageMaker ``ml.*`` types share the spec of their EC2 twin)."""

    name: str
    family: str
    vcpu: int = Field(ge=1)
    memory_gib: float = Field(gt=0)
    gpu_count: float = Field(default=0, ge=0, description="fractional for g6f/gr6f GPU slices")
    gpu_model: str | None = None
    gpu_memory_gib: float = Field(default=0, ge=0, description="total over all GPUs, as EC2 reports it")
    accelerator_name: str | None = None
    accelerator_count: int = Field(default=0, ge=0)
    accelerator_memory_gib: float = Field(default=0, ge=0)
    arch: Arch = Arch.X86_64
    source: str = ""

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0


class Price(FrozenModel):
    """One price figure with its provenance. ``shape`` is an instance type or a Fargate size label."""

    region: str
    shape: str
    option: PurchaseOption
    usd_per_hour: float = Field(ge=0)
    as_of: dt.date
    source: str
    estimated: bool = False
    note: str = ""
    savings_pct_vs_on_demand: float | None = None
    interruption_band: InterruptionBand | None = None


class SLO(InputModel):
    """A latency objective: p99 under ``latency_p99_ms`` with at most ``max_error_rate`` errors."""

    latency_p99_ms: float = Field(gt=0, le=3_600_000)
    max_error_rate: float = Field(default=0.001, ge=0, le=1)


class ReplicaResources(InputModel):
    """What one replica (model-server container) requests from its node."""

    vcpu: float = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpu_count: float = Field(default=0, ge=0)
    gpu_memory_gib: float = Field(default=0, ge=0)
    arch: Arch | None = None

    def fits_on(self, itype: InstanceType) -> bool:
        """True when at least one replica fits on ``itype`` (arch, CPU, memory and GPU)."""
        if self.arch is not None and self.arch != itype.arch:
            return False
        if self.vcpu > itype.vcpu or self.memory_gib > itype.memory_gib:
            return False
        if self.gpu_count > itype.gpu_count:
            return False
        return self.gpu_memory_gib <= max(itype.gpu_memory_gib, itype.accelerator_memory_gib)


class FargateSize(InputModel):
    """A Fargate task size (a (vCPU, memory GiB) pair AWS offers) and its operating system/architecture."""

    vcpu: float = Field(gt=0)
    memory_gib: float = Field(gt=0)
    os_arch: str = Field(default="linux_x86", description="linux_x86 | linux_arm | windows_x86")

    @property
    def label(self) -> str:
        return f"fargate-{self.vcpu:g}vcpu-{self.memory_gib:g}gb"


class LoadBalancerPrice(FrozenModel):
    region: str
    kind: str = Field(description="application | network | gateway | classic")
    usd_per_hour: float = Field(ge=0)
    usd_per_capacity_unit_hour: float | None = None
    capacity_unit: str | None = None
    usd_per_gb_processed: float | None = None
    as_of: dt.date
    source: str


class DataProcessingPrice(FrozenModel):
    """$ per GB of data a SageMaker real-time endpoint receives (in) and returns (out)."""

    region: str
    usd_per_gb_in: float = Field(ge=0)
    usd_per_gb_out: float = Field(ge=0)
    as_of: dt.date
    source: str
    estimated: bool = False
    note: str = ""


class FargateRate(FrozenModel):
    """Fargate per-vCPU-hour and per-GB-hour rates for one region, platform and capacity provider."""

    region: str
    option: PurchaseOption
    platform: str = Field(description="linux_x86 | linux_arm | windows_x86")
    usd_per_vcpu_hour: float = Field(ge=0)
    usd_per_gb_hour: float = Field(ge=0)
    windows_license_usd_per_vcpu_hour: float = 0.0
    as_of: dt.date
    source: str


# How advisor reaches a model server it starts (``bench run --server-cmd``, a scenario's ``server.command``):
# the command must listen on the port advisor puts in place of PORT_PLACEHOLDER (also in the PORT variable),
# and is loaded on DEFAULT_REQUEST_PATH (the reference models' route) unless told otherwise.
PORT_PLACEHOLDER = "{port}"
HOST_SHAPE = "host"  # a bench shape: the whole machine, unconfined
DEFAULT_REQUEST_PATH = "/predict"
DEFAULT_HEALTH_PATH = "/health"
DEFAULT_READY_TIMEOUT_S = 120.0


def cron_expression(value: str) -> str:
    """``value`` as a checked 5-field cron expression (spaces normalised); ValueError with the reason."""
    text = " ".join(value.split())
    if len(text.split()) != 5:
        raise ValueError(f"{value!r} is not a 5-field cron expression (minute hour day month weekday)")
    problem = _cron_problem(text)
    if problem is not None:
        raise ValueError(f"{value!r} is not a valid cron expression ({problem})")
    return text


@functools.lru_cache(maxsize=1024)
def _cron_problem(text: str) -> str | None:
    """Why croniter rejects ``text``, or None; kept per expression (a fleet's plans validate the same few
    schedules thousands of times, and croniter parses each in full)."""
    try:
        croniter(text)
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        return str(exc)
    return None


def iana_zone(value: str) -> str:
    """``value`` when it names an IANA time zone; ValueError otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. UTC, Europe/Paris)") from None
    return value
