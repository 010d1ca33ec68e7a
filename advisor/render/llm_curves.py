"""A language model's stored plan against its traffic, and the prior's TTFT and TPOT against load, for the
dashboard's LLM page.

- :func:`llm_replay`: the model's traffic profile (read from the recommendation's scenario file, as the
  optimiser read it) in requests/s and input and output tokens/s, against the capacity the plan provisions
  at each step (:func:`provisioned_rps`). The document stores the plan's peak, its number of traffic levels
  and the start-up lead, not the mix per level, so the capacity is the level the mix is sized for: its
  instances serve at least that rate with the buckets in their shares (a mix of whole instances may serve
  more). The replay's tokens a month against the stored ones say whether the profile is still the one the
  plan was made for.
- :func:`llm_latency_curves`: each instance group's TTFT and TPOT at rising concurrency per request-size
  bucket, from the prior (:func:`advisor.capacity.llm.estimate_shape` at the group's degree), beside the
  capacity the plan uses for that bucket (the document's: measured, calibrated or the prior's).

Neither searches for a plan: the optimiser is not imported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from advisor.capacity.llm import (
    PRESETS,
    LLMArchitecture,
    WeightsDtype,
    estimate_shape,
    instance_devices,
    preset,
)
from advisor.errors import NotFoundError
from advisor.pricing.catalog import Catalog
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import Recommendation
from advisor.recommendation.source import scenario_path
from advisor.render.llm_view import llm_model, mean_request_tokens
from advisor.scenario.model import LLMModelSpec, load_scenario
from advisor.settings import Settings, load_settings
from advisor.traffic.profile import HOURS_PER_MONTH
from advisor.traffic.scenario import load_model_profile

CONCURRENCY = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""Requests in flight per replica at which the prior's latencies are drawn (up to vLLM's max_num_seqs)."""
MATCH_REL = 1e-6


def provisioned_rps(
    rps: np.ndarray, step_s: float, peak_rps: float, levels: int, start_up_s: float
) -> np.ndarray:
    """The rate the plan's instances are sized for at each step of ``rps`` (requests/s per ``step_s``): the
    lowest of ``levels`` equal steps up to ``peak_rps`` at or over the highest demand of the coming
    ``start_up_s`` seconds (a GPU replica ordered now serves only then), never below the first level.

    This is the optimiser's rule (:mod:`advisor.optimize.llm.plan`, step 4), read back from the figures the
    document stores; ``tests/integration/test_dashboard_llm.py`` holds the two together.
    """
    rps = np.asarray(rps, dtype=float)
    if rps.size == 0 or levels < 1 or peak_rps <= 0:
        return np.zeros_like(rps)
    ahead = math.ceil(start_up_s / step_s)
    padded = np.concatenate([rps, np.full(ahead, rps[-1])])
    need = np.lib.stride_tricks.sliding_window_view(padded, ahead + 1).max(axis=1)
    tops = np.asarray([peak_rps * k / levels for k in range(1, levels + 1)])
    index = np.clip(np.searchsorted(tops, need - 1e-9, side="left"), 0, len(tops) - 1)
    return np.asarray(tops[index], dtype=float)


@dataclass(frozen=True)
class LLMReplayView:
    """One language model's traffic against its plan's capacity (``frame`` per step, indexed by time):
    demand_rps, provisioned_rps, and input and output tokens/s of both."""

    model: str
    profile: str
    step_s: int
    frame: pd.DataFrame
    input_tokens_per_month: float
    output_tokens_per_month: float
    stored_input_tokens_per_month: float
    stored_output_tokens_per_month: float

    @property
    def matches_stored(self) -> bool:
        """The replayed profile carries the tokens a month the plan was priced for."""
        return all(
            math.isclose(a, b, rel_tol=MATCH_REL)
            for a, b in (
                (self.input_tokens_per_month, self.stored_input_tokens_per_month),
                (self.output_tokens_per_month, self.stored_output_tokens_per_month),
            )
        )

    @property
    def overloaded_steps(self) -> int:
        """Steps whose demand is over the capacity provisioned (0 unless the profile changed)."""
        return int((self.frame["provisioned_rps"] + 1e-9 < self.frame["demand_rps"]).sum())


def llm_spec_of(rec: Recommendation, model: str) -> tuple[LLMModelSpec, Path, str]:
    """The scenario entry ``model`` was recommended from, the scenario's folder and the entry's field path;
    InputError when the scenario file is gone, NotFoundError when it no longer lists the model."""
    path = scenario_path(rec)
    scenario = load_scenario(path)
    at = scenario.llm_positions
    for i, spec in enumerate(scenario.llm_models):
        if spec.name == model:
            return spec, path.parent, f"models.{at[i] if i < len(at) else len(scenario.models) + i}"
    raise NotFoundError("language model", model, known=[m.name for m in scenario.llm_models], where=str(path))


