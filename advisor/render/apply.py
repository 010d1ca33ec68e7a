"""What ``advisor apply`` shows and writes: the dry run's changes (:func:`change_lines`), and the files
it writes instead of changing a target (JSON and YAML text, the migration checklist).

A plan whose platform is not its target's (``deployment.migration``) is never migrated silently: apply
writes the configuration the new platform needs (the applier of that platform renders it) and a
checklist of what a person must do before traffic moves (:func:`migration_checklist`).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from advisor.recommendation.deployment import Deployment
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import ModelRecommendation
from advisor.render.numbers import usd


def json_file(body: Any) -> str:
    return json.dumps(body, indent=2, sort_keys=False) + "\n"


def yaml_file(*documents: Any) -> str:
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in documents)


def migration_checklist(
    recommendation_id: str, m: ModelRecommendation, deployment: Deployment, written: list[str]
) -> str:
    """Markdown: from the target's platform to the plan's, the steps before and after the traffic switch."""
    target = deployment.target
    assert m.plan is not None and target is not None
    src = " or ".join(p.value for p in target.platforms)
    cost = m.effective_usd_per_month
    today = m.current.usd_per_month if m.current is not None else None
    lines = [
        f"# Migration of {m.model}: {src} → {m.plan.platform.value} ({m.plan.shape})",
        "",
        f"Recommendation {recommendation_id}. Today: {target.label}"
        + (f" at {usd(today)}/month" if today is not None else "")
        + (f"; recommended {usd(cost)}/month." if cost is not None else "."),
        "advisor apply created nothing: a change of platform moves the model's image, artefact and traffic, "
        "which needs a person. Configuration written:",
        "",
        *[f"- `{name}`" for name in written],
        "",
        "## Before the switch",
        "",
        f"- [ ] Image: the model server's image runs on {m.plan.platform.value} "
        f"({', '.join(a.value for a in deployment.architectures)}), pushed to a registry it can pull "
        "from.",
        "- [ ] Model artefact: the weights are where the new platform loads them from (S3 for SageMaker, the "
        "image or a volume for containers).",
        f"- [ ] Resources: one replica asks for {deployment.replica.vcpu:g} vCPU and "
        f"{deployment.replica.memory_gib:g} GiB"
        + (f" and {deployment.replica.gpu_count:g} GPU" if deployment.replica.gpu_count else "")
        + ".",
        f"- [ ] Create the new deployment from the files above ({deployment.min_replicas}–"
        f"{deployment.max_replicas} replicas, scaling on {deployment.scaling_metric.name} "
        f"at {deployment.scaling_metric.target_value:g} {deployment.scaling_metric.unit}).",
        "- [ ] Health: the new deployment answers within the SLO "
        f"(p99 {m.plan.plan.slo.latency_p99_ms:g} ms) under a load test (`advisor bench`).",
        "",
        "## Traffic switch",
        "",
        "- [ ] Shift traffic gradually (weighted target groups or DNS weights: 10% → 50% → 100%), watching "
        "p99 latency and errors at each step.",
        "",
        "## After",
        "",
        f"- [ ] Scale the old deployment ({target.label}) to zero, then delete it.",
        "- [ ] Point the scenario's `deploy:` at the new target and recommend again, so that later applies "
        "change it.",
        "",
    ]
    return "\n".join(lines)


def llm_migration_checklist(recommendation_id: str, m: LLMModelRecommendation, written: list[str]) -> str:
    """Markdown: a language model's move to the plan's platform (EC2 under Kubernetes, or SageMaker)."""
    d = m.deployment
    assert d is not None and d.target is not None
    where = "SageMaker endpoint variants" if m.platform == "sagemaker" else "Kubernetes Deployments"
    groups = ", ".join(f"{g.instance_type} ({g.min_replicas}-{g.max_replicas} replicas)" for g in d.groups)
    today = m.current_usd_per_month
    lines = [
        f"# Migration of {m.model}: {d.target.label} → {where}",
        "",
        f"Recommendation {recommendation_id}. "
        + (f"Today {usd(today)}/month; " if today is not None else "")
        + f"as deployed {usd(d.usd_per_month)}/month. advisor apply created nothing. Configuration written:",
        "",
        *[f"- `{name}`" for name in written],
        "",
        "## Before the switch",
        "",
        f"- [ ] Weights: `{d.serving.weights or '(give llm.weights)'}` can be loaded where the engine runs "
        "(a Hugging Face token for gated models, or a copy in S3).",
        f"- [ ] Create the groups from the files above: {groups}.",
        f"- [ ] Load test each group with `advisor bench run` at its target rate and check p99 TTFT ≤ "
        f"{m.slo_ttft_p99_ms:g} ms and TPOT ≤ {m.slo_tpot_p99_ms:g} ms.",
        "",
        "## Traffic switch",
        "",
        f"- [ ] Clients set `{d.bucket_header}` from the request's size (edges "
        f"{d.bucket_edges_tokens or 'none'} tokens), then traffic moves 10% → 50% → 100%, watching TTFT, "
        "TPOT and errors.",
        "",
        "## After",
        "",
        f"- [ ] Scale {d.target.label} to zero, then delete it; point the scenario's `deploy:` at the new "
        "target and recommend again.",
        "",
    ]
    return "\n".join(lines)


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


def field_lines(changes: Any) -> list[str]:
    """``  path: before → after`` for each field change (:class:`advisor.apply.FieldChange`)."""
    return [f"  {c.path}: {_show(c.before)} → {_show(c.after)}" for c in changes]


def change_lines(applying: Any) -> list[str]:
    """The dry run of ``advisor apply`` (an :class:`advisor.apply.ChangeSet`), a line each: per model its
    deploy target, the cost today and after (the recommendation's effective cost), then each field's change
    and each step, or why nothing is changed and the files written instead."""
    out = []
    for m in applying.models:
        costs = ""
        if m.usd_per_month_today is not None and m.usd_per_month_after is not None:
            costs = f"  ({usd(m.usd_per_month_today)} → {usd(m.usd_per_month_after)}/month)"
        head = f"{m.model} → {m.target}: "
        if m.kind == "change":
            out.append(f"{head}{len(m.changes)} changes{costs}")
            out += field_lines(m.changes)
            out += [f"  step {n}: {step}" for n, step in enumerate(m.steps, start=1)]
        else:
            out.append(f"{head}{m.kind}: {m.reason}{costs}")
            out += [f"  file {name}" for name in m.files]
    return out
