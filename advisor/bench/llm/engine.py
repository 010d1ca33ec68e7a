"""A deterministic model of an LLM serving engine: when each token of each request comes out.

Pure (no clock, I/O or randomness); times in ms. A request is (arrival, input tokens, output tokens ≥ 1).
Two modes (:class:`EngineMode`):

* **slots** (TTFT-bound): ``slots`` requests served at once, FCFS; a request holds a slot for
  ``prefill_ms_per_token × input`` (then its first token) plus ``tpot_ms × (output − 1)``. TPOT is constant;
  past ``slots / service time`` TTFT grows without bound (with fixed sizes, an M/D/k queue).
* **batching** (TPOT-bound, continuous batching à la vLLM): the engine runs steps back to back while it has
  work; every step produces one token for every sequence in the batch and lasts
  ``step_base_ms + step_per_seq_ms × batch size + prefill_ms_per_token × (input tokens admitted in it)``.
  At a step's start the waiting requests that have arrived are admitted first come first served while the
  batch holds fewer than ``max_num_seqs``; an admitted request's prefill is done in that step (stalling it for
  everyone) and its first token comes out at the step's end. A request leaves after its last token. An idle
  engine starts a step the moment a request arrives; a request arriving during a step waits for the next.

Worked example (batching; 10 ms a step, 1 per sequence, 0.1 per prompt token): A at 0 (100 in, 3 out), B at 5
(50 in, 2 out): steps 0–21, 21–38 (admits B), 38–50. A: TTFT 21, TPOT 14.5; B: TTFT 33, TPOT 12.

Two drivers share the schedulers, so they cannot disagree: :class:`LLMEngine` (``submit``, ``advance(now)``,
``next_event_ms``) for a real-time server, :func:`schedule` (a whole arrival sequence) for the simulator.
Batching steps are formed in *runs* (same batch, no prefill, until the next departure or admission: one
arithmetic run), so a simulation costs per request, not per token; a run formed before an arrival was known
is cut at that arrival (:meth:`_BatchScheduler.add`).
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from advisor.domain import FrozenModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class EngineMode(StrEnum):
    SLOTS = "slots"  # k slots, fixed time per token: TTFT-bound
    BATCHING = "batching"  # continuous batching: TPOT-bound


class EngineConfig(FrozenModel):
    """The engine's parameters; each mode reads only its own (``slots``/``tpot_ms`` or the ``step_*``)."""

    mode: EngineMode = EngineMode.BATCHING
    slots: int = Field(default=8, ge=1, le=100_000, description="slots mode: requests served at once")
    max_num_seqs: int = Field(default=64, ge=1, le=100_000, description="batching: the largest batch")
    step_base_ms: float = Field(default=8.0, ge=0, le=60_000, allow_inf_nan=False)
    step_per_seq_ms: float = Field(default=0.25, ge=0, le=60_000, allow_inf_nan=False)
    prefill_ms_per_token: float = Field(default=0.02, ge=0, le=60_000, allow_inf_nan=False)
    tpot_ms: float = Field(default=20.0, gt=0, le=60_000, allow_inf_nan=False, description="slots mode")

    @model_validator(mode="after")
    def _steps_take_time(self) -> EngineConfig:
        if self.mode is EngineMode.BATCHING and self.step_base_ms + self.step_per_seq_ms <= 0:
            raise ValueError("batching needs step_base_ms + step_per_seq_ms > 0 (a step must take time)")
        return self

    def isolated_ttft_ms(self, input_tokens: int) -> float:
        """TTFT of a request alone in an idle engine."""
        if self.mode is EngineMode.SLOTS:
            return self.prefill_ms_per_token * input_tokens
        return self.step_base_ms + self.step_per_seq_ms + self.prefill_ms_per_token * input_tokens

    def isolated_tpot_ms(self) -> float:
        """TPOT of a request alone in an idle engine (slots: always)."""
        if self.mode is EngineMode.SLOTS:
            return self.tpot_ms
        return self.step_base_ms + self.step_per_seq_ms

    def saturation_rps(self, mean_input_tokens: float, mean_output_tokens: float) -> float:
        """The most requests/s the engine can complete with these mean sizes (inf if they take no time).

        Slots: ``slots / mean service time``. Batching: with the batch always full (``M = max_num_seqs``),
        ``M / mean output`` requests join per step, so a step lasts
        ``T = base + per_seq × M + prefill × mean input × M / mean output`` and the rate is
        ``M / (mean output × T)``. Both are upper bounds: no arrival process gets more out of the engine.
        """
        if self.mode is EngineMode.SLOTS:
            service_ms = self.prefill_ms_per_token * mean_input_tokens + self.tpot_ms * (
                mean_output_tokens - 1
            )
            return math.inf if service_ms <= 0 else self.slots * 1000.0 / service_ms
        m = self.max_num_seqs
        step_ms = (
            self.step_base_ms
            + self.step_per_seq_ms * m
            + self.prefill_ms_per_token * mean_input_tokens * m / mean_output_tokens
        )
        return m * 1000.0 / (mean_output_tokens * step_ms)


