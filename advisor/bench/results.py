"""Bench results in the store: runs, points and capacities, written as they are measured.

Every write is its own transaction (:meth:`Store.transaction`): a run row when the run starts, one point row
per measured point, the capacity and the final status at the end. Ctrl-C or a crash therefore keeps every
point measured so far, and the run stays ``running``/``interrupted``/``failed`` with its reason.
Reading goes back to the pydantic models of :mod:`advisor.bench.measurements`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import secrets
import socket
import sqlite3
from collections.abc import Callable
from typing import Any

from advisor.bench.measurements import (
    CapacityResult,
    EmulationInfo,
    HostInfo,
    LoadMode,
    PointResult,
    RunStatus,
    WindowStats,
)
from advisor.errors import NotFoundError, closest_names
from advisor.redact import redact_text
from advisor.store import Store, to_json


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """Sortable and unique: ``20250101T120000-1a2b3c``."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def start_run(
    store: Store,
    *,
    run_id: str,
    model: str,
    shape: str,
    target: str,
    slo_p99_ms: float,
    max_error_rate: float,
    config: dict[str, Any],
    host: HostInfo | None,
    emulation: EmulationInfo | None,
    started_at: str | None = None,
    owned: bool = True,
) -> None:
    """A new run, ``running``, owned by this process (``owned``; False for results imported from elsewhere),
    so that a later start can tell a run whose process died (:func:`reap_abandoned`)."""
    host_json = {
        "host": host.model_dump(mode="json") if host else None,
        "emulation": emulation.model_dump(mode="json") if emulation else None,
    }
    with store.transaction() as conn:
        _insert_run(conn, run_id, model, shape, target, slo_p99_ms, max_error_rate, started_at, host_json,
                    config, owned)  # fmt: skip


def _insert_run(
    conn: sqlite3.Connection,
    run_id: str,
    model: str,
    shape: str,
    target: str,
    slo_p99_ms: float,
    max_error_rate: float,
    started_at: str | None,
    host_json: dict[str, Any],
    config: dict[str, Any],
    owned: bool,
) -> None:
    conn.execute(
        "INSERT INTO bench_runs (id, model, shape, target, mode, slo_p99_ms, max_error_rate, status,"
        " started_at, host_json, config_json, owner_pid, owner_host)"
        " VALUES (?, ?, ?, ?, 'open', ?, ?, 'running', ?, ?, ?, ?, ?)",
        (
            run_id,
            model,
            shape,
            redact_text(target),
            slo_p99_ms,
            max_error_rate,
            started_at or _now(),
            to_json(host_json),
            to_json(config),
            os.getpid() if owned else None,
            socket.gethostname() if owned else None,
        ),
    )


def add_point(store: Store, run_id: str, point: PointResult, measured_at: str | None = None) -> None:
    with store.transaction() as conn:
        _insert_point(conn, run_id, point, measured_at)


def _insert_point(conn: sqlite3.Connection, run_id: str, point: PointResult, measured_at: str | None) -> None:
    conn.execute(
        "INSERT INTO bench_points (run_id, seq, mode, target_rps, users, achieved_rps, requests, errors,"
        " error_rate, p50_ms, p90_ms, p95_ms, p99_ms, max_ms, server_cpu_pct, server_rss_mib,"
        " generator_cpu_pct, duration_s, valid, note, measured_at, passed, stable, windows_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            point.seq,
            point.mode.value,
            point.target_rps,
            point.users,
            point.achieved_rps,
            point.requests,
            point.errors,
            point.error_rate,
            point.p50_ms,
            point.p90_ms,
            point.p95_ms,
            point.p99_ms,
            point.max_ms,
            point.server_cpu_pct,
            point.server_rss_mib,
            point.generator_cpu_pct,
            point.duration_s,
            int(point.valid),
            point.note,
            measured_at or _now(),
            None if point.passed is None else int(point.passed),
            int(point.stable),
            json.dumps([w.model_dump(mode="json") for w in point.windows]),
        ),
    )


def finish_run(
    store: Store,
    run_id: str,
    status: RunStatus,
    *,
    error: str | None = None,
    log_tail: str | None = None,
    extra_config: dict[str, Any] | None = None,
) -> None:
    with store.transaction() as conn:
        _finish(conn, run_id, status, error, log_tail, extra_config)


