"""Put a stored recommendation on its deployment targets: plan (read live, diff), apply, verify, roll back.

:func:`plan` reads each model's target and computes what would change; it changes nothing and is what
``advisor apply`` prints without ``--yes``. :func:`execute` makes the changes model by model, in the
applier's safe order, then waits for each target to settle and **verifies** it by reading it back. When
anything fails part-way, every change this run made is undone in reverse order with the same machinery
(the before-state as the new desired state), the undo is verified, and both are in the audit trail.
:mod:`advisor.apply.undo` undoes one recorded change later. Every outcome is audited
(:mod:`advisor.apply.audit`).

What is never done silently:

- a **drifted** target (its live instance count is :data:`DRIFT_RATIO` times, or a fraction, of what the
  recommendation was computed against) is refused unless ``force``: the plan's capacity no longer fits;
- a **platform change** (``deployment.migration``) creates nothing: the new platform's configuration and a
  migration checklist are written as files instead (:func:`advisor.render.apply.migration_checklist`);
- a model whose change the churn guard held back (``keep_current``) is left as it runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from advisor.apply import audit
from advisor.apply.base import (
    LLM_SUFFIX,
    AnyIntent,
    ApplyError,
    FieldChange,
    Guardrails,
    Intent,
    Refused,
    Registry,
    State,
    diff,
    intent_for,
    llm_intent_for,
    mismatches,
)
from advisor.apply.undo import RESTORING, as_apply_error, restore
from advisor.domain import Platform
from advisor.paths import ensure_dir, write_text
from advisor.platforms.targets import Orchestrator
from advisor.recommendation.llm import LLMModelRecommendation
from advisor.recommendation.model import Action, ModelRecommendation, Recommendation
from advisor.render.apply import llm_migration_checklist, migration_checklist
from advisor.render.numbers import usd
from advisor.store import Store

# Live capacity this many times the recommendation's "current" count (or as small a fraction of it) means
# the traffic or the fleet changed since the recommendation was computed: its sizing no longer holds.
# Checked until advisor's own target tracking runs on the target (then the autoscaler owns the count).
DRIFT_RATIO = 2.0
Kind = Literal["change", "nothing", "migration", "files", "skipped", "refused", "error"]


@dataclass
class ModelChanges:
    """What apply would do for one model."""

    model: str
    target: str
    kind: Kind
    reason: str = ""
    intent: AnyIntent | None = None
    before: State | None = None
    want: State | None = None
    changes: list[FieldChange] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    usd_per_month_today: float | None = None
    usd_per_month_after: float | None = None


@dataclass
class ChangeSet:
    recommendation: Recommendation
    models: list[ModelChanges]

    @property
    def has_changes(self) -> bool:
        return any(m.kind == "change" for m in self.models)

    @property
    def blocked(self) -> ModelChanges | None:
        """The first model apply must not go on with: a target it could not read, or one drifted."""
        return next((m for m in self.models if m.kind in ("error", "refused")), None)


@dataclass
class ApplyOutcome:
    run_id: str
    applied: list[tuple[str, int]] = field(default_factory=list)  # (model, change id)
    written: list[Path] = field(default_factory=list)


def _render_kind(intent: Intent) -> str:
    """The applier that renders the plan's own platform (for a migration's files)."""
    assert intent.model.plan is not None
    platform = intent.model.plan.platform
    if platform is Platform.SAGEMAKER:
        return "sagemaker"
    if platform is Platform.FARGATE or intent.deployment.orchestrator is Orchestrator.ECS:
        return "ecs"
    if intent.deployment.orchestrator is Orchestrator.INSTANCE:
        return "aws_asg"
    return "kubernetes"


def prepare(
    rec: Recommendation,
    registry: Registry,
    *,
    models: Sequence[str] = (),
    guardrails: Guardrails = Guardrails(),
    force: bool = False,
    files_only: frozenset[str] = frozenset({"cortex"}),
) -> ChangeSet:
    """Read every target and compute the change (nothing is changed); see the module docstring."""
    llm_names = {m.model for m in rec.llm_models}
    for name in models:
        if name not in llm_names:
            rec.model(name)  # NotFoundError with close names
    out = []
    rails = dataclasses.replace(guardrails, force=force)
    for m in rec.models:
        if models and m.model not in models:
            continue
        try:
            out.append(_plan_model(rec, m, registry, rails, files_only))
        except Refused as exc:
            label = m.deploy.label if m.deploy is not None else "-"
            out.append(_priced(ModelChanges(m.model, label, "refused", exc.one_line()), m))
        except ApplyError as exc:  # one unreachable or missing target does not hide the others' diffs
            label = m.deploy.label if m.deploy is not None else "-"
            out.append(ModelChanges(m.model, label, "error", exc.one_line()))
    for lm in rec.llm_models:
        if models and lm.model not in models:
            continue
        try:
            out.append(_plan_llm(rec, lm, registry, rails, files_only))
        except ApplyError as exc:
            target = lm.deployment.target if lm.deployment is not None else None
            out.append(ModelChanges(lm.model, target.label if target else "-", "error", exc.one_line()))
    return ChangeSet(rec, out)


def _plan_llm(
    rec: Recommendation,
    m: LLMModelRecommendation,
    registry: Registry,
    guardrails: Guardrails,
    files_only: frozenset[str],
) -> ModelChanges:
    """A language model's change: its instance groups, route and scalers (the ``-llm`` appliers)."""
    intent = llm_intent_for(rec, m, guardrails)
    if intent is None:
        return ModelChanges(m.model, "-", "skipped", "no deploy target in the scenario (add `deploy:` to it)")
    label = intent.target.label
    if m.action == "keep_current":
        return ModelChanges(m.model, label, "skipped", "kept as it runs: the plan costs more than today")
    today, deployed = m.current_usd_per_month, intent.deployment.usd_per_month
    if today is not None and deployed >= today:
        why = (
            f"kept as it runs: as deployed (a fixed router split) it would cost {usd(deployed)}/month, "
            f"today {usd(today)}"
        )
        return _llm_priced(ModelChanges(m.model, label, "skipped", why), m)
    if intent.deployment.migration:
        kind = ("sagemaker" if m.platform == "sagemaker" else "kubernetes") + LLM_SUFFIX
        files = dict(registry.get(kind).render(intent))
        files[f"{m.model}/MIGRATION.md"] = llm_migration_checklist(intent.recommendation_id, m, sorted(files))
        why = f"platform change to {m.platform}: its configuration and a checklist, nothing created"
        return _llm_priced(ModelChanges(m.model, label, "migration", why, intent, files=files), m)
    applier = registry.get(intent.applier_kind)
    if intent.target.kind in files_only:
        files = dict(applier.render(intent))
        why = "as files (no cluster to apply to)"
        return _llm_priced(ModelChanges(m.model, label, "files", why, intent, files=files), m)
    before = applier.read(intent)
    want = applier.desired(intent, before)
    changes = diff(before, want)
    steps = [s.description for s in applier.steps(intent, before, want)] if changes else []
    kind_: Kind = "change" if changes else "nothing"
    why = "" if changes else "nothing to change"
    return _llm_priced(ModelChanges(m.model, label, kind_, why, intent, before, want, changes, steps), m)


