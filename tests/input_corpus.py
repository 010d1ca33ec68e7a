"""A corpus of malformed inputs, one case per way a user can get an input wrong, for every input the CLI reads.

Each :class:`Case` is a command line, the files it needs (written into a fresh folder, ``{dir}`` in the
arguments) and the environment it runs with. The contract each must meet is checked by
``tests/e2e/test_input_corpus.py``: exit status 1 or 2, exactly one line on stderr starting ``error:``, no
traceback and no "internal error", and the store and every file in ADVISOR_HOME unchanged.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    needle: str = ""  # a word the error line must contain (where or what), when there is an obvious one


def _yaml(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()


BASE_SCENARIO: dict[str, Any] = {
    "name": "corpus",
    "region": "us-east-1",
    "candidates": {"families": ["c6i", "c7g"], "max_size_vcpu": 8},
    "bench": {"shapes": ["c7a.medium"]},
    "models": [
        {
            "name": "m",
            "server": {"reference": "tabular"},
            "resources": {"vcpu": 1, "memory_gib": 2},
            "slo": {"latency_p99_ms": 50},
            "traffic": {"profile": "flat", "peak_rps": 100},
            "current": {"platform": "ec2", "instance_type": "m5.xlarge", "count": 2},
            "capacities_rps": {"c6i.large": 100},
        }
    ],
}


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    last = parts[-1]
    if value is _DELETE:
        if isinstance(node, list):
            del node[int(last)]
        else:
            node.pop(last, None)
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


_DELETE = object()
INF, NAN = float("inf"), float("nan")

# (field path, bad value, word the error should name)
SCENARIO_MUTATIONS: list[tuple[str, Any, str]] = [
    ("region", "us-east-9", "region"),
    ("region", 5, "region"),
    ("platforms", ["gcp"], "platforms"),
    ("platforms", "ec2", "platforms"),
    ("candidates.families", ["c99x"], "families"),
    ("candidates.families", [], "families"),
    ("candidates.instance_types", ["m5.xlrage"], "instance_types"),
    ("candidates.exclude", ["zz.top"], "exclude"),
    ("candidates.max_size_vcpu", 0, "max_size_vcpu"),
    ("candidates.max_size_vcpu", -4, "max_size_vcpu"),
    ("candidates.bogus", 1, "bogus"),
    ("spot.max_interruption_band", "50%", "max_interruption_band"),
    ("spot.min_on_demand_base", -1, "min_on_demand_base"),
    ("spot.min_instance_types_per_pool", 0, "min_instance_types_per_pool"),
    ("spot.allowed", "maybe", "allowed"),
    ("load_balancer.kind", "gateway", "kind"),
    ("load_balancer.payload_kib", 0, "payload_kib"),
    ("load_balancer.payload_kib", INF, "payload_kib"),
    ("slo_budget_pct_minutes", 200, "slo_budget_pct_minutes"),
    ("slo_budget_pct_minutes", NAN, "slo_budget_pct_minutes"),
    ("min_replicas", 0, "min_replicas"),
    ("min_replicas", 100_000_000, "min_replicas"),
    ("churn_threshold", -1, "churn_threshold"),
    ("churn_threshold", INF, "churn_threshold"),
    ("capacity_estimates", "wild", "capacity_estimates"),
    ("bench.shapes", ["c6i.lrage"], "shapes"),
    ("bench.shapes", [], "shapes"),
    ("bench.quick", "yes please", "quick"),
    ("models", [], "models"),
    ("models", "m", "models"),
    ("models.0.name", "bad name!", "name"),
    ("models.0.name", "", "name"),
    ("models.0.name", "x" * 500, "name"),
    ("models.0.team", ["risk"], "team"),
    ("models.0.server", {}, "server"),
    ("models.0.server", {"reference": "tabular", "command": "x {port}"}, "server"),
    ("models.0.server.reference", "tabluar", "reference"),
    ("models.0.server", {"command": "python -m srv --port $PORT"}, "command"),
    ("models.0.server", {"command": "python -m srv --port {port}", "payload": "missing.json"}, "payload"),
    ("models.0.server", {"command": "python -m srv 'unbalanced {port}"}, "command"),
    ("models.0.server", {"endpoint": "ftp://x"}, "endpoint"),
    ("models.0.server.template", "soap", "template"),
    ("models.0.server.ready_timeout_s", -5, "ready_timeout_s"),
    ("models.0.resources", {}, "resources"),
    ("models.0.resources.vcpu", 0, "vcpu"),
    ("models.0.resources.vcpu", -1, "vcpu"),
    ("models.0.resources.vcpu", NAN, "vcpu"),
    ("models.0.resources.vcpu", INF, "vcpu"),
    ("models.0.resources.vcpu", "two", "vcpu"),
    ("models.0.resources.vcpu", 10_000, "vcpu"),
    ("models.0.resources.memory_gib", 0, "memory_gib"),
    ("models.0.resources.memory_gib", INF, "memory_gib"),
    ("models.0.resources.gpu_count", -1, "gpu_count"),
    ("models.0.resources.gpu_count", NAN, "gpu_count"),
    ("models.0.resources.arch", "sparc", "arch"),
    ("models.0.slo", {}, "slo"),
    ("models.0.slo.latency_p99_ms", 0, "latency_p99_ms"),
    ("models.0.slo.latency_p99_ms", -5, "latency_p99_ms"),
    ("models.0.slo.latency_p99_ms", NAN, "latency_p99_ms"),
    ("models.0.slo.latency_p99_ms", INF, "latency_p99_ms"),
    ("models.0.slo.max_error_rate", 2, "max_error_rate"),
    ("platforms", [], "platforms"),
    ("models.0.traffic", {}, "traffic"),
    ("models.0.traffic.profile", "nope-no-such", "profile"),
    ("models.0.traffic.profile", "", "profile"),
    ("models.0.traffic.peak_rps", 0, "peak_rps"),
    ("models.0.traffic.peak_rps", -1, "peak_rps"),
    ("models.0.traffic.peak_rps", INF, "peak_rps"),
    ("models.0.traffic.peak_rps", NAN, "peak_rps"),
    ("models.0.traffic.peak_rps", 1e15, "peak_rps"),
    ("models.0.traffic.monthly_requests", NAN, "monthly_requests"),
    ("models.0.traffic.monthly_requests", 1e30, "monthly_requests"),
    ("models.0.current.platform", "heroku", "platform"),
    ("models.0.current.instance_type", "m5.xlrage", "instance_type"),
    ("models.0.current.count", 0, "count"),
    ("models.0.current.count", 10**9, "count"),
    ("models.0.current.purchase_option", "reserved", "purchase_option"),
    ("models.0.current", {"platform": "fargate", "fargate_vcpu": 0.3, "fargate_memory_gib": 1}, "fargate"),
    ("models.0.current", {"platform": "fargate", "count": 2}, "current"),
    ("models.0.current", {"platform": "sagemaker", "count": 2}, "instance_type"),
    ("models.0.capacities_rps", {"c6i.large": INF}, "capacities_rps"),
    ("models.0.capacities_rps", {"c6i.large": NAN}, "capacities_rps"),
    ("models.0.capacities_rps", {"c6i.large": -1}, "capacities_rps"),
    ("models.0.capacities_rps", {"c6i.large": 0}, "capacities_rps"),
    ("models.0.capacities_rps", {"c6i.lrage": 10}, "c6i.lrage"),
    ("models.0.capacities_rps", {"c6i.large": "fast"}, "capacities_rps"),
    ("models.0.unloaded_p99_ms", -1, "unloaded_p99_ms"),
    ("models.0.unloaded_p99_ms", INF, "unloaded_p99_ms"),
    ("models.0.bench_shapes", ["m5.xlrage"], "bench_shapes"),
    ("models.0.surprise", True, "surprise"),
    ("models.0.architectures", ["sparc"], "architectures.0"),
    ("models.0.architectures", [], "architectures"),
    ("models.0.architectures", ["arm64", "arm64"], "twice"),
    ("models.0.resources.arch", "arm64", "add it to architectures"),
    ("models.0.deploy", {}, "exactly one deployment target"),
    (
        "models.0.deploy",
        {"aws_asg": {"name": "a"}, "ecs": {"cluster": "c", "service": "s"}},
        "got aws_asg, ecs",
    ),
    ("models.0.deploy", {"heroku": {"app": "x"}}, "deploy.heroku"),
    ("models.0.deploy", {"kubernetes": {"deployment": "Fraud_Scorer"}}, "deploy.kubernetes.deployment"),
    ("models.0.deploy", {"kubernetes": {"namespace": "ml"}}, "deploy.kubernetes.deployment"),
    ("models.0.deploy", {"kubernetes": {"deployment": "d", "autoscaler": "vpa"}}, "autoscaler"),
    ("models.0.deploy", {"sagemaker": {"endpoint": "has space"}}, "deploy.sagemaker.endpoint"),
    ("models.0.deploy", {"ecs": {"cluster": "prod"}}, "deploy.ecs.service"),
    ("models.0.deploy", {"aws_asg": {"name": "x" * 300}}, "deploy.aws_asg.name"),
    ("models.0.deploy", {"cortex": {"api": "API", "cluster": "c"}}, "deploy.cortex.api"),
    ("models.0.deploy", {"sagemaker": {"endpoint": "e"}}, "current.platform is ec2"),
    (
        "models.0.current",
        {"platform": "sagemaker", "instance_type": "ml.c7a.medium"},
        "not a SageMaker endpoint",
    ),
    ("models.0.capacities_rps", {"ml.c7a.medium": 10}, "capacities_rps.ml.c7a.medium"),
    ("cluster.orchestrator", "nomad", "cluster.orchestrator"),
    ("cluster.daemonsets", [{"name": "agent", "vcpu": -1}], "cluster.daemonsets.0.vcpu"),
    ("cluster.daemonsets", [{"vcpu": 0.1}], "cluster.daemonsets.0.name"),
    ("cluster.ecs_reserved_memory_mib", NAN, "ecs_reserved_memory_mib"),
]


def scenario_cases() -> Iterator[Case]:
    for i, (path, value, needle) in enumerate(SCENARIO_MUTATIONS):
        data = _set(BASE_SCENARIO, path, value)
        slug = path.replace(".", "-") + "=" + json.dumps(value)[:20]
        yield Case(
            f"scenario:{i:02d}:{slug}", ("recommend", "{dir}/s.yaml"), {"s.yaml": _yaml(data)}, needle=needle
        )
    twice = copy.deepcopy(BASE_SCENARIO)
    twice["models"].append(copy.deepcopy(twice["models"][0]))
    yield Case(
        "scenario:duplicate-model", ("recommend", "{dir}/s.yaml"), {"s.yaml": _yaml(twice)}, needle="unique"
    )
    both = _set(BASE_SCENARIO, "models.0.traffic.monthly_requests", 1e6)
    yield Case(
        "scenario:peak-and-volume", ("recommend", "{dir}/s.yaml"), {"s.yaml": _yaml(both)}, needle="traffic"
    )
    # the scenario file itself
    files = {
        "not-yaml": b"models: [unclosed\n  - name: x\n",
        "a-list": b"- name: x\n- name: y\n",
        "a-scalar": b"just text\n",
        "empty": b"",
        "binary": bytes(range(256)) * 8,
        "utf16-no-bom": yaml.safe_dump(BASE_SCENARIO).encode("utf-16-le"),
        "deep-json": ("[" * 200_000 + "]" * 200_000).encode(),
        "deep-mapping": ("{a: " * 5000 + "1" + "}" * 5000).encode(),
        "tabs": b"name:\tx\nmodels:\n\t- name: m\n",
        "anchors-bomb": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
        "nul-bytes": b"name: x\x00\x00\nmodels: []\n",
        "huge-int": b"name: x\nmin_replicas: " + b"9" * 5000 + b"\nmodels: []\n",
        "garbage-10mb": (b"kq: zv ]x {wo: 'p\n  - ; ,u\t" * 400_000)[: 10 * 2**20],
    }
    for name, content in files.items():
        yield Case(f"scenario-file:{name}", ("recommend", "{dir}/s.yaml"), {"s.yaml": content})
    base = _yaml(BASE_SCENARIO)
    for key, doc in (("name", b"name: other\n" + base), ("models", base + b"models: []\n")):
        yield Case(f"scenario-file:duplicate-{key}", ("recommend", "{dir}/s.yaml"), {"s.yaml": doc},
                   needle=f"duplicate key '{key}'")  # fmt: skip
    yield Case("scenario-file:missing", ("recommend", "{dir}/nope.yaml"), needle="scenario file not found")
    for bad in ("ray://head:10001", "local:0", "dask://scheduler"):  # where the per-model searches run
        yield Case(f"recommend:executor-{bad.split(':')[0]}", ("recommend", "{dir}/s.yaml", "--executor", bad),
                   {"s.yaml": base}, needle="--executor")  # fmt: skip
    for flags in (("--json", "--format", "table"), ("--markdown", "--format", "json")):
        yield Case(f"recommend:format-{flags[0][2:]}-and-{flags[2]}", ("recommend", "{dir}/s.yaml", *flags),
                   {"s.yaml": base}, needle="ask for two formats")  # fmt: skip
    yield Case("scenario-file:a-folder", ("recommend", "{dir}"), needle="the scenario file is a folder")
    yield Case("scenario-file:too-long", ("recommend", "{dir}/" + "a" * 5000 + ".yaml"))
    # a traffic file beside the scenario with a bad row: the error keeps its file:line inside the field
    bad_csv = b"timestamp,rps\n2024-01-01T00:00:00Z,5\n2024-01-01T00:01:00Z,-3\n"
    scen = _set(BASE_SCENARIO, "models.0.traffic.profile", "load.csv")
    yield Case("scenario:profile-csv-bad-row", ("recommend", "{dir}/s.yaml"),
               {"s.yaml": _yaml(scen), "load.csv": bad_csv}, needle="load.csv:3")  # fmt: skip
    huge = {"name": "huge", "timezone": "UTC", "start": "2024-01-01", "days": 3660, "step_s": 1,
            "components": [{"kind": "flat", "rps": 5}]}  # fmt: skip
    scen = _set(BASE_SCENARIO, "models.0.traffic.profile", "huge.yaml")
    yield Case("scenario:profile-10-years-at-1s", ("recommend", "{dir}/s.yaml"),
               {"s.yaml": _yaml(scen), "huge.yaml": _yaml(huge)}, needle="steps")  # fmt: skip
    far = {**huge, "days": 1, "step_s": 60, "start": "2300-01-01"}
    scen = _set(BASE_SCENARIO, "models.0.traffic.profile", "far.yaml")
    yield Case("scenario:profile-in-2300", ("recommend", "{dir}/s.yaml"),
               {"s.yaml": _yaml(scen), "far.yaml": _yaml(far)}, needle="start")  # fmt: skip
    short = b"timestamp,rps\n" + b"".join(b"2024-01-01T00:%02d:00Z,5\n" % m for m in range(4))
    scen = _set(BASE_SCENARIO, "models.0.traffic.profile", "short.csv")
    yield Case("scenario:profile-of-4-minutes", ("recommend", "{dir}/s.yaml"),
               {"s.yaml": _yaml(scen), "short.csv": short}, needle="covers 4 minutes, less than an hour")  # fmt: skip
    yield Case("scenario:bench-shape-too-big", ("recommend", "{dir}/s.yaml", "--bench"),
               {"s.yaml": _yaml(_set(BASE_SCENARIO, "bench.shapes", ["c6i.32xlarge"]))}, needle="bench.shapes.0")  # fmt: skip


BASE_PLAN: dict[str, Any] = yaml.safe_load(
    """
