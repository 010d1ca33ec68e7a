"""Where the per-model searches run: the --executor forms, and the batches a fleet is cut into."""

from __future__ import annotations

import pytest

from advisor.errors import InputError
from advisor.optimize.executor import ExecutorSpec, batches, parse_executor


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
