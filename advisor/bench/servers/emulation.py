"""Shape emulation: confine a locally started model server to an instance type's vCPUs and memory.

A shape is an instance type from the catalog (``c6i.large`` = 2 vCPU, 4 GiB). On this host the server gets:

* **CPU**: pinned to ``vcpu`` CPUs (affinity). The last CPUs of the host are given to the server and the rest
  to the load generator; when none are left the two share CPUs and the run says so.
* **Memory and CPU time**, by the best method the machine allows, recorded with the run:
  ``cgroup_v2`` — a child cgroup with ``cpu.max`` = vcpu × period and ``memory.max`` = the shape's memory,
  used when this process's cgroup v2 group delegates the ``cpu`` and ``memory`` controllers and is writable;
  otherwise ``affinity_rlimit`` — affinity, the harness watching the server's total resident memory (RSS
  of its process tree) and stopping it above the shape's memory as the OOM killer would, and ``RLIMIT_AS``
  per process at :data:`RLIMIT_AS_FACTOR` × the shape's memory as a backstop against runaway allocation.
  The rlimit cannot be the shape's memory itself: it caps *virtual* memory, which runtimes reserve far
  beyond what they touch (the MiniLM server maps 1.5 GiB for 0.55 GiB resident, and every thread stack
  reserves 8 MiB), so a 2 GiB cap kills a server that fits a 2 GiB instance with room to spare.
  ``none`` is for real instances (a Kubernetes Job on the very instance type): nothing is confined.
* **Threads**: ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` … set to the vCPU count, and
  ``ADVISOR_SHAPE_VCPU`` for servers that size themselves (the reference servers do).

A shape larger than the host is refused with an :class:`InputError`: its numbers would be fiction.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import psutil

from advisor.bench.measurements import EmulationInfo, HostInfo
from advisor.errors import InputError, MeasurementError

EmulationMethod = Literal["cgroup_v2", "affinity_rlimit", "none"]
CGROUP_PERIOD_US = 100_000
RLIMIT_AS_FACTOR = 4
GIB = 1024**3
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "TORCH_NUM_THREADS",
)


def host_info() -> HostInfo:
    """This machine: CPU model, usable cores (affinity), memory, OS."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return HostInfo(
        hostname=socket.gethostname(),
        cpu_model=model,
        cores=len(host_cpus()),
        memory_gib=round(psutil.virtual_memory().total / GIB, 2),
        platform=platform.platform(),
    )


def host_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def thread_env(vcpu: float) -> dict[str, str]:
    k = str(max(1, int(vcpu)))
    env = dict.fromkeys(THREAD_VARS, k)
    env["ADVISOR_SHAPE_VCPU"] = k
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


