"""The traffic a scenario's model names, resolved as every stage reads it: a file beside the scenario or a
profile by name (bundled or imported), rescaled to the model's ``peak_rps`` or ``monthly_requests``.

One function, used by the optimiser, the front door (``advisor.model_profile``) and the replay surfaces.
"""

from __future__ import annotations

from pathlib import Path

from advisor.errors import AdvisorError, ConfigError, at_field
from advisor.scenario.model import LLMModelSpec, ModelSpec
from advisor.settings import Settings
from advisor.traffic import ops
from advisor.traffic.library import resolve_profile
from advisor.traffic.profile import TrafficProfile


def load_model_profile(
    spec: ModelSpec | LLMModelSpec,
    settings: Settings,
    base_dir: Path | None,
    where: str,
    cache: dict[str, TrafficProfile] | None = None,
) -> TrafficProfile:
    """The model's traffic: a file beside the scenario or a profile by name, rescaled as the scenario says."""
    ref = spec.traffic.profile
    candidate = base_dir / ref if base_dir is not None else None
    key = str(candidate) if candidate is not None and candidate.is_file() else ref
    try:
        if cache is not None and key in cache:
            profile = cache[key]
        else:
            profile = resolve_profile(key, settings)
            if cache is not None:
                cache[key] = profile
        profile = ops.transform(
            profile, peak_rps=spec.traffic.peak_rps, monthly_requests=spec.traffic.monthly_requests
        )
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.traffic.profile") from None
    if profile.peak_rps <= 0:
        raise ConfigError(
            "the traffic profile carries no requests",
            where=f"{where}.traffic",
            fix="use a profile with traffic",
        )
    if profile.duration_hours < 1:  # instances and Savings Plans bill by the hour
        minutes = profile.duration_hours * 60
        raise ConfigError(
            f"the traffic profile {ref!r} covers {minutes:.3g} minutes, less than an hour",
            where=f"{where}.traffic.profile",
            fix="use at least an hour of traffic (a week shows its daily and weekly pattern)",
        )
    return profile