class Token(NamedTuple):
    """One token produced: request id, its 0-based position within that request, time (ms)."""

    request_id: int
    position: int
    time_ms: float


def _check_request(arrival_ms: float, input_tokens: int, output_tokens: int, last_arrival_ms: float) -> None:
    if not math.isfinite(arrival_ms):
        raise ValueError(f"arrival time must be finite, not {arrival_ms}")
    if arrival_ms < last_arrival_ms:
        raise ValueError(f"arrivals must come in time order: {arrival_ms} after {last_arrival_ms}")
    if input_tokens < 0 or output_tokens < 1:
        raise ValueError(f"input tokens >= 0 and output tokens >= 1, not {input_tokens} and {output_tokens}")


class _SlotScheduler:
    """Slots mode: a request's start is fixed the moment it arrives (FCFS, deterministic service)."""

    def __init__(self, config: EngineConfig) -> None:
        self.slots = config.slots
        self.prefill = config.prefill_ms_per_token
        self.tpot = config.tpot_ms
        self.free: list[float] = []  # heap: when each busy slot frees up (at most `slots` entries)
        self.first_token: array[float] = array("d")

    def add(self, arrival: float, inputs: int, outputs: int) -> float:
        """Admit one request (in arrival order); returns its first token's time."""
        free = self.free
        start = arrival if len(free) < self.slots else max(arrival, free[0])
        first = start + self.prefill * inputs
        release = first + self.tpot * (outputs - 1)
        if len(free) < self.slots:
            heapq.heappush(free, release)
        else:
            heapq.heapreplace(free, release)
        self.first_token.append(first)
        return first


