"""Where the per-model searches run: the --executor forms, and the batches a fleet is cut into."""

from __future__ import annotations

import gc
import threading

import pytest

from advisor.errors import InputError
from advisor.optimize.executor import ExecutorSpec, _Queue, batches, parse_executor
from advisor.optimize.processes import BATCH_GEN0_THRESHOLD, batch_collector, start_method


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("local", ExecutorSpec()),
        ("local:1", ExecutorSpec(workers=1)),
        (" local:16 ", ExecutorSpec(workers=16)),
        ("dask://127.0.0.1:8786", ExecutorSpec(kind="dask", address="tcp://127.0.0.1:8786")),
        ("tcp://scheduler.dask.svc:8786", ExecutorSpec(kind="dask", address="tcp://scheduler.dask.svc:8786")),
    ],
)
def test_the_executor_forms(text: str, want: ExecutorSpec) -> None:
    assert parse_executor(text) == want


@pytest.mark.parametrize(
    "text", ["", "local:0", "local:x", "dask://host", "dask://host:0", "ray://h:1", "lokal"]
)
def test_a_bad_executor_is_one_line_with_the_forms(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_executor(text)
    line = err.value.one_line()
    assert line.startswith("--executor: unknown executor") and "dask://HOST:PORT" in line and "\n" not in line


@pytest.mark.parametrize(("total", "workers"), [(1, 2), (7, 2), (40, 2), (2000, 2), (500, 16)])
def test_batches_cover_every_model_once_in_order(total: int, workers: int) -> None:
    got = batches(total, workers)
    assert [i for b in got for i in b] == list(range(total))
    assert max(len(b) for b in got) <= 25
    assert len(got) >= min(total, 2 * workers)  # enough batches to keep every worker busy


@pytest.mark.parametrize(("total", "processes"), [(1, 2), (40, 2), (2000, 2), (500, 16)])
def test_the_local_queue_hands_out_each_model_once_in_shrinking_batches(total: int, processes: int) -> None:
    queue = _Queue(range(total), processes)
    taken: list[list[int]] = []
    while queue:
        taken.append(queue.take(front=len(taken) % 3 != 0))  # the pool twice, this process once
    assert sorted(i for b in taken for i in b) == list(range(total))
    assert all(b == sorted(b) and 1 <= len(b) <= 25 for b in taken)
    assert len(taken[-1]) == 1  # the last batches are single models: the processes finish together
    back = queue.take(front=True)
    assert back == []
    queue.put_back([3, 4])
    assert queue.take(front=True) == [3]


def test_workers_come_from_a_fork_server_while_another_thread_runs() -> None:
    """A process with another thread never forks itself (a lock that thread holds would stay held)."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert start_method().get_start_method() == "forkserver"
    finally:
        stop.set()
        other.join()


def test_the_heap_is_frozen_while_a_recommendation_runs_and_handed_back_after() -> None:
    assert gc.get_freeze_count() == 0
    before = [object() for _ in range(100)]
    with batch_collector():
        assert gc.get_freeze_count() >= len(before)  # what was alive is out of the collector's passes
    assert gc.get_freeze_count() == 0  # and back in them: a long-lived caller's garbage is still collected
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with batch_collector():
            pass
        assert gc.get_freeze_count() == frozen  # a caller's own freeze is left as it was
    finally:
        gc.unfreeze()


def test_young_objects_are_collected_less_often_while_a_recommendation_runs() -> None:
    thresholds = gc.get_threshold()
    assert thresholds[0] < BATCH_GEN0_THRESHOLD  # the interpreter's default, 700
    with batch_collector():
        assert gc.get_threshold() == (BATCH_GEN0_THRESHOLD, *thresholds[1:])
    assert gc.get_threshold() == thresholds  # as the caller had it
    gc.set_threshold(50_000, *thresholds[1:])
    try:
        with batch_collector():
            assert gc.get_threshold()[0] == 50_000  # a caller's higher threshold is kept
    finally:
        gc.set_threshold(*thresholds)
