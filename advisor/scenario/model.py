"""The scenario file: the one input a user writes for ``advisor recommend``.

A scenario names the region, the platforms and instance candidates the team will accept, the spot and
load-balancer policy, and per model: its server, per-replica resources, SLO, traffic and what runs today.
``load_scenario`` validates it with errors naming the field path and the line (see advisor.yamlio).
``EXAMPLE_SCENARIO`` (in ``example``) is what ``advisor init`` writes: every field, commented.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from advisor.domain import (
    DEFAULT_HEALTH_PATH,
    DEFAULT_READY_TIMEOUT_S,
    DEFAULT_REQUEST_PATH,
    MAX_REPLICAS,
    MAX_RPS,
    MIN_CAPACITY_RPS,
    PORT_PLACEHOLDER,
    SLO,
    Arch,
    Platform,
    PurchaseOption,
    ReplicaResources,
)
from advisor.domain import InputModel as _Strict
from advisor.platforms.targets import DeployTarget, Orchestrator
from advisor.scenario.live import LiveTraffic
from advisor.scenario.llm import LLMServing, LLMSLOSpec, PerTokenAPI, TokenSizes
from advisor.scenario.policies import (
    MAX_MEMORY_GIB,
    MAX_VCPU,
    ApplyPolicy,
    BenchPolicy,
    Candidates,
    ClusterPolicy,
    LoadBalancerPolicy,
    SpotPolicy,
)
from advisor.scenario.reports import ReportsConfig
from advisor.yamlio import load_yaml_model

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def positive_capacities(value: dict[str, float]) -> dict[str, float]:
    """Capacities given by hand: finite, within what a replica or instance can serve."""
    bad = sorted(k for k, v in value.items() if not MIN_CAPACITY_RPS <= v <= MAX_RPS)
    if bad:
        raise ValueError(
            f"capacities must be finite, {MIN_CAPACITY_RPS:g} to {MAX_RPS:g} requests/s;"
            f" not for {', '.join(bad)}"
        )
    return value


class ServerSpec(_Strict):
    """How to reach a model for benchmarking: a reference model, a command to start, or a running endpoint."""

    reference: str | None = Field(default=None, description="A reference server shipped with advisor.")
    command: str | None = Field(
        default=None,
        description=f"Command that starts the server on the port advisor puts in {PORT_PLACEHOLDER}.",
    )
    request_path: str | None = Field(
        default=None,
        description=f"Route to load (default {DEFAULT_REQUEST_PATH} with the json template, else its route).",
    )
    health_path: str = DEFAULT_HEALTH_PATH
    ready_timeout_s: float = Field(default=DEFAULT_READY_TIMEOUT_S, gt=0, le=3600)
    endpoint: str | None = Field(default=None, description="URL of an already-running server.")
    payload: Path | None = Field(
        default=None, description="Request body file for command/endpoint servers (relative to the scenario)."
    )
    template: str = Field(
        default="json", description="Payload template: json, kserve-v2, openai-embeddings, ..."
    )
    model_name: str | None = Field(default=None, description="Model name for kserve-v2/openai templates.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ServerSpec:
        given = [x for x in (self.reference, self.command, self.endpoint) if x]
        if len(given) != 1:
            raise ValueError("give exactly one of reference, command or endpoint")
        if self.command is not None and PORT_PLACEHOLDER not in self.command:
            raise ValueError(
                f"the command must contain {PORT_PLACEHOLDER}, where advisor puts the port to listen on "
                f"(e.g. 'uvicorn app:api --port {PORT_PLACEHOLDER}')"
            )
        return self


class TrafficSpec(_Strict):
    profile: str = Field(min_length=1, description="A bundled profile name or a CSV/YAML file path.")
    peak_rps: float | None = Field(
        default=None, gt=0, le=MAX_RPS, description="Rescale so the peak is this rate."
    )
    monthly_requests: float | None = Field(
        default=None, gt=0, le=MAX_RPS * 3600 * 730, description="Or rescale to this monthly volume."
    )
    source: LiveTraffic | None = Field(
        default=None,
        description="Where the traffic is measured (prometheus or cloudwatch): `report send "
        "--refresh-traffic` re-imports `profile` from it.",
    )

    @model_validator(mode="after")
    def _one_scale(self) -> TrafficSpec:
        if self.peak_rps is not None and self.monthly_requests is not None:
            raise ValueError("give peak_rps or monthly_requests, not both")
        if self.source is not None and not _PROFILE_NAME.match(self.profile):
            raise ValueError(
                f"with a live source, profile names the imported profile the refresh writes;"
                f" {self.profile!r} is a path, not a name"
            )
        return self


class CurrentDeployment(_Strict):
    """What runs today, to compute savings against."""

    platform: Platform = Platform.EC2
    instance_type: str | None = None
    count: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    purchase_option: PurchaseOption = PurchaseOption.ON_DEMAND
    fargate_vcpu: float | None = None
    fargate_memory_gib: float | None = None
    load_balancer: Literal["own", "shared"] | None = Field(
        default=None,
        description="Today's load balancer on ec2/fargate: its own, or shared with the scenario's other "
        "models; default: as load_balancer.shared says.",
    )


class ModelSpec(_Strict):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    team: str = Field(default="default", min_length=1, max_length=63)
    server: ServerSpec
    resources: ReplicaResources
    slo: SLO
    traffic: TrafficSpec
    current: CurrentDeployment | None = None
    capacities_rps: dict[str, float] = Field(
        default_factory=dict,
        description="Capacities given by hand: requests/s one replica serves within the SLO, per instance "
        "type (ml.* names and 'fargate' too); measured ones win.",
    )
    unloaded_p99_ms: float | None = Field(
        default=None,
        gt=0,
        le=3_600_000,
        description="p99 latency of a lone request (the floor no SLO can go under), if known by hand.",
    )
    bench_shapes: tuple[str, ...] = Field(
        default=(), description="Shapes `recommend --bench` measures this model on (default: bench.shapes)."
    )
    architectures: tuple[Arch, ...] = Field(
        default=(Arch.X86_64,),
        min_length=1,
        description="CPU architectures the model's image is built for (x86_64, arm64); list arm64 for "
        "Graviton types. A pool never mixes architectures the image lacks.",
    )
    deploy: DeployTarget | None = Field(
        default=None,
        description="Where the recommendation is applied: aws_asg, sagemaker, ecs, kubernetes, cortex.",
    )
    image_gib: float | None = Field(
        default=None,
        gt=0,
        le=200,
        description="The server image's size: a new replica pulls it before serving (default 1.5 GiB on CPU, "
        "8 GiB on GPU; see advisor.cost.replay.provisioning).",
    )
    platforms: tuple[Platform, ...] | None = Field(
        default=None,
        min_length=1,
        description="Platforms this model may run on, of the scenario's (a team that must stay on "
        "SageMaker, say); default: the scenario's.",
    )

    @property
    def need(self) -> ReplicaResources:
        """One replica's request, held to the image's architectures (arch None: any of them)."""
        arches = set(self.architectures)
        if self.resources.arch is not None or len(arches) > 1:
            return self.resources
        return self.resources.model_copy(update={"arch": next(iter(arches))})

    def orchestrator(self, cluster: ClusterPolicy) -> Orchestrator:
        """How this model's EC2 nodes run it: its deploy target's way, else the scenario's cluster."""
        if self.deploy is not None and self.deploy.orchestrator is not None:
            return self.deploy.orchestrator
        return cluster.orchestrator

    @model_validator(mode="after")
    def _consistent_target(self) -> ModelSpec:
        arch = self.resources.arch
        if arch is not None and arch not in self.architectures:
            raise ValueError(
                f"resources.arch is {arch.value} but the image lists only "
                f"{', '.join(a.value for a in self.architectures)}: add it to architectures"
            )
        if len(set(self.architectures)) != len(self.architectures):
            raise ValueError("architectures lists an architecture twice")
        current, target = self.current, self.deploy
        if current is not None and target is not None and current.platform not in target.platforms:
            raise ValueError(
                f"deploy names a {target.kind} target, which runs on "
                f"{' or '.join(p.value for p in target.platforms)}, but current.platform is "
                f"{current.platform.value}; describe what runs today at that target"
            )
        return self

    @property
    def bench_labels(self) -> tuple[str, ...]:
        """Names this model's bench runs may be stored under: its own, then its reference server's."""
        ref = self.server.reference
        return (self.name,) if ref is None or ref == self.name else (self.name, ref)

    @field_validator("resources")
    @classmethod
    def _one_replica_fits_one_instance(cls, value: ReplicaResources) -> ReplicaResources:
        if value.vcpu > MAX_VCPU:
            raise ValueError(
                f"{value.vcpu:g} vCPUs for one replica is more than the largest instance type has"
                f" ({MAX_VCPU}); vcpu is in whole vCPUs (0.5 = Kubernetes' 500m)"
            )
        if value.memory_gib > MAX_MEMORY_GIB:
            raise ValueError(
                f"{value.memory_gib:g} GiB for one replica is more than the largest instance type has"
                f" ({MAX_MEMORY_GIB}); memory_gib is in GiB (0.5 = Kubernetes' 512Mi)"
            )
        return value

    _positive_capacities = field_validator("capacities_rps")(positive_capacities)


