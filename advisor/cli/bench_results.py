"""``advisor bench show|export|suggest|plan|import``: what is stored, what to measure next, Jobs, imports.

Registered on the ``advisor bench`` app by :mod:`advisor.cli.bench`; tables: :mod:`advisor.render.bench`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from advisor.bench import results
from advisor.bench.k8s import extract_json, read_report, write_jobs
from advisor.bench.llm import imports as llm_imports
from advisor.bench.llm import store as llm_store
from advisor.bench.llm.k8s import VLLM_IMAGE, LLMJobSpec, write_llm_jobs
from advisor.bench.llm.records import DEFINITIONS, LLMSLO, LLMBenchReport, LLMCapacity
from advisor.bench.llm.results import llm_points_csv
from advisor.bench.measurements import BenchReport
from advisor.bench.servers.registry import get_model
from advisor.capacity import (
    GpuWorkload,
    capacity_table,
    default_candidates,
    read_evidence,
    suggest_measurements,
)
from advisor.cli import bench_llm as llm
from advisor.cli.bench_estimate import suggest_llm
from advisor.cli.options import from_flags, split_list
from advisor.cli.output import console, print_json
from advisor.domain import SLO, PurchaseOption
from advisor.errors import InputError
from advisor.platforms.kubernetes import DEFAULT_K8S_VERSION
from advisor.platforms.targets import DnsLabel
from advisor.pricing.catalog import Catalog
from advisor.render import bench as view
from advisor.render import bench_llm as llm_view
from advisor.settings import Settings
from advisor.store import Store


def slo_from(p99_ms: float, max_error_rate: float) -> SLO:
    """The SLO of ``--slo-p99-ms`` and ``--max-error-rate``, checked."""
    if not (math.isfinite(p99_ms) and 0 < p99_ms <= 3_600_000):
        raise InputError(
            f"the SLO must be a positive number of ms, not {p99_ms:g}", where="--slo-p99-ms", fix="e.g. 200"
        )
    if not 0 <= max_error_rate <= 1:
        raise InputError(
            f"{max_error_rate:g} is not a share", where="--max-error-rate", fix="use 0..1, e.g. 0.001"
        )
    return SLO(latency_p99_ms=p99_ms, max_error_rate=max_error_rate)


def show(
    ctx: typer.Context,
    run_id: str | None = typer.Option(None, "--run", help="One run with its points (default: list runs)."),
    model: str | None = typer.Option(None, "--model", help="Only runs of this model."),
    limit: int = typer.Option(30, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stored runs (newest first), or one run's points and capacity."""
    settings: Settings = ctx.obj
    with Store.for_reading(settings.db_path) as store:
        if run_id is None:
            rows = results.list_runs(store, model=model, limit=limit)
            llm_rows = llm_store.list_runs(store, model=model, limit=limit)
            if as_json:
                print_json({"runs": rows, "llm_runs": llm_rows})
                return
            if rows or not llm_rows:
                view.print_runs(rows)
            if llm_rows:
                llm_view.print_runs(llm_rows)
            return
        if llm_store.has_run(store, run_id):
            llm_results = llm_store.load_run(store, run_id)
            if as_json:
                print_json({"run": run_id, "results": llm_results})
                return
            for r in llm_results:
                llm_view.print_capacity(r, with_points=True)
            console.print(llm_view.definitions_note())
            return
        result = results.load_result(store, run_id)
    print_json(result) if as_json else view.print_result(result)


