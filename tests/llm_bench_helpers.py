"""Stored LLM bench results for the surfaces' tests: points summarised from synthetic streamed requests whose
TTFT and TPOT climb with the offered rate and cross the SLO just above the capacity given."""

from __future__ import annotations

from pathlib import Path

from advisor.bench.llm.metrics import summarize
from advisor.bench.llm.records import LLMSLO, LLMCapacity, LLMPoint, SizeSpec, StreamRecord
from advisor.bench.llm.store import save
from advisor.settings import Settings
from advisor.store import Store

LLM_MODEL = "chat-llm"
TTFT_SLO_MS = 2000.0
TPOT_SLO_MS = 100.0
SHARES = (0.25, 0.5, 0.75, 1.0, 1.25)  # offered rate / capacity of each point; the last one fails
REQUESTS_PER_POINT = 500  # enough for the p99's 95 % interval to have both ends
INPUT_TOKENS = 300
OUTPUT_TOKENS = 20


def llm_slo(e2e_ms: float | None = None) -> LLMSLO:
    return LLMSLO(ttft_p99_ms=TTFT_SLO_MS, tpot_p99_ms=TPOT_SLO_MS, e2e_p99_ms=e2e_ms)


def _requests(rate: float, share: float) -> list[StreamRecord]:
    """REQUESTS_PER_POINT requests sent 1/rate apart; the slowest TTFT and TPOT are 90 % of their bounds at
    share 1 and far above them at 1.25 (the load term grows as share**8), the slow ones scattered."""
    load = 0.2 + 0.7 * share**8
    out = []
    for i in range(REQUESTS_PER_POINT):
        # 0..1, scattered over the point (a prime stride): slow requests in one run would widen the p99's
        # interval (advisor.bench.llm.metrics.correlation_time), which is not what these results are for
        spread = ((i * 7919) % REQUESTS_PER_POINT + 1) / REQUESTS_PER_POINT
        ttft_s = TTFT_SLO_MS / 1000 * load * spread
        tpot_s = TPOT_SLO_MS / 1000 * load * spread
        start = i / rate
        chunks = [start + ttft_s + k * tpot_s for k in range(OUTPUT_TOKENS)]
        out.append(
            StreamRecord(
                intended_s=start,
                sent_s=start,
                chunk_s=chunks,
                end_s=chunks[-1],
                input_tokens=INPUT_TOKENS,
                output_tokens=OUTPUT_TOKENS,
            )
        )
    return out


def llm_points(capacity_rps: float, slo: LLMSLO) -> list[LLMPoint]:
    points = []
    for seq, share in enumerate(SHARES):
        rate = capacity_rps * share
        points.append(
            summarize(
                _requests(rate, share),
                seq=seq,
                offered_rps=rate,
                duration_s=REQUESTS_PER_POINT / rate,
                cutoff_s=1e6,
                slo=slo,
                confirm=share == 1.0,
            )
        )
    return points


def llm_result(
    run_id: str,
    shape: str,
    capacity_rps: float,
    *,
    bucket: str | None = None,
    tool: str = "advisor",
    warnings: list[str] | None = None,
    with_points: bool = True,
    e2e_ms: float | None = None,
) -> LLMCapacity:
    """A completed result whose capacity is ``capacity_rps`` (true capacity below 1.25 × it)."""
    slo = llm_slo(e2e_ms)
    points = llm_points(capacity_rps, slo) if with_points else []
    at = next((p for p in points if p.offered_rps == capacity_rps), None)
    return LLMCapacity(
        run_id=run_id,
        model=LLM_MODEL,
        shape=shape,
        slo=slo,
        sizes=SizeSpec(kind="fixed", input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS, bucket=bucket),
        bucket=bucket,
        capacity_rps=capacity_rps,
        capacity_high_rps=capacity_rps * SHARES[-1],
        input_tokens_per_s=at.input_tokens_per_s if at else capacity_rps * INPUT_TOKENS,
        output_tokens_per_s=at.output_tokens_per_s if at else capacity_rps * OUTPUT_TOKENS,
        points=points,
        tool=tool,
        warnings=warnings or [],
    )


BUCKETS = {  # bucket label -> capacity (requests/s) of the per-bucket run
    "in 250-500 x out 25-100": 8.0,
    "in 250-500 x out 100-250": 5.0,
    "in 1k-2k x out 100-250": 2.5,
}


def seed_llm_runs(home: Path) -> tuple[LLMCapacity, list[LLMCapacity]]:
    """Into the store of ``home``: an advisor run with points (capacity 4.2 requests/s on g5.xlarge) and a
    per-bucket run imported from vLLM (one whole-distribution result and :data:`BUCKETS`, without points)."""
    whole = llm_result("llm-g5", "g5.xlarge", 4.2)
    per_bucket = [
        llm_result("llm-g6-buckets", "g6.xlarge", 3.0, tool="vllm", warnings=["vLLM's TPOT mapped"]),
        *(
            llm_result("llm-g6-buckets", "g6.xlarge", cap, bucket=label, tool="vllm", with_points=False)
            for label, cap in BUCKETS.items()
        ),
    ]
    with Store(Settings(home=home).db_path) as store:
        for r in [whole, *per_bucket]:
            save(store, r, target="http://127.0.0.1:8000/v1/chat/completions")
    return whole, per_bucket
