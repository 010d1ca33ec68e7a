"""Benchmark: the whole recommendation at fleet scale, and how close the demo's answer is to its bounds.

Part 1 - 200 models x 300 instance types (us-east-1, real catalog types: every accelerated type plus a seeded
sample of CPU types), the fleet ``advisor.optimize.synthetic_fleet`` makes: 75 % CPU and 25 % GPU replicas,
traffic from the five bundled profiles at seeded peaks, a current deployment for half of them. Prints the
wall time of ``recommend`` on ``--executor`` (default: one process per core), the peak memory, the packed
cost over the certified lower bound inside the recommendation, and today's totals against those main gave
for the same seeded fleet before the fleet-scale work (``benchmarks/data/recommend_reference.json``).
``--models 2000 --types 600`` is the large fleet; ``--pack-all`` also packs every EC2 plan over all types at
once (the packer against a Karpenter-like first-fit-decreasing).

Measured on the 2-core development machine (2026-12-06; its speed drifts by 30 % and more over minutes, so
compare runs made side by side - the figures below were). The wall time is the ``recommend`` call's alone
(until 96134ac the clock also counted the memory sampler's start-up, about 1.5 s). Side by side with
6d45714 (the code of the previous round), this script for both, runs alternating: 200 x 300 on two
processes in 5.19 / 4.98 / 4.91 / 4.64 / 6.83 s against 6.55 / 6.18 / 5.84 / 4.98 / 5.03 s, and alone in
4.83 s and, a minute later, 6.55 s; twenty minutes later, alone, 4.43 / 4.36 / 5.45 / 5.61 / 4.38 /
4.36 s, then 5.34 / 4.93 / 4.53 / 6.37 s against 5.41 / 6.32 / 5.64 / 5.61 s (target 5 s: met in 10 of
these 17 runs, missed in the slower spells); 2,000 x 600 in 49.1 s against 56.6 s and 46.6 s against
55.4 s (alone: 53.1 s; target 60 s; main before the fleet-scale work, e69fe02: 143 s), at 1.66 GiB peak,
resident memory of every process summed (an upper bound: a forked worker's pages shared with this process
count twice; main: 3.7 GB); packing 1.0024-1.0034 x the bound at 200 x 300,
1.0031 at 2,000 x 600 (main: 1.0034 / 1.0032); totals equal to main's or up to 0.07 % under them (the
packer's MILP runs to a time limit, so its answers vary that much from run to run; the recommendation of a
120-model fleet with the packer converged is the same, byte for byte, as 6d45714's, de8754e's and
5c0fb2c's). Counted instead of timed (callgrind, one process, free of the machine's drift): the per-model
stage runs 4.22 G instructions for 30 models against 4.93 G on 6d45714 (-14.5 %). Since 5aa18ac the clock
starts after ``advisor.recommend`` is resolved (its module's first import, ~40 ms with rich, was inside it).
The round after (8a07568..5aa18ac: cron verdicts and load balancer prices kept, fewer young-generation
collections): the per-model stage alone (``plan_all`` on ``local:1``, 30 models) 3.838 G instructions
against 3.866 G on 9a02055 (-0.7 %); side by side with 9a02055, this script for both, 200 x 300 in
4.65 / 4.65 / 5.24 / 5.11 / 4.83 / 4.97 s against 4.47 / 4.18 / 5.21 / 5.25 / 4.49 / 5.56 s - no
difference the machine's drift lets one see; 2,000 x 600 in 44.1 s at 1.67 GiB, packing 1.0030, every
model's outcome identical to 9a02055's.

Then (342cac7): a plan whose cost floor rules it out is deferred, and replayed only if a later stage
or the confirmation reaches its floor (``advisor.optimize.rightsize.deferral``). Replays: 200 x 300 8,990 ->
7,957, 2,000 x 600 123,545 -> 111,763, every model's plan and alternatives the same (the 120-model
recommendation with the packer converged is 3bd7700's but for ``plans_replayed``). Counted by callgrind,
the per-model stage of models 10-50 runs 3.3 % fewer instructions (4,948 M -> 4,785 M); in wall time, side
by side with 3bd7700, this script for both: 200 x 300 in 5.18 / 5.04 / 5.30 s against 5.17 / 4.48 /
5.97 s, 2,000 x 600 in 47.3 s against 46.0 s (the first run of it, alone: 51.0 s) - inside the drift.

The round after (10d0083..23390a7), the time before the first model and the fleet stage's: the catalog reads
its rows from dicts (``advisor.pricing.values.RegionalRows``) instead of pandas ``.loc`` - the candidate
types' first look-ups, on one core while the other waits, 0.21-0.25 -> 0.08-0.11 s; every catalog answer
the same; a profile's shape key for the HPA's kept resize steps is worked out once (-0.9 % of the per-model
stage's instructions); a fill the pattern MILP proved impossible is not searched for again (about 0.1 s of
the packing's 1.3-1.4 s of work). Side by side with 36f88e0, this script for both, 200 x 300 in 5.87 /
5.66 / 5.66 / 5.60 / 4.59 s against 5.95 / 6.24 / 6.23 / 6.20 / 4.97 s, then (the new code first in each
pair) 5.31 / 6.17 / 6.18 / 5.97 s against 5.39 / 6.30 / 5.64 / 5.97 s: 0.2 s less on average, in a slow
spell of the machine that held for the hour; 2,000 x 600 in 52.2 s at 1.68 GiB, packing 1.0031, totals
equal to main's.

On 2026-12-07 the machine ran as fast as when the fleet-scale work began, and two to three times faster
than in the spells above: main before that work (e69fe02, its own script) took 10.64 and 9.81 s for
200 x 300 (then measured at 11.2 s) and 126.3 s for 2,000 x 600 (then 143 s). Beside it, from a clean
checkout of 6cd2827: 200 x 300 in 2.11 / 2.20 / 2.14 s (36f88e0, alternating: 2.17 / 2.22 / 2.36 s), at
0.65 GiB, packing 1.0024, totals 0.067 % under main's; 2,000 x 600 in 20.2 s (earlier that morning 18.5
and 19.9 s) at 1.73 GiB, packing 1.0030, totals 0.056 % under main's. The demo's figures are main's, row
for row.

Where the time went in an earlier round (callgrind and cProfile, one process): the objects alive before
the per-model stage are left out of garbage collection while it runs (``gc.freeze``: the collector's time per
200 models 0.39 -> 0.18 s, and forked workers copy fewer pages); capacities are worked out only for the
types a replica fits (look-ups 31.8k -> 13.2k per 200 models: a CPU model no longer asks about GPU types);
the SageMaker endpoint types are matched against the catalog once (16 misses of ~7 ms each before); the
Savings Plan's on-demand nodes come from the confirmation's own replay (no replay again); a screening works
out a plan's load histogram only when the plan is within the minutes budget; candidate keys are kept (80k
property calls); schedule windows close on one pass over the end times (1.5x); this script's memory
sampler reads the kernel's child lists (psutil scanned every process, ~5 ms a sample, on the cores being
measured). The round before (py-spy and line_profiler, one process, 200 x 300): the HPA replay's
windows of every bound plan are laid out and iterated at once (its time in the search's replays 141 ->
109 ms on a sample of 202 batches, and about half what it was before the windows were batched at all);
``Catalog.cheapest`` ranks offers as arrays (25x faster); the SageMaker endpoint types come from the file
botocore ships (0.30 -> 0.035 s before the first model, no botocore import); the packer's node patterns
are enumerated over plain Python numbers (4x faster); the spot base reads each node count's worst need off
the demand sorted once per model; daily schedules read the worst day's slot peaks off the profile once and
validate each distinct window once; hot joins use ``np.concatenate`` instead of ``np.r_``. Before
(5c0fb2c -> 96134ac, seconds of samples): the per-model stage 16.1 -> 9.2 s, of which the search 12.8 ->
7.3 (the bisection 4.6 -> 2.5, the confirmations 2.6 -> 1.7), the replay engine 7.9 -> 4.7 (the HPA dead
band 1.4 -> 0.3: kept per demand shape), turning replays into results 2.8 -> 0.8 (search, baseline and
lever replays are screened: ``screen_many``), building the searched plans 2.3 -> 1.4, shape candidates
1.3 -> 0.9, baselines 0.8 -> 0.4, the Savings Plan series 0.6 -> 0.15; the fleet stage about 2 s in one
process (its packing groups run side by side on two). On two processes the workers are forked (they start
at once instead of after the fork server's 1.5 s of imports) and take shrinking batches, so the processes
finish together. What is left at 200 x 300 on two processes: about 0.1 s of candidate types, 3.5 s of
per-model searches (~30 ms a model on one core: the search's screened replays about half, confirmations a
fifth, shape candidates a twentieth), 0.7-0.9 s of fleet stage (HiGHS solves of the 15 packing groups, side
by side: the two processes are busy 0.65 and 0.70 s; a shorter MILP floor packs worse - 0.03 s gave
1.0049) and 0.1 s of document.

Part 2 - the demo scenario (``examples/demo-scenario.yaml``, capacities as given in the file unless
``--home`` points at a store with bench results): per model and in total, recommended cost / fluid lower
bound and the saving against static on-demand for the peak and against today.

    .venv/bin/python benchmarks/bench_recommend.py [--models 200] [--types 300] [--seed 0] [--home DIR]
        [--executor local|local:N|dask://HOST:PORT] [--pack-all] [--skip-demo]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

import advisor
from advisor import Catalog, Recommendation, Scenario, Settings
from advisor.optimize import (
    RecommendOptions,
    fleet_type_names,
    parse_executor,
    synthetic_fleet,
)
from advisor.optimize.packing import (
    ModelDemand,
    PackingOptions,
    karpenter_like_ffd,
    node_types_from_offers,
    pack,
)
from advisor.recommendation import Action

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "benchmarks" / "data" / "recommend_reference.json"
TARGETS_S = {(200, 300): 5.0, (2000, 600): 60.0}


def part1(args: argparse.Namespace, settings: Settings, catalog: Catalog) -> None:
    names = fleet_type_names(catalog, args.types)
    sc = synthetic_fleet(catalog, args.models, names, args.seed)
    options = RecommendOptions(executor=parse_executor(args.executor))
    recommend = advisor.recommend  # its module is imported here (~40 ms, rich among it): the call is timed
    with MemorySampler() as memory:  # the clock starts once the sampler runs (its start is not the run's)
        start, cpu_start = time.perf_counter(), time.process_time()
        rec = recommend(sc, settings=settings, catalog=catalog, options=options)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    served = [m for m in rec.models if m.plan is not None]
    replayed = sum(m.plans_replayed for m in rec.models)
    print(f"== {args.models} models x {len(names)} instance types, on {options.executor.describe()} ==")
    cannot = sum(m.action is Action.CANNOT_RECOMMEND for m in rec.models)
    target = TARGETS_S.get((args.models, args.types))
    print(
        f"recommend wall time: {wall:6.2f} s ({f'target <= {target:g} s; ' if target else ''}"
        f"CPU here {cpu:.2f} s; {replayed} replays)"
    )
    print(
        f"peak memory:          {memory.peak_gib:.2f} GiB (resident: this process and its workers, summed, "
        f"shared pages in each; sampled every {MemorySampler.EVERY_S:g} s)"
    )
    print(f"models with a plan:   {len(served)} of {len(rec.models)} ({cannot} without one)")
    for note in rec.warnings[-3:]:
        if "worker" in note:
            print(f"note: {note}")
    if rec.packing is not None and rec.packing.ratio_to_lower_bound is not None:
        p = rec.packing
        adopted = sum(g.adopted for g in p.groups)
        print(
            f"packing in the recommendation:    {p.packed_usd_per_hour:.2f} $/h / bound "
            f"{p.lower_bound_usd_per_hour:.2f} $/h = {p.ratio_to_lower_bound:.4f}   (target <= 1.02; "
            f"{len(p.groups)} groups, {adopted} shared pools adopted)"
        )
    _against_reference(rec, args)
    if args.pack_all:
        _pack_all(rec, sc, catalog, names)
    if rec.totals.efficiency is not None:
        print(f"fleet cost / fluid lower bound:   {1 / rec.totals.efficiency:.2f}")
    if rec.totals.floor_efficiency is not None:
        print(f"fleet cost / bound with HA floor: {1 / rec.totals.floor_efficiency:.2f}")


class MemorySampler:
    """The peak resident memory of this process and its descendants (the pool's workers), summed: pages a
    forked worker still shares with this process count in both, so this is an upper bound. Sampled by a
    separate process, not a thread here: a thread would make the executor start its workers from a fork
    server instead of forking this process (``advisor.optimize.executor``), and the run would not be the
    one measured. (Resident sizes are cheap to read; proportional ones walk each process's page tables.)"""

    EVERY_S = 0.1

    def __init__(self) -> None:
        self.peak_gib = 0.0
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> MemorySampler:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--sample-memory-of", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._proc.stdout is not None
        self._proc.stdout.readline()  # sampling has started
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        out, _ = self._proc.communicate("")  # stdin closed: it prints the peak and stops
        self.peak_gib = float(out.strip() or "nan")


def sample_memory(pid: int) -> None:
    """The sampler's loop (``--sample-memory-of PID``): until stdin closes, then print the peak in GiB."""
    me = os.getpid()
    procs: dict[int, psutil.Process] = {}
    peak = 0.0
    closed = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    print("started", flush=True)
    while not closed.is_set():
        total = 0
        for child in [pid, *_descendants(pid)]:
            if child != me:
                with contextlib.suppress(psutil.Error):
                    total += procs.setdefault(child, psutil.Process(child)).memory_info().rss
        peak = max(peak, total / 1024**3)
        closed.wait(MemorySampler.EVERY_S)
    print(peak, flush=True)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from the kernel's per-thread lists of children: a few small reads a
    sample. (psutil's ``children`` reads every process's stat file, milliseconds a sample on the very cores
    being measured; it is the fallback where the kernel has no such lists.)"""
    if not os.path.exists(f"/proc/{pid}/task/{pid}/children"):
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{parent}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{parent}/task/{tid}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
                    found += kids
                    todo += kids
    return found


def _against_reference(rec: Recommendation, args: argparse.Namespace) -> None:
    """The totals against those main gave for the same seeded fleet before the fleet-scale work."""
    key = f"{args.models}x{args.types}@{args.seed}"
    refs = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ref = refs["fleets"].get(key)
    t = rec.totals
    now = {
        "recommended_usd_per_month": t.recommended_usd_per_month,
        "current_usd_per_month": t.current_usd_per_month,
        "recommended_for_current_models_usd_per_month": t.recommended_for_current_models_usd_per_month,
        "packing_ratio": rec.packing.ratio_to_lower_bound if rec.packing else None,
    }
    if args.write_reference:
        refs["fleets"][key] = now
        REFERENCE.write_text(json.dumps(refs, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"reference for {key} written to {REFERENCE.relative_to(REPO)}")
        return
    if ref is None:
        print(f"no reference totals for {key} in {REFERENCE.relative_to(REPO)}")
        return
    for name, value in now.items():
        was = ref.get(name)
        if value is None or was is None:
            continue
        diff = 100.0 * (value - was) / was if was else 0.0
        print(f"{name:<46} now {value:14.4f}  main ({refs['commit']}) {was:14.4f}  {diff:+.3f}%")


def _pack_all(rec: Recommendation, sc: Scenario, catalog: Catalog, names: list[str]) -> None:
    """The EC2 plans' peak replicas packed over all candidate types at once: packer vs Karpenter-like FFD."""
    spec = {m.name: m for m in sc.models}
    demands = [
        ModelDemand(name=m.model, replicas=max(1, m.plan.replicas_max), resources=spec[m.model].resources)
        for m in rec.models
        if m.plan is not None and m.plan.platform.value == "ec2"
    ]
    offers = catalog.offers("us-east-1")
    types = [t for t in node_types_from_offers(offers) if t.name in set(names)]
    t0 = time.perf_counter()
    result = pack(demands, types, PackingOptions())
    took = time.perf_counter() - t0
    ffd = karpenter_like_ffd(demands, types)
    bound = result.lower_bound_usd_per_hour
    print(
        f"packer, all {len(types)} types at once:  {result.usd_per_hour:.2f} $/h / bound {bound:.2f} $/h = "
        f"{result.usd_per_hour / bound:.4f} in {took:.2f} s ({len(demands)} EC2 models, {result.chosen})"
    )
    if ffd is not None:
        print(f"Karpenter-like FFD, same input:   {ffd.usd_per_hour / bound:.4f} x bound")


def part2(args: argparse.Namespace, settings: Settings, catalog: Catalog) -> None:
    path = REPO / "examples" / "demo-scenario.yaml"
    rec = advisor.recommend(path, settings=settings, catalog=catalog)  # as `advisor recommend` runs it
    source = "stored bench results" if args.home else "capacities as given in the file"
    print(f"\n== demo scenario ({source}) ==")
    head = f"{'model':<18}{'platform/shape':<26}{'$/month':>10}{'cost/bound':>12}{'cost/floor bd':>14}"
    print(f"{head}{'vs static peak':>16}{'vs today':>10}")
    for m in rec.models:
        if m.plan is None or m.cost is None:
            print(f"{m.model:<18}cannot recommend: {m.reason}")
            continue
        static = next((b for b in m.baselines if b.name == "static_peak"), None)
        eff = m.efficiency
        ratio = 1 / eff.efficiency if eff and eff.efficiency > 0 else float("nan")
        floor = 1 / eff.floor_efficiency if eff and eff.floor_efficiency else float("nan")
        vs_static = f"{static.savings_pct:.1f}%" if static and static.savings_pct is not None else "—"
        today = f"{m.savings_vs_current_pct:.1f}%" if m.savings_vs_current_pct is not None else "—"
        shape = f"{m.plan.platform.value} {m.plan.shape}"
        print(
            f"{m.model:<18}{shape:<26}{m.cost.usd_per_month:>10.2f}{ratio:>12.2f}{floor:>14.2f}"
            f"{vs_static:>16}{today:>10}"
        )
    t = rec.totals
    static_total = t.baselines_usd_per_month.get("static_peak")
    over_bound = 1 / t.efficiency if t.efficiency else float("nan")
    over_floor = 1 / t.floor_efficiency if t.floor_efficiency else float("nan")
    total_vs_static = t.savings_vs_baselines_pct.get("static_peak", float("nan"))
    total_vs_today = t.savings_vs_current_pct if t.savings_vs_current_pct is not None else float("nan")
    print(
        f"total recommended {t.recommended_usd_per_month:.2f} $/month; cost / fluid bound {over_bound:.2f} "
        f"(/ bound with HA floor {over_floor:.2f}); "
        f"saving vs static on-demand peak {total_vs_static:.1f}% (static {static_total or 0:.2f}); "
        f"vs today {total_vs_today:.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--types", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", type=Path, default=None, help="ADVISOR_HOME with stored bench results")
    parser.add_argument("--executor", default="local", help="local, local:N or dask://HOST:PORT")
    parser.add_argument("--pack-all", action="store_true", help="also pack every EC2 plan over all types")
    parser.add_argument("--skip-demo", action="store_true", help="part 1 only")
    parser.add_argument("--write-reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sample-memory-of", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sample_memory_of is not None:
        sample_memory(args.sample_memory_of)
        return
    home = args.home or Path(tempfile.mkdtemp()) / "home"
    settings = Settings(home=home)
    catalog = Catalog.load(settings)
    part1(args, settings, catalog)
    if not args.skip_demo:
        part2(args, settings, catalog)


if __name__ == "__main__":
    main()