def _finish(
    conn: sqlite3.Connection,
    run_id: str,
    status: RunStatus,
    error: str | None,
    log_tail: str | None,
    extra_config: dict[str, Any] | None,
) -> None:
    conn.execute(
        "UPDATE bench_runs SET status = ?, finished_at = ?, error = ?, log_tail = ? WHERE id = ?",
        (
            status.value,
            _now(),
            None if error is None else redact_text(error),
            None if log_tail is None else redact_text(log_tail),
            run_id,
        ),
    )
    if extra_config:
        row = conn.execute("SELECT config_json FROM bench_runs WHERE id = ?", (run_id,)).fetchone()
        merged = {**json.loads(row[0] or "{}"), **extra_config}
        conn.execute("UPDATE bench_runs SET config_json = ? WHERE id = ?", (to_json(merged), run_id))


def set_server_pid(store: Store, run_id: str, pid: int) -> None:
    """Record the model server's pid (its process group) so that a dead owner's server can be stopped."""
    with store.transaction() as conn:
        conn.execute("UPDATE bench_runs SET server_pid = ? WHERE id = ?", (pid, run_id))


def reap_abandoned(store: Store, stop_server: Callable[[int, str], object] | None = None) -> list[str]:
    """Mark ``abandoned`` the runs still ``running`` whose owner process on this machine is gone.

    A ``kill -9``, an out-of-memory kill or a full disk can end a run's process before it records how the
    run ended. ``stop_server(pid, started_at)`` is called for each such run's server, to stop it if it is
    still there. Returns the run ids marked.
    """
    host = socket.gethostname()
    rows = store.query(
        "SELECT id, owner_pid, server_pid, started_at FROM bench_runs"
        " WHERE status = 'running' AND owner_host = ? AND owner_pid IS NOT NULL",
        (host,),
    )
    gone = [r for r in rows if not _alive(int(r["owner_pid"]))]
    for r in gone:
        if r["server_pid"] is not None and stop_server is not None:
            stop_server(int(r["server_pid"]), str(r["started_at"]))
        with store.transaction() as conn:
            conn.execute(
                "UPDATE bench_runs SET status = 'abandoned', finished_at = ?, error = ? WHERE id = ?",
                (_now(), f"its process (pid {r['owner_pid']}) ended without finishing the run", r["id"]),
            )
    return [str(r["id"]) for r in gone]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def add_capacity(store: Store, result: CapacityResult, *, method: str = "measured") -> None:
    with store.transaction() as conn:
        _insert_capacity(conn, result, method)


def _insert_capacity(conn: sqlite3.Connection, result: CapacityResult, method: str) -> None:
    conn.execute(
        "INSERT INTO capacities (run_id, model, shape, capacity_rps, p99_ms_at_capacity, slo_p99_ms,"
        " estimated,"
        " low_rps, high_rps, reason, method, created_at, lower_bound, max_error_rate)"
        " VALUES (?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?, ?, ?, ?, ?)",
        (
            result.run_id,
            result.model,
            result.shape,
            result.capacity_rps,
            result.p99_ms_at_capacity,
            result.slo_p99_ms,
            result.reason,
            method,
            _now(),
            int(result.lower_bound),
            result.max_error_rate,
        ),
    )


def import_result(store: Store, result: CapacityResult, *, target: str) -> bool:
    """Store a complete result from elsewhere (a Kubernetes Job) in one transaction: all of it or nothing.

    False when that run is already stored.
    """
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM bench_runs WHERE id = ?", (result.run_id,)).fetchone():
            return False
        host_json = {
            "host": result.host.model_dump(mode="json") if result.host else None,
            "emulation": result.emulation.model_dump(mode="json") if result.emulation else None,
        }
        config = {"imported": True, "plateau_rps": result.plateau_rps, "wall_s": result.wall_s}
        _insert_run(conn, result.run_id, result.model, result.shape, target, result.slo_p99_ms,
                    result.max_error_rate, None, host_json, config, False)  # fmt: skip
        for point in result.points:
            _insert_point(conn, result.run_id, point, None)
        if result.status is RunStatus.COMPLETED:
            _insert_capacity(conn, result, "imported")
        _finish(conn, result.run_id, result.status, result.error, result.log_tail, None)
    return True


