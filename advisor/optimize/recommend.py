"""``recommend``: from a scenario, bench evidence and prices to a :class:`Recommendation`.

The stages, each taking the previous one's value:

1. per model (:mod:`advisor.optimize.rightsize.per_model`, on the executor the options name:
   :mod:`advisor.optimize.executor`): traffic, capacities and what runs today
   (:class:`~advisor.optimize.rightsize.outcome.ModelInputs`), then the right-sized plan or why there is none
   (:class:`~advisor.optimize.rightsize.outcome.Served` /
   :class:`~advisor.optimize.rightsize.outcome.Unservable`);
2. fleet-wide (:mod:`advisor.optimize.fleet.decide`): the churn guard, shared node pools, the Savings Plan;
3. the document (:mod:`advisor.optimize.document`), with the id and the clock supplied by the caller.

Pure: no store, no load generator, no cloud SDK. Bench results come in as
:class:`advisor.capacity.BenchEvidence` (``advisor.read_evidence`` reads them from the store), and nothing
is stored here. Bad scenario content raises ConfigError naming the field path; a model that cannot be
served is a value (``action: cannot_recommend``) with the reason and the fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from advisor.capacity import BenchEvidence
from advisor.capacity.llm import LLMMeasured
from advisor.domain import Platform
from advisor.optimize.document import build_document
from advisor.optimize.executor import ExecutorSpec, plan_all
from advisor.optimize.fleet.decide import decide_fleet
from advisor.optimize.llm.recommend import recommend_llm
from advisor.optimize.processes import batch_collector
from advisor.optimize.rightsize.candidates import CandidateTypes
from advisor.optimize.rightsize.fit import fit_warnings
from advisor.optimize.rightsize.outcome import ModelOutcome
from advisor.optimize.rightsize.per_model import ModelContext, load_balancer_for
from advisor.optimize.rightsize.pricecache import PriceCache
from advisor.optimize.rightsize.search_types import SearchOptions
from advisor.optimize.validate import validate
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import Recommendation, new_recommendation_id
from advisor.scenario.model import LLMModelSpec, Scenario
from advisor.settings import Settings
from advisor.version import __version__

Progress = Callable[[str, int, int], None]  # (what is being done, done, total)
DEFAULT_PER_PLATFORM = {Platform.EC2: 3, Platform.SAGEMAKER: 1, Platform.FARGATE: 1}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RecommendOptions:
    """Knobs of one run (the scenario holds the policy; these hold the method)."""

    seed: int = 0
    shapes_per_platform: Mapping[Platform, int] = field(default_factory=lambda: dict(DEFAULT_PER_PLATFORM))
    packing_time_s: float = 2.0
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)  # where the per-model searches run


def _llm_notes(scenario: Scenario) -> list[str]:
    if not scenario.llm_models:
        return []
    return ["commitments: the language models' instances are not in the Savings Plan's sizing"]


def _llm_entries(scenario: Scenario) -> list[tuple[int, LLMModelSpec]]:
    """Each language model with its index among the scenario file's ``models`` (after the classic ones when
    the scenario was built in code: the index only names a field in errors)."""
    at = scenario.llm_positions
    return [
        (at[i] if i < len(at) else len(scenario.models) + i, spec)
        for i, spec in enumerate(scenario.llm_models)
    ]


def model_context(
    scenario: Scenario,
    catalog: Catalog,
    settings: Settings,
    evidence: BenchEvidence | None = None,
    options: RecommendOptions = RecommendOptions(),
    scenario_file: Path | None = None,
) -> ModelContext:
    """What every model of ``scenario`` shares in its per-model stage (see :func:`recommend`)."""
    return ModelContext(
        scenario=scenario,
        catalog=catalog,
        settings=settings,
        types=CandidateTypes.build(scenario, catalog),
        prices=PriceCache(catalog),
        load_balancer=load_balancer_for(scenario),
        search=SearchOptions(
            slo_budget_pct_minutes=scenario.slo_budget_pct_minutes,
            min_replicas=scenario.min_replicas,
            min_on_demand_base=scenario.spot.min_on_demand_base,
            seed=options.seed,
        ),
        evidence=evidence or BenchEvidence(),
        shapes_per_platform=options.shapes_per_platform,
        base_dir=scenario_file.parent if scenario_file is not None else None,
    )


def recommend(
    scenario: Scenario,
    catalog: Catalog,
    settings: Settings,
    *,
    evidence: BenchEvidence | None = None,
    llm_evidence: Mapping[str, Sequence[LLMMeasured]] | None = None,
    scenario_file: Path | None = None,
    options: RecommendOptions = RecommendOptions(),
    progress: Progress | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    new_id: Callable[[dt.datetime], str] = new_recommendation_id,
) -> Recommendation:
    """Recommend how to serve every model of ``scenario`` (module docstring). Nothing is stored here.

    ``evidence`` holds the stored bench results of the scenario's models (none: capacities come from the
    scenario alone), ``llm_evidence`` the LLM bench results of its language models by name;
    ``scenario_file`` anchors the relative paths inside the scenario; ``clock`` and ``new_id`` make the
    document's creation time and id reproducible.
    """
    ctx = model_context(scenario, catalog, settings, evidence, options, scenario_file)
    with batch_collector():  # the heap as it is now is left out of the collector's passes, fewer passes run
        planned = plan_all(ctx, options.executor, progress)
        total = len(scenario.models) + len(scenario.llm_models)
        llm_models = []
        for done, (i, spec) in enumerate(_llm_entries(scenario), start=len(scenario.models)):
            if progress is not None:
                progress(f"planning {spec.name} (language model)", done, total)
            measured = (llm_evidence or {}).get(spec.name, ())
            llm_models.append(
                recommend_llm(spec, scenario, catalog, settings, ctx.base_dir, f"models.{i}", measured)
            )
        outcomes: list[ModelOutcome] = planned.outcomes
        if progress is not None:
            progress("packing shared pools", total, total)
        fleet = decide_fleet(
            outcomes, scenario, ctx.types, packing_time_s=options.packing_time_s,
            processes=options.executor.local_processes(),
        )  # fmt: skip
        created_at = clock()
        rec = build_document(
            scenario,
            outcomes,
            fleet,
            catalog,
            rec_id=new_id(created_at),
            created_at=created_at,
            scenario_file=scenario_file,
            seed=options.seed,
            version=__version__,
            stale_after_days=settings.price_staleness_days,
            notes=[*fit_warnings(scenario, ctx.types, catalog), *planned.notes, *_llm_notes(scenario)],
            llm_models=llm_models,
        )
        return validate(rec, scenario, catalog)
