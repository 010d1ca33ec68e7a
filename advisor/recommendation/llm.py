"""An LLM model's part of the recommendation: its mix of GPU instances over the day, routing, $/M tokens.

A language model is served by an engine (vLLM) on GPU instances of possibly several types (the mix), each
type at a tensor-parallel degree and with its own autoscaling bounds, and a router that sends each
request-size bucket to the types the plan names in the shares it names. Its figures: $/month over the
traffic curve, tokens per month, $/M input, output and blended tokens (OpenCost's split by prefill and
decode time), the baselines (the best single type over the same curve, the peak mix held all day, today's
deployment), and the saving against today split by lever like every model's (today → the peak mix held
all day: instance type; → the mix following the curve: autoscaling).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from advisor.domain import FrozenModel as _Out
from advisor.platforms.targets import DeployTarget
from advisor.recommendation.levers import LeverSaving
from advisor.recommendation.scaling import ScheduledMinimum


class LLMInstanceGroup(_Out):
    """One instance type at one tensor-parallel degree in the mix, with its own autoscaling bounds."""

    option: str = Field(description="instance type and degree, as the routing names it: 'g6e.xlarge tp1'")
    instance_type: str
    tensor_parallel: int
    replicas_per_instance: int
    device: str
    purchase_option: Literal["on_demand"] = "on_demand"
    usd_per_hour: float
    min_instances: int
    max_instances: int
    instance_hours_per_month: float
    weights_gib_per_device: float
    kv_cache_gib_per_device: float
    capacity_rps_per_instance: dict[str, float] = Field(description="per request-size bucket, alone")
    capacity_method: Literal["measured", "calibrated", "prior", "given"] = Field(
        default="prior",
        description="measured on every bucket, the prior alone on every bucket, given by hand (the"
        " scenario's capacities_rps, where measurements did not replace it), else calibrated",
    )
    capacity_methods: dict[str, Literal["measured", "calibrated", "prior", "given"]] = Field(
        default_factory=dict,
        description="per bucket: a bench run of this shape (measured), the prior scaled by this device's"
        " measurements (calibrated), the prior, or the scenario's capacities_rps (given)",
    )
    capacity_band: dict[str, float] = Field(
        default_factory=dict,
        description="per bucket, the capacity's uncertainty as a fraction (0 measured; the prior's held-out"
        " error on this device, or across devices; a device-level scale's residual when calibrated)",
    )


class LLMRoute(_Out):
    """Where one request-size bucket goes: the share of its requests per option (they sum to 1)."""

    bucket: str
    share_of_requests: float
    input_tokens: float = Field(description="the bucket's mean")
    output_tokens: float = Field(description="the bucket's mean")
    to: dict[str, float]


class LLMTokenCost(_Out):
    usd_per_m_input: float | None
    usd_per_m_output: float | None
    usd_per_m_blended: float | None
    input_share: float = Field(description="the share of the cost carried by input tokens")
    split: Literal["time", "ratio"] = Field(description="by prefill vs decode time, or a fixed ratio")
    output_tokens_per_s_per_usd_per_hour: float | None = Field(
        default=None, description="the month's mean output tokens/s over its mean $/h (more is better)"
    )


class LLMBaseline(_Out):
    name: Literal["best_single_type", "static_peak_mix", "current", "per_token_api", "ec2", "sagemaker"]
    detail: str
    usd_per_month: float
    usd_per_m_blended: float | None


class LLMServingFacts(_Out):
    """What every replica of the engine runs, as the scenario and the plan set it."""

    engine: str
    image: str = Field(description="the engine's image on GPU instances")
    neuron_image: str | None = Field(description="the engine's image on Inferentia2 instances")
    sagemaker_image: str | None = Field(description="the SageMaker container image; None: the region's LMI")
    weights: str | None = Field(description="what the engine loads (a Hugging Face id or a path)")
    served_model_name: str = Field(description="the name clients send as 'model'")
    max_model_len: int = Field(ge=1, description="the engine's --max-model-len")
    gpu_memory_utilization: float
    hf_token_secret: str | None = Field(
        default=None,
        description="a Kubernetes Secret (key 'token') with a Hugging Face token, for gated weights",
    )
    port: int = 8000
    health_path: str = Field(default="/health", description="vLLM's health route")
    start_up_s: float = Field(description="boot, image pull and weights: the start-up probe's allowance")


Accelerator = Literal["nvidia.com/gpu", "aws.amazon.com/neuron"]


class LLMGroupDeployment(_Out):
    """One instance group as the cluster runs it: the replicas of one option, their requests, bounds and
    the scaler's thresholds."""

    option: str
    name: str = Field(description="the objects' name: a DNS label")
    instance_type: str
    accelerator: Accelerator | None = Field(
        description="the extended resource of its devices; None on a CPU instance"
    )
    accelerators_per_replica: int = Field(ge=0, description="the tensor-parallel degree (0 on CPU)")
    replicas_per_instance: int = Field(ge=1)
    instance_vcpu: float = Field(gt=0, description="an instance's vCPUs (a node's capacity, for limits)")
    instance_accelerators: int = Field(ge=0, description="an instance's GPUs or Inferentia2 devices")
    vcpu_per_replica: float = Field(gt=0, description="an instance's allocatable vCPUs, split per replica")
    memory_gib_per_replica: float = Field(gt=0)
    shm_gib: float = Field(gt=0, description="/dev/shm for the engine's workers (tensor parallelism)")
    min_instances: int = Field(ge=1)
    max_instances: int = Field(ge=1)
    min_replicas: int = Field(ge=1, description="at least one: a route to no replica fails its requests")
    max_replicas: int = Field(ge=1)
    requests_per_s_per_replica: float = Field(
        gt=0, description="the scaler's target: a replica's capacity on the buckets routed to it"
    )
    waiting_requests_per_replica: float = Field(
        gt=0,
        description="the queue trigger's threshold (vllm:num_requests_waiting): by Little's law the queue"
        " at which a request waits half the TTFT SLO at the target rate",
    )
    share_of_requests: float = Field(
        ge=0, le=1, description="the share of all requests the router sends here (the peak's routing)"
    )
    schedules: list[ScheduledMinimum] = Field(
        default_factory=list, description="the floor the plan needs every day, an hour at a time"
    )


