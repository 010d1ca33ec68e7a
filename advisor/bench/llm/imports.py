"""Imports of LLM benchmark results people already have, mapped onto advisor's definitions (advisor/1).

Each format was learned from the tool's own source, at the commit named here; the tests cite the same:

* **vLLM** ``vllm bench serve --save-result [--save-detailed] [--append-result]``:
  ``vllm/benchmarks/serve.py`` at 009e6d4a1cd6ba3fb2a9fc00f4ec06f5297232a1 (``benchmark()`` builds the
  result dict, ``main_async()`` adds date, backend, model_id, request_rate, burstiness, max_concurrency and,
  without ``--save-detailed``, drops input_lens, output_lens, start_times, ttfts, itls, generated_texts and
  errors; ``latencies`` and ``queue_times`` stay) and ``vllm/benchmarks/lib/endpoint_request_func.py`` at
  02cfb534df5674737558730b10f23d1b7aef9b7c (``RequestFuncOutput``: seconds from the actual send), both
  vllm-project/vllm.
  ``--append-result`` writes one JSON object a line: each line is one point.
* **GuideLLM** ``benchmarks.json``: ``src/guidellm/benchmark/schemas/{report,benchmark,base,metrics}.py``,
  ``src/guidellm/schemas/{statistics,request_stats,info}.py``, ``src/guidellm/scheduler/strategies.py``,
  vllm-project/guidellm at ee7a77457ba668b4b5ccb40f110518829893b36a (report schema version 2, ``config``;
  version 1 of v0.5/v0.6, with ``args``, has the same benchmark and metric paths).
* **AIPerf** ``profile_export_aiperf.json``: ``aiperf/common/models/export_models.py`` (``JsonExportData``,
  ``JsonMetricResult``), ``aiperf/exporters/json_exporter.py``, ``aiperf/metrics/types/*.py``,
  ``aiperf/common/config/{loadgen_config,user_config}.py``, ai-dynamo/aiperf at
  db4f6397d11ee2d4cfbb41f70b2327315163dcf0. GenAI-Perf's ``profile_export_genai_perf.json`` is the same family
  (triton-inference-server/perf_analyzer ``genai-perf/genai_perf/export_data/json_exporter.py`` at
  09628cd6d6e31409c5f9adee3bbefdd2d58ef16a, ``metrics/statistics.py`` at 4cc7650c) but records neither the
  request count nor the benchmark window, so it is refused with a clear error rather than given invented ones.
* **advisor**'s own ``bench run --json`` (:class:`~advisor.bench.llm.records.LLMBenchReport`).

The readers are :mod:`~advisor.bench.llm.import_vllm`, :mod:`~advisor.bench.llm.import_guidellm` and
:mod:`~advisor.bench.llm.import_aiperf` (what they share: :mod:`~advisor.bench.llm.import_common`); this
module detects the format, maps what they read onto advisor/1 and judges it.

Rules: a figure the tool did not report stays None (a sample count the tool does not state is 0); nothing is
invented. Where per-request data are complete (vLLM ``--save-detailed``; GuideLLM when no request was sampled
away) the requests are rebuilt as :class:`StreamRecord` and the point comes from
:func:`advisor.bench.llm.metrics.summarize`, the same function as advisor's own runs. Otherwise the tool's
summary figures are mapped field by field, and every mapping that is not exact is named in ``warnings``.
Only open-loop rates are judged against an SLO; a concurrency or all-at-once run is kept, undecided.
A run id is the tool's name and a hash of the file's bytes, so one file is never imported twice.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from advisor.bench.llm.import_aiperf import AIPERF_METRICS, read_aiperf
from advisor.bench.llm.import_common import FIX_MALFORMED, ImportedBench, JsonNode
from advisor.bench.llm.import_guidellm import read_guidellm
from advisor.bench.llm.import_vllm import read_vllm
from advisor.bench.llm.metrics import summarize
from advisor.bench.llm.records import (
    LLMSLO,
    Api,
    LLMBenchReport,
    LLMCapacity,
    LLMPoint,
    Percentiles,
    PointVerdict,
    SizeSpec,
)
from advisor.bench.llm.search import LLMSearch, LLMSearchConfig
from advisor.errors import InputError

ADVISOR_SCHEMA = "advisor.llm-bench/1"
TOOLS = ("vllm", "guidellm", "aiperf", "advisor")
RUN_ID_HASH_CHARS = 12

_FIX_UNKNOWN = (
    "import vLLM `bench serve --save-result` JSON, GuideLLM benchmarks.json, AIPerf "
    "profile_export_aiperf.json or advisor's `bench run --json`"
)
_QUANTILE_FIELD = {0.5: "p50", 0.9: "p90", 0.95: "p95", 0.99: "p99"}


# ------------------------------------------------------------------------------------------ to advisor/1

_SUMMARY_VERDICT = (
    "verdicts compare the reported percentile with each bound (no per-request data, so no confidence "
    "interval)"
)
_NO_GOODPUT = "goodput and attainment are not reported in advisor's terms: stored as 0"
_NO_SEND_LAG = "send lag not reported: stored as 0"
_SIZES = (
    "request sizes: the tool's size distribution is not recorded; each point keeps its measured mean tokens"
)


def _point(bench: ImportedBench, seq: int, slo: LLMSLO | None, warnings: list[str]) -> LLMPoint | None:
    """``bench`` under advisor's definitions; None (with a warning) when it has no rate to file it under."""
    open_loop = bench.rate_rps is not None
    offered = bench.rate_rps
    if offered is None:
        done = bench.achieved_rps
        if bench.records is not None:
            done = sum(1 for x in bench.records if x.ok) / bench.duration_s
        if done <= 0:
            warnings.append(f"a benchmark ({bench.pacing}) completed no request: left out")
            return None
        offered = done
    note = "" if open_loop else f"{bench.pacing}: not an open-loop rate, offered = achieved, not judged"
    if bench.records is not None:
        point = summarize(
            bench.records,
            seq=seq,
            offered_rps=offered,
            duration_s=bench.duration_s,
            cutoff_s=bench.cutoff_s,
            slo=slo or LLMSLO(),
            note=note,
        )
        if bench.drop_itl:
            point = point.model_copy(update={"itl_ms": Percentiles(count=0)})
        if not open_loop:  # its send lag is the client's concurrency cap, not a saturated generator
            point = point.model_copy(update={"verdict": PointVerdict.UNDECIDED, "generator_saturated": False})
        elif slo is None and point.verdict is not PointVerdict.INVALID:
            point = point.model_copy(update={"verdict": PointVerdict.UNDECIDED})
        return point
    figures = {"ttft": bench.ttft, "tpot": bench.tpot, "e2e": bench.e2e}
    verdict, missing = PointVerdict.UNDECIDED, ""
    if slo is not None and open_loop:
        verdict, missing = _judge_summary(slo, figures, bench.errors, bench.requests)
        warnings.append(_SUMMARY_VERDICT)
    warnings += [_NO_GOODPUT] + ([_NO_SEND_LAG] if bench.send_lag_p99_ms is None else [])
    return LLMPoint(
        seq=seq,
        offered_rps=offered,
        achieved_rps=bench.achieved_rps,
        duration_s=bench.duration_s,
        requests=bench.requests,
        errors=bench.errors,
        unfinished=bench.unfinished,
        ttft_ms=bench.ttft,
        tpot_ms=bench.tpot,
        itl_ms=bench.itl,
        e2e_ms=bench.e2e,
        input_tokens_per_s=bench.input_tokens_per_s,
        output_tokens_per_s=bench.output_tokens_per_s,
        mean_input_tokens=bench.mean_input_tokens,
        mean_output_tokens=bench.mean_output_tokens,
        goodput_rps=0.0,
        attainment=0.0,
        send_lag_p99_ms=bench.send_lag_p99_ms or 0.0,
        verdict=verdict,
        estimate_passes=verdict is PointVerdict.PASS,
        note="; ".join(n for n in (note, missing) if n),
    )