# ----- reading -------------------------------------------------------------------------------------------
def list_runs(store: Store, *, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first, with each run's capacity (when it has one)."""
    sql = (
        "SELECT r.id, r.model, r.shape, r.target, r.status, r.slo_p99_ms, r.started_at, r.finished_at,"
        " r.error,"
        " c.capacity_rps, c.p99_ms_at_capacity, c.lower_bound,"
        " (SELECT COUNT(*) FROM bench_points p WHERE p.run_id = r.id) AS points"
        " FROM bench_runs r LEFT JOIN capacities c ON c.run_id = r.id"
    )
    params: tuple[Any, ...] = ()
    if model is not None:
        sql += " WHERE r.model = ?"
        params = (model,)
    sql += " ORDER BY r.started_at DESC, r.id DESC LIMIT ?"
    return store.query(sql, (*params, limit))


def load_points(store: Store, run_id: str) -> list[PointResult]:
    rows = store.query("SELECT * FROM bench_points WHERE run_id = ? ORDER BY seq", (run_id,))
    return [
        PointResult(
            seq=r["seq"],
            mode=LoadMode(r["mode"]),
            target_rps=r["target_rps"],
            users=r["users"],
            achieved_rps=r["achieved_rps"],
            requests=r["requests"],
            errors=r["errors"],
            error_rate=r["error_rate"],
            p50_ms=r["p50_ms"],
            p90_ms=r["p90_ms"],
            p95_ms=r["p95_ms"],
            p99_ms=r["p99_ms"],
            max_ms=r["max_ms"],
            server_cpu_pct=r["server_cpu_pct"],
            server_rss_mib=r["server_rss_mib"],
            generator_cpu_pct=r["generator_cpu_pct"],
            duration_s=r["duration_s"],
            valid=bool(r["valid"]),
            passed=None if r["passed"] is None else bool(r["passed"]),
            stable=bool(r["stable"]),
            note=r["note"],
            windows=[WindowStats.model_validate(w) for w in json.loads(r["windows_json"] or "[]")],
        )
        for r in rows
    ]


def load_result(store: Store, run_id: str) -> CapacityResult:
    """One run with its points and capacity; NotFoundError (with close ids) when there is no such run."""
    runs = store.query("SELECT * FROM bench_runs WHERE id = ?", (run_id,))
    if not runs:
        known = [r["id"] for r in store.query("SELECT id FROM bench_runs ORDER BY started_at DESC LIMIT 200")]
        close = closest_names(run_id, known)
        raise NotFoundError(
            "bench run",
            run_id,
            where="--run",
            fix=f"did you mean {', '.join(close)}?"
            if close
            else "see `advisor bench show` for the stored runs",
        )
    run = runs[0]
    caps = store.query("SELECT * FROM capacities WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,))
    cap = caps[0] if caps else None
    host_json = json.loads(run["host_json"] or "{}")
    config = json.loads(run["config_json"] or "{}")
    return CapacityResult(
        run_id=run["id"],
        model=run["model"],
        shape=run["shape"],
        status=RunStatus(run["status"]),
        slo_p99_ms=run["slo_p99_ms"],
        max_error_rate=run["max_error_rate"],
        capacity_rps=cap["capacity_rps"] if cap else 0.0,
        p99_ms_at_capacity=cap["p99_ms_at_capacity"] if cap else None,
        lower_bound=bool(cap["lower_bound"]) if cap else False,
        reason=cap["reason"] if cap else (run["error"] or f"run {run['status']}"),
        plateau_rps=config.get("plateau_rps"),
        points=load_points(store, run_id),
        host=HostInfo.model_validate(host_json["host"]) if host_json.get("host") else None,
        emulation=EmulationInfo.model_validate(host_json["emulation"])
        if host_json.get("emulation")
        else None,
        error=run["error"],
        log_tail=run["log_tail"],
        wall_s=config.get("wall_s"),
    )


def points_csv(loaded: list[CapacityResult]) -> str:
    """One CSV row per point, with its run's model, shape, status, SLO and capacity (``bench export``)."""
    buf = io.StringIO()
    cols = [
        "run_id",
        "model",
        "shape",
        "status",
        "slo_p99_ms",
        "capacity_rps",
        "seq",
        "mode",
        "target_rps",
        "users",
        "achieved_rps",
        "requests",
        "errors",
        "error_rate",
        "p50_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "server_cpu_pct",
        "server_rss_mib",
        "generator_cpu_pct",
        "duration_s",
        "valid",
        "passed",
        "stable",
        "note",
    ]
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for r in loaded:
        for p in r.points:
            row = p.model_dump(mode="json", exclude={"windows"})
            writer.writerow(
                {
                    "run_id": r.run_id,
                    "model": r.model,
                    "shape": r.shape,
                    "status": r.status.value,
                    "slo_p99_ms": r.slo_p99_ms,
                    "capacity_rps": r.capacity_rps,
                    **row,
                }
            )
    return buf.getvalue()