def llm_replay(rec: Recommendation, model: str, *, settings: Settings | None = None) -> LLMReplayView:
    """``model``'s traffic profile against the capacity its stored plan provisions (module docstring)."""
    settings = settings or load_settings()
    m = llm_model(rec, model)
    spec, base_dir, where = llm_spec_of(rec, model)
    profile = load_model_profile(spec, settings, base_dir, where)
    tokens_in, tokens_out = mean_request_tokens(m)
    demand = np.asarray(profile.rps, dtype=float)
    provisioned = provisioned_rps(demand, profile.step_s, m.peak_rps, m.levels, m.start_up_s)
    frame = pd.DataFrame(
        {
            "demand_rps": demand,
            "provisioned_rps": provisioned,
            "demand_input_tokens_per_s": demand * tokens_in,
            "demand_output_tokens_per_s": demand * tokens_out,
            "provisioned_input_tokens_per_s": provisioned * tokens_in,
            "provisioned_output_tokens_per_s": provisioned * tokens_out,
        },
        index=profile.index,
    )
    requests_per_month = float(demand.sum()) * profile.step_s * HOURS_PER_MONTH / profile.duration_hours
    return LLMReplayView(
        model=model,
        profile=spec.traffic.profile,
        step_s=profile.step_s,
        frame=frame,
        input_tokens_per_month=requests_per_month * tokens_in,
        output_tokens_per_month=requests_per_month * tokens_out,
        stored_input_tokens_per_month=m.input_tokens_per_month,
        stored_output_tokens_per_month=m.output_tokens_per_month,
    )


def llm_architecture(rec: Recommendation, m: LLMModelRecommendation) -> LLMArchitecture:
    """The architecture ``m`` was planned for: its preset, else the config.json its scenario entry names
    (read beside the scenario file when it is there, else from the working directory)."""
    if m.llm in PRESETS:
        return preset(m.llm)
    spec, base_dir, _ = llm_spec_of(rec, m.model)
    if spec.llm.config is None:
        return preset(spec.llm.model or m.llm)
    beside = base_dir / spec.llm.config
    path = beside if not spec.llm.config.is_absolute() and beside.exists() else spec.llm.config
    return LLMArchitecture.from_config(path)


LATENCY_COLUMNS = (
    "option",
    "bucket",
    "concurrency",
    "requests_per_s",
    "ttft_ms",
    "tpot_ms",
    "output_tokens_per_s",
    "capacity_rps_per_replica",
    "capacity_method",
)


def llm_latency_curves(
    rec: Recommendation,
    model: str,
    *,
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    buckets: Sequence[str] | None = None,
    concurrency: Sequence[int] = CONCURRENCY,
) -> pd.DataFrame:
    """The prior's TTFT and TPOT (ms) against load on each instance group of ``model``'s mix, for each of
    ``buckets`` (default: every bucket of its routing), one row per concurrency (``LATENCY_COLUMNS``):
    ``requests_per_s`` is what one replica completes at that concurrency (closed loop: its output tokens/s
    over the bucket's output tokens); ``ttft_ms`` and ``tpot_ms`` are the prior's steady-state figures
    there, not a p99. ``capacity_rps_per_replica`` is the plan's capacity for the bucket (the document's, a
    p99 within both SLOs under Poisson arrivals) and ``capacity_method`` where it comes from. A group that
    cannot serve a bucket within the SLO has no rows for it."""
    settings = settings or load_settings()
    m = llm_model(rec, model)
    catalog = catalog or Catalog.load(settings)
    arch, dtype = llm_architecture(rec, m), WeightsDtype(m.dtype)
    wanted = [r for r in m.routing if buckets is None or r.bucket in buckets]
    rows = []
    for g in m.groups:
        itype = catalog.instance(g.instance_type.removeprefix("ml."))  # a SageMaker type's instance
        if instance_devices(itype) is None:  # a CPU instance: no prior to draw its curve from
            continue
        for r in wanted:
            capacity = g.capacity_rps_per_instance.get(r.bucket, 0.0) / g.replicas_per_instance
            if capacity <= 0:
                continue
            out_tokens = max(1, round(r.output_tokens))
            est = estimate_shape(
                arch, dtype, itype, max(1, round(r.input_tokens)), out_tokens, concurrency,
                tp=g.tensor_parallel,
            )  # fmt: skip
            rows += [
                {
                    "option": g.option,
                    "bucket": r.bucket,
                    "concurrency": p.concurrency,
                    "requests_per_s": p.output_tokens_per_s / out_tokens,
                    "ttft_ms": p.ttft_ms,
                    "tpot_ms": p.tpot_ms,
                    "output_tokens_per_s": p.output_tokens_per_s,
                    "capacity_rps_per_replica": capacity,
                    "capacity_method": g.capacity_methods.get(r.bucket, g.capacity_method),
                }
                for p in est.points
            ]
    return pd.DataFrame(rows, columns=list(LATENCY_COLUMNS))