def _judge_summary(
    slo: LLMSLO, figures: dict[str, Percentiles], errors: int, requests: int
) -> tuple[PointVerdict, str]:
    """Pass/fail/undecided from reported percentiles alone, and a note naming any figure that was missing."""
    if requests == 0:
        return PointVerdict.UNDECIDED, "no requests"
    if errors / requests > slo.max_error_rate:
        return PointVerdict.FAIL, ""
    name = _QUANTILE_FIELD.get(round(slo.quantile, 6))
    missing: list[str] = []
    failed = False
    for metric, bound in slo.bounds().items():
        value = getattr(figures[metric], name) if name else None
        if value is None:
            missing.append(metric)
        elif value > bound:
            failed = True
    if failed:
        return PointVerdict.FAIL, ""
    if missing:
        return PointVerdict.UNDECIDED, f"{', '.join(missing)} q{slo.quantile:g} not reported"
    if slo.min_attainment is not None:
        return PointVerdict.UNDECIDED, "attainment not reported"
    return PointVerdict.PASS, ""


def _capacity(
    *,
    tool: str,
    run_id: str,
    model: str,
    shape: str,
    api: Api | None,
    points: list[LLMPoint],
    open_loop: list[bool],
    slo: LLMSLO | None,
    warnings: list[str],
) -> LLMCapacity:
    """Capacity as advisor's own search reads it (:meth:`LLMSearch.outcome`), every imported verdict final.

    The highest passing open-loop rate below the lowest failing (or undecided) one; that failing rate is
    ``capacity_high_rps``. A rate the generator could not drive (invalid) caps it as a lower bound.
    """
    search = LLMSearch(LLMSearchConfig())
    judged = [p for p, ok in zip(points, open_loop, strict=True) if ok]
    for point in judged if slo is not None else []:
        search.record(point.model_copy(update={"confirm": True}))  # a file's verdict is all there is
    outcome = search.outcome()
    best = next(
        (p for p in judged if p.offered_rps == outcome.capacity_rps and p.verdict is PointVerdict.PASS), None
    )
    if slo is None:
        reason = "no SLO given"
    elif not judged:
        reason = "no open-loop rate in the file to judge"
    elif best is None:
        verdicts = {p.verdict for p in judged}
        reason = (
            "no imported open-loop rate met the SLO"
            if PointVerdict.FAIL in verdicts
            else "no imported rate could be decided (too few requests, or a figure the SLO needs is missing)"
            if PointVerdict.UNDECIDED in verdicts
            else "the load generator could not drive any imported rate"
        )
    elif outcome.lower_bound:
        reason = outcome.reason
    else:
        reason = f"highest imported rate that met the SLO: {outcome.capacity_rps:g} requests/s"
        if outcome.high_rps is None:
            reason += " (no higher rate in the file)"
    passed_above = sorted(
        {
            p.offered_rps
            for p in judged
            if p.verdict is PointVerdict.PASS and p.offered_rps > outcome.capacity_rps
        }
    )
    if slo is not None and passed_above:
        rates = ", ".join(f"{r:g}" for r in passed_above)
        warnings.append(f"rates {rates} passed above a rate that failed or was undecided: not counted")
    return LLMCapacity(
        run_id=run_id,
        model=model,
        shape=shape,
        api=api or Api.CHAT,
        slo=slo or LLMSLO(),
        sizes=SizeSpec(kind="trace", trace=f"imported from {tool}"),
        capacity_rps=outcome.capacity_rps if slo is not None else 0.0,
        capacity_high_rps=outcome.high_rps if slo is not None else None,
        capacity_undecided=outcome.undecided,
        lower_bound=outcome.lower_bound,
        input_tokens_per_s=best.input_tokens_per_s if best is not None else 0.0,
        output_tokens_per_s=best.output_tokens_per_s if best is not None else 0.0,
        reason=reason,
        points=points,
        tool=tool,
        warnings=list(dict.fromkeys(warnings)),
    )


