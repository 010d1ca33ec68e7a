"""From streamed requests to a point: percentiles with confidence intervals, token rates, goodput, verdict.

Pure functions over :class:`~advisor.bench.llm.records.StreamRecord` lists; the definitions are those of
:data:`~advisor.bench.llm.records.DEFINITIONS`.

**Percentiles** are numpy's linear interpolation (what vLLM's ``bench serve`` reports, so figures compare).

**Confidence intervals** of a percentile are distribution-free, from order statistics: among ``n`` samples the
number below the true q-quantile is Binomial(n, q), so the sorted samples ``x(l)`` and ``x(u)`` with
P(l ≤ B < u) ≥ 95 % bracket it (Hahn & Meeker, *Statistical Intervals*, §5.2). Worked example: 600
requests and q = 0.99 give ranks 589 and 599 (the 589th to the 599th fastest request); with fewer than
370 requests no rank bounds a p99 from above at 95 % and the high end is None (unbounded). Latencies of
an open-loop point are not independent, though: near capacity a burst delays every request behind it, so
slow requests come in runs. The count is therefore taken over n / τ effective samples, τ being the
integrated autocorrelation time of "slower than the estimate" in send order (:func:`correlation_time`), and
the ranks scaled back: a point whose tail comes in runs gets the wider interval it deserves, and is measured
longer or left undecided rather than passed on a narrow interval.

**Verdicts** use the same intervals one bound at a time: a bound is met when its interval's high end is at or
under it, missed when the low end is over it, else undecided. A point passes when every bound is met and the
error share is allowed; it fails when one bound is missed (or too many errors); otherwise it is undecided
and the harness measures longer or reports it so. A point whose generator was saturated (send lag) is
invalid, whatever it measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import numpy as np

from advisor.bench.llm.records import (
    LLMSLO,
    LLMPoint,
    Percentiles,
    PointVerdict,
    StreamRecord,
)

CONFIDENCE = 0.95
SEND_LAG_LIMIT_MS = 10.0
"""Send lag above which a request left late; a point with more than 1 % of its requests late (and at least
three) measured the generator, not the server (AIPerf and vLLM users report timer under-delivery at a few
hundred requests/s; 10 ms is 1 % of a 1 s TTFT bound)."""


def _stats() -> ModuleType:
    """scipy.stats, imported on first use: it takes most of a second, and every CLI command imports this."""
    import importlib

    return importlib.import_module("scipy.stats")


def order_statistic_interval(
    n: int, q: float, confidence: float = CONFIDENCE
) -> tuple[int | None, int | None]:
    """1-based ranks (l, u) whose order statistics bracket the q-quantile with ``confidence``; None when no
    rank bounds that side (too few samples)."""
    if n == 0:
        return None, None
    alpha = 1.0 - confidence
    # B ~ Binomial(n, q) samples fall below the quantile; x(l) <= quantile <= x(u) when l <= B < u.
    lo = int(_stats().binom.ppf(alpha / 2, n, q))  # P(B < lo) <= alpha/2
    hi = int(_stats().binom.ppf(1 - alpha / 2, n, q)) + 1
    return (lo if lo >= 1 else None), (hi if hi <= n else None)


def correlation_time(indicator: np.ndarray, max_lag: int = 400) -> float:
    """Integrated autocorrelation time τ = 1 + 2 Σ ρ_k of a 0/1 series in send order (1 for independent
    samples), summed while ρ_k stays above its noise level max(0.05, 2/√n) (after the initial-positive-
    sequence rule of Geyer, Statistical Science 7(4), 1992). Latencies in a queue come in runs (a burst
    delays everyone behind it), so n requests carry the information of about n / τ independent ones."""
    x = np.asarray(indicator, dtype=float)
    n = len(x)
    x = x - x.mean()
    var = float((x * x).mean())
    if n < 4 or var == 0.0:
        return 1.0
    tau = 1.0
    noise = max(0.05, 2.0 / np.sqrt(n))  # a sample autocorrelation under this is indistinguishable from 0
    for k in range(1, min(max_lag, n // 4)):
        rho = float((x[:-k] * x[k:]).mean()) / var
        if rho < noise:
            break
        tau += 2.0 * rho
    return tau


def _interval_ranks(
    series: np.ndarray, q: float, estimate: float, confidence: float
) -> tuple[int | None, int | None]:
    """Order-statistic ranks of the q-quantile's interval, widened for the series' correlation time: the
    binomial count is taken over n / τ effective samples and its ranks scaled back to the n samples."""
    n = len(series)
    # Runs of slow requests are rare at the tail, so their length is read where they are common too: at the
    # 95th percentile. With the tail's own τ alone, a p99 interval of a queue near saturation covered its
    # steady-state value in 87 % of 887-request windows (M/D/8 at 77 % load, simulated); with both, >= 95 %.
    tau = max(correlation_time(series > estimate), correlation_time(series > np.percentile(series, 95)))
    n_eff = max(1, int(n / tau))
    lo, hi = order_statistic_interval(n_eff, q, confidence)
    scale = n / n_eff
    lo_rank = max(1, int(np.floor(lo * scale))) if lo is not None else None
    hi_rank = int(np.ceil(hi * scale)) if hi is not None else None
    return lo_rank, hi_rank if hi_rank is not None and hi_rank <= n else None


def percentiles(values: Sequence[float] | np.ndarray, q_ci: float = 0.99) -> Percentiles:
    """p50/p90/p95/p99, mean and max of ``values`` (ms, in send order), with the 95 % interval of the
    ``q_ci`` quantile (widened for autocorrelation, :func:`correlation_time`)."""
    series = np.asarray(values, dtype=float)
    arr = np.sort(series)
    n = len(arr)
    if n == 0:
        return Percentiles(count=0)
    p50, p90, p95, p99 = (float(v) for v in np.percentile(arr, [50, 90, 95, 99]))
    estimate = float(np.percentile(arr, q_ci * 100))
    lo, hi = _interval_ranks(series, q_ci, estimate, CONFIDENCE)
    return Percentiles(
        count=n,
        mean=float(arr.mean()),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        ci_quantile=q_ci,
        ci_estimate=estimate,
        ci_low=float(arr[lo - 1]) if lo is not None else None,
        ci_high=float(arr[hi - 1]) if hi is not None else None,
        max=float(arr[-1]),
    )


def quantile_interval(
    values: Sequence[float] | np.ndarray, q: float, confidence: float = CONFIDENCE
) -> tuple[float, float | None, float | None]:
    """(estimate, low, high) of the q-quantile of ``values`` in send order; ``high`` None when unbounded."""
    series = np.asarray(values, dtype=float)
    arr = np.sort(series)
    if len(arr) == 0:
        return float("nan"), None, None
    estimate = float(np.percentile(arr, q * 100))
    lo, hi = _interval_ranks(series, q, estimate, confidence)
    return (
        estimate,
        float(arr[lo - 1]) if lo is not None else None,
        float(arr[hi - 1]) if hi is not None else None,
    )


def bound_verdict(values: Sequence[float] | np.ndarray, bound: float, q: float) -> PointVerdict:
    """Whether the q-quantile of ``values`` (in send order) is under ``bound``, with 95 % confidence.

    The test counts the requests over the bound: were the q-quantile exactly the bound, that count would be
    Binomial(n, 1 − q); significantly fewer passes, significantly more fails. Runs of slow requests count
    once per correlation time (:func:`correlation_time` of "over the bound"), so a burst is not taken for
    many independent misses, nor a quiet stretch for many independent passes.
    """
    series = np.asarray(values, dtype=float)
    n = len(series)
    if n == 0:
        return PointVerdict.UNDECIDED
    over = series > bound
    tau = correlation_time(over)
    n_eff = max(1, int(n / tau))
    k_eff = int(over.sum()) / tau
    alpha = 1.0 - CONFIDENCE
    if float(_stats().binom.cdf(np.floor(k_eff), n_eff, 1.0 - q)) < alpha / 2:
        return PointVerdict.PASS
    if k_eff >= 1 and float(_stats().binom.sf(np.ceil(k_eff) - 1, n_eff, 1.0 - q)) < alpha / 2:
        return PointVerdict.FAIL
    return PointVerdict.UNDECIDED


def censored_ttft_ms(record: StreamRecord, cutoff_s: float) -> float | None:
    """TTFT, or for a request still waiting for its first token at ``cutoff_s`` its age then (a lower bound
    that still counts against the SLO: a stalled server is never hidden); None for errors."""
    if record.error is not None:
        return None
    if record.chunk_s:
        return (record.chunk_s[0] - record.intended_s) * 1000.0
    return (cutoff_s - record.intended_s) * 1000.0


def summarize(
    records: list[StreamRecord],
    *,
    seq: int,
    offered_rps: float,
    duration_s: float,
    cutoff_s: float,
    slo: LLMSLO,
    backlog: bool = False,
    confirm: bool = False,
    note: str = "",
) -> LLMPoint:
    """One point from the requests whose *intended* send time fell in its window of ``duration_s``.

    ``cutoff_s`` is when the point stopped waiting: a request without an end then is ``unfinished`` (a
    miss, and its TTFT is censored at its age, :func:`censored_ttft_ms`).
    """
    ok = [r for r in records if r.ok]
    errors = sum(1 for r in records if r.error is not None)
    unfinished = sum(1 for r in records if r.error is None and not r.ok)
    ttft = [v for r in records if (v := censored_ttft_ms(r, cutoff_s)) is not None]
    tpot = [v for r in ok if (v := r.tpot_ms) is not None]
    e2e = [v for r in ok if (v := r.e2e_ms) is not None]
    itl = [gap for r in ok for gap in r.itl_ms]
    met = sum(1 for r in ok if slo.met_by(r))
    lags = [r.send_lag_ms for r in records]
    lag_p99 = float(np.percentile(lags, 99)) if lags else 0.0
    tin = [r.input_tokens for r in ok if r.input_tokens is not None]
    tout = [r.output_tokens for r in ok if r.output_tokens is not None]
    n = len(records)
    attainment = met / n if n else 0.0
    verdict = judge(slo, ttft=ttft, tpot=tpot, e2e=e2e, errors=errors, requests=n, attainment=attainment)
    estimate = _estimates_pass(slo, {"ttft": ttft, "tpot": tpot, "e2e": e2e}, errors, n, attainment)
    late = sum(1 for lag in lags if lag > SEND_LAG_LIMIT_MS)
    saturated = late >= 3 and late > 0.01 * n  # one stall of a busy machine is not a saturated generator
    if saturated:
        verdict = PointVerdict.INVALID
    elif backlog and verdict is not PointVerdict.FAIL:
        verdict = PointVerdict.FAIL
    elif verdict is PointVerdict.PASS and still_rising(ttft):
        verdict = PointVerdict.UNDECIDED
        note = note or "TTFT still rising: not yet in steady state"
    return LLMPoint(
        seq=seq,
        offered_rps=offered_rps,
        achieved_rps=len(ok) / duration_s,
        duration_s=duration_s,
        requests=n,
        errors=errors,
        unfinished=unfinished,
        ttft_ms=percentiles(ttft, slo.quantile),
        tpot_ms=percentiles(tpot, slo.quantile),
        itl_ms=percentiles(itl, slo.quantile),
        e2e_ms=percentiles(e2e, slo.quantile),
        input_tokens_per_s=sum(tin) / duration_s,
        output_tokens_per_s=sum(tout) / duration_s,
        mean_input_tokens=float(np.mean(tin)) if tin else None,
        mean_output_tokens=float(np.mean(tout)) if tout else None,
        goodput_rps=met / duration_s,
        attainment=attainment,
        send_lag_p99_ms=max(lag_p99, 0.0),
        generator_saturated=saturated,
        stopped_early=sum(1 for r in ok if r.stopped_early),
        verdict=verdict,
        estimate_passes=estimate and not backlog and not saturated,
        confirm=confirm,
        backlog=backlog,
        note=note,
    )


def still_rising(ttft_ms: Sequence[float]) -> bool:
    """The queue is still building: the second half's mean TTFT (send order) is over 1.25 × the first's
    (and 5 ms more). Near capacity a queue that starts empty takes long to reach its steady state, and a
    window that ends before then sees a tail far shorter than the server's (at 91 % load an M/D/8 queue
    shows a p99 under half its steady-state value in most 440-request windows): such a pass is undecided.
    """
    n = len(ttft_ms)
    if n < 40:
        return False
    first, second = float(np.mean(ttft_ms[: n // 2])), float(np.mean(ttft_ms[n // 2 :]))
    return second > 1.25 * first + 5.0


def _estimates_pass(
    slo: LLMSLO, values: dict[str, list[float]], errors: int, requests: int, attainment: float
) -> bool:
    """The point estimates alone (no interval) meet every bound: what a short screening point can tell."""
    if requests == 0 or errors / requests > slo.max_error_rate:
        return False
    if slo.min_attainment is not None and attainment < slo.min_attainment:
        return False
    for name, bound in slo.bounds().items():
        if values[name] and float(np.percentile(values[name], slo.quantile * 100)) > bound:
            return False
    return True


def judge(
    slo: LLMSLO,
    *,
    ttft: Sequence[float],
    tpot: Sequence[float],
    e2e: Sequence[float],
    errors: int,
    requests: int,
    attainment: float,
) -> PointVerdict:
    """Pass, fail or undecided against every bound of ``slo`` (see the module docstring)."""
    if requests == 0:
        return PointVerdict.UNDECIDED
    if errors / requests > slo.max_error_rate:
        return PointVerdict.FAIL
    values = {"ttft": ttft, "tpot": tpot, "e2e": e2e}
    verdicts = [bound_verdict(values[name], bound, slo.quantile) for name, bound in slo.bounds().items()]
    if slo.min_attainment is not None:
        verdicts.append(_attainment_verdict(attainment, requests, slo.min_attainment))
    if PointVerdict.FAIL in verdicts:
        return PointVerdict.FAIL
    if all(v is PointVerdict.PASS for v in verdicts):
        return PointVerdict.PASS
    return PointVerdict.UNDECIDED


def _attainment_verdict(attainment: float, n: int, target: float) -> PointVerdict:
    """Clopper-Pearson 95 % interval of the attainment share against ``target``."""
    k = round(attainment * n)
    low = _stats().beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    high = _stats().beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    if low >= target:
        return PointVerdict.PASS
    if high < target:
        return PointVerdict.FAIL
    return PointVerdict.UNDECIDED


def clearly_failing(values: Sequence[float], bound: float, q: float, sent: int) -> bool:
    """Early stop: already so many of the ``sent`` requests exceed ``bound`` that the q-quantile is over it
    with 95 % confidence, whatever the rest of the point brings (asked while the point runs; ``values`` in
    send order, counted over n / τ effective samples as :func:`percentiles` does)."""
    series = np.asarray(values, dtype=float)
    over_mask = series > bound
    over = int(over_mask.sum())
    if sent == 0 or over == 0:
        return False
    tau = correlation_time(over_mask)
    over_eff, sent_eff = max(1, int(over / tau)), max(1, int(sent / tau))
    # P(at least that many of the samples above the q-quantile) were the quantile exactly the bound
    return float(_stats().binom.sf(over_eff - 1, sent_eff, 1 - q)) < (1 - CONFIDENCE) / 2


def ttft_trend_rising(records: list[StreamRecord], rise_ms: float, min_requests: int = 40) -> bool:
    """Backlog: TTFT climbs through the point (the rate is above what the server drains).

    Compares the median TTFT of the last third of the requests (in send order, a request still waiting
    counted by its age, as the caller passes it) with the first third: over capacity the queue, and TTFT
    with it, grows in proportion to time, so the medians part by more than ``rise_ms`` (the caller uses half
    the TTFT bound); below capacity a burst moves a median by far less.
    """
    got = sorted((r for r in records if r.chunk_s and r.error is None), key=lambda r: r.intended_s)
    if len(got) < min_requests:
        return False
    third = len(got) // 3
    first = float(np.median([r.chunk_s[0] - r.intended_s for r in got[:third]]))
    last = float(np.median([r.chunk_s[0] - r.intended_s for r in got[-third:]]))
    return (last - first) * 1000.0 > rise_ms and last > 2.0 * first
