"""Helpers for the traffic and cost tests: run the CLI in-process, build small plans and profiles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from advisor.cli import main
from advisor.recommendation.plan import Plan
from advisor.traffic.profile import TrafficProfile

REPO_ROOT = Path(__file__).resolve().parent.parent
TRACES = REPO_ROOT.parent / "shared" / "traces"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def one_error_line(self) -> str:
        """The single ``error:`` line of a user error (exit 2, no traceback); fails the test otherwise."""
        assert self.code == 2, (self.code, self.stdout, self.stderr)
        assert "Traceback" not in self.stdout + self.stderr
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), self.stderr
        return lines[0]


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run ``advisor ARGS`` in this process (an unexpected exception propagates and fails the test)."""
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return Run(code, out.out, out.err)


def make_plan(**overrides: Any) -> Plan:
    """An EC2 plan on c6i.xlarge with 10 rps per replica, no load balancer; keys override top-level fields."""
    data: dict[str, Any] = {
        "name": "test-plan",
        "platform": "ec2",
        "region": "us-east-1",
        "shape": "c6i.xlarge",
        "capacity": {"rps_per_replica": 10.0, "provenance": "given"},
        "slo": {"latency_p99_ms": 200.0},
        "autoscaling": {
            "min_replicas": 1,
            "max_replicas": 100,
            "target_utilisation": 1.0,
            "scale_up_delay_s": 0,
            "scale_down_stabilisation_s": 0,
            "tolerance": 0.0,
        },
        "load_balancer": {"kind": "none"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Plan.model_validate(data)


def flat_profile(rps: float, hours: float, step_s: int = 60) -> TrafficProfile:
    return TrafficProfile.from_array("flat-test", np.full(int(hours * 3600 / step_s), rps), step_s=step_s)