def _llm_priced(p: ModelChanges, m: LLMModelRecommendation) -> ModelChanges:
    """With the language model's $/month today and as deployed (the fixed router split's cost)."""
    p.usd_per_month_today = m.current_usd_per_month
    p.usd_per_month_after = m.deployment.usd_per_month if m.deployment else m.effective_usd_per_month
    return p


def _plan_model(
    rec: Recommendation,
    m: ModelRecommendation,
    registry: Registry,
    guardrails: Guardrails,
    files_only: frozenset[str],
) -> ModelChanges:
    intent = intent_for(rec, m, guardrails)
    if intent is None:
        why = "no plan" if m.plan is None else "no deploy target in the scenario (add `deploy:` to the model)"
        return ModelChanges(m.model, "-", "skipped", why)
    label = intent.target.label
    if m.action is Action.KEEP_CURRENT:
        return ModelChanges(
            m.model, label, "skipped", "kept as it runs (the churn guard held the change back)"
        )
    if intent.deployment.migration:
        files = dict(registry.get(_render_kind(intent)).render(intent))
        checklist = f"{m.model}/MIGRATION.md"
        files[checklist] = migration_checklist(
            intent.recommendation_id, intent.model, intent.deployment, sorted(files)
        )
        assert m.plan is not None
        why = (
            f"platform change to {m.plan.platform.value}: its configuration and a checklist, nothing created"
        )
        return _priced(ModelChanges(m.model, label, "migration", why, intent, files=files), m)
    applier = registry.get(intent.target.kind)
    if intent.target.kind in files_only:
        files = dict(applier.render(intent))
        return _priced(
            ModelChanges(m.model, label, "files", "as files (no cluster to apply to)", intent, files=files), m
        )
    before = applier.read(intent)
    drift = _drift(m, before)
    if drift and not guardrails.force:
        why = drift + "; recommend again, or pass --force"
        return _priced(ModelChanges(m.model, label, "refused", why, intent, before), m)
    want = applier.desired(intent, before)
    changes = diff(before, want)
    steps = [s.description for s in applier.steps(intent, before, want)] if changes else []
    kind: Kind = "change" if changes else "nothing"
    why = "" if changes else "nothing to change"
    return _priced(ModelChanges(m.model, label, kind, why, intent, before, want, changes, steps), m)


def _priced(p: ModelChanges, m: ModelRecommendation) -> ModelChanges:
    """With the model's $/month today and recommended, for the diff's cost line."""
    p.usd_per_month_today = m.current.usd_per_month if m.current else None
    p.usd_per_month_after = m.effective_usd_per_month
    return p


