"""Processor speed per vCPU and GPU datasheet figures: the tables capacity estimates rest on.

``data/family_speed.csv`` gives each processor generation a speed per vCPU relative to Ice Lake (c6i = 1.0)
with an uncertainty band and its basis (mostly AWS's own "up to X% better" claims, read as per-vCPU
factors; every row says which). Rows match a family exactly (``family:x2gd``) or by vendor and generation
(``intel:6``, ``amd:7``, ``graviton:7``). ``data/gpu_specs.csv`` holds FP16 dense TFLOP/s and memory bandwidth
per GPU model from NVIDIA's datasheets, for the roofline estimate.

A Fargate task runs on a processor the user does not choose; advisor assumes the processor of the
measurement it scales from, within ``FARGATE_BAND`` (an assumption: AWS publishes no processor for
Fargate).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from advisor.domain import InstanceType

DATA_DIR = Path(__file__).resolve().parent / "data"
UNKNOWN_FAMILY_BAND = 0.40
FARGATE_BAND = 0.25
_FAMILY_RE = re.compile(r"^(?P<cls>[a-z]+?)(?P<gen>\d+)(?P<attrs>[a-z]*)(?:-flex)?$")


@dataclass(frozen=True)
class ProcessorSpeed:
    """Relative speed per vCPU (c6i = 1.0), its uncertainty as a fraction, and where the figure comes from."""

    factor: float
    band: float
    basis: str


@dataclass(frozen=True)
class GpuSpec:
    fp16_dense_tflops: float
    memory_bandwidth_gb_per_s: float
    source: str


@cache
def speed_table() -> dict[str, ProcessorSpeed]:
    with open(DATA_DIR / "family_speed.csv", encoding="utf-8") as fh:
        return {
            row["match"]: ProcessorSpeed(
                float(row["relative_speed_per_vcpu"]), float(row["band_pct"]) / 100, row["basis"]
            )
            for row in csv.DictReader(fh)
        }


@cache
def gpu_specs() -> dict[str, GpuSpec]:
    with open(DATA_DIR / "gpu_specs.csv", encoding="utf-8") as fh:
        return {
            row["gpu_model"]: GpuSpec(
                float(row["fp16_dense_tflops"]), float(row["memory_bandwidth_gb_per_s"]), row["source"]
            )
            for row in csv.DictReader(fh)
        }


def family_speed(itype: InstanceType) -> ProcessorSpeed:
    """Relative per-vCPU speed of an instance's processor; unknown families get 1.0 ± 40%."""
    return _speed_of(itype.family, itype.arch.value)


@cache
def _speed_of(family: str, arch: str) -> ProcessorSpeed:
    """:func:`family_speed` by family and architecture (kept: a fleet asks for the same few hundred)."""
    table = speed_table()
    if f"family:{family}" in table:
        return table[f"family:{family}"]
    m = _FAMILY_RE.match(family)
    if m is not None:
        attrs = m.group("attrs")
        proc = "graviton" if arch == "arm64" else ("amd" if "a" in attrs else "intel")
        key = f"{proc}:{m.group('gen')}"
        if key in table:
            return table[key]
    return ProcessorSpeed(1.0, UNKNOWN_FAMILY_BAND, f"no speed factor for family {family}; assumed 1.0")
