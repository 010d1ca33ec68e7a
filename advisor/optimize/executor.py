"""Where the per-model searches run: in this process, in worker processes here, or on a Dask cluster.

The per-model stage (:func:`advisor.optimize.rightsize.per_model.plan_model`) is independent from model to
model, so it runs as batches of models, each a task; the fleet stage then runs once over the outcomes, in
this process. Every executor gives the same outcomes (the search is seeded and every worker prices from
the same context), so the recommendation is the same wherever it ran.

- ``local`` (the default): one process per core available to this process - this one and a pool of
  workers. A worker is forked from this process when it runs no other thread (it starts at once and
  shares the context as it is); else it comes from a fork server (:mod:`advisor.optimize.processes`; the
  shared context sent once to each), while this process plans models from the far end of the queue, so
  starting it costs no idle core. Batches shrink as the queue empties, so the processes finish together.
  A fleet under ``POOL_MIN_MODELS_PER_WORKER`` models per process runs in this process alone, where
  starting workers would cost more than it saves.
  ``local:N`` sets the number of processes, this one included (``local:1``: this process alone).
- ``dask://HOST:PORT``: Dask distributed. The context (scenario, prices, evidence) is scattered to every
  worker once; each batch is a task. Chosen over Ray for the people who run advisor: a pure-Python wheel,
  the same scheduler on a laptop and on Kubernetes (the Dask Helm chart or the dask-kubernetes operator),
  and no daemon on the machine that runs ``advisor recommend``.

A worker that dies (killed, out of memory) does not end the run. Locally, the batches it left unfinished
are run once more, by this process and a fresh pool; a batch that fails twice is an error naming its
models. A worker that died holding no batch leaves this process to plan the models left, and the notes say
so too. On Dask, the scheduler runs a lost worker's tasks again on the others (``retries`` covers a task's
own failure), and the notes say which models were run again.
"""

from __future__ import annotations

import math
import pickle
import re
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Literal

from advisor.errors import AdvisorError, InputError
from advisor.optimize.processes import available_cores, start_method
from advisor.optimize.rightsize.outcome import ModelOutcome
from advisor.optimize.rightsize.per_model import ModelContext, model_inputs, plan_model

Progress = Callable[[str, int, int], None]  # (what is being done, done, total)
POOL_MIN_MODELS_PER_WORKER = 8
BATCHES_PER_WORKER = 8  # Dask: small enough batches to balance the load and move the progress bar
MAX_BATCH = 25
# Local pool: a batch takes 1 / (GUIDED_SHARE x processes) of the models left, so batches shrink to one
# model as the queue empties and every process finishes within about one model of the others.
GUIDED_SHARE = 4
EXECUTOR_HELP = "local (one process per core), local:N (N processes), or dask://HOST:PORT (a Dask scheduler)"


@dataclass(frozen=True)
class ExecutorSpec:
    """Where to run the per-model searches (module docstring)."""

    kind: Literal["local", "dask"] = "local"
    workers: int | None = None  # local: processes; None = one per available core
    address: str | None = None  # dask: the scheduler's tcp://HOST:PORT

    def local_processes(self) -> int:
        """Processes this machine may use for the steps that run here (the fleet's packing groups): as many
        as ``local:N`` says, else one per core."""
        return self.workers if self.kind == "local" and self.workers else available_cores()

    def describe(self) -> str:
        if self.kind == "dask":
            return f"Dask cluster at {self.address}"
        if self.workers == 1:
            return "this process"
        return f"{self.workers} local processes" if self.workers else "local processes, one per core"


def parse_executor(text: str) -> ExecutorSpec:
    """``local``, ``local:N`` or ``dask://HOST:PORT``; InputError (with the forms) otherwise."""
    value = text.strip()
    if value == "local":
        return ExecutorSpec()
    local = re.fullmatch(r"local:(\d{1,4})", value)
    if local and int(local.group(1)) >= 1:
        return ExecutorSpec(workers=int(local.group(1)))
    dask = re.fullmatch(r"(?:dask|tcp)://([A-Za-z0-9.\-\[\]:]+):(\d{1,5})", value)
    if dask and 0 < int(dask.group(2)) < 65536:
        return ExecutorSpec(kind="dask", address=f"tcp://{dask.group(1)}:{dask.group(2)}")
    raise InputError(f"unknown executor {text!r}", where="--executor", fix=f"use {EXECUTOR_HELP}")


@dataclass
class Outcomes:
    """Every model's outcome, in scenario order, and what happened on the way (a worker lost, ...)."""

    outcomes: list[ModelOutcome]
    notes: list[str]


