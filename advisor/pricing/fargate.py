"""Fargate task sizes and their price.

AWS accepts only certain (vCPU, memory) pairs for a Fargate task. Source: Amazon ECS Developer Guide,
"Task CPU and memory" (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html),
as of 2025. 8 and 16 vCPU sizes are Linux-only. Billing is per second with a one-minute minimum, at
(vCPU × rate per vCPU-hour + GB × rate per GB-hour).
"""

from __future__ import annotations

from advisor.domain import FargateSize
from advisor.errors import InfeasibleError

# vCPU -> allowed memory (GiB) for that vCPU size.
VALID_FARGATE_MEMORY_GIB: dict[float, tuple[float, ...]] = {
    0.25: (0.5, 1.0, 2.0),
    0.5: tuple(float(m) for m in range(1, 5)),
    1.0: tuple(float(m) for m in range(2, 9)),
    2.0: tuple(float(m) for m in range(4, 17)),
    4.0: tuple(float(m) for m in range(8, 31)),
    8.0: tuple(float(m) for m in range(16, 61, 4)),
    16.0: tuple(float(m) for m in range(32, 121, 8)),
}
WINDOWS_MIN_VCPU = 1.0
LINUX_ONLY_VCPU = (8.0, 16.0)
FARGATE_MINIMUM_BILLED_SECONDS = 60


def describe_valid_sizes() -> str:
    """One line listing every valid size, e.g. ``0.25 vCPU: 0.5/1/2 GB; 0.5 vCPU: 1-4 GB; ...``."""
    parts = []
    for vcpu, mems in VALID_FARGATE_MEMORY_GIB.items():
        if len(mems) <= 3:
            mem = "/".join(f"{m:g}" for m in mems) + " GB"
        else:
            step = mems[1] - mems[0]
            mem = f"{mems[0]:g}-{mems[-1]:g} GB" + (f" in {step:g} GB steps" if step != 1 else "")
        parts.append(f"{vcpu:g} vCPU: {mem}")
    return "; ".join(parts)


def validate_fargate_size(vcpu: float, memory_gib: float, *, windows: bool = False) -> FargateSize:
    """Return the size if AWS offers it; raise InfeasibleError listing the valid sizes otherwise."""
    allowed = VALID_FARGATE_MEMORY_GIB.get(float(vcpu))
    if allowed is None:
        raise InfeasibleError(
            f"Fargate has no {vcpu:g} vCPU task size",
            where="fargate",
            fix=f"valid sizes are {describe_valid_sizes()}",
        )
    if float(memory_gib) not in allowed:
        raise InfeasibleError(
            f"Fargate does not offer {memory_gib:g} GB with {vcpu:g} vCPU",
            where="fargate",
            fix=f"valid sizes are {describe_valid_sizes()}",
        )
    if windows and (vcpu < WINDOWS_MIN_VCPU or vcpu in LINUX_ONLY_VCPU):
        raise InfeasibleError(
            f"Fargate Windows tasks cannot have {vcpu:g} vCPU", where="fargate", fix="use 1, 2 or 4 vCPU"
        )
    return FargateSize(vcpu=float(vcpu), memory_gib=float(memory_gib))


def smallest_fargate_size(vcpu: float, memory_gib: float) -> FargateSize:
    """The smallest valid task size with at least ``vcpu`` and ``memory_gib`` (cheapest for both rates)."""
    for size_vcpu, mems in VALID_FARGATE_MEMORY_GIB.items():
        if size_vcpu + 1e-9 < vcpu:
            continue
        for mem in mems:
            if mem + 1e-9 >= memory_gib:
                return FargateSize(vcpu=size_vcpu, memory_gib=mem)
    raise InfeasibleError(
        f"no Fargate task size has {vcpu:g} vCPU and {memory_gib:g} GB",
        where="fargate",
        fix=f"the largest is 16 vCPU / 120 GB; valid sizes are {describe_valid_sizes()}",
    )


def billed_seconds(run_seconds: float) -> float:
    """Per-second billing with a one-minute minimum per task."""
    return max(float(run_seconds), FARGATE_MINIMUM_BILLED_SECONDS)
