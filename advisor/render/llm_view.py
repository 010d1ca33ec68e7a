"""A language model as the dashboard shows it: the token prices, the mix, the routing and the baselines as
tables in words, and the overview's line per language model.

Every figure is read from the stored :class:`~advisor.recommendation.llm.LLMModelRecommendation` and written
with the CLI's formats (:func:`~advisor.render.numbers.usd`, :func:`~advisor.render.llm.per_m`,
:func:`~advisor.render.numbers.pct`), so a page and ``advisor recommend`` print the same text. Nothing here is
computed that the document does not store, except sums and shares of its own figures (a group's $/month is
its instance-hours × its price; a request's mean sizes are its buckets' weighted by their shares).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from advisor.errors import NotFoundError
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import Recommendation
from advisor.recommendation.totals import savings_pct
from advisor.render.llm import BASELINE_WORDS, PLATFORM_WORDS, per_m
from advisor.render.numbers import pct, usd

LLM_CAPACITY_WORDS = {
    "measured": "measured",
    "calibrated": "the prior, calibrated on this device's runs",
    "prior": "the prior",
}


def llm_model(rec: Recommendation, name: str) -> LLMModelRecommendation:
    """The language model ``name`` of ``rec``; NotFoundError with the close names otherwise."""
    for m in rec.llm_models:
        if m.model == name:
            return m
    raise NotFoundError("language model", name, known=[m.model for m in rec.llm_models])


def llm_token_prices(m: LLMModelRecommendation) -> dict[str, str]:
    """The page's headline figures, as the CLI's table writes them: the plan's $/month and its $/M input,
    output and blended tokens (``—`` where the document has none)."""
    return {
        "$/month": usd(m.usd_per_month),
        "$/M input tokens": per_m(m.tokens.usd_per_m_input),
        "$/M output tokens": per_m(m.tokens.usd_per_m_output),
        "$/M blended tokens": per_m(m.tokens.usd_per_m_blended),
    }


def llm_deployed_words(m: LLMModelRecommendation) -> str | None:
    """What ``advisor apply`` runs (a fixed router split, each group scaled on its own load) and its
    $/month beside the plan's, from the document's deployment section; None without one."""
    d = m.deployment
    if d is None:
        return None
    split = "the peak mix's routing" if d.split == "peak_mix" else "every request to the best single type"
    groups = ", ".join(f"{g.min_replicas}–{g.max_replicas} x {g.option}" for g in d.groups)
    return (
        f"As deployed by `advisor apply` (a fixed router split: {split}): {groups} replicas, "
        f"{usd(d.usd_per_month)}/month against the plan's {usd(m.usd_per_month)} (the plan may change types "
        "between traffic levels, which a fixed split cannot)."
    )


def mean_request_tokens(m: LLMModelRecommendation) -> tuple[float, float]:
    """A request's mean input and output tokens: the buckets' means weighted by their shares of requests
    (the sizes the plan's tokens a month are counted with)."""
    share = sum(r.share_of_requests for r in m.routing) or 1.0
    tokens_in = sum(r.share_of_requests * r.input_tokens for r in m.routing) / share
    tokens_out = sum(r.share_of_requests * r.output_tokens for r in m.routing) / share
    return tokens_in, tokens_out


def llm_serving_words(m: LLMModelRecommendation) -> str:
    """``llama-3.1-8b (bf16) on vllm, EC2; p99 TTFT ≤ 2000 ms and TPOT ≤ 100 ms; peak 6 requests/s``."""
    return (
        f"{m.llm} ({m.dtype}) on {m.engine}, {PLATFORM_WORDS[m.platform]}; p99 TTFT ≤"
        f" {m.slo_ttft_p99_ms:g} ms and TPOT ≤ {m.slo_tpot_p99_ms:g} ms; peak {m.peak_rps:.3g} requests/s;"
        f" the mix solved at {m.levels} traffic levels, instances ordered {m.start_up_s / 60:.1f} min ahead"
        " of the demand"
    )


def llm_mix_table(m: LLMModelRecommendation) -> pd.DataFrame:
    """One row per instance group of the mix: its type, degree, device, autoscaling bounds, price,
    instance-hours and $/month over the month, the capacity of an instance on the busiest bucket and where
    the capacities come from."""
    busiest = max(m.routing, key=lambda r: r.share_of_requests).bucket if m.routing else None
    rows = [
        {
            "instance_type": g.instance_type,
            "gpus_per_replica": g.tensor_parallel,
            "replicas_per_instance": g.replicas_per_instance,
            "device": g.device,
            "min_instances": g.min_instances,
            "max_instances": g.max_instances,
            "usd_per_hour": g.usd_per_hour,
            "instance_hours_per_month": g.instance_hours_per_month,
            "usd_per_month": g.instance_hours_per_month * g.usd_per_hour,
            "busiest_bucket_rps_per_instance": (
                g.capacity_rps_per_instance.get(busiest) if busiest is not None else None
            ),
            "capacity_from": LLM_CAPACITY_WORDS.get(g.capacity_method, g.capacity_method),
        }
        for g in m.groups
    ]
    return pd.DataFrame(rows, columns=_MIX_COLUMNS)


_MIX_COLUMNS = [
    "instance_type",
    "gpus_per_replica",
    "replicas_per_instance",
    "device",
    "min_instances",
    "max_instances",
    "usd_per_hour",
    "instance_hours_per_month",
    "usd_per_month",
    "busiest_bucket_rps_per_instance",
    "capacity_from",
]


def llm_routing_table(m: LLMModelRecommendation) -> pd.DataFrame:
    """One row per request-size bucket, busiest first: its share of the requests, its mean sizes and where
    the peak mix sends it (``75% g6e.xlarge tp1, 25% g5.xlarge tp1``)."""
    rows = [
        {
            "bucket": r.bucket,
            "share_of_requests_pct": 100 * r.share_of_requests,
            "mean_input_tokens": r.input_tokens,
            "mean_output_tokens": r.output_tokens,
            "routed_to": ", ".join(
                f"{share:.0%} {name}" for name, share in sorted(r.to.items(), key=lambda kv: -kv[1])
            ),
        }
        for r in sorted(m.routing, key=lambda r: -r.share_of_requests)
    ]
    columns = ["bucket", "share_of_requests_pct", "mean_input_tokens", "mean_output_tokens", "routed_to"]
    return pd.DataFrame(rows, columns=columns)


def llm_baseline_table(m: LLMModelRecommendation) -> pd.DataFrame:
    """The plan, then each stored baseline (best single type, the peak mix all month, the other platform,
    the per-token API, today): $/month, $/M blended tokens as stored, and what the recommendation saves
    against each (its effective cost, as the CLI's "vs" columns)."""
    rows: list[dict[str, Any]] = [
        {
            "plan": "Recommended",
            "detail": _groups_words(m),
            "usd_per_month": m.usd_per_month,
            "usd_per_m_blended": per_m(m.tokens.usd_per_m_blended),
            "saves": "—",  # the reference the other rows' savings are taken from
        }
    ]
    rows += [
        {
            "plan": _first_upper(BASELINE_WORDS.get(b.name, b.name)),
            "detail": b.detail,
            "usd_per_month": b.usd_per_month,
            "usd_per_m_blended": per_m(b.usd_per_m_blended),
            "saves": pct(savings_pct(b.usd_per_month, m.effective_usd_per_month)),
        }
        for b in m.baselines
    ]
    return pd.DataFrame(rows, columns=["plan", "detail", "usd_per_month", "usd_per_m_blended", "saves"])


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]  # "per-token API" → "Per-token API", the rest kept


