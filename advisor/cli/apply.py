"""``advisor apply``: a stored recommendation onto its deployment targets (a diff unless ``--yes``),
``advisor apply history`` and ``advisor apply rollback CHANGE_ID``.

The command parses, calls :mod:`advisor.apply` and prints; ``advisor apply [REC_ID]`` is the group's default
command (``run``), so ``advisor apply --yes`` needs no sub-command name.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from advisor.cli.output import console, err_console, print_json
from advisor.errors import ConfigError
from advisor.render.apply import change_lines, field_lines
from advisor.settings import Settings
from advisor.store import Store


class _RunByDefault(TyperGroup):
    """``advisor apply [REC_ID] [options]`` means ``advisor apply run ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Put a recommendation on the cluster: a diff first, --yes to apply, verified, audited.",
)


def _registry(settings: Settings, kubeconfig: Path | None, context: str | None, timeout_s: float) -> Any:
    try:
        from advisor.apply import default_registry
    except ImportError as exc:  # the apply extra (kubernetes client) is missing
        raise ConfigError(
            f"advisor apply needs the apply extra ({exc.name} is not installed)",
            fix="pip install 'advisor[apply]'",
        ) from None
    return default_registry(
        endpoint_url=settings.aws_endpoint_url,
        kubeconfig=kubeconfig,
        context=context,
        timeout_s=timeout_s,
    )


def _guardrails(rec: Any, max_disruption: int | None, min_on_demand: int | None) -> Any:
    """Flags, else the guardrails the recommendation was made with (the scenario's ``apply:`` section)."""
    from advisor.apply import Guardrails

    policy = rec.guardrails
    return Guardrails(
        max_disruption_pct=policy.max_disruption_pct if max_disruption is None else max_disruption,
        min_on_demand_base=policy.min_on_demand_base if min_on_demand is None else min_on_demand,
    )


def _print_changes(applying: Any) -> None:
    for line in change_lines(applying):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _changes_json(applying: Any) -> dict[str, Any]:
    return {
        "recommendation_id": applying.recommendation.id,
        "models": [
            {
                "model": m.model,
                "target": m.target,
                "kind": m.kind,
                "reason": m.reason,
                "changes": [{"path": c.path, "before": c.before, "after": c.after} for c in m.changes],
                "steps": m.steps,
                "files": sorted(m.files),
                "usd_per_month_today": m.usd_per_month_today,
                "usd_per_month_after": m.usd_per_month_after,
            }
            for m in applying.models
        ],
    }


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),  # no total: it pulses while calls are made and targets settle
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


@app.command("run")
def run(
    ctx: typer.Context,
    rec_id: str = typer.Argument("latest", metavar="[REC_ID|latest]", help="A stored recommendation."),
    models: list[str] = typer.Option([], "--model", help="Only this model (repeatable)."),
    yes: bool = typer.Option(False, "--yes", help="Make the changes (else print the diff only)."),
    as_json: bool = typer.Option(
        False, "--json", help="The plan as JSON on stdout (outcome lines on stderr)."
    ),
    force: bool = typer.Option(False, "--force", help="Apply even where the live state has drifted."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Write Kubernetes, Cortex and migration files here (default: ADVISOR_HOME/apply/REC_ID).",
    ),
    kubeconfig: Path | None = typer.Option(
        None,
        "--kubeconfig",
        help="Apply Kubernetes targets to this cluster by server-side apply (else files).",
    ),
    context: str | None = typer.Option(
        None, "--context", help="The kubeconfig context (default: its current)."
    ),
    max_disruption: int | None = typer.Option(
        None, "--max-disruption", min=1, max=100, help="Largest % of a model's replicas replaced at once."
    ),
    min_on_demand: int | None = typer.Option(
        None, "--min-on-demand", min=0, help="On-demand base (nodes, tasks) apply never goes below."
    ),
    timeout_s: float = typer.Option(
        900.0, "--timeout", min=1, help="Seconds to wait for a target to settle."
    ),
) -> None:
    """Show what applying a recommendation changes; with --yes apply it, verify it, and audit it."""
    from advisor.apply import ApplyError, execute, prepare
    from advisor.recommendation.store import load_recommendation

    settings: Settings = ctx.obj
    registry = _registry(settings, kubeconfig, context, timeout_s)
    with Store(settings.db_path) as store:
        rec = load_recommendation(store, None if rec_id == "latest" else rec_id)
        files_only = frozenset({"cortex"} if kubeconfig else {"cortex", "kubernetes"})
        applying = prepare(
            rec,
            registry,
            models=models,
            guardrails=_guardrails(rec, max_disruption, min_on_demand),
            force=force,
            files_only=files_only,
        )
        if as_json:
            print_json(_changes_json(applying))
        else:
            console.print(
                f"recommendation {rec.id} ({rec.scenario})", markup=False, highlight=False, soft_wrap=True
            )
            _print_changes(applying)
        if not yes:
            # files change no cluster: the models that have them get them even when another is blocked
            if out is not None and any(m.files for m in applying.models):
                written = _write_files_only(applying, registry, store, out)
                err_console.print(
                    f"wrote {len(written)} files under {out}", markup=False, highlight=False, soft_wrap=True
                )
            blocked = applying.blocked
            if blocked is not None:
                raise ApplyError(f"{blocked.model}: {blocked.reason}", fix="the others' diffs are above")
            if not as_json:
                more = (
                    "nothing to change"
                    if not applying.has_changes
                    else "dry run: nothing changed; --yes applies"
                )
                err_console.print(more, markup=False, highlight=False, soft_wrap=True)
            return
        out_dir = out or settings.home / "apply" / rec.id
        with _progress() as bar:
            task = bar.add_task("apply", total=None)
            outcome = execute(
                applying,
                registry,
                store,
                out_dir=out_dir,
                timeout_s=timeout_s,
                progress=lambda text: bar.update(task, description=text[:100]),
            )
    for model, change_id in outcome.applied:
        err_console.print(
            f"applied {model} (change {change_id}), verified", markup=False, highlight=False, soft_wrap=True
        )
    if outcome.written:
        err_console.print(
            f"wrote {len(outcome.written)} files under {out_dir}", markup=False, highlight=False
        )
    if not outcome.applied and not outcome.written:
        err_console.print("nothing to change", markup=False, highlight=False, soft_wrap=True)


