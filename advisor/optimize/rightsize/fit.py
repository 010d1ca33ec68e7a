"""Where a replica fits an instance but not the node its orchestrator leaves: told, not silently moved."""

from __future__ import annotations

import numpy as np

from advisor.domain import Platform
from advisor.errors import AdvisorError
from advisor.optimize.rightsize.candidates import CandidateTypes
from advisor.platforms.nodes import allocatable, replicas_fitting
from advisor.pricing.catalog import Catalog
from advisor.scenario.model import Scenario


def fit_warnings(scenario: Scenario, types: CandidateTypes, catalog: Catalog) -> list[str]:
    """Where a model's replica fits an instance but not what its nodes leave allocatable, said once each.

    For the EC2 types a model names (given capacities, what runs today, bench shapes): the type whose
    capacity is known but whose node cannot take one replica after the kubelet/agent reserve and daemonsets.
    For each candidate family: one where some size would hold a replica as a whole instance but none does as
    a node. Such a replica is not silently moved to another size without the user being told.
    """
    out: list[str] = []
    families, family_of = np.unique(
        np.array([t.family for t in types.types], dtype=object), return_inverse=True
    )
    left_out: dict[tuple[object, ...], list[str]] = {}  # per replica and orchestrator: models share them
    for spec in scenario.models:
        need = spec.need
        orchestrator = spec.orchestrator(scenario.cluster)
        named = [t for t in spec.capacities_rps if t != "fargate" and not t.startswith("ml.")]
        if spec.current is not None and spec.current.platform is Platform.EC2 and spec.current.instance_type:
            named.append(spec.current.instance_type)
        named += list(spec.bench_shapes)
        seen: set[str] = set()
        for name in named:
            if name in seen:
                continue
            seen.add(name)
            try:
                itype = catalog.instance(name)
            except AdvisorError:
                continue
            if not need.fits_on(itype):
                continue
            alloc = allocatable(
                itype,
                orchestrator,
                scenario.cluster.daemonsets,
                ecs_reserved_memory_mib=scenario.cluster.ecs_reserved_memory_mib,
            )
            if replicas_fitting(alloc, need.vcpu, need.memory_gib, need.gpu_count, need.gpu_memory_gib) < 1:
                out.append(
                    f"{spec.name}: one replica ({need.vcpu:g} vCPU / {need.memory_gib:g} GiB) does not fit a "
                    f"{name} node on {orchestrator.value} (allocatable {alloc.vcpu:.2f} vCPU / "
                    f"{alloc.memory_gib:.2f} GiB after the reserve): lower the requests to run there"
                )
        key = (need, orchestrator)
        if key not in left_out:
            whole = np.bincount(
                family_of, weights=types.replicas_per_node(need) >= 1, minlength=families.size
            )
            nodes = np.bincount(
                family_of, weights=types.replicas_per_node(need, orchestrator) >= 1, minlength=families.size
            )
            left_out[key] = [str(f) for f in families[(whole > 0) & (nodes == 0)]]
        out += [
            f"{spec.name}: no {family} size up to {scenario.candidates.max_size_vcpu} vCPUs leaves "
            f"room for one replica ({need.vcpu:g} vCPU / {need.memory_gib:g} GiB) on "
            f"{orchestrator.value} nodes; the family is left out for it"
            for family in left_out[key]
        ]
    return out
