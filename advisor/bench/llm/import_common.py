"""What the readers of other tools' results share (used by :mod:`advisor.bench.llm.imports` only).

:class:`JsonNode` walks a parsed file and names the JSON path of anything wrong in its :class:`InputError`;
:class:`ImportedBench` is one benchmark (one rate) as a reader found it, before it is mapped onto advisor's
definitions; :func:`figures` reads a tool's summary object into :class:`Percentiles`, leaving None whatever
the tool did not report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from advisor.bench.llm.records import Api, Percentiles, StreamRecord
from advisor.errors import InputError

MAX_ABS_NUMBER = 1e15
"""No figure read (seconds since 1970, ms, tokens, requests/s) comes near this; sums of such stay finite."""
FIX_MALFORMED = "the file is not as the tool writes it; import the tool's own unedited output"
FIGURE_KEYS = ("mean", "p50", "p90", "p95", "p99", "max")


class JsonNode:
    """A value read from the file with its JSON path, so every complaint names the field it is about."""

    __slots__ = ("path", "value", "where")

    def __init__(self, value: object, where: str, path: str = "") -> None:
        self.value = value
        self.where = where
        self.path = path

    def error(self, what: str, fix: str = FIX_MALFORMED) -> InputError:
        return InputError(f"{self.path or 'the top level'}: {what}", where=self.where, fix=fix)

    def _child(self, value: object, key: str | int) -> JsonNode:
        path = f"{self.path}[{key}]" if isinstance(key, int) else (f"{self.path}.{key}" if self.path else key)
        return JsonNode(value, self.where, path)

    def obj(self) -> dict[str, object]:
        if not isinstance(self.value, dict):
            raise self.error(f"expected an object, got {show(self.value)}")
        return self.value

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and self.value.get(key) is not None

    def get(self, key: str) -> JsonNode | None:
        """The field, or None when it is missing or null."""
        value = self.obj().get(key)
        return None if value is None else self._child(value, key)

    def req(self, key: str) -> JsonNode:
        node = self.get(key)
        if node is None:
            raise self._child(None, key).error("missing")
        return node

    def items(self) -> list[JsonNode]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {show(self.value)}")
        return [self._child(v, i) for i, v in enumerate(self.value)]

    def num(self) -> float:
        v = self.value
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.error(f"expected a finite number, got {show(v)}")
        if abs(v) > MAX_ABS_NUMBER:
            raise self.error(f"{show(v)} is out of range for any time, rate or count")
        return float(v)

    def nonneg(self) -> float:
        x = self.num()
        if x < 0:
            raise self.error(f"expected a number >= 0, got {show(self.value)}")
        return x

    def count(self) -> int:
        x = self.nonneg()
        if x != int(x):
            raise self.error(f"expected a whole number, got {show(self.value)}")
        return int(x)

    def text(self) -> str:
        if not isinstance(self.value, str):
            raise self.error(f"expected text, got {show(self.value)}")
        return self.value

    def opt_num(self, key: str) -> float | None:
        node = self.get(key)
        return None if node is None else node.num()

    def opt_count(self, key: str) -> int | None:
        node = self.get(key)
        return None if node is None else node.count()

    def opt_text(self, key: str) -> str | None:
        node = self.get(key)
        return None if node is None else node.text()


def show(value: object) -> str:
    text = (
        json.dumps(value)
        if isinstance(value, str | int | float | bool) or value is None
        else type(value).__name__
    )
    return text if len(text) <= 40 else text[:37] + "..."


def opt_items(node: JsonNode, key: str) -> list[JsonNode] | None:
    value = node.get(key)
    return None if value is None else value.items()


@dataclass
class ImportedBench:
    """One benchmark (one rate) of a file, before it becomes an :class:`LLMPoint`."""

    model: str | None
    api: Api | None
    rate_rps: float | None  # the open-loop rate the tool paced at; None when it did not pace by rate
    pacing: str  # how requests were sent, in words, for notes
    duration_s: float
    records: list[StreamRecord] | None = None  # complete per-request data, when the file has them
    cutoff_s: float = 0.0
    drop_itl: bool = False  # the records carry no per-chunk times (ITL unknown)
    requests: int = 0
    errors: int = 0
    unfinished: int = 0
    achieved_rps: float = 0.0
    ttft: Percentiles = field(default_factory=lambda: Percentiles(count=0))
    tpot: Percentiles = field(default_factory=lambda: Percentiles(count=0))
    itl: Percentiles = field(default_factory=lambda: Percentiles(count=0))
    e2e: Percentiles = field(default_factory=lambda: Percentiles(count=0))
    input_tokens_per_s: float = 0.0
    output_tokens_per_s: float = 0.0
    mean_input_tokens: float | None = None
    mean_output_tokens: float | None = None
    send_lag_p99_ms: float | None = None


def figures(
    node: JsonNode | None, fields: tuple[str, ...], *, scale: float = 1.0, count: int = 0
) -> Percentiles:
    """Percentiles from a summary object with ``fields`` named as in :data:`FIGURE_KEYS` ("" = not there)."""
    values: dict[str, float | None] = {}
    for key, name in zip(FIGURE_KEYS, fields, strict=True):
        cur = node if name else None
        for part in name.split(".") if name else ():
            cur = cur.get(part) if cur is not None else None
        values[key] = None if cur is None else cur.nonneg() * scale
    if all(v is None for v in values.values()):
        return Percentiles(count=0)
    return Percentiles(count=count, **values)