def _write_files_only(applying: Any, registry: Any, store: Store, out: Path) -> list[Path]:
    """``--out`` without ``--yes``: the files only (they change no cluster)."""
    from advisor.apply import ChangeSet, execute

    only = ChangeSet(applying.recommendation, [m for m in applying.models if m.files and m.kind != "change"])
    outcome = execute(only, registry, store, out_dir=out)
    written: list[Path] = outcome.written
    return written


@app.command("history")
def history_cmd(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """What apply changed, wrote and rolled back, newest first, with the change ids."""
    from advisor.apply import history

    settings: Settings = ctx.obj
    with Store(settings.db_path) as store:
        rows = history(store, limit=limit, model=model)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no changes applied yet (see `advisor apply --help`)", markup=False)
        return
    for r in rows:
        undo = f" (undoes {r['rollback_of']})" if r["rollback_of"] else ""
        console.print(
            f"{r['id']:>5}  {r['created_at'][:19]}  {r['actor'] or '-'}  {r['model'] or '-'}  {r['target']}  "
            f"{r['action']}{undo}  {r['status']}  {r['recommendation_id']}",
            markup=False,
            highlight=False,
        )


@app.command("rollback")
def rollback_cmd(
    ctx: typer.Context,
    change_id: int = typer.Argument(..., help="The id `advisor apply history` lists."),
    yes: bool = typer.Option(False, "--yes", help="Restore (else print what would change)."),
    force: bool = typer.Option(False, "--force", help="Restore even if the target changed since."),
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig"),
    context: str | None = typer.Option(None, "--context"),
    timeout_s: float = typer.Option(900.0, "--timeout", min=1),
) -> None:
    """Restore a target to what it was before an applied change; verified and audited."""
    from advisor.apply import change, restore, rollback_changes
    from advisor.recommendation.store import load_recommendation

    settings: Settings = ctx.obj
    registry = _registry(settings, kubeconfig, context, timeout_s)
    with Store(settings.db_path) as store:
        row = change(store, change_id)
        rec = load_recommendation(store, row["recommendation_id"])
        intent, before, changes = rollback_changes(store, registry, rec, row, force=force)
        console.print(f"rollback of change {change_id} ({row['model']} → {row['target']}):", markup=False)
        for line in field_lines(changes):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if not yes:
            err_console.print(
                "dry run: nothing changed; --yes restores", markup=False, highlight=False, soft_wrap=True
            )
            return
        with _progress() as bar:
            task = bar.add_task("rollback", total=None)
            new_id = restore(
                registry,
                intent,
                before,
                store,
                row["run_id"] or "",
                rec.id,
                change_id,
                timeout_s,
                lambda text: bar.update(task, description=text[:100]),
                lambda: dt.datetime.now(dt.UTC),
            )
    err_console.print(
        f"rolled back change {change_id} (change {new_id}), verified", markup=False, highlight=False
    )
