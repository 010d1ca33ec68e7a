"""GPUs and accelerators per instance type, for the LLM prior: datasheet figures and what an instance holds.

``data/llm_devices.csv`` gives each device its dense BF16 (and FP8, where the device computes in it) TFLOP/s,
memory bandwidth and interconnect, each row with its datasheet; an instance's device count and memory per
device come from advisor's instance table (``gpu_count``, ``gpu_memory_gib``; ``accelerator_*`` for
Inferentia2, whose devices are chips). The A100 comes in two memories with two bandwidths: the row is the one
whose memory is nearest the instance's.

Tensor-parallel degrees an instance allows: powers of two up to its device count that divide the model's
attention heads (vLLM's requirement); an instance with ``n`` devices at degree ``tp`` runs ``n // tp``
replicas. Fractional GPUs (g6f slices) are left out: an LLM engine wants whole devices.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from advisor.domain import InstanceType

DATA = Path(__file__).resolve().parent.parent / "data" / "llm_devices.csv"


@dataclass(frozen=True)
class DeviceSpec:
    device: str
    bf16_tflops: float
    fp8_tflops: float | None
    bandwidth_gb_per_s: float
    interconnect: str
    source: str


@dataclass(frozen=True)
class InstanceDevices:
    """What one instance type brings to an LLM: ``count`` devices of ``spec``, ``memory_gib`` each."""

    instance_type: str
    spec: DeviceSpec
    count: int
    memory_gib: float

    def tp_degrees(self, heads: int) -> list[int]:
        out, tp = [], 1
        while tp <= self.count:
            if heads % tp == 0:
                out.append(tp)
            tp *= 2
        return out


@cache
def _rows() -> list[dict[str, str]]:
    with open(DATA, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _spec(row: dict[str, str]) -> DeviceSpec:
    return DeviceSpec(
        device=row["device"],
        bf16_tflops=float(row["bf16_dense_tflops"]),
        fp8_tflops=float(row["fp8_dense_tflops"]) if row["fp8_dense_tflops"] else None,
        bandwidth_gb_per_s=float(row["memory_bandwidth_gb_per_s"]),
        interconnect=row["interconnect"],
        source=row["source"],
    )


def device_spec(name: str) -> DeviceSpec | None:
    """A device's row by its name (``A100-80GB``, ``H100``...), None when the table has none."""
    return next((_spec(r) for r in _rows() if r["device"].lower() == name.lower()), None)


def instance_devices(itype: InstanceType) -> InstanceDevices | None:
    """The devices of an instance type, or None (no GPU or accelerator, a GPU slice, a device with no row)."""
    if itype.accelerator_count and (itype.accelerator_name or "").lower() == "inferentia2":
        count, memory, model = (
            itype.accelerator_count,
            itype.accelerator_memory_gib / itype.accelerator_count,
            "inferentia2",
        )
    elif itype.gpu_count >= 1 and float(itype.gpu_count).is_integer() and itype.gpu_model:
        count, memory, model = int(itype.gpu_count), itype.gpu_memory_gib / itype.gpu_count, itype.gpu_model
    else:
        return None
    rows = [r for r in _rows() if r["gpu_model"].lower() == model.lower()]
    if not rows:
        return None
    row = min(rows, key=lambda r: abs(float(r["memory_gib_per_device"] or memory) - memory))
    return InstanceDevices(itype.name, _spec(row), count, memory)