def _groups_words(m: LLMModelRecommendation) -> str:
    return " + ".join(f"{g.min_instances}–{g.max_instances} x {g.option}" for g in m.groups)


def llm_overview_rows(rec: Recommendation) -> pd.DataFrame:
    """The overview's line per language model, with the columns of the classic models' table that apply:
    model, team, action, platform, instance types, instances (fewest–most per type), purchase, today's and
    the recommended $/month (its effective cost, as the totals count it) and the saving."""
    rows = []
    for m in rec.llm_models:
        today = m.current_usd_per_month
        cost = m.effective_usd_per_month
        rows.append(
            {
                "model": m.model,
                "team": m.team,
                "action": m.action,
                "platform": m.platform,
                "instance_types": ", ".join(g.instance_type for g in m.groups),
                "replicas": ", ".join(f"{g.min_instances}–{g.max_instances}" for g in m.groups),
                "purchase": "on-demand",
                "today_usd_per_month": today,
                "recommended_usd_per_month": cost,
                "saving_usd_per_month": None if today is None else today - cost,
                "saving_pct": savings_pct(today, cost),
            }
        )
    return pd.DataFrame(rows, columns=_OVERVIEW_COLUMNS)


_OVERVIEW_COLUMNS = [
    "model",
    "team",
    "action",
    "platform",
    "instance_types",
    "replicas",
    "purchase",
    "today_usd_per_month",
    "recommended_usd_per_month",
    "saving_usd_per_month",
    "saving_pct",
]
