"""Helpers for the optimiser tests: scenarios as dicts, bench results written through the harness's API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from advisor.bench import results
from advisor.bench.measurements import CapacityResult, LoadMode, PointResult, RunStatus
from advisor.capacity import LatencyFloor, Measurement, ModelCapacities, build_capacities, read_evidence
from advisor.pricing.catalog import Catalog
from advisor.scenario.model import ModelSpec, Scenario
from advisor.store import Store


def model(name: str = "m", **over: Any) -> dict[str, Any]:
    """One scenario model (a CPU replica with a given capacity on c6i.large) with overrides."""
    base: dict[str, Any] = {
        "name": name,
        "server": {"reference": "tabular"},
        "resources": {"vcpu": 1, "memory_gib": 2},
        "slo": {"latency_p99_ms": 50},
        "traffic": {"profile": "flat", "peak_rps": 200},
        "capacities_rps": {"c6i.large": 100},
    }
    base.update(over)
    return base


def caps_for(spec: ModelSpec, catalog: Catalog, store: Store | None = None, **kw: Any) -> ModelCapacities:
    """The capacities ``recommend`` builds for ``spec`` (from ``store``'s bench results when given)."""
    measurements: list[Measurement] = []
    floor: LatencyFloor | None = None
    if store is not None:
        measurements, floor = read_evidence(store, spec.bench_labels).for_labels(spec.bench_labels)
    return build_capacities(
        spec.name, catalog, slo_p99_ms=spec.slo.latency_p99_ms, measurements=measurements,
        given=spec.capacities_rps, replica_vcpu=spec.resources.vcpu, latency_floor=floor,
        unloaded_p99_ms=spec.unloaded_p99_ms, **kw,
    )  # fmt: skip


def scenario_dict(*models: dict[str, Any], **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "test",
        "region": "us-east-1",
        "candidates": {"families": ["c6i", "c7i", "m6i", "c7g", "g5"], "max_size_vcpu": 16},
        "models": list(models) or [model()],
    }
    base.update(over)
    return base


def scenario(*models: dict[str, Any], **over: Any) -> Scenario:
    return Scenario.model_validate(scenario_dict(*models, **over))


def write_scenario(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def store_bench_run(
    store: Store,
    *,
    run_id: str,
    label: str,
    shape: str,
    slo_p99_ms: float,
    capacity_rps: float,
    point_p99s_ms: list[float],
    reason: str = "",
    rss_mib: float | None = None,
) -> None:
    """A completed bench run with open-loop points (p99 as given) and its capacity, as the harness does."""
    results.start_run(
        store, run_id=run_id, model=label, shape=shape, target="test", slo_p99_ms=slo_p99_ms,
        max_error_rate=0.001, config={}, host=None, emulation=None,
    )  # fmt: skip
    for seq, p99 in enumerate(point_p99s_ms):
        point = PointResult(
            seq=seq, mode=LoadMode.OPEN, target_rps=10.0 * (seq + 1), achieved_rps=10.0 * (seq + 1),
            requests=1000, errors=0, error_rate=0.0, p99_ms=p99, duration_s=4.0, valid=True,
            passed=p99 <= slo_p99_ms, server_rss_mib=rss_mib,
        )  # fmt: skip
        results.add_point(store, run_id, point)
    result = CapacityResult(
        run_id=run_id, model=label, shape=shape, status=RunStatus.COMPLETED, slo_p99_ms=slo_p99_ms,
        max_error_rate=0.001, capacity_rps=capacity_rps, p99_ms_at_capacity=min(point_p99s_ms), reason=reason,
    )  # fmt: skip
    results.add_capacity(store, result)
    results.finish_run(store, run_id, RunStatus.COMPLETED)
