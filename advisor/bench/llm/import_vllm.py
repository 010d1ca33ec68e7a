"""vLLM ``vllm bench serve --save-result [--save-detailed] [--append-result]`` results, read.

Learned from vllm-project/vllm ``vllm/benchmarks/serve.py`` at 009e6d4a1cd6ba3fb2a9fc00f4ec06f5297232a1:
``benchmark()`` builds the result dict (duration, completed, failed, total_input_tokens, total_output_tokens,
request_throughput, output_throughput, latencies, queue_times and, with ``--save-detailed``, input_lens,
output_lens, start_times, ttfts, itls, generated_texts, errors), ``process_one_metric()`` adds
``mean_/median_/std_/p{X}_{metric}_ms`` for the metrics of ``--percentile-metrics`` (ttft, tpot, itl by
default) at the ``--metric-percentiles`` (99 by default), ``main_async()`` adds date, backend, model_id,
request_rate ("inf" for all at once), burstiness and max_concurrency; ``--append-result`` writes one object a
line. ``vllm/benchmarks/lib/endpoint_request_func.py`` at 02cfb534df5674737558730b10f23d1b7aef9b7c
(``RequestFuncOutput``): times in seconds from the actual send; a failure keeps ttft 0.0.

vLLM's TPOT ((latency - ttft) / (tokens - 1) over requests with two tokens or more) and ITL (every chunk gap,
pooled) are advisor's; its TTFT and E2E start at the actual send, so per-request data are rebuilt from when
the request was due (send time less its client queue time).
"""

from __future__ import annotations

import numpy as np

from advisor.bench.llm.import_common import (
    ImportedBench,
    JsonNode,
    figures,
    opt_items,
    show,
)
from advisor.bench.llm.records import Api, StreamRecord


def _vllm_fields(metric: str) -> tuple[str, ...]:
    return (f"mean_{metric}_ms", f"median_{metric}_ms", *(f"p{q}_{metric}_ms" for q in (90, 95, 99)), "")


_V_SEND = (
    "vLLM times TTFT and E2E from the actual send, after client-side queueing; advisor's start at the "
    "intended send time"
)
_V_QUEUE = (
    "TTFT and E2E rebuilt per request as vLLM's ttft/latency plus its client queue time (from when the "
    "request was due, as vLLM's loop saw it)"
)
_V_CHAT = (
    "vLLM's chat client takes the first chunk with choices as the first token even when its content is "
    "empty (the role chunk); advisor takes the first chunk with content, so TTFT may read low and ITL has "
    "an extra gap"
)
_V_COUNTS = "vLLM does not state how many samples its TPOT and ITL figures cover (count stored as 0)"
_V_LISTS = ("itls", "errors", "output_lens", "input_lens", "latencies", "start_times", "queue_times")


def read_vllm(doc: JsonNode) -> tuple[list[ImportedBench], list[str]]:
    """Each result (a line of an appended file) as an :class:`ImportedBench`, and inexact mappings."""
    results = doc.items() if isinstance(doc.value, list) else [doc]
    benches: list[ImportedBench] = []
    warnings: list[str] = []
    for r in results:
        bench, notes = _vllm_one(r)
        benches.append(bench)
        warnings += notes
    return benches, warnings


