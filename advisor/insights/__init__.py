"""What the surfaces show: stored recommendations, their history and per-model tables, bench runs, and the
replay behind a stored plan. The dashboard and the reports call these and hold no logic of their own; none
of them runs the optimiser (a what-if, which does, is the front door's: :mod:`advisor.api.whatif`).

- ``stored``: :func:`latest_recommendations`, :func:`recommendation_history`, :func:`model_table`,
  :func:`comparison_table`, :func:`applied_changes`, :func:`bench_runs`, :func:`bench_results`,
  :func:`bench_points`;
- ``replay``: :func:`model_replay` (a :class:`ReplayView`), :func:`scenario_path`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names

if TYPE_CHECKING:
    from advisor.insights.replay import ReplayView, model_replay
    from advisor.insights.stored import (
        HISTORY_COLUMNS,
        MODEL_COLUMNS,
        applied_changes,
        bench_points,
        bench_results,
        bench_runs,
        comparison_table,
        latest_recommendations,
        model_row,
        model_table,
        recommendation_history,
    )
    from advisor.recommendation.source import scenario_path

_LAZY = {
    **dict.fromkeys(
        (
            "HISTORY_COLUMNS",
            "MODEL_COLUMNS",
            "applied_changes",
            "bench_points",
            "bench_results",
            "bench_runs",
            "comparison_table",
            "latest_recommendations",
            "model_row",
            "model_table",
            "recommendation_history",
        ),
        "advisor.insights.stored",
    ),
    **dict.fromkeys(
        ("ReplayView", "model_replay"),
        "advisor.insights.replay",
    ),
    **dict.fromkeys(
        ("scenario_path",),
        "advisor.recommendation.source",
    ),
}

__all__ = [
    "HISTORY_COLUMNS",
    "MODEL_COLUMNS",
    "ReplayView",
    "applied_changes",
    "bench_points",
    "bench_results",
    "bench_runs",
    "comparison_table",
    "latest_recommendations",
    "model_replay",
    "model_row",
    "model_table",
    "recommendation_history",
    "scenario_path",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
