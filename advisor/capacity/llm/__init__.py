"""LLM capacity for shapes nobody measured: architectures, devices, a roofline + KV-cache prior, calibration.

* :class:`LLMArchitecture` (:func:`preset`, ``LLMArchitecture.from_config``): a model's shape, its parameters
  and KV bytes per token;
* :func:`instance_devices`: the GPUs or Inferentia2 chips of an instance type and their datasheet figures;
* :class:`LLMPrior`: memory, engine steps, TTFT/TPOT at a concurrency, capacity at an SLO;
* :func:`factors_for` / :func:`fit_factors`: the prior's efficiency factors calibrated on measurements;
* :func:`estimate_shape`: all of it for one instance type, as ``advisor bench estimate`` prints it.
"""

from __future__ import annotations

from advisor.capacity.llm.architecture import PRESETS, LLMArchitecture, WeightsDtype, hub_id, preset
from advisor.capacity.llm.calibration import (
    CALIBRATED_BAND,
    LLMMeasurement,
    factors_for,
    fit_factors,
    held_out_errors,
    prior_band,
    published_factors,
    published_points,
)
from advisor.capacity.llm.devices import DeviceSpec, InstanceDevices, instance_devices
from advisor.capacity.llm.estimate import ConcurrencyPoint, ShapeEstimate, estimate_shape
from advisor.capacity.llm.evidence import LLMMeasured, read_llm_evidence
from advisor.capacity.llm.prior import EngineSteps, Estimate, LLMPrior, MemoryPlan, PriorFactors

__all__ = [
    "CALIBRATED_BAND",
    "PRESETS",
    "ConcurrencyPoint",
    "DeviceSpec",
    "EngineSteps",
    "Estimate",
    "InstanceDevices",
    "LLMArchitecture",
    "LLMMeasured",
    "LLMMeasurement",
    "LLMPrior",
    "MemoryPlan",
    "PriorFactors",
    "ShapeEstimate",
    "WeightsDtype",
    "estimate_shape",
    "factors_for",
    "fit_factors",
    "held_out_errors",
    "hub_id",
    "instance_devices",
    "preset",
    "prior_band",
    "published_factors",
    "published_points",
    "read_llm_evidence",
]