def export(
    ctx: typer.Context,
    fmt: str = typer.Option("csv", "--format", help="csv (one row per point) or json (runs with points)."),
    run_ids: list[str] = typer.Option(
        [], "--run", help="Runs to export (default: all, or those of --model)."
    ),
    model: str | None = typer.Option(None, "--model"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
) -> None:
    """Export runs and points for sharing."""
    if fmt not in ("csv", "json"):
        raise InputError(f"unknown format {fmt!r}", where="--format", fix="use csv or json")
    settings: Settings = ctx.obj
    with Store.for_reading(settings.db_path) as store:
        classic_ids = [i for i in run_ids if not llm_store.has_run(store, i)]
        llm_ids = [i for i in run_ids if llm_store.has_run(store, i)]
        if not run_ids:
            classic_ids = [r["id"] for r in results.list_runs(store, model=model, limit=1_000_000)]
            llm_ids = sorted({r["run_id"] for r in llm_store.list_runs(store, model=model, limit=1_000_000)})
        loaded = [results.load_result(store, i) for i in classic_ids]
        llm_loaded = [r for i in llm_ids for r in llm_store.load_run(store, i)]
    if llm_loaded and loaded and fmt == "csv":
        raise InputError(
            "LLM and request/response runs have different columns",
            where="--run",
            fix="export one kind at a time (name the runs with --run), or use --format json",
        )
    if fmt == "csv":
        text = llm_points_csv(llm_loaded) if llm_loaded else results.points_csv(loaded)
    else:
        docs = [r.model_dump(mode="json") for r in loaded]
        docs += [{"kind": "llm", "definitions": DEFINITIONS, **r.model_dump(mode="json")} for r in llm_loaded]
        text = json.dumps(docs, indent=2)
    loaded_count = len(loaded) + len(llm_loaded)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {loaded_count} runs to {output}")


def suggest(
    ctx: typer.Context,
    model: str = typer.Option(
        ..., "--model", help="Model label as stored by `bench run`, or a language model."
    ),
    slo_p99_ms: float | None = typer.Option(
        None, "--slo-p99-ms", help="The latency SLO (request/response models; a language model's is its own)."
    ),
    instance_types: str | None = typer.Option(
        None, "--instance-types", help="Candidates (default: common families)."
    ),
    region: str | None = typer.Option(None, "--region"),
    option: PurchaseOption = typer.Option(PurchaseOption.ON_DEMAND, "--option", help="on_demand or spot."),
    flops_per_request: float | None = typer.Option(
        None, "--flops-per-request", help="For GPU roofline estimates."
    ),
    bytes_per_request: float | None = typer.Option(
        None, "--bytes-per-request", help="For GPU roofline estimates."
    ),
    limit: int = typer.Option(5, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Capacity per instance type (measured, else estimated with a band) and what to measure next; for a
    language model of a stored recommendation, the instance types and request-size buckets whose uncertain
    capacity carries the most spend."""
    settings: Settings = ctx.obj
    if slo_p99_ms is None:
        suggest_llm(settings, model, limit, as_json)
        return
    catalog = Catalog.load(settings)
    region = catalog.check_region(region or settings.default_region)
    slo = slo_from(slo_p99_ms, 0.001)
    workload = None
    if (flops_per_request is None) != (bytes_per_request is None):
        raise InputError(
            "a roofline estimate needs both",
            where="--flops-per-request/--bytes-per-request",
            fix="pass both, or neither",
        )
    if flops_per_request is not None and bytes_per_request is not None:
        flags = {"flops_per_request": "--flops-per-request", "bytes_per_request": "--bytes-per-request"}
        workload = from_flags(
            GpuWorkload, flags, flops_per_request=flops_per_request, bytes_per_request=bytes_per_request
        )
    types = (
        split_list(instance_types, "--instance-types")
        if instance_types
        else default_candidates(catalog, region, workload is not None)
    )
    with Store.for_reading(settings.db_path) as store:
        evidence = read_evidence(store, [model])
    table = capacity_table(evidence, catalog, model, types, slo, workload=workload)
    if not any(not e.estimated for e in table) and not any(e.capacity_rps for e in table):
        raise InputError(
            f"no capacity of {model!r} measured under a {slo_p99_ms:g} ms SLO",
            where="--model",
            fix=f"run `advisor bench run --model {model} --slo-p99-ms {slo_p99_ms:g}` first",
        )
    picks = suggest_measurements(table, catalog, region, option, limit=limit)
    if as_json:
        print_json(
            {
                "model": model,
                "region": region,
                "option": option.value,
                "capacities": table,
                "suggestions": picks,
            }
        )
        return
    view.print_estimates(table, picks, catalog, region, option)


_L = "LLM Jobs (--llm-model)"
LlmModel = Annotated[
    str | None,
    typer.Option(
        "--llm-model", help="Hugging Face id: Jobs run vLLM beside the LLM bench.", rich_help_panel=_L
    ),
]
ServerImage = Annotated[
    str | None,
    typer.Option("--server-image", help=f"Server image (default {VLLM_IMAGE}).", rich_help_panel=_L),
]
TensorParallel = Annotated[
    int | None,
    typer.Option("--tensor-parallel-size", help="GPUs per server (default: all).", rich_help_panel=_L),
]
MaxModelLen = Annotated[
    int | None,
    typer.Option("--max-model-len", help="vLLM context length (default: the model's).", rich_help_panel=_L),
]
GpuMemory = Annotated[
    float | None,
    typer.Option("--gpu-memory-utilization", help="Share of GPU memory (default 0.9).", rich_help_panel=_L),
]
NodePool = Annotated[str | None, typer.Option("--node-pool", help="Karpenter NodePool.", rich_help_panel=_L)]
HfSecret = Annotated[
    str | None,
    typer.Option("--hf-token-secret", help="Secret whose key 'token' is HF_TOKEN.", rich_help_panel=_L),
]
JobDataset = Annotated[
    str | None, typer.Option("--dataset", help="Token trace: its path inside --image.", rich_help_panel=_L)
]
JobPerBucket = Annotated[
    bool, typer.Option("--per-bucket", help="Also measure each bucket of --dataset.", rich_help_panel=_L)
]
LLM_JOB_FLAGS = {
    "hf_model": "--llm-model", "image": "--image", "server_image": "--server-image",
    "tensor_parallel_size": "--tensor-parallel-size", "max_model_len": "--max-model-len",
    "gpu_memory_utilization": "--gpu-memory-utilization", "node_pool": "--node-pool",
    "hf_token_secret": "--hf-token-secret", "input_tokens": "--input-tokens",
    "output_tokens": "--output-tokens", "dataset": "--dataset", "per_bucket": "--per-bucket",
    "namespace": "--namespace", "ttft": "--slo-ttft-p99-ms", "tpot": "--slo-tpot-p99-ms",
}  # fmt: skip


def jobs(
    ctx: typer.Context,
    emit: str = typer.Option(..., "--emit", help="Manifest format: k8s."),
    directory: Path = typer.Argument(..., help="Folder to write the manifests into."),
    models: str | None = typer.Option(None, "--models", help="Reference models, comma-separated."),
    instance_types: str = typer.Option(..., "--instance-types", help="Comma-separated instance types."),
    slo_p99_ms: float | None = typer.Option(None, "--slo-p99-ms", help="p99 bound (reference models)."),
    max_error_rate: float = typer.Option(0.001, "--max-error-rate"),
    image: str = typer.Option(..., "--image", help="Container image with advisor installed."),
    namespace: str = typer.Option("default", "--namespace"),
    quick: bool = typer.Option(False, "--quick"),
    k8s_version: str = typer.Option(
        DEFAULT_K8S_VERSION, "--k8s-version", help="Schema version to validate against."
    ),
    llm_model: LlmModel = None, server_image: ServerImage = None, tensor_parallel: TensorParallel = None,
    max_model_len: MaxModelLen = None, gpu_memory_utilization: GpuMemory = None, node_pool: NodePool = None,
    hf_token_secret: HfSecret = None, input_tokens: llm.InTok = None, output_tokens: llm.OutTok = None,
    dataset: JobDataset = None, slo_ttft_p99_ms: llm.Ttft = None, slo_tpot_p99_ms: llm.Tpot = None,
    per_bucket: JobPerBucket = False,
) -> None:  # fmt: skip
    """Write one validated Kubernetes Job per (model, instance type) to measure on real instances.

    Reference models (--models, --slo-p99-ms); or an LLM (--llm-model), served by vLLM in the same pod and
    measured under TTFT/TPOT bounds.
    """
    if emit != "k8s":
        raise InputError(f"unknown target {emit!r}", where="--emit", fix="use --emit k8s")
    _check_job_flags(image=image, server_image=server_image, namespace=namespace)
    settings: Settings = ctx.obj
    catalog = Catalog.load(settings)
    itypes = [catalog.instance(t) for t in split_list(instance_types, "--instance-types")]
    llm_opts: dict[str, Any] = {
        "server_image": server_image, "tensor_parallel_size": tensor_parallel, "max_model_len": max_model_len,
        "gpu_memory_utilization": gpu_memory_utilization, "node_pool": node_pool,
        "hf_token_secret": hf_token_secret, "input_tokens": input_tokens, "output_tokens": output_tokens,
        "dataset": dataset, "per_bucket": per_bucket or None,
    }  # fmt: skip
    given = {k: v for k, v in llm_opts.items() if v is not None}
    bounds = {"ttft": slo_ttft_p99_ms, "tpot": slo_tpot_p99_ms}  # not spec fields: they build the SLO
    if llm_model is not None and models is not None:
        raise InputError(
            "--models and --llm-model exclude each other",
            where="--models/--llm-model",
            fix="write the Jobs of reference models and those of an LLM in two runs",
        )
    if llm_model is not None:
        slo = llm.slo_of(llm.LLMArgs(ttft_ms=slo_ttft_p99_ms, tpot_ms=slo_tpot_p99_ms), max_error_rate)
        spec = from_flags(LLMJobSpec, LLM_JOB_FLAGS, hf_model=llm_model, image=image, slo=slo, quick=quick,
                          namespace=namespace, **given)  # fmt: skip
        paths = write_llm_jobs(directory, spec, itypes, k8s_version=k8s_version)
    else:
        llm_only = [LLM_JOB_FLAGS[k] for k in given] + [LLM_JOB_FLAGS[k] for k, v in bounds.items() if v]
        if models is None or llm_only:
            raise InputError(
                f"{llm_only[0]} is for LLM Jobs" if llm_only else "no model to write Jobs for",
                where="--llm-model" if llm_only else "--models",
                fix="pass --models REFERENCE_MODELS, or --llm-model HF_ID for an LLM served by vLLM",
            )
        if slo_p99_ms is None:
            raise InputError("no SLO given", where="--slo-p99-ms", fix="pass --slo-p99-ms MS")
        model_list = [get_model(m).name for m in split_list(models, "--models")]
        paths = write_jobs(directory, model_list, itypes, slo_from(slo_p99_ms, max_error_rate), image=image,
                           namespace=namespace, quick=quick, k8s_version=k8s_version)  # fmt: skip
    console.print(
        f"wrote {len(paths)} Job manifest{'s' if len(paths) != 1 else ''} to {directory}"
        f" (validated against Kubernetes {k8s_version})"
    )
    console.print(
        "run:  kubectl apply -f DIR;  then for each job:  kubectl logs job/NAME > NAME.json && "
        "advisor bench import NAME.json",
        markup=False,
        highlight=False,
    )


def _check_job_flags(*, image: str, server_image: str | None, namespace: str) -> None:
    """What the Kubernetes schema cannot see: a Job with an empty image or a namespace Kubernetes refuses
    validates against the OpenAPI schema, then fails at ``kubectl apply``. Refused here, before anything is
    written."""
    for flag, value in (("--image", image), ("--server-image", server_image)):
        if value is not None and (not value.strip() or any(c.isspace() for c in value)):
            raise InputError(
                f"{value!r} is not a container image", where=flag, fix="e.g. ghcr.io/acme/advisor:0.3"
            )
    try:
        TypeAdapter(DnsLabel).validate_python(namespace)
    except ValidationError as exc:
        raise InputError(
            str(exc.errors()[0]["msg"]).removeprefix("Value error, "),
            where="--namespace",
            fix="use an existing namespace, e.g. default",
        ) from None


def import_(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ..., help="`bench run --json` output (also in pod logs), or vLLM, GuideLLM or AIPerf results."
    ),
    model: str | None = typer.Option(None, "--model", help="LLM results: the model, when the file lacks it."),
    shape: str = typer.Option("unknown", "--shape", help="LLM results: the instance type they ran on."),
    slo_ttft_p99_ms: float | None = typer.Option(None, "--slo-ttft-p99-ms", help="Judge LLM points."),
    slo_tpot_p99_ms: float | None = typer.Option(None, "--slo-tpot-p99-ms", help="Judge LLM points."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Store results measured elsewhere (Kubernetes Jobs, vLLM, GuideLLM, AIPerf), never one run twice."""
    settings: Settings = ctx.obj
    slo = None
    if slo_ttft_p99_ms is not None or slo_tpot_p99_ms is not None:
        slo = llm.slo_of(llm.LLMArgs(ttft_ms=slo_ttft_p99_ms, tpot_ms=slo_tpot_p99_ms), 0.01)
    loaded = [(f, _read_any(f, model=model, shape=shape, slo=slo)) for f in files]  # all checked first
    for path, found in loaded:
        if not (found if isinstance(found, list) else found.results):
            raise InputError(
                "the file holds no results: nothing to import",
                where=str(path),
                fix="import the --json output of a bench run that measured at least one shape",
            )
    summary = []
    with Store(settings.db_path) as store:
        for path, found in loaded:
            if isinstance(found, list):
                for cap in found:
                    added = not llm_store.exists(store, cap)
                    if added:
                        llm_store.save(store, cap, target=f"imported from {path.name} ({cap.tool})")
                    summary.append(_row(path, cap.run_id, cap.model, cap.shape, cap.capacity_rps, added, cap))
                continue
            for result in found.results:
                target = f"imported from {path.name}: {found.target}"
                added = results.import_result(store, result, target=target)
                summary.append(
                    _row(path, result.run_id, result.model, result.shape, result.capacity_rps, added, None)
                )
    if as_json:
        print_json({"imported": summary})
        return
    for row in summary:
        state = "imported" if row["imported"] else "already stored"
        what = f"{row['model']} on {row['shape']}" + (f" bucket {row['bucket']}" if row.get("bucket") else "")
        tool = f", {row['tool']}" if row.get("tool") else ""
        console.print(f"{row['run_id']}: {what}: {row['capacity_rps']:.3g} req/s ({state}{tool})")
        for warning in row.get("warnings") or []:  # type: ignore[attr-defined]
            console.print(f"  [yellow]warning:[/] {warning}", highlight=False)


def _read_any(
    path: Path, *, model: str | None, shape: str, slo: LLMSLO | None
) -> BenchReport | list[LLMCapacity]:
    """A request/response BenchReport, or LLM results (advisor's own, vLLM, GuideLLM, AIPerf)."""
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            text = ""
        try:
            document = extract_json(text) if text else None
        except RecursionError:
            raise InputError("the results file is nested too deeply to read", where=str(path)) from None
        kind = llm_imports.detect(document)
        if kind == "advisor":  # possibly wrapped in pod log lines, which read_file does not expect
            try:
                return LLMBenchReport.model_validate(document).results
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"])
                raise InputError(
                    f"not an advisor LLM bench report: {field}: {err['msg']}",
                    where=str(path),
                    fix="import the unchanged --json output of `advisor bench run`",
                ) from None
        if kind is not None or (document is None and text.lstrip().startswith("{")):
            return llm_imports.read_file(path, model=model, shape=shape, slo=slo)
    return read_report(path)


def _row(
    path: Path, run_id: str, model: str, shape: str, capacity: float, added: bool, cap: LLMCapacity | None
) -> dict[str, object]:
    row: dict[str, object] = {"file": str(path), "run_id": run_id, "model": model, "shape": shape,
                              "capacity_rps": capacity, "imported": added}  # fmt: skip
    if cap is not None:
        row.update(kind="llm", tool=cap.tool, bucket=cap.bucket, warnings=cap.warnings)
    return row