class LLMDeployment(_Out):
    """Everything an applier needs to run an LLM plan, without re-running the optimiser."""

    target: DeployTarget | None
    migration: bool = Field(description="the plan's platform is not the target's: files, not a change")
    serving: LLMServingFacts
    groups: list[LLMGroupDeployment] = Field(min_length=1)
    split: Literal["peak_mix", "single_type"] = Field(
        description="the router's fixed split: the peak mix's routing, or every request to the best single"
        " type (whichever costs less as deployed)"
    )
    routing: dict[str, dict[str, float]] = Field(
        description="bucket label -> option -> share of the bucket's requests, as the router splits them"
    )
    bucket_header: str = Field(
        default="x-advisor-size-bucket",
        description="the request header naming the request's size bucket, set by the client or gateway",
    )
    bucket_keys: dict[str, str] = Field(description="bucket label -> the header's value")
    bucket_edges_tokens: list[int] = Field(description="input and output tokens are cut at these edges")
    scale_down_stabilisation_s: float = 300.0
    usd_per_month: float = Field(
        description="the groups as deployed: the router's fixed split, each group scaled on its own load"
        " (at least one replica), instances ordered start_up_s ahead"
    )
    not_deployed: list[str] = Field(
        default_factory=list,
        description="options the plan uses only below the peak: a fixed split would send them nothing",
    )


class LLMModelRecommendation(_Out):
    model: str
    team: str
    llm: str = Field(description="the architecture: a preset name or the config.json's model")
    platform: Literal["ec2", "sagemaker"] = Field(
        default="ec2", description="where the mix runs: EC2 instances (vLLM) or SageMaker real-time endpoints"
    )
    dtype: str
    engine: str
    slo_ttft_p99_ms: float
    slo_tpot_p99_ms: float
    action: Literal["change", "new", "keep_current"]
    groups: list[LLMInstanceGroup]
    routing: list[LLMRoute]
    peak_rps: float
    levels: int = Field(description="traffic levels the mix was solved at, up to the peak")
    start_up_s: float = Field(
        description="a new GPU replica until it serves: instances are ordered this early"
    )
    usd_per_month: float
    current_usd_per_month: float | None
    effective_usd_per_month: float = Field(description="the plan, or today's cost where it is kept")
    input_tokens_per_month: float
    output_tokens_per_month: float
    tokens: LLMTokenCost
    baselines: list[LLMBaseline]
    break_even_rps: float | None = Field(
        default=None,
        description="with a per-token API: the mean request rate at which the plan costs what the API bills",
    )
    savings_by_lever: list[LeverSaving] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    deployment: LLMDeployment | None = Field(
        default=None, description="what apply needs: None when the scenario names no deploy target"
    )


class MeasurementPriority(_Out):
    """A shape and bucket worth measuring: the spend resting on an uncertain capacity there."""

    instance_type: str
    tensor_parallel: int
    bucket: str
    method: str
    band: float
    usd_per_month: float = Field(description="the part of the plan's cost carrying this bucket on this type")
    usd_at_risk_per_month: float = Field(description="that spend × the band")


def measurement_priorities(m: LLMModelRecommendation) -> list[MeasurementPriority]:
    """Where a bench run would shrink the widest uncertainty in money: each (instance group, bucket) the
    peak routing uses (every bucket it serves, for a group only the lower levels use), its share of the
    group's load times the group's cost, times its capacity band; largest first. A measured pair (band 0)
    is never suggested."""
    shares = {r.bucket: r for r in m.routing}
    out = []
    for g in m.groups:
        cost = g.instance_hours_per_month * g.usd_per_hour
        loads = {
            b: r.share_of_requests * r.to.get(g.option, 0.0) / g.capacity_rps_per_instance[b]
            for b, r in shares.items()
            if g.capacity_rps_per_instance.get(b, 0.0) > 0 and r.to.get(g.option, 0.0) > 0
        }
        if not loads:  # a group the peak mix does not route to serves the buckets at lower levels
            loads = {
                b: r.share_of_requests / g.capacity_rps_per_instance[b]
                for b, r in shares.items()
                if g.capacity_rps_per_instance.get(b, 0.0) > 0
            }
        total = sum(loads.values())
        for b, load in loads.items():
            band = g.capacity_band.get(b, 0.0)
            spend = cost * load / total if total > 0 else 0.0
            if band > 0 and spend > 0:
                out.append(MeasurementPriority(
                    instance_type=g.instance_type, tensor_parallel=g.tensor_parallel, bucket=b,
                    method=g.capacity_methods.get(b, "prior"), band=band, usd_per_month=spend,
                    usd_at_risk_per_month=spend * band,
                ))  # fmt: skip
    return sorted(out, key=lambda p: -p.usd_at_risk_per_month)