class LLMModelSpec(_Strict):
    """A language model served by an engine on GPUs (``models[]`` entries with an ``llm:`` key)."""

    name: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    team: str = Field(default="default", min_length=1, max_length=63)
    llm: LLMServing
    slo: LLMSLOSpec
    traffic: TrafficSpec
    tokens: TokenSizes
    current: CurrentDeployment | None = None
    per_token_api: PerTokenAPI | None = Field(
        default=None,
        description="a per-token API of the same model to compare with (prices and their source)",
    )
    instance_types: tuple[str, ...] = Field(
        default=(),
        description="GPU instance types the mix may use (default: every type of the price catalog with"
        " whole GPUs or Inferentia2 chips, less candidates.exclude)",
    )
    deploy: DeployTarget | None = Field(
        default=None,
        description="Where the mix is applied: kubernetes (namespace, deployment: the name its objects"
        " start with) or sagemaker (endpoint).",
    )
    server: ServerSpec | None = Field(
        default=None,
        description="An OpenAI-compatible server `recommend --bench` starts and measures (a reference LLM"
        " such as tiny-llm, or a command); an endpoint is measured with `advisor bench run --endpoint`.",
    )
    bench_shapes: tuple[str, ...] = Field(
        default=(), description="Shapes `recommend --bench` measures the server on (default: bench.shapes)."
    )
    capacities_rps: dict[str, float] = Field(
        default_factory=dict,
        description="Capacities given by hand: requests/s one instance serves within the SLO at the model's"
        " request sizes, per instance type (for types the prior does not model, such as CPU instances);"
        " measured ones win.",
    )

    _positive_capacities = field_validator("capacities_rps")(positive_capacities)

    @model_validator(mode="after")
    def _deploy_kind(self) -> LLMModelSpec:
        if self.deploy is not None and self.deploy.kind not in ("kubernetes", "sagemaker"):
            raise ValueError(
                f"a language model is applied to kubernetes or sagemaker, not {self.deploy.kind}"
            )
        return self


