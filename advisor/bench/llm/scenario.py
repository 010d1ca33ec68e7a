"""``advisor recommend --bench`` for language models: start each LLM server a scenario names (a reference
LLM such as ``tiny-llm``, or a command), measure its capacity under the model's TTFT and TPOT SLO at the
model's request sizes on each of its bench shapes, and store the runs under the model's name, where the
optimiser reads them (measured always wins).

A shape's vCPUs are what the server may use: it is pinned to that many of this machine's CPUs, apart from
the load generator's (:func:`~advisor.bench.llm.runner.served`); a shape larger than what is left is
refused before anything starts. The sizes are the scenario's: fixed input and output tokens, or its trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from advisor.bench.llm.records import LLMSLO, Api, LLMCapacity, SizeSpec
from advisor.bench.llm.runner import Listener, LLMBenchConfig
from advisor.bench.servers.spec import BenchServer, Payload, command_server, reference_server
from advisor.errors import AdvisorError, InputError, at_field
from advisor.pricing.catalog import Catalog
from advisor.scenario.llm import beside_scenario
from advisor.scenario.model import LLMModelSpec, Scenario
from advisor.settings import Settings
from advisor.store import Store
from advisor.traffic.tokens import SizeSampler, read_token_trace

CHAT_PATH = "/v1/chat/completions"
GENERATOR_CPUS = 1


@dataclass(frozen=True)
class LLMBenchJob:
    """One (language model, shape) to measure; ``where`` is the scenario field that named the shape."""

    model: str
    shape: str
    vcpus: int
    where: str
    server: BenchServer
    slo: LLMSLO
    sizes: SizeSpec
    sampler: SizeSampler


def _server(spec: LLMModelSpec, where: str) -> BenchServer | None:
    server = spec.server
    if server is None or server.endpoint is not None:
        return None
    body = Payload("json", None, None, None, "application/json", {})
    if server.reference is not None:
        return reference_server(
            server.reference, body, request_path=CHAT_PATH, ready_timeout_s=server.ready_timeout_s,
            where=f"{where}.server.reference",
        ).check()  # fmt: skip
    return command_server(
        spec.name, server.command or "", body, request_path=server.request_path or CHAT_PATH,
        health_path=server.health_path, ready_timeout_s=server.ready_timeout_s,
        where=f"{where}.server.command",
    )  # fmt: skip


def _sizes(spec: LLMModelSpec, base: Path | None, where: str) -> tuple[SizeSpec, SizeSampler]:
    tokens = spec.tokens
    if tokens.trace is None:
        tin, tout = float(tokens.input or 1), float(tokens.output or 1)
        spec_ = SizeSpec(kind="fixed", input_tokens=tin, output_tokens=tout)
        return spec_, SizeSampler(kind="fixed", input_tokens=tin, output_tokens=tout)
    path = beside_scenario(base, tokens.trace)
    try:
        trace = read_token_trace(path)
    except AdvisorError as exc:
        raise at_field(exc, f"{where}.tokens.trace") from None
    return SizeSpec(kind="trace", trace=path.name), SizeSampler(kind="trace", trace=trace)


def llm_bench_jobs(
    scenario: Scenario, scenario_file: Path | None, catalog: Catalog, cpus: int | None = None
) -> tuple[list[LLMBenchJob], list[str]]:
    """The jobs of the scenario's language models with a server, each checked before anything starts (an
    error names its field), and the names of those behind an endpoint (measured with ``bench run
    --endpoint``). ``cpus``: this machine's CPUs (default: those this process may run on)."""
    from advisor.bench.servers.emulation import host_cpus

    cpus = len(host_cpus()) if cpus is None else cpus
    base = scenario_file.parent if scenario_file is not None else None
    jobs, skipped = [], []
    for i, spec in enumerate(scenario.llm_models):
        at = scenario.llm_positions[i] if i < len(scenario.llm_positions) else i
        where = f"models.{at}"
        server = _server(spec, where)
        if server is None:
            if spec.server is not None:
                skipped.append(spec.name)
            continue
        sizes, sampler = _sizes(spec, base, where)
        slo = LLMSLO(ttft_p99_ms=spec.slo.ttft_p99_ms, tpot_p99_ms=spec.slo.tpot_p99_ms)
        field = f"{where}.bench_shapes" if spec.bench_shapes else "bench.shapes"
        for k, shape in enumerate(spec.bench_shapes or scenario.bench.shapes):
            try:
                itype = catalog.instance(shape)
            except AdvisorError as exc:
                raise at_field(exc, f"{field}.{k}") from None
            room = cpus - GENERATOR_CPUS if cpus > GENERATOR_CPUS else cpus  # one CPU: they share it
            if itype.vcpu > room:
                raise InputError(
                    f"{shape} has {itype.vcpu} vCPUs; this machine has {room} for the server besides the"
                    " load generator's",
                    where=f"{field}.{k}",
                    fix="pick a smaller shape",
                )
            jobs.append(
                LLMBenchJob(spec.name, itype.name, itype.vcpu, f"{field}.{k}", server, slo, sizes, sampler)
            )
    return jobs, skipped


@contextmanager
def serving(settings: Settings, server: BenchServer, *, generator_cpus: int = 1,
            server_vcpus: int | None = None) -> Iterator[str]:  # fmt: skip
    """Start ``server`` on a free port (its log under ``$ADVISOR_HOME/bench``), yield its request URL, stop
    it afterwards."""
    from advisor.bench.llm.runner import served
    from advisor.bench.results import new_run_id
    from advisor.bench.runner import free_port

    port = free_port()
    log = Path(settings.home) / "bench" / f"llm-{new_run_id()}" / "server.log"
    health = f"http://127.0.0.1:{port}{server.health_path}"
    with served(server.command(port), health, log, server.server_env(port), server.ready_timeout_s,
                generator_cpus=generator_cpus, server_vcpus=server_vcpus):  # fmt: skip
        yield f"http://127.0.0.1:{port}{server.request_path or CHAT_PATH}"


def bench_llm_job(
    settings: Settings,
    store: Store,
    job: LLMBenchJob,
    config: LLMBenchConfig,
    on_point: Listener | None = None,
) -> LLMCapacity:
    """Start the job's server on its shape's vCPUs, measure it, stop it; the run is stored as it goes."""
    from advisor.bench.llm.client import Target, calibrate, run_loop
    from advisor.bench.llm.runner import measure_llm
    from advisor.bench.results import new_run_id

    with serving(settings, job.server, generator_cpus=GENERATOR_CPUS, server_vcpus=job.vcpus) as url:
        target = Target(url=url, api=Api.CHAT)
        builder, warnings = run_loop(calibrate(target))
        return measure_llm(
            store, target, model=job.model, shape=job.shape, run_id=new_run_id(), slo=job.slo,
            sizes=job.sizes, sampler=job.sampler, config=config, builder=builder, warnings=warnings,
            on_point=on_point,
        )  # fmt: skip


def llm_bench_config(base: LLMBenchConfig, max_points: int | None, given_rps: float | None) -> LLMBenchConfig:
    """``base`` with the scenario's point budget, and the search started at a capacity given by hand (the
    doubling then starts near the answer instead of at 1 request/s)."""
    search = base.search.model_copy(
        update={
            **({"max_points": max_points} if max_points is not None else {}),
            **({"start_rps": given_rps} if given_rps else {}),
        }
    )
    return base.model_copy(update={"search": search})