def plan_all(ctx: ModelContext, spec: ExecutorSpec, progress: Progress | None = None) -> Outcomes:
    """Every model of ``ctx.scenario`` through the per-model stage, on ``spec``'s executor."""
    total = len(ctx.scenario.models)
    if spec.kind == "dask":
        return _on_dask(ctx, spec, progress)
    workers = min(spec.workers or available_cores(), max(1, total))
    if workers <= 1 or (spec.workers is None and total < POOL_MIN_MODELS_PER_WORKER * workers):
        outcomes = []
        for i, m in enumerate(ctx.scenario.models):
            if progress is not None:
                progress(f"right-sizing {m.name}", i, total)
            outcomes.append(plan_batch(ctx, [i])[0])
        return Outcomes(outcomes, [])
    return _in_pool(ctx, workers, progress)


def plan_batch(ctx: ModelContext, indices: Sequence[int]) -> list[ModelOutcome]:
    """The per-model stage for the models at ``indices`` (one task of any executor)."""
    models = ctx.scenario.models
    return [plan_model(model_inputs(i, models[i], ctx), ctx) for i in indices]


def batches(total: int, workers: int) -> list[list[int]]:
    size = max(1, min(MAX_BATCH, math.ceil(total / (workers * BATCHES_PER_WORKER))))
    return [list(range(start, min(total, start + size))) for start in range(0, total, size)]


def _names(ctx: ModelContext, indices: Sequence[int]) -> str:
    names = [ctx.scenario.models[i].name for i in indices]
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


# ----- local processes -------------------------------------------------------------------------------

_WORKER_CTX: ModelContext | None = None


def _init_worker(ctx: bytes | ModelContext) -> None:
    global _WORKER_CTX
    # pickled by this process for a worker from the fork server; a forked worker has it as it was
    _WORKER_CTX = pickle.loads(ctx) if isinstance(ctx, bytes) else ctx


def _pool_task(indices: list[int]) -> list[ModelOutcome]:
    assert _WORKER_CTX is not None, "the worker was started without its context"
    return plan_batch(_WORKER_CTX, indices)


class _Queue:
    """The models not yet planned, in scenario order: the pool takes batches from the front, this process
    from the back, each a share of what is left (``GUIDED_SHARE``)."""

    def __init__(self, indices: Sequence[int], processes: int) -> None:
        self.left: deque[int] = deque(indices)
        self.processes = processes

    def __len__(self) -> int:
        return len(self.left)

    def take(self, *, front: bool) -> list[int]:
        size = min(len(self.left), MAX_BATCH, math.ceil(len(self.left) / (GUIDED_SHARE * self.processes)))
        if front:
            return [self.left.popleft() for _ in range(size)]
        return sorted(self.left.pop() for _ in range(size))

    def put_back(self, batch: list[int]) -> None:
        self.left.extendleft(reversed(batch))


def _in_pool(ctx: ModelContext, processes: int, progress: Progress | None) -> Outcomes:
    total = len(ctx.scenario.models)
    pending = _Queue(range(total), processes)
    done: dict[int, ModelOutcome] = {}
    notes: list[str] = []
    for attempt in (1, 2):
        lost, broke = _run_pool(ctx, processes - 1, pending, done, progress)
        if not lost:
            if broke and attempt == 1:
                notes.append(
                    "a worker process died during the run, holding no unfinished model; this process "
                    "recommended the models left"
                )
            break
        count = sum(len(b) for b in lost)
        if attempt == 1:
            notes.append(
                f"a worker process died during the run: {count} model(s) it left unfinished were recommended "
                f"again ({_names(ctx, [i for b in lost for i in b])})"
            )
            pending = _Queue([i for b in lost for i in b], processes)
        else:
            raise AdvisorError(
                f"worker processes died twice while recommending {count} model(s) "
                f"({_names(ctx, [i for b in lost for i in b])})",
                where="recommend",
                fix="check the machine's memory (a killed process is often out of memory), or run with "
                "--executor local:1",
            )
    return Outcomes([done[i] for i in range(total)], notes)


