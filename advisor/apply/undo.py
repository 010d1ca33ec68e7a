"""Undoing changes: back to a recorded before-state, verified by reading it back, and audited.

:func:`restore` moves a target to a state recorded before a change (the failed run's own rollback and
``advisor apply rollback`` both use it) with the applier's own steps, so an undo is as careful as an apply;
:func:`rollback_changes` says what undoing a recorded change would do, and refuses one whose target changed
since (unless forced).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from advisor.apply import audit
from advisor.apply.base import (
    AnyIntent,
    ApplyError,
    FieldChange,
    Guardrails,
    Registry,
    State,
    diff,
    intent_named,
    mismatches,
)
from advisor.recommendation.model import Recommendation
from advisor.store import Store

# Returning to a recorded state is not held to the disruption guardrail: that state ran before.
RESTORING = Guardrails(max_disruption_pct=100)
Progress = Callable[[str], None]


def as_apply_error(exc: Exception) -> ApplyError:
    """An ApplyError as it is; anything else (a bug, or a failure no applier expected) named as such."""
    if isinstance(exc, ApplyError):
        return exc
    what = " ".join(str(exc).split())[:200]
    return ApplyError(
        f"unexpected failure ({type(exc).__name__}: {what})", fix="report it with the audit row"
    )


def restore(
    registry: Registry,
    intent: AnyIntent,
    before: State,
    store: Store,
    run_id: str,
    rec_id: str,
    change_id: int,
    timeout_s: float,
    progress: Progress,
    now: Callable[[], dt.datetime],
) -> int:
    """Move ``intent``'s target back to ``before``, verify, and audit it (the id of the rollback row)."""
    applier = registry.get(intent.applier_kind)
    label = intent.target.label
    current = applier.read(intent)
    made: list[str] = []
    settled = "verified: read back equal to the state before"
    try:
        for step in applier.steps(intent, current, before):
            progress(f"{intent.name}: undo: {step.description}")
            step.run()
            made.append(step.description)
        try:
            applier.settle(intent, before, time.monotonic() + timeout_s, progress)
        except ApplyError as exc:
            # the settings are back (checked next); a target still rolling out is said, not undone again
            settled += f"; not yet stable: {exc.what}"
        wrong = mismatches(applier.read(intent), before)
        if wrong:
            raise ApplyError(
                f"after the rollback {wrong[0].path} is {wrong[0].before!r}, not {wrong[0].after!r}"
            )
    except Exception as caught:
        failure = as_apply_error(caught)
        audit.record(
            store,
            audit.AuditRow(
                run_id,
                rec_id,
                intent.name,
                label,
                "rollback",
                "rollback_failed",
                current,
                before,
                tuple(made),
                "",
                failure.one_line(),
                change_id,
            ),
            now=now(),
        )
        raise failure from None
    row = audit.record(
        store,
        audit.AuditRow(
            run_id,
            rec_id,
            intent.name,
            label,
            "rollback",
            "applied",
            current,
            before,
            tuple(made),
            settled,
            rollback_of=change_id,
        ),
        now=now(),
    )
    audit.mark_rolled_back(store, change_id)
    return row


def rollback_changes(
    store: Store, registry: Registry, rec: Recommendation, change: dict[str, Any], *, force: bool
) -> tuple[AnyIntent, State, list[FieldChange]]:
    """What undoing a recorded change would do: (intent, before-state, changes from now). Refuses a change
    that is not an applied one, or a target changed since (unless ``force``)."""
    if change["action"] != "apply" or change["status"] != "applied":
        raise ApplyError(
            f"change {change['id']} is {change['action']} / {change['status']}: only an applied change can "
            "be rolled back",
            fix="see `advisor apply history`",
        )
    intent = intent_named(rec, change["model"], RESTORING)
    if intent is None:
        raise ApplyError(f"the recommendation of {change['model']} has no deploy target any more")
    applier = registry.get(intent.applier_kind)
    current = applier.read(intent)
    since = mismatches(current, change["after_json"])
    if since and not force:
        raise ApplyError(
            f"{intent.target.label} changed since change {change['id']} ({since[0].path} is "
            f"{since[0].before!r}, was set to {since[0].after!r})",
            fix="look at the target, then pass --force to restore the recorded before-state anyway",
        )
    return intent, change["before_json"], diff(current, change["before_json"])