# -------------------------------------------------------------------------------------------- public API


def detect(data: object) -> str | None:
    """Which tool wrote ``data`` (parsed JSON): "vllm", "guidellm", "aiperf", "advisor", or None."""
    if isinstance(data, list):
        return "vllm" if data and all(_is_vllm(item) for item in data) else None
    if not isinstance(data, dict):
        return None
    if data.get("schema_version") == ADVISOR_SCHEMA:
        return "advisor"
    benchmarks = data.get("benchmarks")
    if isinstance(benchmarks, list):
        meta = data.get("metadata")
        if (isinstance(meta, dict) and "guidellm_version" in meta) or any(
            isinstance(b, dict) and b.get("type_") == "generative_benchmark" for b in benchmarks
        ):
            return "guidellm"
    if "input_config" in data and any(
        isinstance(data.get(k), dict) and "unit" in data[k] for k in AIPERF_METRICS
    ):
        return "aiperf"
    return "vllm" if _is_vllm(data) else None


def _is_vllm(data: object) -> bool:
    return (
        isinstance(data, dict)
        and "request_throughput" in data
        and "completed" in data
        and "duration" in data
        and any(k in data for k in ("backend", "endpoint_type", "model_id"))
    )


def read_file(
    path: Path, *, model: str | None = None, shape: str = "unknown", slo: LLMSLO | None = None
) -> list[LLMCapacity]:
    """Results of another tool (or advisor's own ``--json``) in ``path`` as :class:`LLMCapacity` values.

    One capacity per model in the file (a file normally holds one), one point per benchmark/rate, in file
    order. ``model`` names the model when the file does not (or overrides it, with a warning); ``slo`` judges
    every open-loop point and sets ``capacity_rps`` (0 with reason "no SLO given" without one). advisor's own
    report comes back as written (its run ids, models, shapes and SLO; the arguments do not apply). Raises
    :class:`InputError` (where = the path) for a file that cannot be read, is not one of the known formats, or
    is malformed; the message names the field.
    """
    where = str(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise InputError("is a folder, not a result file", where=where, fix=_FIX_UNKNOWN) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=where, fix="check the path") from None
    data = _parse(raw, where)
    tool = detect(data)
    if tool is None:
        raise InputError("not a benchmark result advisor can import", where=where, fix=_FIX_UNKNOWN)
    doc = JsonNode(data, where)
    if tool == "advisor":
        try:
            return LLMBenchReport.model_validate(data).results
        except ValidationError as exc:
            raise _validation_error(exc, where) from None
    parse = {"vllm": read_vllm, "guidellm": read_guidellm, "aiperf": read_aiperf}[tool]
    try:
        benches, warnings = parse(doc)
        return _capacities(
            benches, warnings, tool=tool, raw=raw, model=model, shape=shape, slo=slo, where=where
        )
    except ValidationError as exc:
        raise _validation_error(exc, where) from None


