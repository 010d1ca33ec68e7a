"""``advisor bench estimate --llm``: the LLM performance prior on instance types nobody measured.

The contract: ``--llm``, ``--shapes``, ``--input-tokens``, ``--output-tokens``, ``--concurrency``,
``--dtype``, ``--json``; with ``--slo-ttft-p99-ms``/``--slo-tpot-p99-ms`` the capacity at that SLO too.
JSON rows carry ``ttft_ms``, ``tpot_ms`` and ``output_tokens_per_s`` per shape and concurrency. Also here:
``bench suggest`` for a language model (:func:`suggest_llm`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from advisor.capacity.llm import LLMArchitecture, WeightsDtype, estimate_shape, preset
from advisor.cli.options import positive, split_list
from advisor.cli.output import print_json
from advisor.errors import InputError
from advisor.pricing.catalog import Catalog
from advisor.render import bench_llm as view
from advisor.render import llm as llm_rec_view
from advisor.settings import Settings

MAX_CONCURRENCY = 100_000


def architecture(spec: str) -> LLMArchitecture:
    """A preset name, or a path to a Hugging Face config.json (a name with a slash or ending in .json)."""
    if spec.endswith(".json") or "/" in spec or Path(spec).is_file():
        return LLMArchitecture.from_config(Path(spec))
    return preset(spec)


def _concurrency(value: str) -> list[int]:
    out = []
    for item in split_list(value, "--concurrency"):
        if not item.isdigit() or not 1 <= int(item) <= MAX_CONCURRENCY:
            raise InputError(
                f"{item!r} is not a whole number from 1 to {MAX_CONCURRENCY:,}",
                where="--concurrency",
                fix="e.g. --concurrency 1,16,64",
            )
        out.append(int(item))
    return out


def estimate(
    ctx: typer.Context,
    llm: str = typer.Option(..., "--llm", help="Preset (llama-3.1-8b, ...) or a Hugging Face config.json."),
    shapes: str = typer.Option(..., "--shapes", help="Instance types, comma-separated (ml. names too)."),
    input_tokens: int = typer.Option(..., "--input-tokens", min=1, max=10_000_000),
    output_tokens: int = typer.Option(..., "--output-tokens", min=1, max=10_000_000),
    concurrency: str = typer.Option("1,16,64", "--concurrency", help="Requests in flight, comma-separated."),
    dtype: WeightsDtype = typer.Option(
        WeightsDtype.BF16, "--dtype", help="Weights: bf16, fp16, fp8, int8, int4."
    ),
    tp: int | None = typer.Option(
        None,
        "--tp",
        min=1,
        max=64,
        help="Tensor-parallel degree (default: with an SLO the most requests/s an instance, else the smallest"
        " that fits).",
    ),
    slo_ttft_p99_ms: float | None = typer.Option(None, "--slo-ttft-p99-ms"),
    slo_tpot_p99_ms: float | None = typer.Option(None, "--slo-tpot-p99-ms"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """TTFT, TPOT and output tokens/s per shape and concurrency from the performance prior (and the capacity
    at an SLO): for shapes nobody measured. Every figure is an estimate, calibrated on published
    measurements."""
    settings: Settings = ctx.obj
    arch = architecture(llm)
    levels = _concurrency(concurrency)
    ttft = positive(slo_ttft_p99_ms, "--slo-ttft-p99-ms", maximum=3_600_000)
    tpot = positive(slo_tpot_p99_ms, "--slo-tpot-p99-ms", maximum=3_600_000)
    catalog = Catalog.load(settings)
    itypes = [catalog.instance(s) for s in split_list(shapes, "--shapes")]
    estimates = [
        estimate_shape(
            arch,
            dtype,
            it,
            input_tokens,
            output_tokens,
            levels,
            tp=tp,
            slo_ttft_p99_ms=ttft,
            slo_tpot_p99_ms=tpot,
        )
        for it in itypes
    ]
    if as_json:
        rows = [
            {"shape": e.shape, "tp": e.tp, **p.model_dump(), "method": e.method}
            for e in estimates
            for p in e.points
        ]
        shapes_doc = [e.model_dump(exclude={"points"}) for e in estimates]
        print_json(
            {
                "model": arch.name,
                "dtype": dtype.value,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "slo": {"ttft_p99_ms": ttft, "tpot_p99_ms": tpot},
                "estimates": rows,
                "shapes": shapes_doc,
            }
        )
        return
    slo = None
    if ttft is not None or tpot is not None:
        slo = " and ".join(
            f"p99 {n} <= {v:g} ms" for n, v in (("TTFT", ttft), ("TPOT", tpot)) if v is not None
        )
    view.print_llm_estimates(
        estimates,
        model=arch.name,
        dtype=dtype.value,
        sizes=f"{input_tokens} input x {output_tokens} output tokens",
        slo=slo,
    )


def suggest_llm(settings: Settings, model: str, limit: int, as_json: bool) -> None:
    """``bench suggest --model NAME`` for a language model of a stored recommendation (no --slo-p99-ms)."""
    from advisor.recommendation.llm import measurement_priorities
    from advisor.recommendation.store import stored_llm_model

    found = stored_llm_model(settings, model)
    if found is None:
        raise InputError(
            f"{model!r} is no language model of a stored recommendation, and a request/response model needs"
            " --slo-p99-ms",
            where="--slo-p99-ms",
            fix=f"pass --slo-p99-ms, or run `advisor recommend SCENARIO.yaml` with {model} as an llm: model",
        )
    rec_id, m = found
    rows = measurement_priorities(m)[:limit]
    if as_json:
        print_json({"model": model, "recommendation": rec_id, "suggestions": rows})
        return
    llm_rec_view.print_measurement_priorities(m, rows, rec_id)
