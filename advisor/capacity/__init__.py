"""Capacity: what one replica of a model serves within its SLO on each shape, and how advisor knows.

Pure (numpy, pandas, pydantic; no store, no bench harness, no SDK). The pieces, in the order they are used:

* :func:`read_evidence` — the stored bench results of some labels (measured capacities, peak memory, the
  fastest p99 ever seen), read through any object with the store's ``query`` method;
* :func:`build_capacities` — a model's anchors (measured, then given) normalised to its SLO, with its
  latency floor and the vCPU scaling exponent fitted on its measurements; :func:`capacities_for_model`
  builds them for a scenario's model (the one wiring of scenario → capacities);
* :class:`ModelCapacities` — the one estimator: ``entry(itype)`` / ``fargate_entry()`` /
  ``entries_for(types)`` for ``recommend``, and :func:`capacity_table` / :func:`suggest_measurements` for
  ``bench suggest``, over the processor speed table (:func:`family_speed`) and GPU datasheets.

Measured figures always win; everything derived is flagged estimated with its band and basis.
"""

from __future__ import annotations

from advisor.capacity.anchors import FARGATE, Anchor, convert_capacity_to_slo
from advisor.capacity.build import build_capacities, capacities_for_model
from advisor.capacity.estimate import (
    CapacityEntry,
    EstimatePolicy,
    Exponent,
    GpuWorkload,
    ModelCapacities,
    Unavailable,
)
from advisor.capacity.evidence import BenchEvidence, LatencyFloor, Measurement, RowSource, read_evidence
from advisor.capacity.speed import ProcessorSpeed, family_speed
from advisor.capacity.suggest import (
    CapacityEstimate,
    RankedEstimate,
    Suggestion,
    capacity_table,
    default_candidates,
    rank_by_cost,
    suggest_measurements,
)

__all__ = [
    "FARGATE",
    "Anchor",
    "BenchEvidence",
    "CapacityEntry",
    "CapacityEstimate",
    "EstimatePolicy",
    "Exponent",
    "GpuWorkload",
    "LatencyFloor",
    "Measurement",
    "ModelCapacities",
    "ProcessorSpeed",
    "RankedEstimate",
    "RowSource",
    "Suggestion",
    "Unavailable",
    "build_capacities",
    "capacities_for_model",
    "capacity_table",
    "convert_capacity_to_slo",
    "default_candidates",
    "family_speed",
    "rank_by_cost",
    "read_evidence",
    "suggest_measurements",
]