def _vllm_one(r: JsonNode) -> tuple[ImportedBench, list[str]]:
    warnings: list[str] = []
    backend = r.opt_text("backend") or r.opt_text("endpoint_type")
    api = {"openai-chat": Api.CHAT, "openai": Api.COMPLETIONS, "vllm": Api.COMPLETIONS}.get(backend or "")
    if api is Api.CHAT:
        warnings.append(_V_CHAT)
    rate_node = r.req("request_rate")
    rate: float | None = None
    if rate_node.value == "inf":
        pacing = "request rate inf (every request sent at t = 0)"
    else:
        rate = rate_node.num()
        if rate <= 0:
            raise rate_node.error(f"expected a rate > 0, got {show(rate_node.value)}")
        pacing = f"{rate:g} requests/s"
    if r.has("ramp_up_strategy"):
        rate = None
        pacing = f"{r.req('ramp_up_strategy').text()} ramp-up"
    concurrency = r.opt_count("max_concurrency")
    if concurrency is not None:
        rate = None
        pacing += f", at most {concurrency} in flight"
    burstiness = r.opt_num("burstiness")
    if rate is not None and burstiness is not None and burstiness != 1.0:
        pacing += f", gamma arrivals (burstiness {burstiness:g})"
        warnings.append(f"{rate:g} requests/s: gamma arrivals (burstiness {burstiness:g}), not Poisson")
    duration = r.req("duration").num()
    if duration <= 0:
        raise r.req("duration").error("expected a duration > 0 s")
    completed = r.req("completed").count()
    failed = r.opt_count("failed")
    bench = ImportedBench(
        model=r.opt_text("model_id"), api=api, rate_rps=rate, pacing=pacing, duration_s=duration
    )
    if r.has("ttfts") and r.has("itls") and r.has("errors") and r.has("output_lens"):
        records, notes = _vllm_records(r, completed)
        bench.records = records
        bench.cutoff_s = max([x.end_s or x.sent_s for x in records], default=0.0)
        return bench, warnings + notes
    if failed is None:
        prompts = r.opt_count("num_prompts")
        if prompts is None or prompts < completed:
            raise r.error("neither 'failed' nor 'num_prompts' says how many requests failed")
        failed = prompts - completed
        warnings.append("vLLM result without 'failed': failures counted as num_prompts - completed")
    bench.requests, bench.errors = completed + failed, failed
    bench.achieved_rps = r.req("request_throughput").nonneg()
    total_in = r.opt_num("total_input_tokens")
    total_out = r.opt_num("total_output_tokens")
    out_tps = r.opt_num("output_throughput")
    bench.input_tokens_per_s = total_in / duration if total_in is not None else 0.0
    bench.output_tokens_per_s = out_tps if out_tps is not None else (total_out or 0.0) / duration
    if completed:
        bench.mean_input_tokens = total_in / completed if total_in is not None else None
        bench.mean_output_tokens = total_out / completed if total_out is not None else None
        # ttfts and e2els hold one value per successful request (calculate_metrics); tpots and itls do not.
        bench.ttft = figures(r, _vllm_fields("ttft"), count=completed)
        bench.tpot = figures(r, _vllm_fields("tpot"))
        bench.itl = figures(r, _vllm_fields("itl"))
        bench.e2e = figures(r, _vllm_fields("e2el"), count=completed)
        warnings += [_V_SEND, _V_COUNTS]
    queue = r.get("queue_times")
    if queue is not None and concurrency is None and queue.items():
        lags = [q.nonneg() * 1000.0 for q in queue.items()]
        bench.send_lag_p99_ms = float(np.percentile(lags, 99))  # as metrics.summarize does
    return bench, warnings


def _vllm_records(r: JsonNode, completed: int) -> tuple[list[StreamRecord], list[str]]:
    """Every request of a ``--save-detailed`` result as a StreamRecord (times relative to the first send)."""
    lists = {k: opt_items(r, k) for k in _V_LISTS}
    ttfts = r.req("ttfts").items()
    for name, seq in lists.items():
        if seq is not None and len(seq) != len(ttfts):
            raise r.req(name).error(f"has {len(seq)} entries, ttfts has {len(ttfts)}")
    itls, errors, outs = r.req("itls").items(), r.req("errors").items(), r.req("output_lens").items()
    ins, starts, queues, latencies = (
        lists[k] for k in ("input_lens", "start_times", "queue_times", "latencies")
    )
    n = len(ttfts)
    origin = min((s.num() for s in starts), default=0.0) if starts else 0.0
    records: list[StreamRecord] = []
    for i in range(n):
        error = errors[i].value
        if error is not None and not isinstance(error, str):
            raise errors[i].error(f"expected text, got {show(error)}")
        start = starts[i].num() - origin if starts else 0.0
        intended = start - (queues[i].nonneg() if queues else 0.0)
        ttft = ttfts[i].nonneg()
        inputs = ins[i].count() if ins else None
        if error or ttft <= 0:  # RequestFuncOutput: a failure keeps ttft 0.0 (its error may be "")
            records.append(
                StreamRecord(
                    intended_s=intended,
                    sent_s=start,
                    input_tokens=inputs,
                    error=error or "failed (no reason)",
                )
            )
            continue
        chunks = [start + ttft]
        for gap in itls[i].items():
            chunks.append(chunks[-1] + gap.nonneg())
        # latency = last token chunk - send (endpoint_request_func), i.e. ttft + sum(itl) when not saved
        end = start + (latencies[i].nonneg() if latencies else chunks[-1] - start)
        records.append(
            StreamRecord(
                intended_s=intended,
                sent_s=start,
                chunk_s=chunks,
                end_s=end,
                input_tokens=inputs,
                output_tokens=outs[i].count(),
            )
        )
    notes = [_V_QUEUE if queues else _V_SEND]
    ok = sum(1 for x in records if x.ok)
    if ok != completed:
        notes.append(f"the per-request lists hold {ok} successful requests, vLLM's summary says {completed}")
    return records, notes