name: p
platform: ec2
shape: c6i.xlarge
replicas_per_node: 2
capacity: {rps_per_replica: 12, provenance: given}
slo: {latency_p99_ms: 250}
autoscaling: {min_replicas: 2, max_replicas: 20, target_utilisation: 0.6}
"""
)
PLAN_MUTATIONS: list[tuple[str, Any, str]] = [
    ("shape", "m5.xlrage", "shape"),
    ("shape", {"vcpu": 0.3, "memory_gib": 1}, "shape"),
    ("platform", "gke", "platform"),
    ("region", "us-east-9", "region"),
    ("replicas_per_node", 0, "replicas_per_node"),
    ("capacity.rps_per_replica", INF, "rps_per_replica"),
    ("capacity.rps_per_replica", 0, "rps_per_replica"),
    ("capacity.rps_per_replica", NAN, "rps_per_replica"),
    ("slo.latency_p99_ms", INF, "latency_p99_ms"),
    ("autoscaling.target_utilisation", 0, "target_utilisation"),
    ("autoscaling.target_utilisation", 1.5, "target_utilisation"),
    ("autoscaling.min_replicas", 30, "replicas"),
    ("autoscaling.max_replicas", 0, "max_replicas"),
    ("autoscaling.max_replicas", 10**9, "max_replicas"),
    ("autoscaling.scale_up_delay_s", -1, "scale_up_delay_s"),
    ("purchase", {"spot_pct_above_base": 150}, "spot_pct_above_base"),
    ("purchase", {"spot_pct_above_base": 50, "spot_pools": ["zz.top"]}, "spot_pools"),
    ("load_balancer", {"kind": "gateway"}, "kind"),
    ("name", "", "name"),
    ("extra", 1, "extra"),
    ("capacity.rps_per_replica", 1e-300, "rps_per_replica"),  # a divide by zero in float32, once
    ("replica", {"vcpu": 64, "memory_gib": 8}, "replica"),  # bigger than its node
    ("replica", {"vcpu": 3, "memory_gib": 2}, "replica"),  # two of them (replicas_per_node) are
]


def plan_cases() -> Iterator[Case]:
    for i, (path, value, needle) in enumerate(PLAN_MUTATIONS):
        data = _set(BASE_PLAN, path, value)
        yield Case(f"plan:{i:02d}:{path}={json.dumps(value)[:20]}", ("cost", "simulate", "{dir}/p.yaml", "--profile", "flat"),
                   {"p.yaml": _yaml(data)}, needle=needle)  # fmt: skip
    good = {"p.yaml": _yaml(BASE_PLAN)}
    sim = ("cost", "simulate", "{dir}/p.yaml", "--profile")
    for extra, needle in (
        (("flat", "--seed", "-1"), "--seed"),
        (("flat", "--peak-rps", "nan"), "--peak-rps"),
        (("flat", "--peak-rps", "1e7"), "rps_per_replica"),  # 12 req/s replicas: 833,334 of them
        (("flat", "--peak-rps", "-5"), "--peak-rps"),
        (("flat", "--peak-rps", "inf"), "--peak-rps"),
        (("flat", "--monthly-requests", "-1"), "--monthly-requests"),
        (("flat", "--repeat-to", "decade"), "--repeat-to"),
        (("flat", "--series-step", "0"), "--series-step"),
        (("flat", "--series-step", "-60"), "--series-step"),
        (("flat", "--series-step", "7"), "--series-step"),
        (("nope-no-such",), "nope-no-such"),
        (("flat", "--repeat-to", "year", "--peak-rps", "1e15"), ""),
    ):
        yield Case(f"cost-flags:{'_'.join(extra)[:40]}", (*sim, *extra), good, needle=needle)
    yield Case("plan-file:missing", ("cost", "simulate", "{dir}/none.yaml", "--profile", "flat"),
               needle="plan file not found")  # fmt: skip
    yield Case("plan-file:a-folder", ("cost", "simulate", "{dir}", "--profile", "flat"),
               needle="the plan file is a folder")  # fmt: skip
    yield Case("plan-file:binary", (*sim, "flat"), {"p.yaml": bytes(range(256)) * 4})


PROFILE_CSVS: dict[str, bytes] = {
    "no-header": b"2024-01-01T00:00:00Z,5\n",
    "bad-header": b"when,how_many\n2024-01-01T00:00:00Z,5\n",
    "text-rate": b"timestamp,rps\n2024-01-01T00:00:00Z,lots\n",
    "negative": b"timestamp,rps\n2024-01-01T00:00:00Z,5\n2024-01-01T00:01:00Z,-1\n",
    "nan": b"timestamp,rps\n2024-01-01T00:00:00Z,5\n2024-01-01T00:01:00Z,nan\n",
    "inf": b"timestamp,rps\n2024-01-01T00:00:00Z,5\n2024-01-01T00:01:00Z,inf\n",
    "unsorted": b"timestamp,rps\n2024-01-01T00:01:00Z,5\n2024-01-01T00:00:00Z,5\n",
    "duplicate": b"timestamp,rps\n2024-01-01T00:00:00Z,5\n2024-01-01T00:00:00Z,6\n",
    "bad-time": b"timestamp,rps\nyesterday,5\n",
    "year-2300": b"timestamp,rps\n2300-01-01T00:00:00Z,5\n2300-01-01T00:01:00Z,5\n",
    "epoch-huge": b"timestamp,rps\n99999999999,5\n99999999999.5,5\n",
    "epoch-negative": b"timestamp,rps\n-99999999999999,5\n",
    "mixed-naive-aware": b"timestamp,rps\n2024-01-01T00:00:00,5\n2024-01-01T00:01:00Z,5\n",
    "empty": b"",
    "only-header": b"timestamp,rps\n",
    "binary": bytes(range(256)) * 4,
    "utf16-no-bom": "timestamp,rps\n2024-01-01T00:00:00Z,5\n".encode("utf-16-le"),
    "one-row": b"timestamp,rps\n2024-01-01T00:00:00Z,5\n",
    "gap": b"timestamp,rps\n2024-01-01T00:00:00Z,5\n2024-01-01T00:01:00Z,5\n2024-01-01T05:00:00Z,5\n",
    "wide": b"timestamp,rps,rps\n2024-01-01T00:00:00Z,5,6\n",
}


def profile_cases() -> Iterator[Case]:
    for name, content in PROFILE_CSVS.items():
        yield Case(f"profile-csv:{name}", ("profile", "show", "{dir}/p.csv"), {"p.csv": content})
        yield Case(
            f"profile-import:{name}",
            ("profile", "import", "{dir}/p.csv", "--name", "imp"),
            {"p.csv": content},
        )
    ok = b"timestamp,rps\n2024-01-01T00:00:00Z,5\n2024-01-01T00:01:00Z,6\n2024-01-01T00:02:00Z,7\n"
    for extra, needle in (
        (("--timezone", "Mars/Olympus"), "timezone"),
        (("--step", "-60"), "--step"),
        (("--step", "0"), "--step"),
        (("--step", "7"), "--step"),
        (("--peak-rps", "nan"), "--peak-rps"),
        (("--repeat-to", "eon"), "--repeat-to"),
        (("--fill", "magic"), "--fill"),
    ):
        yield Case(
            f"profile-flags:{'_'.join(extra)}",
            ("profile", "show", "{dir}/p.csv", *extra),
            {"p.csv": ok},
            needle=needle,
        )
    for extra, needle in (
        (("--name", "../../escape"), "--name"),
        (("--name", "/abs/path"), "--name"),
        (("--name", ""), "--name"),
        (("--output", "{dir}/adir"), "adir"),
        (("--output", "{dir}/p.csv/under-a-file.csv"), "p.csv"),
        (("--step", "-60"), "--step"),
    ):
        yield Case(f"profile-import-flags:{'_'.join(extra)[:30]}", ("profile", "import", "{dir}/p.csv", *extra),
                   {"p.csv": ok, "adir/keep": b"x"}, needle=needle)  # fmt: skip
    yield Case(
        "profile-import:cloudwatch-and-file",
        ("profile", "import", "{dir}/p.csv", "--alb", "app/x/1"),
        {"p.csv": ok},
    )
    yield Case(
        "profile-import:cloudwatch-no-start", ("profile", "import", "--alb", "app/x/1"), needle="--start"
    )
    yield Case("profile-import:cloudwatch-two-sources", ("profile", "import", "--alb", "app/x/1",
               "--sagemaker-endpoint", "e", "--start", "2024-01-01"))  # fmt: skip
    yield Case("profile-show:unknown-name", ("profile", "show", "no-such-profile"), needle="no-such-profile")
    logs = {
        "log-no-time": b"user,path\nu1,/a\n",
        "log-bad-time": b"time,path\nnot-a-time,/a\n",
    }
    for name, content in logs.items():
        yield Case(f"request-log:{name}", ("profile", "show", "{dir}/log.csv"), {"log.csv": content})


SPEC = {"name": "g", "timezone": "UTC", "start": "2024-01-01", "days": 1, "step_s": 60,
        "components": [{"kind": "flat", "rps": 5}]}  # fmt: skip
SPEC_MUTATIONS: list[tuple[str, Any]] = [
    ("components.0.kind", "sawtooth"),
    ("components.0.rps", -5),
    ("components.0.rps", NAN),
    ("components", []),
    ("timezone", "Mars/Olympus"),
    ("start", "2300-01-01"),
    ("start", "yesterday"),
    ("days", 0),
    ("days", 100_000),
    ("step_s", -60),
    ("step_s", 0),
    ("seed", -1),
    ("noise_pct", -10),
    ("name", "../../escaped-spec"),  # a profile's name names its file: never a path
    ("name", "a/b"),
]


def generator_cases() -> Iterator[Case]:
    for path, value in SPEC_MUTATIONS:
        data = _set(SPEC, path, value)
        yield Case(
            f"spec:{path}={json.dumps(value)}",
            ("profile", "generate", "{dir}/g.yaml"),
            {"g.yaml": _yaml(data)},
        )
    good = {"g.yaml": _yaml(SPEC)}
    for extra, needle in (
        (("--seed", "-1"), "--seed"),
        (("--step", "-60"), "--step"),
        (("--peak-rps", "0"), "--peak-rps"),
        (("--output", "{dir}"), ""),
        (("--name", "../x"), "--name"),
    ):
        yield Case(
            f"generate-flags:{'_'.join(extra)}",
            ("profile", "generate", "{dir}/g.yaml", *extra),
            good,
            needle=needle,
        )
    yield Case("generate:not-a-spec", ("profile", "generate", "{dir}/g.csv"), {"g.csv": b"timestamp,rps\n"})


_POINT = {"seq": 0, "mode": "open", "target_rps": 10, "achieved_rps": 10, "requests": 100, "errors": 0,
          "error_rate": 0, "p99_ms": 20, "duration_s": 10, "valid": True, "passed": True}  # fmt: skip


def _report(capacity: Any, **over: Any) -> bytes:
    result = {"run_id": "imp-1", "model": "m", "shape": "c6i.large", "status": "completed", "slo_p99_ms": 100,
              "max_error_rate": 0.001, "capacity_rps": capacity, "points": []}  # fmt: skip
    result.update(over)
    doc = {"schema_version": "advisor.bench/1", "model": "m", "target": "t", "slo_p99_ms": 100,
           "max_error_rate": 0.001, "results": [result]}  # fmt: skip
    return json.dumps(doc).replace("Infinity", "1e400").encode()


def bench_cases() -> Iterator[Case]:
    imports = {
        "negative": _report(-5),
        "infinite": _report(INF),
        "nan": json.dumps({"results": [{"capacity_rps": NAN}]}).encode(),
        "nan-capacity": _report(0).replace(b'"capacity_rps": 0', b'"capacity_rps": NaN'),
        "garbage": b"\x00\x01\x02 not json",
        "empty": b"",
        "deep": b"[" * 200_000 + b"]" * 200_000,
        "wrong-shape": b'{"results": 5}',
        "utf16-no-bom": _report(10).decode().encode("utf-16-le"),
        "slo-zero": _report(10, slo_p99_ms=0),
        "bad-status": _report(10, status="finished"),
        "empty-id": _report(10, run_id=""),
        "requests-beyond-sqlite": _report(10, points=[_POINT | {"requests": 2**70}]),
        "no-results": json.dumps({"schema_version": "advisor.bench/1", "model": "m", "target": "t",
                                  "slo_p99_ms": 100, "max_error_rate": 0.001, "results": []}).encode(),
        "llm-no-results": json.dumps({"schema_version": "advisor.llm-bench/1", "model": "m", "target": "t",
                                      "slo": {"ttft_p99_ms": 100}, "capacity_rps": 0, "results": []}).encode(),
    }  # fmt: skip
    for name, content in imports.items():
        yield Case(f"bench-import:{name}", ("bench", "import", "{dir}/r.json"), {"r.json": content})
    yield Case("bench-import:missing", ("bench", "import", "{dir}/none.json"), needle="none.json")
    yield Case("bench-import:a-folder", ("bench", "import", "{dir}"), needle="is a folder")
    body = {"b.json": b'{"x": 1}'}
    run = ("bench", "run", "--slo-p99-ms")
    flag_cases: list[tuple[str, tuple[str, ...], str]] = [
        ("slo-nan", (*run, "nan", "--model", "synthetic"), "--slo-p99-ms"),
        ("slo-negative", (*run, "-1", "--model", "synthetic"), "--slo-p99-ms"),
        ("slo-zero", (*run, "0", "--model", "synthetic"), "--slo-p99-ms"),
        ("slo-inf", (*run, "inf", "--model", "synthetic"), "--slo-p99-ms"),
        ("error-rate", (*run, "100", "--model", "synthetic", "--max-error-rate", "2"), "--max-error-rate"),
        (
            "timeout-negative",
            (*run, "100", "--model", "synthetic", "--request-timeout", "-1"),
            "--request-timeout",
        ),
        (
            "timeout-nan",
            (*run, "100", "--model", "synthetic", "--request-timeout", "nan"),
            "--request-timeout",
        ),
        ("ready-negative", (*run, "100", "--model", "synthetic", "--ready-timeout", "-5"), "--ready-timeout"),
        ("users-zero", (*run, "100", "--model", "synthetic", "--users", "0"), "--users"),
        ("port-zero", (*run, "100", "--model", "synthetic", "--master-port", "0"), "--master-port"),
        ("port-huge", (*run, "100", "--model", "synthetic", "--master-port", "70000"), "--master-port"),
        ("emulation", (*run, "100", "--model", "synthetic", "--emulation", "magic"), "--emulation"),
        ("unknown-model", (*run, "100", "--model", "tabluar"), "tabular"),
        ("unknown-shape", (*run, "100", "--model", "synthetic", "--shapes", "c6i.lrage"), "c6i.lrage"),
        ("empty-shapes", (*run, "100", "--model", "synthetic", "--shapes", ","), "--shapes"),
        ("too-big-shape", (*run, "100", "--model", "synthetic", "--shapes", "c6i.32xlarge"), "c6i.32xlarge"),
        ("gpu-shape", (*run, "100", "--model", "synthetic", "--shapes", "g5.xlarge"), "g5.xlarge"),
        ("model-option", (*run, "100", "--model", "synthetic", "--model-option", "slots"), "--model-option"),
        ("model-option-unknown", (*run, "100", "--model", "synthetic", "--model-option", "speed=3"), "speed"),
        ("template", (*run, "100", "--endpoint", "http://127.0.0.1:9/p", "--template", "soap"), "--template"),
        ("header", (*run, "100", "--endpoint", "http://127.0.0.1:9/p", "--header", "nocolon"), "--header"),
        (
            "both-targets",
            (*run, "100", "--endpoint", "http://x/p", "--server-cmd", "x {port}"),
            "--server-cmd",
        ),
        ("server-cmd-no-port", (*run, "100", "--server-cmd", "python -m http.server"), "{port}"),
        (
            "endpoint-ftp",
            (*run, "100", "--endpoint", "ftp://host/x", "--payload", "{dir}/b.json"),
            "--endpoint",
        ),
        (
            "payload-missing",
            (*run, "100", "--endpoint", "http://127.0.0.1:9/p", "--payload", "{dir}/no.json"),
            "no.json",
        ),
        ("nothing", (*run, "100"), "--model"),
        ("resolution", (*run, "100", "--model", "synthetic", "--resolution", "0.9"), "--resolution"),
    ]
    for name, argv, needle in flag_cases:
        yield Case(f"bench-run:{name}", argv, body, needle=needle)
    payloads = {
        "utf16-no-bom": '{"x": 1}'.encode("utf-16-le"),
        "binary": bytes(range(256)),
        "deep": b"[" * 200_000 + b"]" * 200_000,
        "broken": b'{"x": ',
        "kserve-no-inputs": b'{"data": 1}',
        "nan-literal": b'{"x": [1.0, NaN]}',
        "infinity-literal": b'{"x": -Infinity}',
    }
    for name, content in payloads.items():
        template = "kserve-v2" if name.startswith("kserve") else "json"
        yield Case(f"bench-payload:{name}", (*run, "100", "--endpoint", "http://127.0.0.1:9/v2/models/m/infer",
                   "--payload", "{dir}/b.json", "--template", template), {"b.json": content})  # fmt: skip
    est = ("bench", "estimate", "--input-tokens", "500", "--output-tokens", "100")
    other = [
        ("show-run", ("bench", "show", "--run", "no-such-run"), "no-such-run"),
        ("show-limit", ("bench", "show", "--limit", "0"), "--limit"),
        ("export-format", ("bench", "export", "--format", "xml"), "--format"),
        ("export-missing-dir", ("bench", "export", "-o", "{dir}/missing-dir/out.csv"), "missing-dir"),
        ("export-to-dir", ("bench", "export", "-o", "{dir}"), ""),
        ("export-run", ("bench", "export", "--run", "no-such-run"), "no-such-run"),
        ("suggest-slo", ("bench", "suggest", "--model", "tabular", "--slo-p99-ms", "nan"), "--slo-p99-ms"),
        ("suggest-no-slo", ("bench", "suggest", "--model", "tabular"), "--slo-p99-ms"),
        ("suggest-types", ("bench", "suggest", "--model", "tabular", "--slo-p99-ms", "50", "--instance-types", "m5.xlrage"), "m5.xlrage"),
        ("suggest-region", ("bench", "suggest", "--model", "tabular", "--slo-p99-ms", "50", "--region", "us-east-9"), "us-east-9"),
        ("suggest-roofline", ("bench", "suggest", "--model", "tabular", "--slo-p99-ms", "50", "--flops-per-request", "-1", "--bytes-per-request", "1"), "--flops-per-request"),
        ("suggest-half-roofline", ("bench", "suggest", "--model", "tabular", "--slo-p99-ms", "50", "--flops-per-request", "1"), "--bytes-per-request"),
        ("suggest-unmeasured", ("bench", "suggest", "--model", "never-measured", "--slo-p99-ms", "50"), "never-measured"),
        ("plan-emit", ("bench", "jobs", "--emit", "helm", "{dir}/k8s", "--models", "tabular", "--instance-types", "c6i.large", "--slo-p99-ms", "50", "--image", "i"), "--emit"),
        ("plan-models", ("bench", "jobs", "--emit", "k8s", "{dir}/k8s", "--models", "nope", "--instance-types", "c6i.large", "--slo-p99-ms", "50", "--image", "i"), "nope"),
        ("plan-types", ("bench", "jobs", "--emit", "k8s", "{dir}/k8s", "--models", "tabular", "--instance-types", "xx", "--slo-p99-ms", "50", "--image", "i"), "xx"),
        ("plan-version", ("bench", "jobs", "--emit", "k8s", "{dir}/k8s", "--models", "tabular", "--instance-types", "c6i.large", "--slo-p99-ms", "50", "--image", "i", "--k8s-version", "0.1"), "--k8s-version"),
        ("plan-dir-is-file", ("bench", "jobs", "--emit", "k8s", "{dir}/b.json", "--models", "tabular", "--instance-types", "c6i.large", "--slo-p99-ms", "50", "--image", "i"), "b.json"),
        ("plan-empty-image", ("bench", "jobs", "--emit", "k8s", "{dir}/k8s", "--models", "tabular", "--instance-types", "c6i.large", "--slo-p99-ms", "50", "--image", ""), "--image"),
        ("plan-namespace", ("bench", "jobs", "--emit", "k8s", "{dir}/k8s", "--models", "tabular", "--instance-types", "c6i.large", "--slo-p99-ms", "50", "--image", "i", "--namespace", "Team_A"), "--namespace"),
        ("jobs-llm-server-image", ("bench", "jobs", "--emit", "k8s", "{dir}/k8s", "--llm-model", "org/m", "--instance-types", "g5.xlarge", "--slo-ttft-p99-ms", "500", "--image", "i", "--server-image", "vllm/vllm openai"), "--server-image"),
        ("jobs-llm-namespace", ("bench", "jobs", "--emit", "k8s", "{dir}/k8s", "--llm-model", "org/m", "--instance-types", "g5.xlarge", "--slo-ttft-p99-ms", "500", "--image", "i", "--namespace", "-x"), "--namespace"),
        ("worker-master", ("bench", "worker", "--master", "nohostport"), "--master"),
        ("estimate-preset", (*est, "--llm", "gpt-5", "--shapes", "g5.xlarge"), "gpt-5"),
        ("estimate-shape", (*est, "--llm", "llama-3.1-8b", "--shapes", "g5.xlrage"), "g5.xlrage"),
        ("estimate-no-shapes", (*est, "--llm", "llama-3.1-8b", "--shapes", " , "), "--shapes"),
        ("estimate-concurrency", (*est, "--llm", "llama-3.1-8b", "--shapes", "g5.xlarge", "--concurrency", "1,x"), "--concurrency"),
        ("estimate-concurrency-0", (*est, "--llm", "llama-3.1-8b", "--shapes", "g5.xlarge", "--concurrency", "0"), "--concurrency"),
        ("estimate-dtype", (*est, "--llm", "llama-3.1-8b", "--shapes", "g5.xlarge", "--dtype", "fp4"), "--dtype"),
        ("estimate-slo", (*est, "--llm", "llama-3.1-8b", "--shapes", "g5.xlarge", "--slo-tpot-p99-ms", "nan"), "--slo-tpot-p99-ms"),
        ("estimate-config-missing", (*est, "--llm", "{dir}/none/config.json", "--shapes", "g5.xlarge"), "none"),
        ("estimate-tokens", ("bench", "estimate", "--llm", "llama-3.1-8b", "--shapes", "g5.xlarge", "--input-tokens", "0", "--output-tokens", "1"), "--input-tokens"),
    ]  # fmt: skip
    for name, argv, needle in other:
        yield Case(f"bench:{name}", argv, body, needle=needle)
    configs = {
        "broken": (b'{"hidden_size": ', "config.json"),
        "field": (json.dumps({"num_hidden_layers": 2, "hidden_size": "big"}).encode(), "hidden_size"),
        "a-list": (b"[1, 2]", "JSON object"),
    }
    for name, (content, needle) in configs.items():
        argv = (*est, "--llm", "{dir}/config.json", "--shapes", "g5.xlarge")
        yield Case(f"bench:estimate-config-{name}", argv, {"config.json": content}, needle=needle)


def pricing_cases() -> Iterator[Case]:
    cheap = ("pricing", "cheapest", "--memory-gib", "8", "--vcpu")
    rows: list[tuple[str, tuple[str, ...], str]] = [
        ("cheapest-vcpu-0", (*cheap, "0"), "--vcpu"),
        ("cheapest-vcpu-negative", (*cheap, "-2"), "--vcpu"),
        ("cheapest-vcpu-nan", (*cheap, "nan"), "--vcpu"),
        ("cheapest-vcpu-inf", (*cheap, "inf"), "--vcpu"),
        ("cheapest-memory-0", ("pricing", "cheapest", "--vcpu", "2", "--memory-gib", "0"), "--memory-gib"),
        ("cheapest-gpus-negative", (*cheap, "2", "--gpus", "-1"), "--gpus"),
        ("cheapest-replicas-0", (*cheap, "2", "--replicas", "0"), "--replicas"),
        ("cheapest-option", (*cheap, "2", "--option", "sagemaker"), "--option"),
        ("cheapest-region", (*cheap, "2", "--region", "us-east-9"), "us-east-9"),
        ("show-region", ("pricing", "show", "--region", "us-east-9"), "us-east-9"),
        ("show-type", ("pricing", "show", "--instance-type", "m5.xlrage"), "m5.xlrage"),
        ("show-fargate", ("pricing", "show", "--fargate-vcpu", "0.3", "--fargate-memory-gib", "1"), "0.3"),
        (
            "show-fargate-nan",
            ("pricing", "show", "--fargate-vcpu", "nan", "--fargate-memory-gib", "1"),
            "fargate",
        ),
        ("show-fargate-half", ("pricing", "show", "--fargate-vcpu", "1"), "--fargate-memory-gib"),
        ("show-fargate-memory-only", ("pricing", "show", "--fargate-memory-gib", "2"), "--fargate-vcpu"),
        ("show-region-empty", ("pricing", "show", "--region", ""), "--region"),
        (
            "show-region-empty-type",
            ("pricing", "show", "--instance-type", "m5.large", "--region", ""),
            "--region",
        ),
        ("compare-types", ("pricing", "compare", "--instance-types", ",,"), "--instance-types"),
        (
            "compare-region",
            ("pricing", "compare", "--instance-types", "m5.xlarge", "--regions", "mars-1"),
            "mars-1",
        ),
        ("refresh-region", ("pricing", "refresh", "--region", "us-east-9"), "us-east-9"),
        (
            "refresh-services",
            ("pricing", "refresh", "--region", "us-east-1", "--services", "lambda"),
            "lambda",
        ),
    ]
    for name, argv, needle in rows:
        yield Case(f"pricing:{name}", argv, needle=needle)
    for var in ("AWS_ENDPOINT_URL", "ADVISOR_AWS_ENDPOINT_URL"):  # not a URL: one line, before any progress
        yield Case(f"pricing:refresh-endpoint-{var}", ("pricing", "refresh", "--region", "us-east-1"),
                   env={var: "notaurl"}, needle=var)  # fmt: skip


def setting_cases() -> Iterator[Case]:
    recommend = ("recommend", "examples/demo-scenario.yaml", "--no-store")
    files = {
        "a-list": b"- home\n",
        "not-yaml": b"home: [\n",
        "binary": bytes(range(256)),
        "unknown-key": b"favourite_colour: blue\n",
        "bad-value": b"price_staleness_days: soon\n",
    }
    for name, content in files.items():
        yield Case(f"config-file:{name}", ("--config", "{dir}/c.yaml", *recommend), {"c.yaml": content})
    yield Case("config-file:missing", ("--config", "{dir}/none.yaml", *recommend), needle="none.yaml")
    yield Case("config-file:a-folder", ("--config", "{dir}", *recommend))
    envs = {
        "staleness-text": {"ADVISOR_PRICE_STALENESS_DAYS": "soon"},
        "staleness-zero": {"ADVISOR_PRICE_STALENESS_DAYS": "0"},
        "pricing-dir": {"ADVISOR_BUNDLED_PRICING_DIR": "/nonexistent/prices"},
        "profiles-dir-is-file": {"ADVISOR_PROFILES_DIR": "/etc/hostname"},
        "config-env-missing": {"ADVISOR_CONFIG": "/nonexistent/advisor.yaml"},
        "unknown-setting-file": {"ADVISOR_CONFIG": "{dir}/c.yaml"},
    }
    for name, env in envs.items():
        yield Case(f"env:{name}", recommend, {"c.yaml": b"favourite_colour: blue\n"}, env=env)
    yield Case(
        "env:default-region",
        ("pricing", "show"),
        env={"ADVISOR_DEFAULT_REGION": "us-east-9"},
        needle="us-east-9",
    )
    yield Case("home-flag:a-file", ("--home", "{dir}/f", "bench", "show"), {"f": b"x"}, needle="f")
    yield Case("home-flag:dev-null", ("--home", "/dev/null", "bench", "show"))
    yield Case("home-flag:too-long", ("--home", "/tmp/" + "h" * 5000, "bench", "show"))
    yield Case("usage:unknown-option", ("recommend", "--frobnicate"), needle="--frobnicate")
    yield Case("usage:unknown-command", ("frobnicate",), needle="frobnicate")
    yield Case("usage:missing-argument", ("recommend",), needle="SCENARIO")
    yield Case("usage:bad-int", ("bench", "show", "--limit", "many"), needle="--limit")
    yield Case(
        "usage:bad-choice",
        ("cost", "simulate", "x.yaml", "--profile", "flat", "--fill", "magic"),
        needle="--fill",
    )
    yield Case(
        "usage:format-and-json",
        ("recommend", "examples/demo-scenario.yaml", "--json", "--markdown"),
        needle="--markdown",
    )
    yield Case("init:existing", ("init", "{dir}/s.yaml"), {"s.yaml": b"mine: true\n"}, needle="exists")
    yield Case("init:a-folder", ("init", "{dir}/adir", "--force"), {"adir/k": b"x"}, needle="folder")
    yield Case("init:a-folder-without-force", ("init", "{dir}/adir"), {"adir/k": b"x"}, needle="is a folder")


def damaged_store_cases() -> Iterator[tuple[str, bytes]]:
    """(name, bytes to put in ADVISOR_HOME/advisor.db): stores a command must refuse, keeping them as they are."""
    yield "garbage", b"this is no database" * 500
    yield "truncated", b"SQLite format 3\x00" + b"\x00" * 100
    yield "foreign", _sqlite_bytes("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    yield "newer-version", _sqlite_bytes("CREATE TABLE bench_runs (id TEXT)", "PRAGMA user_version = 999")
    store = bytearray(_advisor_store_bytes())
    store[4096:] = b"\xde\xad" * ((len(store) - 4096) // 2)  # all but page 1: "disk image is malformed"
    yield "corrupt-pages", bytes(store)
    # (an empty file is not damaged: it is how SQLite starts every new database)


def _advisor_store_bytes() -> bytes:
    """The bytes of a new advisor store (WAL checkpointed on close, so the one file is the whole store)."""
    from advisor.store import Store

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "advisor.db"
        Store(path).close()
        return path.read_bytes()


def _sqlite_bytes(*statements: str) -> bytes:
    """The bytes of a SQLite database (rollback journal, so the one file is the whole database)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.db"
        conn = sqlite3.connect(path)
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
        return path.read_bytes()


def all_cases() -> list[Case]:
    cases = [*scenario_cases(), *plan_cases(), *profile_cases(), *generator_cases(), *bench_cases(),
             *pricing_cases(), *setting_cases()]  # fmt: skip
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    return cases