def plan_emulation(
    shape: str,
    vcpu: float,
    memory_gib: float | None,
    *,
    method: EmulationMethod | Literal["auto"] = "auto",
    cpus: list[int] | None = None,
    host_memory_gib: float | None = None,
    cgroup_root: Path | None = None,
) -> EmulationInfo:
    """Decide how ``shape`` is emulated here; InputError when it is larger than this host.

    With ``method="none"`` (measuring on a real instance of the type) only the CPU count is checked: the
    memory a machine reports is always a little below its instance type's nominal figure.

    ``vcpu`` is rounded up to whole CPUs for affinity (a 0.5-vCPU shape gets one CPU and, under cgroup v2,
    a 50% ``cpu.max``).
    """
    available = cpus if cpus is not None else host_cpus()
    host_mem = host_memory_gib if host_memory_gib is not None else psutil.virtual_memory().total / GIB
    whole = max(1, int(-(-vcpu // 1)))
    if whole > len(available):
        raise InputError(
            f"shape {shape} needs {vcpu:g} vCPU but this host has {len(available)} usable CPUs",
            where="--shapes",
            fix=f"pick shapes of at most {len(available)} vCPU here, or measure {shape} on a real instance "
            "(`advisor bench jobs --emit k8s DIR`)",
        )
    if method == "none":
        # A real instance of the type (a Kubernetes Job pinned to it): the host *is* the shape. Its usable
        # memory is always a little below the nominal figure, so memory is not checked.
        return EmulationInfo(
            shape=shape,
            vcpu=vcpu,
            memory_gib=memory_gib,
            method="none",
            cpus=available,
            generator_cpus=available,
            shares_cpus_with_generator=True,
            thread_env=thread_env(vcpu),
            note="not confined: the host is the shape",
        )
    if memory_gib is not None and memory_gib > host_mem:
        raise InputError(
            f"shape {shape} needs {memory_gib:g} GiB but this host has {host_mem:.1f} GiB",
            where="--shapes",
            fix="pick a smaller shape or measure it on a real instance (`advisor bench jobs --emit k8s DIR`)",
        )
    server_cpus = available[-whole:]
    rest = [c for c in available if c not in server_cpus]
    chosen: EmulationMethod
    note = ""
    if method == "auto":
        group = cgroup_v2_group(cgroup_root)
        chosen = "cgroup_v2" if group is not None else "affinity_rlimit"
        if group is None:
            note = "cgroup v2 cpu/memory controllers not delegated here: RSS watchdog + RLIMIT_AS backstop"
    else:
        chosen = method
    return EmulationInfo(
        shape=shape,
        vcpu=vcpu,
        memory_gib=memory_gib,
        method=chosen,
        cpus=server_cpus,
        generator_cpus=rest or available,
        shares_cpus_with_generator=not rest,
        thread_env=thread_env(vcpu),
        note=note,
    )


# ----- cgroup v2 ----------------------------------------------------------------------------------------
def _cgroup2_mount() -> Path | None:
    try:
        for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "cgroup2":
                return Path(parts[1])
    except OSError:
        return None
    return None


def _own_cgroup_path() -> str | None:
    try:
        for line in Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines():
            if line.startswith("0::"):
                return line[3:].strip()
    except OSError:
        return None
    return None


def cgroup_v2_group(root: Path | None = None) -> Path | None:
    """The cgroup v2 group we may create children in, or None when cpu+memory cannot be delegated.

    ``root`` replaces the real mount + own path (tests point it at a directory laid out like cgroupfs).
    """
    if root is None:
        mount, own = _cgroup2_mount(), _own_cgroup_path()
        if mount is None or own is None:
            return None
        root = mount / own.lstrip("/")
    try:
        controllers = set((root / "cgroup.subtree_control").read_text(encoding="utf-8").split())
    except OSError:
        return None
    if not {"cpu", "memory"} <= controllers or not os.access(root, os.W_OK):
        return None
    return root


class Confinement:
    """Applies an :class:`EmulationInfo` to a server process; pass :meth:`preexec` to ``subprocess.Popen``."""

    def __init__(self, info: EmulationInfo, *, run_id: str, cgroup_root: Path | None = None) -> None:
        self.info = info
        self.group: Path | None = None
        if info.method == "cgroup_v2":
            parent = cgroup_v2_group(cgroup_root)
            if parent is None:
                raise MeasurementError(
                    "cgroup v2 is not available for emulation",
                    where="emulation",
                    fix="use the affinity_rlimit method",
                )
            self.group = parent / f"advisor-bench-{run_id}"
            quota = round(info.vcpu * CGROUP_PERIOD_US)
            try:
                self.group.mkdir(exist_ok=True)
                (self.group / "cpu.max").write_text(f"{quota} {CGROUP_PERIOD_US}\n", encoding="utf-8")
                if info.memory_gib is not None:
                    (self.group / "memory.max").write_text(
                        f"{int(info.memory_gib * GIB)}\n", encoding="utf-8"
                    )
            except OSError as exc:
                raise MeasurementError(
                    f"cannot set up the cgroup: {exc.strerror}",
                    where=str(self.group),
                    fix="use --emulation affinity_rlimit",
                ) from None

    def env(self) -> dict[str, str]:
        return dict(self.info.thread_env)

    def preexec(self) -> Callable[[], None] | None:
        """Runs in the child between fork and exec: join the cgroup, pin CPUs, cap memory."""
        if self.info.method == "none":
            return None
        cpus = set(self.info.cpus)
        mem_bytes = (
            int(self.info.memory_gib * GIB * RLIMIT_AS_FACTOR) if self.info.memory_gib is not None else None
        )
        procs = str(self.group / "cgroup.procs") if self.group is not None else None
        use_rlimit = self.info.method == "affinity_rlimit"

        def _apply() -> None:
            if procs is not None:
                with open(procs, "w", encoding="ascii") as fh:
                    fh.write("0\n")  # "0" moves the writing process: the child itself, before exec
            os.sched_setaffinity(0, cpus)
            if use_rlimit and mem_bytes is not None:
                resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))

        return _apply

    def memory_limit_mib(self) -> float | None:
        """The total RSS (MiB) the harness enforces itself under ``affinity_rlimit``; None otherwise."""
        if self.info.method != "affinity_rlimit" or self.info.memory_gib is None:
            return None
        return self.info.memory_gib * 1024.0

    def cleanup(self) -> None:
        if self.group is not None and self.group.exists():
            try:
                self.group.rmdir()
            except OSError:
                shutil.rmtree(self.group, ignore_errors=True)
