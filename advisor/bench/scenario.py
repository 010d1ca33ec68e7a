"""``advisor recommend --bench``: measure every model of a scenario that advisor can start, on its shapes.

Models with a reference server or a server command become :class:`~advisor.bench.servers.spec.BenchServer`
values built exactly as ``bench run`` builds them (one port placeholder, one default route); their payload
paths are relative to the scenario file, and an error names the scenario field it comes from
(``models.2.server.payload: body.json:3:7: ...``). Every shape is checked against this machine before any
server starts. Models behind an endpoint are skipped (``bench run --endpoint`` measures them). A model whose
server fails is reported through ``on_failure`` and skipped; its other capacities still count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from advisor.bench.config import BenchConfig, EventSink
from advisor.bench.measurements import CapacityResult
from advisor.bench.runner import check_shapes, run_server
from advisor.bench.servers.spec import BenchServer, server_for_model
from advisor.domain import SLO
from advisor.errors import AdvisorError, InputError, at_field
from advisor.pricing.catalog import Catalog
from advisor.scenario.model import Scenario
from advisor.settings import Settings
from advisor.store import Store


@dataclass(frozen=True)
class BenchJob:
    """One (model, shape) to measure; ``where`` is the scenario field that named the shape."""

    model: str
    shape: str
    where: str
    target: BenchServer
    slo: SLO


@dataclass(frozen=True)
class ScenarioBench:
    jobs: tuple[BenchJob, ...]
    skipped: tuple[str, ...]  # models behind an endpoint
    config: BenchConfig


def scenario_bench_jobs(scenario: Scenario, scenario_file: Path | None, catalog: Catalog) -> ScenarioBench:
    """The jobs of a scenario, each target and shape checked (ConfigError at the offending field)."""
    base = scenario_file.parent if scenario_file is not None else None
    config = (BenchConfig.quick() if scenario.bench.quick else BenchConfig()).tuned(
        max_points=scenario.bench.max_points
    )
    jobs: list[BenchJob] = []
    skipped: list[str] = []
    for i, spec in enumerate(scenario.models):
        target = server_for_model(spec, f"models.{i}", base)
        if target is None:
            skipped.append(spec.name)
            continue
        field = f"models.{i}.bench_shapes" if spec.bench_shapes else "bench.shapes"
        for k, shape in enumerate(spec.bench_shapes or scenario.bench.shapes):
            where = f"{field}.{k}"
            try:
                check_shapes(catalog, [shape], config.emulation)
            except AdvisorError as exc:
                raise at_field(exc, where, fix=exc.fix or "pick a smaller shape") from None
            jobs.append(BenchJob(spec.name, shape, where, target, spec.slo))
    return ScenarioBench(tuple(jobs), tuple(skipped), config)


def bench_scenario(
    settings: Settings,
    store: Store,
    catalog: Catalog,
    plan: ScenarioBench,
    *,
    on_job: Callable[[BenchJob, int], None] | None = None,
    on_event: EventSink | None = None,
    on_failure: Callable[[BenchJob, AdvisorError], None] | None = None,
) -> list[CapacityResult]:
    """Run every job of ``plan`` in order; results are stored by the harness as they are measured."""
    out: list[CapacityResult] = []
    for n, job in enumerate(plan.jobs):
        if on_job is not None:
            on_job(job, n)
        try:
            result = run_server(
                settings, store, job.target, job.shape, job.slo, config=plan.config, catalog=catalog,
                on_event=on_event,
            )  # fmt: skip
        except InputError as exc:
            raise at_field(exc, job.where) from None
        except AdvisorError as exc:
            if on_failure is None:
                raise
            on_failure(job, exc)
            continue
        out.append(result)
    return out
