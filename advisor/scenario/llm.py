"""The parts of a language model's entry in a scenario: what is served (``llm:``), the two-number SLO
(``slo:``) and the request sizes (``tokens:``). The keys are issue 22's contract::

    models:
      - name: chat
        llm: {model: llama-3.1-8b, dtype: bf16, engine: vllm}       # or {config: path/to/config.json, ...}
        slo: {ttft_p99_ms: 2000, tpot_p99_ms: 100}
        traffic: {profile: diurnal-business-api, peak_rps: 6}
        tokens: {trace: ../shared/traces/azure_llm_inference_2023_conv.csv}   # or {input: 1000, output: 130}
        current: {platform: ec2, instance_type: p4d.24xlarge, count: 1}

Paths are read relative to the working directory, as every path in a scenario is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from advisor.domain import InputModel as _Strict
from advisor.platforms.targets import DnsSubdomain

LLM_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4")
LLM_ENGINES = ("vllm",)
MAX_TOKENS = 10_000_000
# vLLM's OpenAI-compatible server image, pinned (Docker Hub vllm/vllm-openai; the tag of the vLLM release
# whose "Using Kubernetes" guide, docs.vllm.ai/en/v0.8.2/deployment/k8s.html, the manifests follow).
DEFAULT_VLLM_IMAGE = "vllm/vllm-openai:v0.8.2"


class LLMServing(_Strict):
    """The model (a preset name or a Hugging Face ``config.json``), its weights' dtype and its engine."""

    model: str | None = Field(
        default=None, min_length=1, max_length=100, description="a preset, e.g. llama-3.1-8b"
    )
    config: Path | None = Field(
        default=None, description="a Hugging Face config.json, read without a download"
    )
    dtype: Literal["bf16", "fp16", "fp8", "int8", "int4"] = "bf16"
    engine: Literal["vllm"] = Field(default="vllm", description="the serving engine advisor models (vLLM)")
    weights: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="what the engine loads: a Hugging Face repository id or a local/S3 path (default: the"
        " preset's repository; required with llm.config to apply)",
    )
    image: str = Field(
        default=DEFAULT_VLLM_IMAGE,
        min_length=1,
        max_length=500,
        description="the engine's container image on Kubernetes (GPU instances)",
    )
    neuron_image: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="a vLLM image built for AWS Neuron, for Inferentia2 instances (required to apply a mix"
        " with them)",
    )
    sagemaker_image: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="the SageMaker container image (default: the large model inference container of the"
        " region, see advisor.apply.aws.sagemaker_llm)",
    )
    max_model_len: int | None = Field(
        default=None,
        ge=16,
        le=MAX_TOKENS,
        description="the engine's --max-model-len (default: the largest request of the token sizes, rounded"
        " up to a power of two, at most the model's context)",
    )
    hf_token_secret: DnsSubdomain | None = Field(
        default=None,
        description="a Kubernetes Secret in the target's namespace whose key 'token' holds a Hugging Face"
        " token, for gated weights (the engine reads it as HF_TOKEN)",
    )
    gpu_memory_utilization: float = Field(
        default=0.9,
        gt=0.1,
        le=1.0,
        description="the engine's --gpu-memory-utilization (vLLM's default 0.9)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> LLMServing:
        if (self.model is None) == (self.config is None):
            raise ValueError("give llm.model (a preset) or llm.config (a config.json), one of them")
        return self


class LLMSLOSpec(_Strict):
    """p99 time to first token and p99 time per output token (the bench's definitions)."""

    ttft_p99_ms: float = Field(gt=0, le=3_600_000)
    tpot_p99_ms: float = Field(gt=0, le=60_000)


class TokenSizes(_Strict):
    """Request sizes: a token trace (Azure or BurstGPT columns), or fixed input and output tokens."""

    trace: Path | None = None
    input: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    output: int | None = Field(default=None, ge=1, le=MAX_TOKENS)

    @model_validator(mode="after")
    def _one_kind(self) -> TokenSizes:
        fixed = self.input is not None or self.output is not None
        if self.trace is not None and fixed:
            raise ValueError("give tokens.trace or tokens.input and tokens.output, not both")
        if self.trace is None and (self.input is None or self.output is None):
            raise ValueError("give tokens.trace, or both tokens.input and tokens.output")
        return self


class PerTokenAPI(_Strict):
    """A managed per-token API serving the same open model, as a baseline: its prices and where they are
    from (Amazon Bedrock's on-demand prices, say, with the page and the date read)."""

    name: str = Field(default="per-token API", min_length=1, max_length=100)
    usd_per_m_input: float = Field(ge=0, le=10_000)
    usd_per_m_output: float = Field(ge=0, le=10_000)
    source: str = Field(min_length=1, max_length=500, description="where the prices were read, and when")


def beside_scenario(base_dir: Path | None, path: Path) -> Path:
    """A path a language model's entry names (``llm.config``, ``tokens.trace``): beside the scenario file
    when it is there (``base_dir``), else as given (from the working directory)."""
    candidate = base_dir / path if base_dir is not None and not path.is_absolute() else None
    return candidate if candidate is not None and candidate.exists() else path