class _BatchScheduler:
    """Batching mode: forms steps (in runs, see the module docstring) from the requests added so far."""

    def __init__(self, config: EngineConfig) -> None:
        self.base = config.step_base_ms
        self.per_seq = config.step_per_seq_ms
        self.prefill = config.prefill_ms_per_token
        self.max_seqs = config.max_num_seqs
        # Typed arrays, not lists: 8 bytes an entry, so a server that runs for hours stays small.
        self.arrivals: array[float] = array("d")
        self.inputs: array[int] = array("q")
        self.outputs: array[int] = array("q")
        self.first_step: array[int] = array("q")  # step that admitted each request; -1 while it waits
        self.admitted = 0  # requests [0, admitted) have been admitted (FCFS: always a prefix)
        self.running = 0  # batch size at the start of the next run, before its departures
        self.finish: list[int] = []  # heap: the step of each running request's last token
        # Runs: steps [run_step, run_step + run_steps); step s ends at run_end + (s - run_step) * run_dt.
        self.run_step: array[int] = array("q")
        self.run_end: array[float] = array("d")  # end of the run's first step (ms)
        self.run_dt: array[float] = array("d")  # duration of each later step of the run (no prefill in them)
        self.run_steps: array[int] = array("q")
        self.run_admit_lo: array[int] = array("q")  # requests admitted at the run's first step: [lo, hi)
        self.run_admit_hi: array[int] = array("q")
        self.next_step = 0  # index of the first step not yet formed
        self.next_start = -math.inf  # when it starts (the end of the last formed step)
        self.open_run = False  # the last run was formed without a waiting arrival: one may cut it short

    def add(self, arrival: float, inputs: int, outputs: int) -> None:
        if self.open_run:
            # The last run assumed no arrival: keep its steps that start before this one; the next admits it.
            b = len(self.run_step) - 1
            keep = self._admitting_step(self.run_end[b], self.run_dt[b], arrival)
            if keep < self.run_steps[b]:
                self.run_steps[b] = keep
                self.next_step = self.run_step[b] + keep
                self.next_start = self.run_end[b] + (keep - 1) * self.run_dt[b]
            self.open_run = False
        self.arrivals.append(arrival)
        self.inputs.append(inputs)
        self.outputs.append(outputs)
        self.first_step.append(-1)

    @staticmethod
    def _admitting_step(end: float, dt: float, arrival: float) -> int:
        """Offset k ≥ 1 of the first step of a run (first step ends at ``end``, later ones last ``dt``) that
        starts at or after ``arrival``: step k starts at ``end + (k - 1) * dt``. Exact in the floats used."""
        if arrival <= end:
            return 1
        k = 1 + math.ceil((arrival - end) / dt)
        while end + (k - 1) * dt < arrival:
            k += 1
        while k > 1 and end + (k - 2) * dt >= arrival:
            k -= 1
        return k

    def form(self, limit: float) -> None:
        """Form every run whose first step starts at or before ``limit`` (ms)."""
        # The simulator's inner loop: names are local and _admitting_step is inlined (a call per run doubled
        # the time of a 20k-request simulation).
        arrivals, inputs, outputs, first_step = self.arrivals, self.inputs, self.outputs, self.first_step
        finish, heappush, heappop, ceil = self.finish, heapq.heappush, heapq.heappop, math.ceil
        base, per_seq, prefill, max_seqs = self.base, self.per_seq, self.prefill, self.max_seqs
        run_step, run_end, run_dt = self.run_step.append, self.run_end.append, self.run_dt.append
        run_steps, run_lo, run_hi = self.run_steps.append, self.run_admit_lo.append, self.run_admit_hi.append
        n = len(arrivals)
        nxt, running, step, start = self.admitted, self.running, self.next_step, self.next_start
        formed = False
        open_run = self.open_run
        while True:
            gone: list[int] = []
            while finish and finish[0] < step:  # departures after the steps formed so far
                gone.append(heappop(finish))
            running -= len(gone)
            t = start
            if running == 0 and nxt < n and arrivals[nxt] > t:
                t = arrivals[nxt]  # idle: the next step starts when the next request arrives
            if (running == 0 and nxt >= n) or t > limit:
                # Not formed yet: an arrival may still cut the last run short, and these departures with it.
                for last_step in gone:
                    heappush(finish, last_step)
                running += len(gone)
                break
            lo = nxt
            prompt = 0
            while nxt < n and running < max_seqs and arrivals[nxt] <= t:
                first_step[nxt] = step
                heappush(finish, step + outputs[nxt] - 1)
                prompt += inputs[nxt]
                running += 1
                nxt += 1
            dt = base + per_seq * running
            end = t + dt + prefill * prompt
            steps = finish[0] - step + 1  # the batch is unchanged up to the next departure...
            open_run = running < max_seqs and nxt >= n
            if running < max_seqs and nxt < n:  # ...and to the next admission (as _admitting_step)
                arrival = arrivals[nxt]
                if arrival <= end:
                    k = 1
                else:
                    k = 1 + ceil((arrival - end) / dt)
                    while end + (k - 1) * dt < arrival:
                        k += 1
                    while k > 1 and end + (k - 2) * dt >= arrival:
                        k -= 1
                if k < steps:
                    steps = k
            run_step(step)
            run_end(end)
            run_dt(dt)
            run_steps(steps)
            run_lo(lo)
            run_hi(nxt)
            step += steps
            start = end + (steps - 1) * dt
            formed = True
        self.admitted, self.running = nxt, running
        if formed:
            self.next_step, self.next_start, self.open_run = step, start, open_run

    def step_end_ms(self, steps: IntArray) -> FloatArray:
        """End times (ms) of the given formed step indices."""
        run_step = np.asarray(self.run_step, dtype=np.int64)
        b = np.searchsorted(run_step, steps, side="right") - 1
        run_end = np.asarray(self.run_end, dtype=np.float64)
        run_dt = np.asarray(self.run_dt, dtype=np.float64)
        ends: FloatArray = run_end[b] + (steps - run_step[b]) * run_dt[b]
        return ends


