"""Shape emulation (affinity, rlimit, cgroup v2 on a folder laid out like cgroupfs); server start failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.bench.servers.emulation import (
    RLIMIT_AS_FACTOR,
    Confinement,
    cgroup_v2_group,
    host_info,
    plan_emulation,
    thread_env,
)
from advisor.bench.servers.process import ManagedServer
from advisor.errors import InputError, MeasurementError

GIB = 1024**3


def _fake_cgroup(tmp_path: Path, controllers: str) -> Path:
    root = tmp_path / "cgroup"
    root.mkdir(parents=True)
    (root / "cgroup.subtree_control").write_text(controllers + "\n")
    return root


def test_a_shape_larger_than_the_host_is_refused() -> None:
    with pytest.raises(InputError) as err:
        plan_emulation("c6i.xlarge", 4, 8, cpus=[0, 1], host_memory_gib=16)
    assert "needs 4 vCPU but this host has 2 usable CPUs" in err.value.what
    assert "bench jobs --emit k8s" in (err.value.fix or "")
    with pytest.raises(InputError, match="GiB"):
        plan_emulation("r6i.large", 2, 16, cpus=[0, 1], host_memory_gib=8)


def test_the_server_gets_the_last_cpus_and_the_generator_the_rest(tmp_path: Path) -> None:
    root = _fake_cgroup(tmp_path, "")  # no controllers delegated: the fallback
    one = plan_emulation("c7a.medium", 1, 2, cpus=[0, 1, 2], host_memory_gib=8, cgroup_root=root)
    assert (one.cpus, one.generator_cpus, one.shares_cpus_with_generator) == ([2], [0, 1], False)
    assert one.method == "affinity_rlimit" and "cgroup v2" in one.note
    assert one.thread_env["OMP_NUM_THREADS"] == "1" and one.thread_env["ADVISOR_SHAPE_VCPU"] == "1"
    two = plan_emulation("c6i.large", 2, 4, cpus=[0, 1], host_memory_gib=8, cgroup_root=root)
    assert two.cpus == [0, 1] and two.shares_cpus_with_generator
    host = plan_emulation("host", 2, None, method="none", cpus=[0, 1])
    assert host.method == "none" and host.memory_gib is None
    real = plan_emulation(
        "c6i.large", 2, 4, method="none", cpus=[0, 1], host_memory_gib=3.7
    )  # a real c6i.large
    assert real.method == "none" and real.cpus == [0, 1]


def test_cgroup_v2_is_used_when_cpu_and_memory_are_delegated(tmp_path: Path) -> None:
    root = _fake_cgroup(tmp_path, "cpuset cpu io memory pids")
    assert cgroup_v2_group(root) == root
    assert cgroup_v2_group(_fake_cgroup(tmp_path / "x", "cpu pids")) is None
    info = plan_emulation("c7a.medium", 1, 2, cpus=[0, 1], host_memory_gib=8, cgroup_root=root)
    assert info.method == "cgroup_v2"
    confinement = Confinement(info, run_id="r1", cgroup_root=root)
    group = root / "advisor-bench-r1"
    assert (group / "cpu.max").read_text() == "100000 100000\n"
    assert (group / "memory.max").read_text() == f"{2 * GIB}\n"
    assert confinement.memory_limit_mib() is None  # the kernel enforces it, not the harness
    preexec = confinement.preexec()
    assert preexec is not None
    proc = subprocess.run(
        [sys.executable, "-c", "print('hi')"], preexec_fn=preexec, capture_output=True, text=True
    )
    assert proc.stdout == "hi\n" and (group / "cgroup.procs").read_text() == "0\n"  # the child joined
    confinement.cleanup()
    assert not group.exists()


def test_affinity_and_rlimit_reach_the_child(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    info = plan_emulation(
        "c7a.medium", 1, 2, cpus=cpus, host_memory_gib=64, cgroup_root=_fake_cgroup(tmp_path, "")
    )
    confinement = Confinement(info, run_id="r2")
    probe = (
        "import json, os, resource; "
        "print(json.dumps([sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_AS)[0]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        preexec_fn=confinement.preexec(),
        capture_output=True,
        text=True,
        env={**os.environ, **confinement.env()},
        check=True,
    )
    affinity, rlimit = json.loads(out.stdout)
    assert affinity == [cpus[-1]] and rlimit == 2 * GIB * RLIMIT_AS_FACTOR  # a backstop; RSS is watched
    assert confinement.memory_limit_mib() == 2048


def test_thread_env_and_host_info() -> None:
    env = thread_env(4)
    assert {env[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")} == {"4"}
    info = host_info()
    assert info.cores == len(os.sched_getaffinity(0)) and info.memory_gib > 0 and info.cpu_model


def test_a_server_that_never_answers_times_out_with_a_clear_error(tmp_path: Path) -> None:
    server = ManagedServer(
        [sys.executable, "-c", "import time; print('loading', flush=True); time.sleep(60)"],
        health_url="http://127.0.0.1:9/health",
        log_path=tmp_path / "s.log",
        ready_timeout_s=1.5,
    )
    with pytest.raises(MeasurementError) as err:
        server.start()
    assert "not ready after 1.5 s" in err.value.what and "loading" in err.value.what
    assert server.exit_code() is not None  # it was stopped


def test_a_server_that_exits_at_start_shows_its_last_log_lines(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('model file missing', flush=True); sys.exit(3)"]
    server = ManagedServer(cmd, health_url="http://127.0.0.1:9/health", log_path=tmp_path / "s.log")
    with pytest.raises(MeasurementError) as err:
        server.start()
    assert "status 3" in err.value.what and "model file missing" in err.value.what
    assert "\n" not in err.value.one_line()