def _drift(m: ModelRecommendation, live: State) -> str:
    """Why the live count makes the recommendation unsafe to apply, or ''. Once advisor's target tracking
    runs on the target, the autoscaler owns the count and it is not compared."""
    computed = m.current.count if m.current is not None else None
    running = (live.get("_refs") or {}).get("LiveCount")
    if not computed or running is None or live.get("TargetTracking") is not None:
        return ""
    if running >= computed * DRIFT_RATIO or running * DRIFT_RATIO <= computed:
        return (
            f"the target runs {running} but the recommendation was computed against {computed} "
            f"({running / computed:.1f}x): the live state has drifted"
        )
    return ""


Progress = Callable[[str], None]


def execute(
    applying: ChangeSet,
    registry: Registry,
    store: Store,
    *,
    out_dir: Path,
    timeout_s: float = 900.0,
    progress: Progress = lambda _: None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> ApplyOutcome:
    """Apply every ``change`` of ``applying``, write every file; on failure roll back (module docstring).

    Raises ApplyError (after the rollback and its audit rows) when a step or a verification fails.
    """
    outcome = ApplyOutcome(run_id=f"run-{now():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}")
    rec_id = applying.recommendation.id
    blocked = applying.blocked
    if blocked is not None:
        raise ApplyError(f"{blocked.model}: {blocked.reason}", fix="nothing was changed")
    done: list[tuple[ModelChanges, int]] = []
    for m in applying.models:
        if m.files:
            outcome.written += _write(m, out_dir, store, outcome.run_id, rec_id, now())
        if m.kind != "change":
            continue
        assert m.intent is not None and m.before is not None and m.want is not None
        applier = registry.get(m.intent.applier_kind)
        made: list[str] = []
        try:
            for step in applier.steps(m.intent, m.before, m.want):
                progress(f"{m.model}: {step.description}")
                step.run()
                made.append(step.description)
            progress(f"{m.model}: waiting for {m.target} to settle")
            applier.settle(m.intent, m.want, time.monotonic() + timeout_s, progress)
            wrong = mismatches(applier.read(m.intent), m.want)
            if wrong:
                raise ApplyError(
                    f"verification failed: {wrong[0].path} is {wrong[0].before!r}, not {wrong[0].after!r}"
                    + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""),
                    where=m.target,
                )
        except Exception as caught:  # whatever stops the run, what it changed is rolled back first
            exc = as_apply_error(caught)
            failed = audit.record(
                store,
                audit.AuditRow(
                    outcome.run_id,
                    rec_id,
                    m.model,
                    m.target,
                    "apply",
                    "failed",
                    m.before,
                    m.want,
                    tuple(made),
                    "",
                    exc.one_line(),
                ),
                now=now(),
            )
            undone = _undo(
                [(m, failed), *reversed(done)],
                registry,
                store,
                outcome.run_id,
                rec_id,
                timeout_s,
                progress,
                now,
            )
            raise ApplyError(
                f"{m.model}: {exc.what}; {undone}",
                where=exc.where or m.target,
                fix="see `advisor apply history`",
            ) from None
        change_id = audit.record(
            store,
            audit.AuditRow(
                outcome.run_id,
                rec_id,
                m.model,
                m.target,
                "apply",
                "applied",
                m.before,
                m.want,
                tuple(made),
                "verified: read back equal to the recommendation",
            ),
            now=now(),
        )
        done.append((m, change_id))
        outcome.applied.append((m.model, change_id))
    return outcome


def _write(
    m: ModelChanges, out_dir: Path, store: Store, run_id: str, rec_id: str, at: dt.datetime
) -> list[Path]:
    paths = []
    for name, text in m.files.items():
        ensure_dir((out_dir / name).parent, f"the folder for {m.model}'s files")
        paths.append(write_text(out_dir / name, text, f"the {m.model} configuration"))
    audit.record(
        store,
        audit.AuditRow(
            run_id,
            rec_id,
            m.model,
            m.target,
            "write",
            "written",
            detail=f"{m.reason}: " + ", ".join(str(p) for p in paths),
        ),
        now=at,
    )
    return paths


def _undo(
    changed: list[tuple[ModelChanges, int]],
    registry: Registry,
    store: Store,
    run_id: str,
    rec_id: str,
    timeout_s: float,
    progress: Progress,
    now: Callable[[], dt.datetime],
) -> str:
    """Roll back ``changed`` in the given order; a sentence for the error line."""
    failures = []
    for m, change_id in changed:
        assert m.intent is not None and m.before is not None
        try:
            back = dataclasses.replace(m.intent, guardrails=RESTORING)
            restore(registry, back, m.before, store, run_id, rec_id, change_id, timeout_s, progress, now)
        except ApplyError as exc:
            failures.append(f"{m.model}: {exc.what}")
    if failures:
        return "ROLLBACK FAILED for " + "; ".join(failures)
    names = ", ".join(m.model for m, _ in changed)
    return f"rolled back ({names}), verified"
