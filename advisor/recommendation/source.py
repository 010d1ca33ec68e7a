"""Where a stored recommendation came from: the scenario file it was computed from, for the surfaces that
replay or vary it (a model's page, a what-if)."""

from __future__ import annotations

from pathlib import Path

from advisor.errors import InputError
from advisor.recommendation.model import Recommendation


def scenario_path(rec: Recommendation) -> Path:
    """The scenario file ``rec`` was computed from (relative paths are read from the working directory)."""
    if rec.scenario_file is None:
        raise InputError(
            f"recommendation {rec.id} was computed from a scenario given in code, not a file",
            where="scenario_file",
            fix="recommend from a scenario file (`advisor recommend SCENARIO.yaml`) to replay or vary it",
        )
    path = Path(rec.scenario_file)
    if not path.is_file():
        raise InputError(
            f"scenario file {rec.scenario_file} of recommendation {rec.id} not found from {Path.cwd()}",
            where="scenario_file",
            fix="start the dashboard in the directory `advisor recommend` ran in",
        )
    return path
