"""What-if knobs for one language model of a scenario: its traffic, its two-number SLO and its request sizes.

:func:`vary_llm` returns the scenario with :class:`LLMWhatIf` applied to one ``llm:`` entry (validated again);
re-running the recommendation on it (``advisor.api.recommend(varied, scenario_file=...)``) is the what-if,
a new and unsaved document. The classic models' knobs are :class:`advisor.api.WhatIf`'s.

Request sizes: a scenario gives a token trace (its request-size buckets) or fixed input and output tokens;
the what-if replaces either by fixed sizes, the mix of one bucket (a trace's mean request, say, or the long
prompts of a RAG workload).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from advisor.errors import InputError, NotFoundError
from advisor.scenario.llm import MAX_TOKENS
from advisor.scenario.model import LLMModelSpec, Scenario


class LLMWhatIf(BaseModel):
    """Knobs of a language model's what-if; None keeps what the scenario says."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    traffic_scale: float = Field(default=1.0, gt=0, le=1000, description="multiply the model's requests/s")
    slo_ttft_p99_ms: float | None = Field(default=None, gt=0, le=3_600_000)
    slo_tpot_p99_ms: float | None = Field(default=None, gt=0, le=60_000)
    input_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS, description="fixed request sizes")
    output_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)

    @model_validator(mode="after")
    def _both_sizes(self) -> LLMWhatIf:
        if (self.input_tokens is None) != (self.output_tokens is None):
            raise ValueError("give both input_tokens and output_tokens, or neither")
        return self

    def describe(self, model: str) -> str:
        """What changes, in words (``unchanged`` when nothing does)."""
        parts = []
        if self.traffic_scale != 1.0:
            parts.append(f"{model} traffic ×{self.traffic_scale:g}")
        if self.slo_ttft_p99_ms is not None:
            parts.append(f"{model} p99 TTFT ≤ {self.slo_ttft_p99_ms:g} ms")
        if self.slo_tpot_p99_ms is not None:
            parts.append(f"{model} p99 TPOT ≤ {self.slo_tpot_p99_ms:g} ms")
        if self.input_tokens is not None:
            parts.append(
                f"{model} requests of {self.input_tokens} input and {self.output_tokens} output tokens"
            )
        return "; ".join(parts) or "unchanged"


def vary_llm(scenario: Scenario, model: str, change: LLMWhatIf, *, peak_rps: float) -> Scenario:
    """``scenario`` with ``change`` applied to its language model ``model``; ``peak_rps`` is the model's peak
    today (the stored document's), scaled when its traffic names no peak or monthly volume of its own.

    NotFoundError for a model the scenario does not list; InputError when the change makes an invalid entry.
    """
    names = [m.name for m in scenario.llm_models]
    if model not in names:
        raise NotFoundError("language model", model, known=names, where="models")
    index = names.index(model)
    data = scenario.llm_models[index].model_dump(exclude_unset=True)
    traffic = data["traffic"]
    if change.traffic_scale != 1.0:
        if traffic.get("monthly_requests") is not None:
            traffic["monthly_requests"] *= change.traffic_scale
        else:
            traffic["peak_rps"] = (traffic.get("peak_rps") or peak_rps) * change.traffic_scale
    slo = data["slo"]
    slo["ttft_p99_ms"] = change.slo_ttft_p99_ms or slo["ttft_p99_ms"]
    slo["tpot_p99_ms"] = change.slo_tpot_p99_ms or slo["tpot_p99_ms"]
    if change.input_tokens is not None:
        data["tokens"] = {"input": change.input_tokens, "output": change.output_tokens}
    try:
        spec = LLMModelSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InputError(
            f"the what-if makes an invalid model entry: {field}: {first['msg']}",
            where=change.describe(model),
            fix="choose a smaller change",
        ) from None
    specs = list(scenario.llm_models)
    specs[index] = spec
    return scenario.model_copy(update={"llm_models": tuple(specs)})
