"""Token traffic of a language-model engine, from Prometheus: requests/s over time, and the request sizes.

vLLM's OpenAI-compatible server exports (``vllm/v1/metrics/loggers.py``; every series labelled ``model_name``
and ``engine``, the requests counter also ``finished_reason``):

- counters ``vllm:request_success_total`` (requests finished), ``vllm:prompt_tokens_total`` and
  ``vllm:generation_tokens_total`` (input and output tokens);
- histograms ``vllm:request_prompt_tokens`` and ``vllm:request_generation_tokens`` (tokens per finished
  request: ``_bucket``, ``_sum``, ``_count``).

The import asks for three series at the profile's step, requests/s, input tokens/s and output tokens/s, each
``sum(rate(COUNTER{SELECTOR}[STEP]))`` evaluated at the end of every step, so that step i holds the mean rate
over ``[start + i·step, start + (i+1)·step)``. The arithmetic is Prometheus' own: ``rate()`` reads a counter
that falls (an engine restart) as a reset, as ``increase()`` does. The totals over the range are the series'
sums × step, so the profile's total requests is the total this import reports. Each histogram's increase
over the whole range by bucket, ``sum by (le) (increase(NAME_bucket{SELECTOR}[RANGE]))``, gives the size
distribution, from which sizes are drawn to the counters' means, tokens ÷ requests
(:mod:`advisor.traffic.token_histogram`); without a histogram every size is the counters' mean, and the
profile's source says so. Only whole steps are imported: the range is ``start`` and ``end`` floored to it.

Queries given instead of vLLM's (``requests_query`` …) must each give one series of per-second rates whose
value at t is the rate over the step ending at t, as ``sum(rate(x[STEP]))`` does. The model and the selector
go into the queries advisor writes (vLLM's, and the histograms'), never into a query given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from advisor.errors import InputError, NotFoundError
from advisor.redact import redact_url
from advisor.traffic.profile import DEFAULT_STEP_S, FloatArray, IntArray, TrafficProfile, check_steps
from advisor.traffic.prometheus import fill_gaps, instant_vector, prometheus_base, range_values
from advisor.traffic.token_histogram import (
    TRACE_ROWS,
    bucket_counts,
    pair_sizes,
    sizes_at_mean,
    sizes_from_histogram,
)

VLLM_REQUESTS = "vllm:request_success_total"
VLLM_INPUT_TOKENS = "vllm:prompt_tokens_total"
VLLM_OUTPUT_TOKENS = "vllm:generation_tokens_total"
VLLM_INPUT_HISTOGRAM = "vllm:request_prompt_tokens"
VLLM_OUTPUT_HISTOGRAM = "vllm:request_generation_tokens"
VLLM_MODEL_LABEL = "model_name"
NO_HISTOGRAM = "none"
_VLLM_WHERE = "--llm-model/--llm-selector"
_SIDES = ("input", "output")


class TokenQueries(BaseModel):
    """What to ask Prometheus for; vLLM's metrics unless a query or histogram is given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    llm_model: str | None = Field(default=None, description=f"vLLM's {VLLM_MODEL_LABEL} label value")
    selector: str | None = Field(default=None, description='more label matchers, e.g. namespace="prod"')
    requests_query: str | None = Field(default=None, description="PromQL: one series of requests/s")
    input_tokens_query: str | None = Field(default=None, description="PromQL: one series of input tokens/s")
    output_tokens_query: str | None = Field(default=None, description="PromQL: one series of output tokens/s")
    input_histogram: str = Field(
        default=VLLM_INPUT_HISTOGRAM, description="input tokens per request: a histogram's name, or none"
    )
    output_histogram: str = Field(
        default=VLLM_OUTPUT_HISTOGRAM, description="output tokens per request: a histogram's name, or none"
    )

    def matchers(self, inner: str = "") -> str:
        """``{...}`` with ``inner``'s matchers, the model's and the selector's ("" when there are none)."""
        parts = [inner.strip()] if inner.strip() else []
        if self.llm_model is not None:
            escaped = self.llm_model.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{VLLM_MODEL_LABEL}="{escaped}"')
        if self.selector and self.selector.strip().strip("{}").strip():
            parts.append(self.selector.strip().strip("{}").strip())
        return "{" + ",".join(parts) + "}" if parts else ""

    def rate_queries(self, step_s: int) -> list[tuple[str, str, str]]:
        """(what, PromQL, the flag that names it) for requests, input tokens and output tokens per second."""
        out = []
        for what, given, counter, flag in (
            ("requests", self.requests_query, VLLM_REQUESTS, "--requests-query"),
            ("input tokens", self.input_tokens_query, VLLM_INPUT_TOKENS, "--input-tokens-query"),
            ("output tokens", self.output_tokens_query, VLLM_OUTPUT_TOKENS, "--output-tokens-query"),
        ):
            if given:
                out.append((what, given, flag))
            else:
                out.append((what, f"sum(rate({counter}{self.matchers()}[{step_s}s]))", _VLLM_WHERE))
        return out

    def histogram_query(self, side: str, range_s: int) -> str | None:
        """The bucket increases over ``range_s`` by ``le`` for ``side`` (input/output); None for none."""
        name = self.input_histogram if side == "input" else self.output_histogram
        if name.strip().lower() == NO_HISTOGRAM:
            return None
        metric, _, inner = name.strip().partition("{")
        return (
            f"sum by (le) (increase({metric.strip()}_bucket{self.matchers(inner.rstrip('}'))}[{range_s}s]))"
        )


