"""Language models in the CLI table and the markdown: the mix, its routing, $/M tokens and the baselines.

Every figure is read from the stored :class:`~advisor.recommendation.llm.LLMModelRecommendation`.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from advisor.recommendation.llm import LLMModelRecommendation, MeasurementPriority
from advisor.render.numbers import pct, usd

ACTION_WORDS = {"change": "change", "new": "new", "keep_current": "keep current"}
BASELINE_WORDS = {
    "best_single_type": "best single type",
    "static_peak_mix": "peak mix all month",
    "current": "today",
    "per_token_api": "per-token API",
    "ec2": "on EC2",
    "sagemaker": "on SageMaker",
}
ROUTES_SHOWN = 6
PLATFORM_WORDS = {"ec2": "EC2", "sagemaker": "SageMaker endpoints"}


def _per_dollar(m: LLMModelRecommendation) -> str:
    value = m.tokens.output_tokens_per_s_per_usd_per_hour
    return "—" if value is None else f"{value:,.0f} output tokens/s per $/h"


def mix_words(m: LLMModelRecommendation) -> str:
    """``1–2 x g6e.xlarge (a replica on 1 L40S); 0–1 x inf2.xlarge (...)``: each group's instances over the
    day."""
    parts = []
    for g in m.groups:
        count = (
            f"{g.min_instances}"
            if g.min_instances == g.max_instances
            else f"{g.min_instances}–{g.max_instances}"
        )
        span = f"{g.tensor_parallel} {g.device}" if g.tensor_parallel > 1 else f"1 {g.device}"
        replicas = f", {g.replicas_per_instance} replicas each" if g.replicas_per_instance > 1 else ""
        parts.append(f"{count} x {g.instance_type} (a replica on {span}{replicas})")
    return "; ".join(parts)


def per_m(value: float | None) -> str:
    return "—" if value is None else f"${value:,.3f}"


def _saving(m: LLMModelRecommendation, name: str) -> str:
    base = next((b for b in m.baselines if b.name == name), None)
    if base is None or base.usd_per_month <= 0:
        return "—"
    return pct((base.usd_per_month - m.effective_usd_per_month) / base.usd_per_month * 100)


def routing_lines(m: LLMModelRecommendation) -> list[str]:
    """The busiest buckets and where they go: ``in 1k-2k x out 250-500 (26.4%): 75% g6e.xlarge tp1, ...``."""
    lines = []
    for r in sorted(m.routing, key=lambda r: -r.share_of_requests)[:ROUTES_SHOWN]:
        to = ", ".join(f"{share:.0%} {name}" for name, share in sorted(r.to.items(), key=lambda kv: -kv[1]))
        lines.append(f"{r.bucket} ({r.share_of_requests:.1%} of requests): {to}")
    if len(m.routing) > ROUTES_SHOWN:
        lines.append(f"... and {len(m.routing) - ROUTES_SHOWN} smaller buckets (all in the JSON)")
    return lines


def llm_parts(models: list[LLMModelRecommendation]) -> list[RenderableType]:
    """The CLI's section: a table, then per model its routing and baselines."""
    table = Table(title="Language models", title_justify="left")
    for col in (
        "model",
        "action",
        "instances over the day",
        "$/month",
        "$/M input",
        "$/M output",
        "$/M blended",
        "vs best single type",
        "vs today",
    ):
        table.add_column(
            col, justify="left" if col in ("model", "action", "instances over the day") else "right"
        )
    for m in models:
        table.add_row(
            m.model,
            ACTION_WORDS[m.action],
            escape(mix_words(m)),
            usd(m.usd_per_month),
            per_m(m.tokens.usd_per_m_input),
            per_m(m.tokens.usd_per_m_output),
            per_m(m.tokens.usd_per_m_blended),
            _saving(m, "best_single_type"),
            _saving(m, "current"),
        )
    out: list[RenderableType] = [table]
    for m in models:
        out.append(
            f"[bold]{escape(m.model)}[/bold] ({escape(m.llm)}, {m.dtype}, {m.engine}): p99 TTFT ≤ "
            f"{m.slo_ttft_p99_ms:g} ms and TPOT ≤ {m.slo_tpot_p99_ms:g} ms; peak {m.peak_rps:.3g} requests/s;"
            f" on {PLATFORM_WORDS[m.platform]}; instances ordered {m.start_up_s / 60:.1f} min ahead of the"
            f" demand (a replica's start-up: node, image, weights); {_per_dollar(m)}"
        )
        out += [f"  route {escape(line)}" for line in routing_lines(m)]
        base = "; ".join(
            f"{BASELINE_WORDS[b.name]} ({escape(b.detail)}) {usd(b.usd_per_month)}/month" for b in m.baselines
        )
        out.append(f"  baselines: {base}")
        if m.break_even_rps is not None:
            out.append(
                f"  self-hosting costs what the per-token API bills at {m.break_even_rps:.3g}"
                " requests/s on average"
            )
        out += [f"  [dim]{escape(note)}[/dim]" for note in m.notes]
    return out