class Scenario(_Strict):
    name: str = "scenario"
    region: str = "us-east-1"
    platforms: tuple[Platform, ...] = Field(
        default=(Platform.EC2, Platform.SAGEMAKER, Platform.FARGATE),
        min_length=1,
        description="Where replicas may run.",
    )
    candidates: Candidates = Candidates()
    spot: SpotPolicy = SpotPolicy()
    apply: ApplyPolicy = ApplyPolicy()
    load_balancer: LoadBalancerPolicy = LoadBalancerPolicy()
    slo_budget_pct_minutes: float = Field(
        default=0.1, ge=0, le=100, description="Share of minutes allowed over the SLO, in %."
    )
    min_replicas: int = Field(
        default=2, ge=1, le=MAX_REPLICAS, description="High-availability floor; 1 only if you accept it."
    )
    churn_threshold: float = Field(
        default=0.5, ge=0, le=1000, description="Savings ÷ disruption (this model's) needed to change."
    )
    churn_min_savings_usd_per_month: float = Field(
        default=10.0, ge=0, le=1e9, description="A change saving less than this ($/month) is not made."
    )
    churn_max_payback_days: float = Field(
        default=30.0, gt=0, le=3650, description="The roll-out must pay back within this many days."
    )
    capacity_estimates: Literal["conservative", "point", "off"] = Field(
        default="conservative",
        description="Unmeasured instance families: the low end of the estimate band, its middle, or unused.",
    )
    bench: BenchPolicy = BenchPolicy()
    cluster: ClusterPolicy = ClusterPolicy()
    models: tuple[ModelSpec, ...] = ()
    llm_models: tuple[LLMModelSpec, ...] = Field(
        default=(), description="The models listed with an `llm:` key (language models served by an engine)."
    )
    llm_positions: tuple[int, ...] = Field(
        default=(), exclude=True, description="where each language model stands in the file's `models` list"
    )
    reports: ReportsConfig | None = Field(
        default=None, description="Scheduled cost reports: schedule, recipients per team, alerts."
    )

    @model_validator(mode="before")
    @classmethod
    def _split_llms(cls, data: object) -> object:
        """``models:`` lists both kinds; an entry with an ``llm:`` key is a language model."""
        if (
            isinstance(data, dict)
            and isinstance(data.get("models"), list | tuple)
            and "llm_models" not in data
        ):
            entries = list(data["models"])
            llms = [m for m in entries if isinstance(m, dict) and "llm" in m]
            if llms:
                rest = [m for m in entries if not (isinstance(m, dict) and "llm" in m)]
                at = [j for j, m in enumerate(entries) if isinstance(m, dict) and "llm" in m]
                return {**data, "models": rest, "llm_models": llms, "llm_positions": at}
        return data

    @staticmethod
    def source_loc(data: object, loc: tuple[object, ...]) -> tuple[object, ...]:
        """An error's place in the file: ``llm_models.i`` is the i-th ``models`` entry with ``llm:``."""
        if loc[:1] != ("llm_models",) or len(loc) < 2 or not isinstance(data, dict):
            return loc
        entries = data.get("models")
        if not isinstance(entries, list):
            return loc
        llm_at = [j for j, m in enumerate(entries) if isinstance(m, dict) and "llm" in m]
        i = loc[1]
        return ("models", llm_at[i], *loc[2:]) if isinstance(i, int) and i < len(llm_at) else loc

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        if not self.models and not self.llm_models:
            raise ValueError("models: list at least one model")
        names = [*(m.name for m in self.models), *(m.name for m in self.llm_models)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        for m in self.models:
            outside = [p.value for p in m.platforms or () if p not in self.platforms]
            if outside:
                raise ValueError(
                    f"model {m.name} lists platforms {', '.join(outside)}, which the scenario's platforms "
                    f"({', '.join(p.value for p in self.platforms)}) do not include"
                )
        return self


def load_scenario(path: Path) -> Scenario:
    """Parse and validate a scenario file; errors are one line with the field path and line."""
    return load_yaml_model(path, Scenario, what="scenario file")
