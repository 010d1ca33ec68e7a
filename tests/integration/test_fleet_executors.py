"""The per-model searches off this process: a local process pool and a real Dask cluster (a scheduler and two
worker processes on loopback, started here), each giving the recommendation a single process gives; and a
worker killed mid-run, whose models are run again, with the output saying so."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

import advisor
import advisor.optimize.executor as executor_module
from advisor import Catalog, Recommendation, Scenario, Settings
from advisor.optimize import RecommendOptions, fleet_type_names, parse_executor, synthetic_fleet
from tests.helpers import REPO_ROOT

CLOCK = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
# Every group converges well within its share, even on a loaded machine: its answer then depends on nothing
# but its input (the whole 500-model recommendation takes about 6 s, and is the same, byte for byte, with
# ten times this budget). A group that did not converge would stop at its limit well inside the test's.
PACKING_TIME_S = 120.0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("fleet") / "home")


@pytest.fixture(scope="module")
def catalog(settings: Settings) -> Catalog:
    return Catalog.load(settings)


def _fleet(catalog: Catalog, models: int) -> Scenario:
    return synthetic_fleet(catalog, models, fleet_type_names(catalog, 300), seed=0)


def _recommend(
    scenario: Scenario, settings: Settings, catalog: Catalog, executor: str, progress: Any = None
) -> Recommendation:
    options = RecommendOptions(executor=parse_executor(executor), packing_time_s=PACKING_TIME_S)
    return advisor.recommend(
        scenario, settings=settings, catalog=catalog, options=options, progress=progress,
        clock=lambda: CLOCK, new_id=lambda _t: "rec-fleet",
    )  # fmt: skip


def _doc(rec: Recommendation, *, warnings: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(rec.model_dump_json())
    if not warnings:
        data.pop("warnings")
    return data


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[psutil.Process]]]:
    """A Dask scheduler and two single-threaded workers (no nanny: a killed worker stays dead), as separate
    processes on 127.0.0.1: (the scheduler's address, the worker processes)."""
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    common = {"cwd": REPO_ROOT, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(info)], **common,  # type: ignore[call-overload]
    )  # fmt: skip
    procs = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        worker = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                  "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"]  # fmt: skip
        procs += [subprocess.Popen(worker, **common) for _ in range(2)]  # type: ignore[call-overload]
        from distributed import Client

        with Client(address, timeout="30s") as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=60)
        yield address, [psutil.Process(p.pid) for p in procs[1:]]
    finally:
        # workers first: one whose scheduler has gone keeps trying to reach it and lets SIGTERM wait (20 s)
        for p in [*procs[1:], scheduler]:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_500_model_fleet_is_the_same_locally_and_on_a_dask_cluster(
    settings: Settings, catalog: Catalog, dask_cluster: tuple[str, list[psutil.Process]]
) -> None:
    address, _ = dask_cluster
    fleet = _fleet(catalog, 500)
    here = _recommend(fleet, settings, catalog, "local")
    there = _recommend(fleet, settings, catalog, address.replace("tcp://", "dask://"))
    assert len(here.models) == 500 and sum(m.plan is not None for m in here.models) > 400
    assert _doc(there) == _doc(here)  # the same id and clock were given: the whole document, byte for byte
    assert not any("worker" in w for w in here.warnings)


def test_a_process_pool_gives_what_one_process_gives(settings: Settings, catalog: Catalog) -> None:
    fleet = _fleet(catalog, 40)
    assert _doc(_recommend(fleet, settings, catalog, "local:2")) == _doc(
        _recommend(fleet, settings, catalog, "local:1")
    )


FORKED_RUN = """
import datetime as dt, sys, warnings
import numpy as np
import advisor, advisor.optimize.executor as executor, advisor.optimize.fleet.pooling as pooling
from advisor import Catalog, Settings
from advisor.optimize import RecommendOptions, fleet_type_names, parse_executor, synthetic_fleet
from advisor.optimize.highs import milp
with warnings.catch_warnings():  # HiGHS's scheduler with a worker thread, as on a machine of 3 CPUs or more
    warnings.simplefilter("ignore")  # scipy says it hands "threads" to HiGHS as it is
    milp(-np.ones(2), integrality=np.ones(2), bounds=(0, 1), options={"threads": 2})
used = []
chosen = executor.start_method
executor.start_method = lambda: used.append(chosen()) or used[-1]
packed_apart = []
forking = pooling.fork_context
pooling.fork_context = lambda: packed_apart.append(forking()) or packed_apart[-1]
settings = Settings(home=sys.argv[1])
catalog = Catalog.load(settings)
fleet = synthetic_fleet(catalog, 24, fleet_type_names(catalog, 300), seed=0)
def doc(where):
    options = RecommendOptions(executor=parse_executor(where), packing_time_s=120.0)
    rec = advisor.recommend(fleet, settings=settings, catalog=catalog, options=options,
                            clock=lambda: dt.datetime(2026, 12, 1, tzinfo=dt.UTC), new_id=lambda _t: "rec")
    return rec.model_dump_json()
pooled, alone = doc("local:2"), doc("local:1")
print([m.get_start_method() for m in used], [m.get_start_method() for m in packed_apart], pooled == alone)
"""


