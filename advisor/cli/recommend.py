"""``advisor recommend SCENARIO.yaml`` and ``advisor init``: the headline commands.

``recommend`` loads and validates the scenario (a malformed one is one line naming the field path and line,
exit 2), optionally measures the models advisor can start (``--bench``: reference servers and server
commands, on the scenario's ``bench.shapes``), runs the optimiser over the stored measurements, stores the
recommendation, and prints it as rich tables (default), JSON (``--json``) or Markdown (``--markdown``). A
scenario nobody can serve under its SLO is a result, not an error: the command prints why and exits 0.

``init`` writes the commented example scenario; it never overwrites a file unless ``--force`` is given.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from advisor.cli.output import console, err_console, print_json, warn
from advisor.cli.recommend_view import render
from advisor.domain import InstanceType
from advisor.errors import AdvisorError, ConfigError, InputError
from advisor.optimize.capacities import SpeedLookup
from advisor.optimize.markdown import recommendation_markdown
from advisor.optimize.recommend import RecommendOptions
from advisor.optimize.recommend import recommend as run_recommend
from advisor.optimize.recommendation import save_recommendation
from advisor.optimize.scenario import EXAMPLE_SCENARIO, ModelSpec, Scenario, load_scenario
from advisor.pricing.catalog import Catalog
from advisor.settings import Settings
from advisor.store import Store

if TYPE_CHECKING:  # the bench extra is optional: imported only when --bench runs
    from advisor.bench.runner import BenchConfig, BenchEvent


def recommend(
    ctx: typer.Context,
    scenario_path: Path = typer.Argument(
        ..., metavar="SCENARIO.yaml", help="The scenario (see `advisor init`)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the recommendation as JSON."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the recommendation as Markdown."),
    bench: bool = typer.Option(False, "--bench", help="Measure the models advisor can start first."),
    seed: int = typer.Option(0, "--seed", help="Seed of the spot interruption draws in the replay."),
    store_it: bool = typer.Option(True, "--store/--no-store", help="Store the recommendation (default)."),
) -> None:
    """Recommend the cheapest way to serve every model of a scenario within its SLO."""
    if as_json and markdown:
        raise InputError("--json and --markdown exclude each other", where="--markdown", fix="pick one")
    settings: Settings = ctx.obj
    scenario = load_scenario(scenario_path)
    catalog = Catalog.load(settings)
    quiet = as_json or markdown
    with Store(settings.db_path) as store:
        if bench:
            bench_models(settings, store, catalog, scenario, quiet=quiet)
        with _progress(quiet) as bar:
            task = bar.add_task("recommending", total=len(scenario.models) + 1)

            def step(what: str, done: int, total: int) -> None:
                bar.update(task, description=what, completed=done, total=total + 1)

            rec = run_recommend(
                scenario,
                catalog,
                settings,
                store=store,
                scenario_file=scenario_path,
                options=RecommendOptions(seed=seed, family_speed=bench_family_speed()),
                progress=step,
            )
            bar.update(task, completed=len(scenario.models) + 1)
        if store_it:
            save_recommendation(store, rec)
    if as_json:
        print_json(rec)
    elif markdown:
        print(recommendation_markdown(rec), end="")
    else:
        render(rec, console, stored=store_it)


def init(
    path: Path = typer.Argument(Path("scenario.yaml"), help="Where to write the example scenario."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example scenario to edit."""
    if path.exists() and not force:
        raise InputError(
            "the file exists already",
            where=str(path),
            fix="pass --force to overwrite it, or choose another path",
        )
    if path.is_dir():
        raise InputError("is a folder", where=str(path), fix="give a file name, e.g. scenario.yaml")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(EXAMPLE_SCENARIO, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the file: {exc.strerror}", where=str(path)) from None
    console.print(f"wrote {path}; edit it, then run: advisor recommend {path}", highlight=False)


# ----- --bench -----------------------------------------------------------------------------------------


def bench_models(
    settings: Settings, store: Store, catalog: Catalog, scenario: Scenario, *, quiet: bool
) -> int:
    """Measure every model with a reference server or a server command on each bench shape; returns runs made.

    Runs are stored by the harness as they go. A model whose server fails is reported and skipped (its
    other capacities still count); a shape this machine cannot emulate is a scenario error.
    """
    try:
        from advisor.bench.runner import BenchConfig
    except ImportError:
        raise ConfigError(
            "--bench needs the bench extra",
            where="--bench",
            fix="pip install 'advisor[bench]' (make demo does)",
        ) from None
    jobs: list[tuple[str, ModelSpec, str]] = []
    for i, m in enumerate(scenario.models):
        if _benchable(m):
            field = f"models.{i}.bench_shapes" if m.bench_shapes else "bench.shapes"
            jobs += [(f"{field}.{k}", m, s) for k, s in enumerate(m.bench_shapes or scenario.bench.shapes)]
    for m in scenario.models:
        if not _benchable(m):
            warn(f"{m.name}: an endpoint is measured with `advisor bench run --endpoint`; --bench skips it")
    config = BenchConfig.quick() if scenario.bench.quick else BenchConfig()
    done = 0
    with _progress(quiet) as bar:
        task = bar.add_task("bench", total=len(jobs))
        for where, model, shape in jobs:
            label = f"bench {model.name} on {shape}"
            bar.update(task, description=label)

            def on_event(event: BenchEvent, label: str = label) -> None:
                bar.update(task, description=f"{label}: {event.message[:60]}")

            try:
                _bench_one(settings, store, catalog, model, shape, config, on_event)
                done += 1
            except InputError as exc:
                raise ConfigError(exc.what, where=where, fix=exc.fix or "pick a smaller shape") from None
            except AdvisorError as exc:
                warn(f"{model.name} on {shape}: bench failed ({exc.one_line()}); using other capacities")
            bar.advance(task)
    return done


def bench_family_speed() -> SpeedLookup | None:
    """The bench's per-vCPU processor speed table for capacity estimates, if the bench extra is installed."""
    try:
        from advisor.bench.estimate import family_speed
    except ImportError:
        return None

    def lookup(itype: InstanceType) -> tuple[float, float, str]:
        speed = family_speed(itype)
        return speed.factor, speed.band, speed.basis

    return lookup


def _benchable(model: ModelSpec) -> bool:
    return model.server.reference is not None or model.server.command is not None


def _bench_one(
    settings: Settings,
    store: Store,
    catalog: Catalog,
    model: ModelSpec,
    shape: str,
    config: BenchConfig,
    sink: Callable[[BenchEvent], None],
) -> None:
    from advisor.bench.payloads import build_request
    from advisor.bench.runner import free_port, run_capacity, run_command

    if model.server.reference is not None:
        run_capacity(
            settings, model.server.reference, shape, model.slo, config=config, store=store, catalog=catalog,
            on_event=sink,
        )  # fmt: skip
        return
    assert model.server.command is not None
    port = free_port()
    command = shlex.split(model.server.command.replace("$PORT", str(port)))
    request = build_request(
        f"http://127.0.0.1:{port}", template=model.server.template, body_path=model.server.payload
    )
    run_command(
        settings, store, label=model.name, command=command, port=port, request=request, shape=shape,
        slo=model.slo, config=config, health_path=model.server.health_path, catalog=catalog, on_event=sink,
    )  # fmt: skip


def _progress(quiet: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    )