def llm_markdown(models: list[LLMModelRecommendation]) -> list[str]:
    """The markdown's section: the same figures as :func:`llm_parts`."""
    if not models:
        return []
    out = [
        "",
        "## Language models",
        "",
        "| model | action | instances over the day | $/month | $/M input | $/M output | $/M blended |"
        " vs best single type | vs today |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in models:
        out.append(
            f"| {m.model} | {ACTION_WORDS[m.action]} | {mix_words(m)} | {usd(m.usd_per_month)} |"
            f" {per_m(m.tokens.usd_per_m_input)} | {per_m(m.tokens.usd_per_m_output)} |"
            f" {per_m(m.tokens.usd_per_m_blended)} | {_saving(m, 'best_single_type')} |"
            f" {_saving(m, 'current')} |"
        )
    for m in models:
        out += [
            "",
            f"### {m.model}",
            "",
            f"`{m.llm}` ({m.dtype}) on {m.engine}; p99 TTFT ≤ {m.slo_ttft_p99_ms:g} ms and TPOT ≤"
            f" {m.slo_tpot_p99_ms:g} ms; peak {m.peak_rps:.3g} requests/s on {PLATFORM_WORDS[m.platform]}; "
            f"{m.input_tokens_per_month / 1e6:,.0f}M input and {m.output_tokens_per_month / 1e6:,.0f}M"
            f" output tokens a month; {_per_dollar(m)}.",
            "",
            "Routing (request-size bucket → instance types):",
            "",
        ]
        out += [f"- {line}" for line in routing_lines(m)]
        out += ["", "Baselines:", ""]
        out += [
            f"- {BASELINE_WORDS[b.name]} ({b.detail}): {usd(b.usd_per_month)}/month, "
            f"{per_m(b.usd_per_m_blended)}/M tokens"
            for b in m.baselines
        ]
        if m.break_even_rps is not None:
            out.append(f"- break-even with the per-token API: {m.break_even_rps:.3g} requests/s on average")
        out += [f"- note: {n}" for n in m.notes]
    return out


def print_measurement_priorities(
    m: LLMModelRecommendation, rows: list[MeasurementPriority], rec_id: str
) -> None:
    """``bench suggest`` for a language model: where a bench run would remove the most uncertain spend."""
    from advisor.render.console import console

    if not rows:
        console.print(f"{escape(m.model)}: every capacity its plan rests on is measured ({rec_id})")
        return
    title = f"What to measure next for {escape(m.model)} (recommendation {rec_id})"
    table = Table(title=title, title_justify="left")
    for col in (
        "instance type",
        "TP",
        "bucket",
        "capacity from",
        "± band",
        "$/month on it",
        "$/month at risk",
    ):
        table.add_column(col, justify="right" if col.startswith(("±", "$")) or col == "TP" else "left")
    for r in rows:
        table.add_row(r.instance_type, str(r.tensor_parallel), escape(r.bucket), r.method, f"{r.band:.0%}",
                      usd(r.usd_per_month), usd(r.usd_at_risk_per_month))  # fmt: skip
    console.print(table)
    top = rows[0]
    console.print(
        f"Measure {escape(m.model)} on {top.instance_type} with the requests of {escape(top.bucket)}:"
        f" `advisor bench run --model {escape(m.model)} --endpoint URL --shapes {top.instance_type}"
        f" --dataset TRACE --per-bucket --slo-ttft-p99-ms {m.slo_ttft_p99_ms:g}"
        f" --slo-tpot-p99-ms {m.slo_tpot_p99_ms:g}` against a server there (or"
        f" `advisor bench jobs --llm-model ... --instance-types {top.instance_type}`), then recommend again."
    )
