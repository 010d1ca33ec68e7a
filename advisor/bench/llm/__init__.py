"""The LLM bench: token-streaming servers measured open loop under TTFT and TPOT SLOs, per request size.

Public API (names load on first use; the generator needs aiohttp, the bench extra):

* value types and the metric definitions: :class:`LLMSLO`, :class:`StreamRecord`, :class:`LLMPoint`,
  :class:`LLMCapacity`, :class:`LLMBenchReport`, :data:`DEFINITIONS` (:mod:`advisor.bench.llm.records`);
* the generator: :class:`Target`, :class:`Arrival`, :func:`arrival_times`, :func:`open_session`,
  :func:`run_point`, :func:`calibrate` (:mod:`advisor.bench.llm.client`);
* several generator processes for one point: :class:`Generators` (:mod:`advisor.bench.llm.fanout`);
* a point from its requests: :func:`summarize`, :func:`percentiles` (:mod:`advisor.bench.llm.metrics`);
* the search and the harness: :class:`LLMSearch`, :func:`measure_llm`, :class:`LLMBenchConfig`;
* the synthetic engine and its truth: :class:`EngineConfig`, :func:`simulate_point`, :func:`true_capacity`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names

if TYPE_CHECKING:
    from advisor.bench.llm.client import (
        Arrival,
        Target,
        arrival_times,
        calibrate,
        open_session,
        run_loop,
        run_point,
    )
    from advisor.bench.llm.engine import EngineConfig, EngineMode
    from advisor.bench.llm.fanout import Generators
    from advisor.bench.llm.metrics import percentiles, summarize
    from advisor.bench.llm.records import (
        DEFINITIONS,
        LLMSLO,
        Api,
        LLMBenchReport,
        LLMCapacity,
        LLMPoint,
        StreamRecord,
    )
    from advisor.bench.llm.runner import LLMBenchConfig, measure_llm
    from advisor.bench.llm.search import LLMSearch
    from advisor.bench.llm.simulate import simulate_point, true_capacity

_LAZY = {
    **dict.fromkeys(
        ("Arrival", "Target", "arrival_times", "calibrate", "open_session", "run_loop", "run_point"),
        "advisor.bench.llm.client",
    ),
    **dict.fromkeys(("percentiles", "summarize"), "advisor.bench.llm.metrics"),
    **dict.fromkeys(
        ("DEFINITIONS", "LLMSLO", "Api", "LLMBenchReport", "LLMCapacity", "LLMPoint", "StreamRecord"),
        "advisor.bench.llm.records",
    ),
    **dict.fromkeys(("LLMBenchConfig", "measure_llm"), "advisor.bench.llm.runner"),
    "LLMSearch": "advisor.bench.llm.search",
    "Generators": "advisor.bench.llm.fanout",
    **dict.fromkeys(("EngineConfig", "EngineMode"), "advisor.bench.llm.engine"),
    **dict.fromkeys(("simulate_point", "true_capacity"), "advisor.bench.llm.simulate"),
}
__all__ = [
    "DEFINITIONS",
    "LLMSLO",
    "Api",
    "Arrival",
    "EngineConfig",
    "EngineMode",
    "Generators",
    "LLMBenchConfig",
    "LLMBenchReport",
    "LLMCapacity",
    "LLMPoint",
    "LLMSearch",
    "StreamRecord",
    "Target",
    "arrival_times",
    "calibrate",
    "measure_llm",
    "open_session",
    "percentiles",
    "run_loop",
    "run_point",
    "simulate_point",
    "summarize",
    "true_capacity",
]
__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