class TokenTotals(BaseModel):
    """What an import counted over its range, and where the request sizes come from."""

    model_config = ConfigDict(frozen=True)

    requests: float = Field(description="requests finished over the range")
    input_tokens: float = Field(description="input (prompt) tokens over the range")
    output_tokens: float = Field(description="output (generated) tokens over the range")
    mean_input_tokens: float = Field(description="input tokens ÷ requests")
    mean_output_tokens: float = Field(description="output tokens ÷ requests")
    input_sizes: str = Field(description="where the input sizes of the token trace come from")
    output_sizes: str = Field(description="where the output sizes of the token trace come from")
    source: str


@dataclass(frozen=True)
class TokenTraffic:
    """The requests/s profile, the totals, and a token trace whose means are the totals' (rows paired)."""

    profile: TrafficProfile
    totals: TokenTotals
    input_tokens: IntArray
    output_tokens: IntArray


def import_token_traffic(
    url: str,
    queries: TokenQueries,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step_s: int = DEFAULT_STEP_S,
    headers: Mapping[str, str] | None = None,
    fill: str = "interpolate",
    timezone: str = "UTC",
    name: str | None = None,
    rows: int = TRACE_ROWS,
) -> TokenTraffic:
    """The engine's requests/s, totals and request sizes over the whole steps between ``start`` and ``end``
    (tz-aware).

    Raises InputError (one line, never the credentials) for an unreachable server, a query Prometheus rejects,
    a query giving several series or none, a negative rate (a counter's reset read as a fall), an unknown
    model name (naming the server's), or a range in which no request finished.
    """
    base = prometheus_base(url)
    start, stop = start.floor(f"{step_s}s"), end.floor(f"{step_s}s")
    steps = check_steps((stop - start).total_seconds() // step_s, "--since/--step")
    if steps < 1:
        raise InputError(f"the range holds no whole {step_s} s step", where="--since/--end")
    heads = dict(headers or {})
    rates, gaps = _rates(base, queries, (start, stop), step_s, heads, fill)
    totals = {what: float(series.sum()) * step_s for what, series in rates.items()}
    if not totals["requests"] > 0:
        raise InputError(
            f"no request finished between {start.isoformat()} and {stop.isoformat()}",
            where=queries.rate_queries(step_s)[0][2],
            fix="widen --since, or check the model name and the selector",
        )
    means = {side: totals[f"{side} tokens"] / totals["requests"] for side in _SIDES}
    drawn: dict[str, IntArray] = {}
    how: dict[str, str] = {}
    for side in _SIDES:
        if means[side] < 1:
            raise InputError(
                f"the counters give {means[side]:.3g} {side} tokens per request, fewer than one",
                where=queries.rate_queries(step_s)[_SIDES.index(side) + 1][2],
                fix="check that the counters count tokens, and of a generating model",
            )
        drawn[side], how[side] = _sizes(base, queries, side, means[side], (stop, steps * step_s), heads, rows)
    source = (
        f"prometheus:{redact_url(base)} {queries.rate_queries(step_s)[0][1]} step {step_s}s{gaps}; "
        f"input sizes: {how['input']}; output sizes: {how['output']}"
    )
    profile = TrafficProfile.from_array(
        name or "prometheus",
        rates["requests"],
        start=start.tz_convert(timezone),
        step_s=step_s,
        source=source,
    )
    paired_in, paired_out = pair_sizes(drawn["input"], drawn["output"])
    summary = TokenTotals(
        requests=totals["requests"],
        input_tokens=totals["input tokens"],
        output_tokens=totals["output tokens"],
        mean_input_tokens=means["input"],
        mean_output_tokens=means["output"],
        input_sizes=how["input"],
        output_sizes=how["output"],
        source=source,
    )
    return TokenTraffic(profile, summary, paired_in, paired_out)


def _rates(
    base: str,
    queries: TokenQueries,
    range_: tuple[pd.Timestamp, pd.Timestamp],
    step_s: int,
    headers: Mapping[str, str],
    fill: str,
) -> tuple[dict[str, FloatArray], str]:
    """Requests/s, input and output tokens/s per step (gaps filled), and the note that counts the gaps."""
    start, stop = range_
    steps = int((stop - start).total_seconds() // step_s)
    first = start + pd.Timedelta(seconds=step_s)  # the value at a step's end is the step's rate
    rates: dict[str, FloatArray] = {}
    notes = []
    for what, query, where in queries.rate_queries(step_s):
        values = range_values(
            base, query, start=first, steps=steps, step_s=step_s, headers=headers, where=where
        )
        if np.isnan(values).all():
            _no_samples(base, queries, what, where, range_, headers)
        if (values < 0).any():
            at = first + pd.Timedelta(seconds=step_s * int(np.argmax(values < 0)))
            raise InputError(
                f"the {what} query gives a negative rate at {at.isoformat()}: a counter reset read as a fall",
                where=where,
                fix="read counters with rate() or increase(), which handle resets: sum(rate(x_total[1m]))",
            )
        rates[what], note = fill_gaps(values, fill)
        notes.append(note.replace("; ", f"; {what}: ") if what != "requests" else note)
    return rates, "".join(notes)


def _sizes(
    base: str,
    queries: TokenQueries,
    side: str,
    mean: float,
    at_range: tuple[pd.Timestamp, int],
    headers: Mapping[str, str],
    rows: int,
) -> tuple[IntArray, str]:
    """``rows`` sizes of ``side`` with mean ``mean``, and where they come from."""
    at, range_s = at_range
    query = queries.histogram_query(side, range_s)
    flag = f"--{side}-tokens-histogram"
    if query is None:
        return sizes_at_mean(mean, rows), f"the counters' mean ({flag} none)"
    series = instant_vector(base, query, at=at, headers=headers, where=flag)
    if series and any("le" not in labels for labels, _ in series):
        raise InputError(
            "the histogram's series have no le label: not a histogram's buckets",
            where=flag,
            fix="name a histogram's base metric, without _bucket",
        )
    upper_bounds, counts = bucket_counts([(labels["le"], value) for labels, value in series], flag)
    if not counts.sum() > 0:
        why = "its buckets counted no request" if series else f"no series for {query}"
        return sizes_at_mean(mean, rows), f"the counters' mean ({why})"
    sizes, note = sizes_from_histogram(upper_bounds, counts, mean, rows)
    name = (queries.input_histogram if side == "input" else queries.output_histogram).strip()
    return sizes, f"histogram {name} (increase over the range), at the counters' mean" + (
        f"; {note}" if note else ""
    )


def _no_samples(
    base: str,
    queries: TokenQueries,
    what: str,
    where: str,
    range_: tuple[pd.Timestamp, pd.Timestamp],
    headers: Mapping[str, str],
) -> None:
    """Raise the error for a series without a sample: an unknown model (with the known ones) or no data."""
    start, stop = range_
    if queries.llm_model is not None and where == _VLLM_WHERE:
        others = TokenQueries(selector=queries.selector).matchers()
        range_s = int((stop - start).total_seconds())
        query = f"count by ({VLLM_MODEL_LABEL}) (count_over_time({VLLM_REQUESTS}{others}[{range_s}s]))"
        known = sorted(
            {
                labels.get(VLLM_MODEL_LABEL, "")
                for labels, _ in instant_vector(base, query, at=stop, headers=headers, where=where)
            }
            - {""}
        )
        if queries.llm_model not in known:
            raise NotFoundError(
                "vLLM model",
                queries.llm_model,
                known=known,
                where="--llm-model",
                fix=f"the models Prometheus has {VLLM_REQUESTS} for in the range: {', '.join(known)}"
                if known
                else f"Prometheus has no {VLLM_REQUESTS} series in the range: is the engine scraped?",
            )
    raise InputError(
        f"Prometheus returned no samples for the {what} query between {start.isoformat()} and "
        f"{stop.isoformat()}",
        where=where,
        fix="check the metric and label names in Prometheus' graph page, or widen --since"
        if where != _VLLM_WHERE
        else f"check that Prometheus scrapes the engine's /metrics, or give --{what.replace(' ', '-')}-query",
    )
