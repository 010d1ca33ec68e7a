"""What-if re-runs of a stored recommendation: a new recommendation, made by the optimiser, of the same
scenario with a few knobs changed.

:func:`what_if` re-runs the optimiser on the recommendation's scenario with a few knobs changed
(:class:`WhatIf`): one model's traffic scale and SLO, and the scenario's spot policy, HA floor and
platforms. It returns a new, unsaved Recommendation; :func:`save_what_if` stores it together with the
scenario it was computed from (``ADVISOR_HOME/scenarios/<id>.yaml``, its traffic paths made absolute), so
that the saved document replays and varies like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor.api.front import model_profile, recommend
from advisor.domain import InterruptionBand, Platform
from advisor.errors import InputError, NotFoundError
from advisor.optimize.recommend import utc_now
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import ModelRecommendation, Recommendation, new_recommendation_id
from advisor.recommendation.source import scenario_path
from advisor.recommendation.store import save
from advisor.scenario.model import Scenario, load_scenario
from advisor.settings import Settings, load_settings


class WhatIf(BaseModel):
    """Knobs of a what-if: one model's traffic and SLO; the scenario's spot policy, HA floor and platforms.

    None keeps what the scenario says.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    traffic_scale: float = Field(default=1.0, gt=0, le=1000, description="multiply the model's traffic")
    slo_p99_ms: float | None = Field(default=None, gt=0, le=3_600_000)
    spot_allowed: bool | None = None
    max_interruption_band: InterruptionBand | None = None
    min_replicas: int | None = Field(default=None, ge=1, le=1000, description="the scenario's HA floor")
    platforms: tuple[Platform, ...] | None = Field(default=None, min_length=1)

    def describe(self, model: str) -> str:
        """What changes, in words (``unchanged`` when nothing does)."""
        parts = []
        if self.traffic_scale != 1.0:
            parts.append(f"{model} traffic ×{self.traffic_scale:g}")
        if self.slo_p99_ms is not None:
            parts.append(f"{model} p99 SLO {self.slo_p99_ms:g} ms")
        if self.spot_allowed is not None:
            parts.append("spot allowed" if self.spot_allowed else "no spot")
        if self.max_interruption_band is not None:
            parts.append(f"spot interruption band up to {self.max_interruption_band.value}")
        if self.min_replicas is not None:
            parts.append(f"HA floor {self.min_replicas}")
        if self.platforms is not None:
            parts.append("platforms " + ", ".join(p.value for p in self.platforms))
        return "; ".join(parts) or "unchanged"


def varied_scenario(
    scenario: Scenario, model: str, change: WhatIf, *, peak_rps: Callable[[], float]
) -> Scenario:
    """``scenario`` with ``change`` applied (validated again as a whole); ``peak_rps`` gives the model's
    current peak when its traffic names no scale of its own."""
    data: dict[str, Any] = scenario.model_dump()
    names = [m["name"] for m in data["models"]]
    if model not in names:
        raise NotFoundError("model", model, known=names, where="models")
    spec = data["models"][names.index(model)]
    if change.traffic_scale != 1.0:
        traffic = spec["traffic"]
        if traffic["monthly_requests"] is not None:
            traffic["monthly_requests"] *= change.traffic_scale
        else:
            traffic["peak_rps"] = (traffic["peak_rps"] or peak_rps()) * change.traffic_scale
    if change.slo_p99_ms is not None:
        spec["slo"]["latency_p99_ms"] = change.slo_p99_ms
    if change.spot_allowed is not None:
        data["spot"]["allowed"] = change.spot_allowed
    if change.max_interruption_band is not None:
        data["spot"]["max_interruption_band"] = change.max_interruption_band
    if change.min_replicas is not None:
        data["min_replicas"] = change.min_replicas
    if change.platforms is not None:
        data["platforms"] = change.platforms
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InputError(
            f"the what-if makes an invalid scenario: {field}: {first['msg']}",
            where=change.describe(model),
            fix="choose a smaller change",
        ) from None


def what_if(
    rec: Recommendation,
    model: str,
    change: WhatIf,
    *,
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    clock: Callable[[], Any] = utc_now,
) -> Recommendation:
    """The recommendation for ``rec``'s scenario with ``change`` applied; nothing is stored."""
    settings = settings or load_settings()
    path = scenario_path(rec)
    base = load_scenario(path)
    varied = varied_scenario(
        base, model, change, peak_rps=lambda: model_profile(path, model, settings=settings).peak_rps
    )
    out = recommend(varied, scenario_file=path, settings=settings, catalog=catalog, clock=clock,
                    new_id=new_recommendation_id)  # fmt: skip
    summary = f"What-if of {rec.id} ({change.describe(model)}): {out.summary}"
    return out.model_copy(update={"summary": summary})


def cost_change(stored: ModelRecommendation, varied: ModelRecommendation) -> float | None:
    """What-if $/month − stored $/month (None unless both have a cost)."""
    if stored.cost is None or varied.cost is None:
        return None
    return varied.cost.usd_per_month - stored.cost.usd_per_month


def _portable(scenario: Scenario, base_dir: Path) -> dict[str, Any]:
    """``scenario`` as YAML-ready data whose file references no longer depend on ``base_dir``."""
    data: dict[str, Any] = scenario.model_dump(mode="json", exclude_defaults=True)
    for spec in data["models"]:
        ref = spec["traffic"]["profile"]
        if (base_dir / ref).is_file():
            spec["traffic"]["profile"] = str((base_dir / ref).resolve())
        payload = spec.get("server", {}).get("payload")
        if payload is not None and (base_dir / payload).is_file():
            spec["server"]["payload"] = str((base_dir / payload).resolve())
    return data


def save_what_if(
    stored: Recommendation,
    model: str,
    change: WhatIf,
    varied: Recommendation,
    *,
    settings: Settings | None = None,
) -> Path:
    """Store ``varied`` (from :func:`what_if` on ``stored``) and the scenario behind it; returns that file.

    The scenario is written first, then the document points at it and is stored in one transaction: a
    failure leaves at most an unreferenced scenario file, never a document that cannot be replayed.
    """
    settings = settings or load_settings()
    path = scenario_path(stored)
    scenario = varied_scenario(
        load_scenario(path), model, change,
        peak_rps=lambda: model_profile(path, model, settings=settings).peak_rps,
    )  # fmt: skip
    folder = settings.home / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{varied.id}.yaml"
    header = f"# What-if of {stored.id} ({change.describe(model)}), from {path}\n"
    target.write_text(header + yaml.safe_dump(_portable(scenario, path.parent), sort_keys=False), "utf-8")
    save(varied.model_copy(update={"scenario_file": str(target.resolve())}), settings)
    return target