@dataclass(frozen=True)
class Schedule:
    """When each request's tokens come out (ms, the caller's clock); arrays indexed by request.

    Token ``m`` of request ``i``: slots mode ``first_token_ms[i] + m × tpot_ms``; batching mode the end of
    step ``first_step[i] + m`` (see :func:`schedule`). ``last_token_ms`` is the last of them.
    """

    arrival_ms: FloatArray
    output_tokens: IntArray
    first_token_ms: FloatArray
    last_token_ms: FloatArray

    @property
    def ttft_ms(self) -> FloatArray:
        ttft: FloatArray = self.first_token_ms - self.arrival_ms
        return ttft

    @property
    def e2e_ms(self) -> FloatArray:
        e2e: FloatArray = self.last_token_ms - self.arrival_ms
        return e2e

    @property
    def tpot_ms(self) -> FloatArray:
        """(E2E − TTFT) / (output tokens − 1), NaN for single-token requests."""
        with np.errstate(divide="ignore", invalid="ignore"):
            gaps = (self.last_token_ms - self.first_token_ms) / (self.output_tokens - 1)
        tpot: FloatArray = np.where(self.output_tokens >= 2, gaps, np.nan)
        return tpot


def schedule(
    config: EngineConfig,
    arrival_ms: Sequence[float] | npt.ArrayLike,
    input_tokens: Sequence[int] | npt.ArrayLike,
    output_tokens: Sequence[int] | npt.ArrayLike,
) -> Schedule:
    """Run the engine over a whole arrival sequence (sorted by time) and return every request's token times.

    ValueError when the arrays differ in length, arrivals are not sorted or finite, or a request asks for
    fewer than one output token.
    """
    arr = np.asarray(arrival_ms, dtype=np.float64)
    inp = np.asarray(input_tokens, dtype=np.int64)
    out = np.asarray(output_tokens, dtype=np.int64)
    if not (arr.shape == inp.shape == out.shape) or arr.ndim != 1:
        raise ValueError("arrival_ms, input_tokens and output_tokens must be 1-D and of one length")
    if arr.size and (
        not np.all(np.isfinite(arr)) or np.any(np.diff(arr) < 0) or inp.min() < 0 or out.min() < 1
    ):
        raise ValueError("arrivals must be finite and sorted, input tokens >= 0, output tokens >= 1")
    if config.mode is EngineMode.SLOTS:
        slots = _SlotScheduler(config)
        add = slots.add
        for a, i, o in zip(arr.tolist(), inp.tolist(), out.tolist(), strict=True):
            add(a, i, o)
        first = np.asarray(slots.first_token, dtype=np.float64)
        last = first + config.tpot_ms * (out - 1)
        return Schedule(arrival_ms=arr, output_tokens=out, first_token_ms=first, last_token_ms=last)
    batch = _BatchScheduler(config)
    batch.arrivals.frombytes(arr.tobytes())
    batch.inputs.frombytes(inp.tobytes())
    batch.outputs.frombytes(out.tobytes())
    batch.first_step = array("q", [-1]) * arr.size
    batch.form(math.inf)
    first_step = np.asarray(batch.first_step, dtype=np.int64)
    if arr.size == 0:
        return Schedule(
            arrival_ms=arr, output_tokens=out, first_token_ms=arr.copy(), last_token_ms=arr.copy()
        )
    return Schedule(
        arrival_ms=arr,
        output_tokens=out,
        first_token_ms=batch.step_end_ms(first_step),
        last_token_ms=batch.step_end_ms(first_step + out - 1),
    )


