"""``advisor recommend SCENARIO.yaml`` and ``advisor init``: the headline commands.

``recommend`` loads and validates the scenario (a malformed one is one line naming the field path and line,
exit 2), optionally measures the models advisor can start first (``--bench``, :mod:`advisor.bench.scenario`),
runs :func:`advisor.api.recommend`, stores the document and prints it in the chosen format
(:mod:`advisor.render`). A scenario nobody can serve under its SLO is a result, not an error: the command
prints why and exits 0. ``init`` writes the commented example scenario; it never overwrites a file unless
``--force`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from advisor.cli.output import console, err_console, print_rendered, warn
from advisor.errors import AdvisorError, ConfigError, InputError, StorageError
from advisor.pricing.catalog import Catalog
from advisor.render import RENDERERS, check_format
from advisor.scenario.example import EXAMPLE_SCENARIO
from advisor.scenario.model import Scenario, load_scenario
from advisor.settings import Settings
from advisor.store import Store
from advisor.yamlio import located

if TYPE_CHECKING:  # the bench extra is optional: imported only when --bench runs
    from rich.progress import TaskID

    from advisor.bench.config import BenchEvent
    from advisor.bench.llm.records import LLMPoint
    from advisor.bench.llm.scenario import LLMBenchJob
    from advisor.bench.scenario import BenchJob


def recommend(
    ctx: typer.Context,
    scenario_path: Path = typer.Argument(
        ..., metavar="SCENARIO.yaml", help="The scenario (see `advisor init`)."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help=f"Output format: {', '.join(RENDERERS)} (default table)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    markdown: bool = typer.Option(False, "--markdown", help="Same as --format markdown."),
    bench: bool = typer.Option(False, "--bench", help="Measure the models advisor can start first."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the spot interruption draws in the replay."),
    store_it: bool = typer.Option(True, "--store/--no-store", help="Store the recommendation (default)."),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="Where the per-model searches run: local (one process per core), local:N, or "
        "dask://HOST:PORT (a Dask scheduler; advisor installed on its workers).",
    ),
) -> None:
    """Recommend the cheapest way to serve every model of a scenario within its SLO."""
    if as_json and markdown:
        raise InputError("--json and --markdown exclude each other", where="--markdown", fix="pick one")
    from advisor import api  # the optimiser loads with the command that runs it, not with the CLI
    from advisor.optimize.executor import parse_executor
    from advisor.optimize.recommend import RecommendOptions

    shorthand = "json" if as_json else "markdown" if markdown else None
    if shorthand is not None and fmt is not None and fmt != shorthand:
        raise InputError(
            f"--{shorthand} and --format {fmt} ask for two formats", where="--format", fix="pick one"
        )
    fmt = shorthand or fmt or "table"
    check_format(fmt)
    where = parse_executor(executor)  # a bad --executor is one line before anything runs
    settings: Settings = ctx.obj
    scenario = load_scenario(scenario_path)
    catalog = Catalog.load(settings)
    api.check_scenario(scenario, scenario_path, catalog)
    quiet = fmt != "table"
    if bench:
        try:
            bench_models(settings, catalog, scenario, scenario_path, quiet=quiet)
        except ConfigError as exc:  # a scenario field (bench.shapes.0): its line in the file too
            raise located(exc, scenario_path, Scenario.model_fields) from None
    # drawn on each step, not by a refresh thread: a process with no other thread forks its workers
    # (advisor.optimize.processes), which start at once
    with _progress(quiet, auto_refresh=False) as bar:
        task = bar.add_task("recommending", total=len(scenario.models) + len(scenario.llm_models) + 1)

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total + 1, refresh=True)

        rec = api.recommend(  # loaded and checked once, above
            scenario,
            scenario_file=scenario_path,
            check=False,
            settings=settings,
            catalog=catalog,
            options=RecommendOptions(seed=seed, executor=where),
            progress=step,
        )
    try:
        if store_it:
            api.save(rec, settings)
    except StorageError as exc:  # never lose what was just computed: print it, then say it is not stored
        print_rendered(rec, fmt)
        raise StorageError(
            f"{exc.what}; the recommendation is printed above but not stored", where=exc.where, fix=exc.fix
        ) from None
    print_rendered(rec, fmt)
    if store_it and fmt == "table":
        console.print(f"stored as {rec.id} ({settings.db_path.name})", style="dim", highlight=False)


def init(
    path: Path = typer.Argument(Path("scenario.yaml"), help="Where to write the example scenario."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example scenario to edit."""
    if path.is_dir():  # before the --force advice: --force would not help
        raise InputError("is a folder", where=str(path), fix="give a file name, e.g. scenario.yaml")
    if path.exists() and not force:
        raise InputError(
            "the file exists already",
            where=str(path),
            fix="pass --force to overwrite it, or choose another path",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(EXAMPLE_SCENARIO, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the file: {exc.strerror}", where=str(path)) from None
    console.print(f"wrote {path}; edit it, then run: advisor recommend {path}", highlight=False)


def bench_models(
    settings: Settings, catalog: Catalog, scenario: Scenario, scenario_file: Path, *, quiet: bool
) -> int:
    """Measure every model advisor can start on its shapes (:mod:`advisor.bench.scenario`); runs made."""
    try:
        from advisor.bench.scenario import bench_scenario, scenario_bench_jobs
    except ImportError:
        raise ConfigError(
            "--bench needs the bench extra",
            where="--bench",
            fix="pip install 'advisor[bench]' (make demo does)",
        ) from None
    plan = scenario_bench_jobs(scenario, scenario_file, catalog)
    llm_jobs, llm_skipped = _llm_jobs(scenario, scenario_file, catalog)
    for name in (*plan.skipped, *llm_skipped):
        warn(f"{name}: an endpoint is measured with `advisor bench run --endpoint`; --bench skips it")
    with Store(settings.db_path) as store, _progress(quiet) as bar:
        task = bar.add_task("bench", total=len(plan.jobs) + len(llm_jobs))
        label = {"text": "bench"}

        def on_job(job: BenchJob, n: int) -> None:
            label["text"] = f"bench {job.model} on {job.shape}"
            bar.update(task, description=label["text"], completed=n)

        def on_event(event: BenchEvent) -> None:
            bar.update(task, description=f"{label['text']}: {event.message[:60]}")

        def on_failure(job: BenchJob, exc: AdvisorError) -> None:
            warn(f"{job.model} on {job.shape}: bench failed ({exc.one_line()}); using other capacities")

        done = bench_scenario(
            settings, store, catalog, plan, on_job=on_job, on_event=on_event, on_failure=on_failure
        )
        measured = len(done) + _bench_llm(settings, store, scenario, llm_jobs, bar, task, len(plan.jobs))
        bar.update(task, completed=len(plan.jobs) + len(llm_jobs))
    return measured


def _llm_jobs(
    scenario: Scenario, scenario_file: Path, catalog: Catalog
) -> tuple[list[LLMBenchJob], list[str]]:
    """The language models' bench jobs (:mod:`advisor.bench.llm.scenario`), checked before anything runs."""
    if not scenario.llm_models:
        return [], []
    from advisor.bench.llm.scenario import llm_bench_jobs

    return llm_bench_jobs(scenario, scenario_file, catalog)


def _bench_llm(
    settings: Settings,
    store: Store,
    scenario: Scenario,
    jobs: list[LLMBenchJob],
    bar: Progress,
    task: TaskID,
    first: int,
) -> int:
    """Measure each language model's server on its shapes; a failed one is said and skipped."""
    from advisor.bench.llm.runner import LLMBenchConfig
    from advisor.bench.llm.scenario import bench_llm_job, llm_bench_config

    base = LLMBenchConfig.quick() if scenario.bench.quick else LLMBenchConfig()
    given = {(m.name, shape): rps for m in scenario.llm_models for shape, rps in m.capacities_rps.items()}
    done = 0
    for n, job in enumerate(jobs):
        label = f"bench {job.model} on {job.shape}"
        bar.update(task, description=label, completed=first + n)
        config = llm_bench_config(base, scenario.bench.max_points, given.get((job.model, job.shape)))

        def on_point(_bucket: str, point: LLMPoint | None, label: str = label) -> None:
            if point is not None:  # each measured point on the bar: the search takes a minute or more
                bar.update(task, description=f"{label}: {point.offered_rps:.3g} req/s measured")

        try:
            result = bench_llm_job(settings, store, job, config, on_point)
        except AdvisorError as exc:
            warn(f"{job.model} on {job.shape}: bench failed ({exc.one_line()}); using other capacities")
            continue
        if result.status == "completed":
            done += 1
        else:
            warn(f"{job.model} on {job.shape}: bench {result.status} ({result.reason or result.error})")
    return done


def _progress(quiet: bool, *, auto_refresh: bool = True) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
        auto_refresh=auto_refresh,
    )
