"""A fixed schedule: a token trace's requests sent at their own times, each with its own sizes, as one point.

(AIPerf's name for it is ``--fixed-schedule``. "Replay" in advisor means the cost model's replay of a plan:
``docs/glossary.md``.)

The capacity search (:mod:`advisor.bench.llm.runner`) offers Poisson arrivals at chosen rates with sizes drawn
from a distribution. A fixed schedule answers another question: *does this server meet the SLO under this
day's real traffic*, bursts and size mix as they came. The trace's requests (sorted by arrival, offsets from
the first) are sent in order at ``offset / time_scale`` (``time_scale`` 2 sends twice as fast: twice the
rate, the same bursts), each with its own input and output tokens; the first ``warmup_s`` are sent and not
measured, and ``window_s`` (when given) cuts the schedule after that many seconds. The point is judged like
any other (TTFT and TPOT percentiles with their intervals, errors as misses); the result's ``capacity_rps``
is the schedule's mean rate when the SLO held (a lower bound on the capacity for this traffic:
``lower_bound`` is set) and 0 when it did not.
"""

from __future__ import annotations

import time

import numpy as np

from advisor.bench.llm import store as llm_store
from advisor.bench.llm.client import Arrival, PromptBuilder, Target, arrival_times
from advisor.bench.llm.fanout import Generators
from advisor.bench.llm.metrics import summarize
from advisor.bench.llm.records import LLMSLO, LLMCapacity, PointVerdict, SizeSpec
from advisor.bench.llm.runner import LLMBenchConfig
from advisor.errors import InputError
from advisor.store import Store
from advisor.traffic.tokens import TokenTrace


def schedule_arrivals(
    trace: TokenTrace,
    target: Target,
    builder: PromptBuilder,
    *,
    time_scale: float,
    warmup_s: float,
    window_s: float | None,
) -> list[Arrival]:
    """The trace's requests as arrivals at ``offset / time_scale``, cut after ``warmup_s + window_s``."""
    if trace.arrival_s is None:
        raise InputError(
            f"{trace.path.name} has no arrival times to send on",
            where=str(trace.path),
            fix="give a trace with a TIMESTAMP (Azure) or Timestamp (BurstGPT) column",
        )
    horizon = np.inf if window_s is None else warmup_s + window_s
    times = arrival_times(0.0, horizon, seed=0, trace_s=trace.arrival_s, time_scale=time_scale)
    return [
        Arrival(
            float(t),
            int(trace.input_tokens[k]),
            int(trace.output_tokens[k]),
            target.body(builder.prompt(int(trace.input_tokens[k]), index=k), int(trace.output_tokens[k])),
            bool(t >= warmup_s),
        )
        for k, t in enumerate(times)
    ]


def send_schedule(
    store: Store | None,
    target: Target,
    trace: TokenTrace,
    *,
    model: str,
    shape: str,
    run_id: str,
    slo: LLMSLO,
    sizes: SizeSpec,
    builder: PromptBuilder,
    config: LLMBenchConfig,
    time_scale: float = 1.0,
    window_s: float | None = None,
    warnings: list[str] | None = None,
) -> LLMCapacity:
    """Send ``trace`` on its own schedule to a running server as one point; stored before and after."""
    started = time.monotonic()
    arrivals = schedule_arrivals(
        trace, target, builder, time_scale=time_scale, warmup_s=config.warmup_s, window_s=window_s
    )
    window = [a.offset_s for a in arrivals if a.in_window]
    if len(window) < 2:
        raise InputError(
            f"the schedule's measured window holds {len(window)} requests",
            where="--fixed-schedule",
            fix="give a longer --window-s, a shorter --warmup-s, or a larger --time-scale",
        )
    span = window[-1] - window[0]
    rate = (len(window) - 1) / span if span > 0 else float(len(window))
    result = LLMCapacity(
        run_id=run_id, model=model, shape=shape, api=target.api, status="running", slo=slo, sizes=sizes,
        capacity_rps=0.0, schedule_time_scale=time_scale, warnings=list(warnings or []),
    )  # fmt: skip
    _save(store, result, target)
    try:
        with Generators(config.generator_processes) as generators:
            run = generators.run(target, arrivals, drain_s=config.drain_s, slo=slo)
    except KeyboardInterrupt:
        _save(store, result.model_copy(update={"status": "interrupted"}), target)
        raise
    point = summarize(
        run.records,
        seq=0,
        offered_rps=rate,
        duration_s=max(min(run.cutoff_s - run.window_start_s, span), 1e-3),
        cutoff_s=run.cutoff_s,
        slo=slo,
        confirm=True,
        note=run.stopped_early,
    )
    held = point.verdict is PointVerdict.PASS
    faster = f" x{time_scale:g}" if time_scale != 1 else ""
    how = f"{len(window)} requests at the trace's own times{faster}"
    verdict = "held" if held else f"was not met ({point.verdict.value})"
    result = result.model_copy(
        update={
            "status": "completed",
            "points": [point],
            "capacity_rps": rate if held else 0.0,
            "lower_bound": held,
            "reason": f"fixed schedule, {how}: the SLO {verdict} at {rate:.3g} requests/s",
            "input_tokens_per_s": point.input_tokens_per_s if held else 0.0,
            "output_tokens_per_s": point.output_tokens_per_s if held else 0.0,
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    _save(store, result, target)
    return result


def _save(store: Store | None, result: LLMCapacity, target: Target) -> None:
    if store is not None:
        llm_store.save(store, result, target=target.url)
