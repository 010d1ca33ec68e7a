"""One function per question the surfaces ask: recommend, save, the stored recommendations, a model's
profile and capacities (re-exported by :mod:`advisor.api`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from advisor.capacity import BenchEvidence, ModelCapacities, capacities_for_model, read_evidence
from advisor.capacity.llm import LLMMeasured, read_llm_evidence
from advisor.errors import ConfigError, NotFoundError
from advisor.optimize.recommend import Progress, RecommendOptions, utc_now
from advisor.optimize.recommend import recommend as _recommend
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import Recommendation, new_recommendation_id
from advisor.render.words import with_words
from advisor.scenario.checks import check_names
from advisor.scenario.model import ModelSpec, Scenario, load_scenario
from advisor.settings import Settings, load_settings
from advisor.store import Store
from advisor.traffic.profile import TrafficProfile
from advisor.traffic.scenario import load_model_profile
from advisor.yamlio import located


def evidence_for(scenario: Scenario, settings: Settings) -> BenchEvidence:
    """The stored bench results of every model of ``scenario`` (none when the store does not exist yet)."""
    if not settings.db_path.is_file():
        return BenchEvidence()
    labels = [label for m in scenario.models for label in m.bench_labels]
    with Store.for_reading(settings.db_path) as store:
        return read_evidence(store, labels)


def llm_evidence_for(scenario: Scenario, settings: Settings) -> dict[str, list[LLMMeasured]]:
    """The stored LLM bench results of the scenario's language models, by model name."""
    if not scenario.llm_models or not settings.db_path.is_file():
        return {}
    with Store.for_reading(settings.db_path) as store:
        return read_llm_evidence(store, [m.name for m in scenario.llm_models])


def check_scenario(scenario: Scenario, source: Path | None, catalog: Catalog) -> None:
    """ConfigError (file:line, field) for a name in ``scenario`` that does not exist (region, families,
    instance types, bench shapes, reference servers) or a server that ``--bench`` could not use."""
    from advisor.bench.servers.registry import (
        REFERENCE_MODELS,  # plain tables and checks: no bench extra needed
    )
    from advisor.bench.servers.spec import check_model_server

    check_names(
        scenario, catalog, source, reference_models=REFERENCE_MODELS.keys(), check_server=check_model_server
    )


def recommend(
    scenario: Scenario | Path | str,
    *,
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    evidence: BenchEvidence | None = None,
    options: RecommendOptions = RecommendOptions(),
    progress: Progress | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    new_id: Callable[[dt.datetime], str] = new_recommendation_id,
    scenario_file: Path | None = None,
    check: bool = True,
) -> Recommendation:
    """The recommendation for a scenario (a file path or a loaded :class:`Scenario`); nothing is stored.

    A path anchors the scenario's relative paths (traffic files); so does ``scenario_file`` for a loaded
    scenario read from (or varied from) that file. ``evidence`` defaults to the store's bench results for
    the scenario's models. Raises ConfigError for bad scenario content; a model that cannot be
    served is a value in the document (``action: cannot_recommend``) with the reason and the fix.
    """
    settings = settings or load_settings()
    scenario, read_from = _scenario(scenario)
    scenario_file = read_from or scenario_file
    catalog = catalog or Catalog.load(settings)
    if check:  # False when the caller has just checked it (`advisor recommend` checks before --bench)
        check_scenario(scenario, scenario_file, catalog)
    try:
        rec = _recommend(
            scenario,
            catalog,
            settings,
            evidence=evidence if evidence is not None else evidence_for(scenario, settings),
            llm_evidence=llm_evidence_for(scenario, settings),
            scenario_file=scenario_file,
            options=options,
            progress=progress,
            clock=clock,
            new_id=new_id,
        )
    except ConfigError as exc:  # a scenario field found bad only once used: its line in the file too
        raise located(exc, scenario_file, Scenario.model_fields) from None
    return with_words(rec)


def model_profile(
    scenario: Scenario | Path | str, model: str, *, settings: Settings | None = None
) -> TrafficProfile:
    """The traffic profile ``recommend`` uses for one model: resolved and rescaled as the scenario says."""
    settings = settings or load_settings()
    scenario, scenario_file = _scenario(scenario)
    index, spec = _model(scenario, model)
    base = scenario_file.parent if scenario_file is not None else None
    return load_model_profile(spec, settings, base, f"models.{index}")


def model_capacities(
    scenario: Scenario | Path | str,
    model: str,
    *,
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    evidence: BenchEvidence | None = None,
) -> ModelCapacities:
    """The capacities ``recommend`` derives for one model: ``.entry(itype)`` per instance type."""
    settings = settings or load_settings()
    scenario, _ = _scenario(scenario)
    index, spec = _model(scenario, model)
    evidence = evidence or evidence_for(scenario, settings)
    return capacities_for_model(
        spec, catalog or Catalog.load(settings), evidence, scenario.capacity_estimates, f"models.{index}"
    )


def _scenario(scenario: Scenario | Path | str) -> tuple[Scenario, Path | None]:
    if isinstance(scenario, Scenario):
        return scenario, None
    return load_scenario(Path(scenario)), Path(scenario)


def _model(scenario: Scenario, name: str) -> tuple[int, ModelSpec]:
    for i, spec in enumerate(scenario.models):
        if spec.name == name:
            return i, spec
    raise NotFoundError("model", name, known=[m.name for m in scenario.models], where="models")