def test_a_pool_forked_from_a_process_with_no_other_thread_gives_what_one_process_gives(
    settings: Settings,
) -> None:
    """With no other thread the workers are forked from the process itself (no fork server), and the fleet's
    packing groups packed side by side in forked processes: run in a fresh interpreter, where no test
    runner's thread is."""
    run = subprocess.run(
        [sys.executable, "-c", FORKED_RUN, str(settings.home)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split("\n")[-2] == "['fork'] ['fork'] True"


def _pool_workers(forked: bool) -> list[psutil.Process]:
    """The processes that may be this process's pool workers: forked from it (its children running its
    command), or from the fork server it starts when another thread runs. A child forked to run another
    program runs its parent's command for a moment too (this process's, starting the resource tracker or the
    fork server; the fork server's, as an import it preloads runs `file`): the caller waits to see which
    stay."""
    me = psutil.Process()
    children = me.children()
    if forked:
        return [p for p in children if p.cmdline() == me.cmdline()]
    servers = [p for p in children if "forkserver" in " ".join(p.cmdline())]
    return [w for s in servers for w in s.children()]


@pytest.fixture(scope="module")
def fleet40(settings: Settings, catalog: Catalog) -> tuple[Scenario, dict[str, Any]]:
    """A 40-model fleet and its recommendation from this process alone, without its warnings."""
    fleet = _fleet(catalog, 40)
    return fleet, _doc(_recommend(fleet, settings, catalog, "local:1"), warnings=False)


def _killing_the_worker(idle: bool) -> tuple[Any, list[int]]:
    """A progress callback that, on this process's first batch done, kills the pool's one worker (waited for
    while a fork server imports advisor), and the list it adds the killed pid to. The search is made on the
    thread that would otherwise compete with the worker, and takes a tenth of a second, so the worker dies
    holding the batches it was given at the start (five models each; this process's first was four) - or, with
    ``idle``, once it has used no CPU for half a second: it has sent back all it was given, and this process
    gives it more only after the callback, which waits until the pool has seen it die."""
    forked = threading.active_count() == 1  # as the pool decides (advisor.optimize.processes)
    tried: list[bool] = []
    killed: list[int] = []

    def idle_now(worker: psutil.Process) -> None:
        used = -1.0
        while sum(worker.cpu_times()[:2]) != used:
            used = sum(worker.cpu_times()[:2])
            time.sleep(0.5)

    def kill_the_worker(what: str, done: int, total: int) -> None:
        if tried or not what.startswith("right-sizing"):
            return
        tried.append(True)
        seen: dict[int, float] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = time.monotonic()
            workers = [w for w in _pool_workers(forked) if now - seen.setdefault(w.pid, now) >= 0.1]
            if workers:
                if idle:
                    idle_now(workers[0])
                killed.append(workers[0].pid)
                workers[0].kill()
                workers[0].wait(30)
                time.sleep(0.5 if idle else 0)  # the pool's own thread sees the worker gone
                return
            time.sleep(0.005)

    return kill_the_worker, killed


@pytest.mark.parametrize("other_thread", [False, True], ids=["as-the-process-is", "with-another-thread"])
def test_a_local_worker_killed_mid_run_has_its_models_run_again(
    settings: Settings,
    catalog: Catalog,
    fleet40: tuple[Scenario, dict[str, Any]],
    other_thread: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forked from this process where it runs no other thread, else from the fork server (another thread is
    started here to make sure of it). A forked worker starts warm and would plan its ten models before this
    process has planned its first four: it inherits the patch below, which holds each of its batches for a
    second first (a fork server's worker starts fresh, importing advisor, and needs no such hold)."""
    fleet, alone = fleet40
    here = os.getpid()
    plan_batch = executor_module.plan_batch

    def held_in_a_worker(ctx: Any, indices: list[int]) -> Any:
        if os.getpid() != here:
            time.sleep(1.0)
        return plan_batch(ctx, indices)

    monkeypatch.setattr(executor_module, "plan_batch", held_in_a_worker)
    stop = threading.Event()
    if other_thread:
        threading.Thread(target=stop.wait, daemon=True).start()
    kill, killed = _killing_the_worker(idle=False)
    try:
        rec = _recommend(fleet, settings, catalog, "local:2", progress=kill)
    finally:
        stop.set()
    assert killed
    notes = [w for w in rec.warnings if "worker process died" in w]
    assert len(notes) == 1 and "recommended again" in notes[0], rec.warnings
    assert _doc(rec, warnings=False) == alone


def test_a_local_worker_killed_while_idle_leaves_this_process_to_finish_and_says_so(
    settings: Settings, catalog: Catalog, fleet40: tuple[Scenario, dict[str, Any]]
) -> None:
    fleet, alone = fleet40
    kill, killed = _killing_the_worker(idle=True)
    rec = _recommend(fleet, settings, catalog, "local:2", progress=kill)
    assert killed
    notes = [w for w in rec.warnings if "worker process died" in w]
    assert len(notes) == 1 and "holding no unfinished model" in notes[0], rec.warnings
    assert _doc(rec, warnings=False) == alone


def test_a_dask_worker_killed_mid_run_has_its_models_run_again(
    settings: Settings, catalog: Catalog, dask_cluster: tuple[str, list[psutil.Process]]
) -> None:
    address, workers = dask_cluster
    fleet = _fleet(catalog, 60)
    killed: list[int] = []

    def kill_one(what: str, done: int, total: int) -> None:
        if done and not killed and "Dask" in what:
            killed.append(workers[0].pid)
            workers[0].kill()

    rec = _recommend(fleet, settings, catalog, address.replace("tcp://", "dask://"), progress=kill_one)
    assert killed
    notes = [w for w in rec.warnings if "Dask worker" in w]
    assert len(notes) == 1, rec.warnings
    alone = _recommend(fleet, settings, catalog, "local:1")
    assert _doc(rec, warnings=False) == _doc(alone, warnings=False)