def _run_pool(
    ctx: ModelContext,
    workers: int,
    pending: _Queue,
    done: dict[int, ModelOutcome],
    progress: Progress | None,
) -> tuple[list[list[int]], bool]:
    """Run the ``pending`` models into ``done``: ``workers`` pool processes take batches from the front (two
    each in flight), this process from the back. Returns the batches a dead worker took down, and whether
    the pool broke (a worker died, even one that held no batch)."""
    lost: list[list[int]] = []
    total = len(ctx.scenario.models)

    def finished(batch: list[int], got: list[ModelOutcome]) -> None:
        done.update(zip(batch, got, strict=True))
        if progress is not None:
            progress("right-sizing models", len(done), total)

    method = start_method()
    forked = method.get_start_method() == "fork"
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=method,
        initializer=_init_worker,
        # a forked worker inherits the context; for a fork server's, it is pickled here, before this process
        # plans models and fills the context's caches as the workers start
        initargs=(ctx if forked else pickle.dumps(ctx, protocol=pickle.HIGHEST_PROTOCOL),),
    ) as pool:
        # The first submissions start the workers. From a fork server they wait until it has imported
        # advisor: they are made on a thread while this process plans models from the back. Forked, they
        # are made here, before any other thread exists.
        first = [pending.take(front=True) for _ in range(2 * workers)]
        futures: dict[Future[list[ModelOutcome]], list[int]] = {}
        broken = False

        def submit(batch: list[int], starting: bool) -> None:
            nonlocal broken
            try:
                futures[pool.submit(_pool_task, batch)] = batch
            except (BrokenProcessPool, OSError, EOFError):
                # a worker died as it started (its batch is run again: the note says so), or the pool broke
                # before this batch reached it (this process runs it)
                broken = True
                if starting:
                    lost.append(batch)
                else:
                    pending.put_back(batch)

        def start() -> None:
            for batch in first:
                if batch:
                    submit(batch, True)

        if forked:
            start()  # no other thread exists yet
        else:
            with ThreadPoolExecutor(max_workers=1) as starter:
                started = starter.submit(start)
                while not started.done() and pending:
                    batch = pending.take(front=False)
                    finished(batch, plan_batch(ctx, batch))
                started.result()
        while pending or futures:
            while not broken and pending and len(futures) < 2 * workers:
                submit(pending.take(front=True), False)
            if pending:
                batch = pending.take(front=False)
                finished(batch, plan_batch(ctx, batch))
            else:
                wait(futures, return_when=FIRST_COMPLETED)
            for fut in [f for f in futures if f.done()]:
                batch = futures.pop(fut)
                try:
                    got = fut.result()
                except BrokenProcessPool:
                    broken = True  # every batch in flight fails with it; this process finishes the queue
                    lost.append(batch)
                    continue
                finished(batch, got)
    return sorted(lost), broken


# ----- Dask ------------------------------------------------------------------------------------------


def _on_dask(ctx: ModelContext, spec: ExecutorSpec, progress: Progress | None) -> Outcomes:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError(
            "--executor dask:// needs Dask distributed",
            where="--executor",
            fix="pip install 'advisor[distributed]' here and on the cluster's workers",
        ) from None
    total = len(ctx.scenario.models)
    try:
        client = Client(spec.address, timeout="15s")  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise InputError(
            f"no Dask scheduler answers at {spec.address} ({exc})",
            where="--executor",
            fix="start one (`dask scheduler`) or give its address as dask://HOST:PORT",
        ) from None
    with client:
        workers_at_start = set(client.scheduler_info().get("workers", {}))
        if not workers_at_start:
            raise InputError(
                f"the Dask scheduler at {spec.address} has no workers",
                where="--executor",
                fix="start workers (`dask worker ADDRESS`) with advisor installed",
            )
        shared = client.scatter(ctx, broadcast=True, hash=False)  # type: ignore[no-untyped-call]
        parts = batches(total, len(workers_at_start))
        futures = {client.submit(plan_batch, shared, batch, retries=1, pure=False): batch for batch in parts}
        done: dict[int, ModelOutcome] = {}
        for fut in as_completed(list(futures)):  # type: ignore[no-untyped-call]
            batch = futures[fut]
            done.update(zip(batch, fut.result(), strict=True))
            if progress is not None:
                progress("right-sizing models (Dask)", len(done), total)
        notes = _dask_notes(client, futures, workers_at_start, ctx)
    return Outcomes([done[i] for i in range(total)], notes)


def _dask_notes(
    client: Any, futures: dict[Any, list[int]], workers_at_start: set[str], ctx: ModelContext
) -> list[str]:
    """Which models the scheduler ran more than once (a worker lost under them), from its transition log."""
    keys = [f.key for f in futures]

    def runs(dask_scheduler: Any, keys: list[Any]) -> list[int]:
        return [
            sum(1 for event in dask_scheduler.story(k) if len(event) > 2 and event[2] == "processing")
            for k in keys
        ]

    try:
        counts = client.run_on_scheduler(runs, keys=keys)
    except Exception:  # an older scheduler without story(): say only that a worker left
        counts = [1] * len(keys)
    again = [i for (_f, batch), n in zip(futures.items(), counts, strict=True) if n > 1 for i in batch]
    left = sorted(workers_at_start - set(client.scheduler_info().get("workers", {})))
    notes = []
    if again:
        notes.append(
            f"a Dask worker was lost during the run: {len(again)} model(s) were run again on the others "
            f"({_names(ctx, again)})"
        )
    elif left:
        notes.append(f"Dask worker(s) left during the run ({', '.join(left)}); every model was recommended")
    return notes