def _capacities(
    benches: list[ImportedBench],
    warnings: list[str],
    *,
    tool: str,
    raw: bytes,
    model: str | None,
    shape: str,
    slo: LLMSLO | None,
    where: str,
) -> list[LLMCapacity]:
    groups: dict[str, list[ImportedBench]] = {}
    for bench in benches:
        name = model or bench.model
        if not name:
            raise InputError(
                "the file does not name the model", where=where, fix="pass the model name (--model)"
            )
        if model and bench.model and bench.model != model:
            warnings.append(f"the file names the model {bench.model!r}; stored under {model!r} as asked")
        groups.setdefault(name, []).append(bench)
    digest = hashlib.sha256(raw).hexdigest()[:RUN_ID_HASH_CHARS]
    out: list[LLMCapacity] = []
    for i, (name, group) in enumerate(groups.items()):
        notes = [*warnings, _SIZES]
        points: list[LLMPoint] = []
        open_loop: list[bool] = []
        for bench in group:
            point = _point(bench, len(points), slo, notes)
            if point is not None:
                points.append(point)
                open_loop.append(bench.rate_rps is not None)
        run_id = f"{tool}-{digest}" + (f"-{i + 1}" if len(groups) > 1 else "")
        api = next((b.api for b in group if b.api is not None), None)
        if api is None:
            notes.append("the file does not name an OpenAI route advisor knows: stored as openai-chat")
        out.append(
            _capacity(
                tool=tool,
                run_id=run_id,
                model=name,
                shape=shape,
                api=api,
                points=points,
                open_loop=open_loop,
                slo=slo,
                warnings=notes,
            )
        )
    return out


def _parse(raw: bytes, where: str) -> object:
    """JSON, or JSON lines (vLLM ``--append-result`` writes one object a line)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", where=where, fix=_FIX_UNKNOWN) from None
    if not text.strip():
        raise InputError("the file is empty", where=where, fix=_FIX_UNKNOWN)
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError("nested too deeply to be a result file", where=where, fix=_FIX_UNKNOWN) from None
    except json.JSONDecodeError as exc:
        first = exc
    if first.msg == "Extra data":
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            values = [json.loads(line) for line in lines]
        except (json.JSONDecodeError, RecursionError):
            values = []
        if len(values) > 1 and all(isinstance(v, dict) for v in values):
            return values
    raise InputError(
        f"not JSON: {first.msg} at line {first.lineno} column {first.colno}", where=where, fix=_FIX_UNKNOWN
    ) from None


def _validation_error(exc: ValidationError, where: str) -> InputError:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) or "the top level"
    return InputError(f"{loc}: {err['msg']}", where=where, fix=FIX_MALFORMED)
