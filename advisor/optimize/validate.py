"""The last step of ``recommend``: check the document against the platform facts before anyone sees it.

Every plan must be deployable as printed. :func:`violations` lists what is not, each with the model and the
field; :func:`validate` raises :class:`InvalidRecommendation` when the list is not empty. A violation is a
bug in advisor (the optimiser should never have produced it), so it ends the command as an internal error
(exit 70) rather than passing silently or being blamed on the user's input. Checked:

- every SageMaker type in plans, alternatives and baselines is one a real-time endpoint accepts
  (:mod:`advisor.platforms.sagemaker`);
- every EC2 plan's replicas per node fit each of its pool's instance types on what the node leaves
  allocatable on the model's orchestrator (CPU, memory, GPU, pod slots; :mod:`advisor.platforms.nodes`);
- no pool, SageMaker instance or Fargate task uses an architecture the model's image lacks;
- every placement names pools that ``Recommendation.pools`` lists, and every EC2 plan has a deployment
  section naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.domain import Arch, FargateSize, Platform
from advisor.platforms.nodes import allocatable, replicas_fitting
from advisor.platforms.sagemaker import is_endpoint_type, source
from advisor.platforms.targets import Orchestrator
from advisor.pricing.catalog import Catalog
from advisor.recommendation.model import ModelRecommendation, Recommendation
from advisor.scenario.model import Scenario

_FARGATE_ARCH = {"linux_x86": Arch.X86_64, "windows_x86": Arch.X86_64, "linux_arm": Arch.ARM64}


@dataclass(frozen=True)
class Violation:
    model: str
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.model}: {self.field}: {self.problem}"


class InvalidRecommendation(RuntimeError):
    """A recommendation that breaks a platform fact: a bug report, never the user's fault."""

    def __init__(self, found: list[Violation]) -> None:
        self.violations = found
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        super().__init__(f"the recommendation is not deployable as computed: {found[0]}{more}")


def validate(rec: Recommendation, scenario: Scenario, catalog: Catalog) -> Recommendation:
    """``rec`` when it holds every platform fact; else InvalidRecommendation listing what does not."""
    found = violations(rec, scenario, catalog)
    if found:
        raise InvalidRecommendation(found)
    return rec


def violations(rec: Recommendation, scenario: Scenario, catalog: Catalog) -> list[Violation]:
    """Every way ``rec`` is not deployable as printed (module docstring); empty when it is."""
    specs = {m.name: m for m in scenario.models}
    pools = {p.name: p for p in rec.pools}
    out: list[Violation] = []
    for m in rec.models:
        spec = specs.get(m.model)
        if spec is None:
            out.append(Violation(m.model, "model", "not in the scenario"))
            continue
        out += _sagemaker_types(m)
        if m.plan is None:
            continue
        plan = m.plan.plan
        arches = set(spec.architectures)
        if plan.platform is Platform.EC2:
            out += _fits_nodes(m, spec.orchestrator(scenario.cluster), scenario, catalog)
            for t in m.plan.instance_types:
                arch = catalog.instance(t).arch
                if arch not in arches:
                    out.append(_arch(m.model, "plan.instance_types", t, arch, arches))
            deployment = m.plan.deployment
            if deployment is None or not deployment.pools:
                out.append(Violation(m.model, "plan.deployment.pools", "an EC2 plan names no node pool"))
            placement = m.plan.placement
            named = list(placement.pools) if placement is not None else []
            named += list(deployment.pools) if deployment is not None else []
            for name in named:
                if name not in pools:
                    out.append(Violation(m.model, "plan.placement.pools", f"pool {name!r} is not in pools"))
                elif m.model not in pools[name].models:
                    out.append(Violation(m.model, "pools", f"pool {name!r} does not list the model"))
        elif plan.platform is Platform.SAGEMAKER:
            arch = catalog.instance(plan.shape_label).arch
            if arch not in arches:
                out.append(_arch(m.model, "plan.shape", plan.shape_label, arch, arches))
        elif isinstance(plan.shape, FargateSize):
            arch = _FARGATE_ARCH.get(plan.shape.os_arch, Arch.X86_64)
            if arch not in arches:
                out.append(_arch(m.model, "plan.shape.os_arch", plan.shape.os_arch, arch, arches))
    for pool in rec.pools:
        for name in pool.models:
            spec = specs.get(name)
            if spec is not None and not set(pool.architectures) <= set(spec.architectures):
                lacking = sorted(a.value for a in set(pool.architectures) - set(spec.architectures))
                out.append(
                    Violation(
                        name,
                        f"pools[{pool.name}].architectures",
                        f"the pool mixes in {', '.join(lacking)}, which the model's image lacks",
                    )
                )
    return out


def _sagemaker_types(m: ModelRecommendation) -> list[Violation]:
    where: list[tuple[str, str]] = []
    if m.plan is not None and m.plan.platform is Platform.SAGEMAKER:
        where.append(("plan.shape", m.plan.shape))
    where += [
        (f"alternatives[{i}].shape", a.shape)
        for i, a in enumerate(m.alternatives)
        if a.platform is Platform.SAGEMAKER
    ]
    where += [
        (f"baselines[{b.name}].shape", b.shape)
        for b in m.baselines
        if b.platform == Platform.SAGEMAKER.value and b.shape
    ]
    return [
        Violation(m.model, field, f"{shape} is not a SageMaker endpoint instance type ({source()})")
        for field, shape in where
        if not is_endpoint_type(shape)
    ]


def _fits_nodes(
    m: ModelRecommendation, orchestrator: Orchestrator, scenario: Scenario, catalog: Catalog
) -> list[Violation]:
    assert m.plan is not None
    plan = m.plan.plan
    need = plan.replica
    if need is None:
        return [Violation(m.model, "plan.plan.replica", "an EC2 plan without the replica's requests")]
    rpn = plan.replicas_per_node
    cluster = scenario.cluster
    out = []
    for t in m.plan.instance_types:
        alloc = allocatable(
            catalog.instance(t),
            orchestrator,
            cluster.daemonsets,
            ecs_reserved_memory_mib=cluster.ecs_reserved_memory_mib,
        )
        fits = replicas_fitting(alloc, need.vcpu, need.memory_gib, need.gpu_count, need.gpu_memory_gib)
        if fits < rpn:
            out.append(
                Violation(
                    m.model,
                    "plan.replicas_per_node",
                    f"{rpn} replica(s) of {need.vcpu:g} vCPU / {need.memory_gib:g} GiB do not fit a {t} "
                    f"node on {orchestrator.value} (allocatable {alloc.vcpu:.2f} vCPU / "
                    f"{alloc.memory_gib:.2f} GiB"
                    + (f", {alloc.pod_slots} pod slots" if alloc.pod_slots is not None else "")
                    + f"; {fits} fit)",
                )
            )
    return out


def _arch(model: str, field: str, what: str, arch: Arch, arches: set[Arch]) -> Violation:
    listed = ", ".join(sorted(a.value for a in arches))
    return Violation(model, field, f"{what} is {arch.value}; the model's image is built for {listed}")
