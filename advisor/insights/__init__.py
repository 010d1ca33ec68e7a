"""What the surfaces show: stored recommendations, their history and per-model tables, bench runs, and the
replay behind a stored plan. The dashboard and the reports call these and hold no logic of their own; none
of them runs the optimiser (a what-if, which does, is the front door's: :mod:`advisor.api.whatif`).

- ``stored``: :func:`latest_recommendations`, :func:`recommendation_history`, :func:`model_table`,
  :func:`comparison_table`, :func:`applied_changes`, :func:`bench_runs`, :func:`bench_results`,
  :func:`bench_points`;
- ``llm_bench``: :func:`llm_bench_runs`, :func:`llm_bench_results`, :func:`llm_bench_points`,
  :func:`llm_capacity_sentence`, :func:`llm_bucket_grid`, :func:`parse_bucket` (LLM bench runs; their points
  as CSV: :func:`llm_points_csv`);
- ``replay``: :func:`model_replay` (a :class:`ReplayView`), :func:`scenario_path`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names

if TYPE_CHECKING:
    from advisor.bench.llm.results import llm_points_csv
    from advisor.insights.llm_bench import (
        LLM_POINT_COLUMNS,
        LLM_RUN_COLUMNS,
        llm_bench_points,
        llm_bench_results,
        llm_bench_runs,
        llm_bucket_grid,
        llm_capacity_sentence,
        parse_bucket,
    )
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
        (
            "LLM_POINT_COLUMNS",
            "LLM_RUN_COLUMNS",
            "llm_bench_points",
            "llm_bench_results",
            "llm_bench_runs",
            "llm_bucket_grid",
            "llm_capacity_sentence",
            "parse_bucket",
        ),
        "advisor.insights.llm_bench",
    ),
    "llm_points_csv": "advisor.bench.llm.results",
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
    "LLM_POINT_COLUMNS",
    "LLM_RUN_COLUMNS",
    "MODEL_COLUMNS",
    "ReplayView",
    "applied_changes",
    "bench_points",
    "bench_results",
    "bench_runs",
    "comparison_table",
    "latest_recommendations",
    "llm_bench_points",
    "llm_bench_results",
    "llm_bench_runs",
    "llm_bucket_grid",
    "llm_capacity_sentence",
    "llm_points_csv",
    "model_replay",
    "model_row",
    "model_table",
    "parse_bucket",
    "recommendation_history",
    "scenario_path",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