class LLMEngine:
    """The engine driven step by step in real time (the synthetic LLM server) or by a test.

    Rules: ``submit`` requests in arrival order, each with an arrival time no earlier than the last
    ``advance`` (a server stamps it with its clock); ``advance(now)`` returns the tokens produced up to
    ``now`` in time order; ``next_event_ms`` says when to call ``advance`` next (None: idle until a submit).
    Token times are the model's, whatever the lateness of the caller: a late ``advance`` returns the tokens
    that were due, with their due times, and the schedule does not drift.

    ``advance(now)`` fixes the steps that start at or before ``now`` with the requests submitted so far, so a
    request submitted afterwards with an arrival of exactly ``now`` joins the next step, where
    :func:`schedule` would have put it in that one. A server's clock never reads the same instant twice, so
    this tie does not arise there.
    """

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._last_arrival = -math.inf
        self._now = -math.inf
        self._outputs: array[int] = array("q")
        if config.mode is EngineMode.SLOTS:
            self._slots: _SlotScheduler | None = _SlotScheduler(config)
            self._due: list[tuple[float, int, int]] = []  # heap of (time, request, token index)
            self._batch: _BatchScheduler | None = None
        else:
            self._slots = None
            self._batch = _BatchScheduler(config)
            self._emit_run = 0  # run holding the next step to emit
            self._emit_step = 0  # next step whose tokens are not yet emitted
            self._live: list[list[int]] = []  # [request, tokens emitted, output tokens] per running request

    def submit(self, arrival_ms: float, input_tokens: int, output_tokens: int) -> int:
        """Add a request; returns its id (0, 1, 2, ... in submission order)."""
        _check_request(arrival_ms, input_tokens, output_tokens, max(self._last_arrival, self._now))
        self._last_arrival = arrival_ms
        rid = len(self._outputs)
        self._outputs.append(output_tokens)
        if self._slots is not None:
            first = self._slots.add(arrival_ms, input_tokens, output_tokens)
            heapq.heappush(self._due, (first, rid, 0))
        elif self._batch is not None:
            self._batch.add(arrival_ms, input_tokens, output_tokens)
        return rid

    def advance(self, now_ms: float) -> list[Token]:
        """Tokens produced in (last ``advance``, ``now_ms``], in time order."""
        self._now = max(self._now, now_ms)
        out: list[Token] = []
        if self._slots is not None:
            due, tpot, outputs = self._due, self.config.tpot_ms, self._outputs
            while due and due[0][0] <= now_ms:
                time_ms, rid, index = heapq.heappop(due)
                out.append(Token(rid, index, time_ms))
                if index + 1 < outputs[rid]:
                    first = self._slots.first_token[rid]
                    heapq.heappush(due, (first + (index + 1) * tpot, rid, index + 1))
            return out
        batch = self._batch
        assert batch is not None
        batch.form(now_ms)
        while self._emit_run < len(batch.run_step):
            b, s = self._emit_run, self._emit_step
            if s >= batch.run_step[b] + batch.run_steps[b]:
                self._emit_run += 1
                continue
            end = batch.run_end[b] + (s - batch.run_step[b]) * batch.run_dt[b]
            if end > now_ms:
                break
            if s == batch.run_step[b]:
                self._live.extend(
                    [rid, 0, batch.outputs[rid]]
                    for rid in range(batch.run_admit_lo[b], batch.run_admit_hi[b])
                )
            still: list[list[int]] = []
            for entry in self._live:
                out.append(Token(entry[0], entry[1], end))
                entry[1] += 1
                if entry[1] < entry[2]:
                    still.append(entry)
            self._live = still
            self._emit_step += 1
        return out

    def next_event_ms(self) -> float | None:
        """When the next token is due, or the next step is to be formed; None when idle."""
        if self._slots is not None:
            return self._due[0][0] if self._due else None
        batch = self._batch
        assert batch is not None
        b, s = self._emit_run, self._emit_step
        while b < len(batch.run_step) and s >= batch.run_step[b] + batch.run_steps[b]:
            b += 1
        if b < len(batch.run_step):
            return batch.run_end[b] + (s - batch.run_step[b]) * batch.run_dt[b]
        if batch.finish and max(batch.finish) >= batch.next_step:  # a request runs past the formed steps
            return batch.next_start
        if batch.admitted < len(batch.arrivals):
            return max(batch.next_start, batch.arrivals[batch.admitted])
        return None
