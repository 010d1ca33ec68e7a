"""What the surfaces show: stored recommendations, their history and per-model tables, bench runs, the
replay behind a plan, and what-if re-runs. The dashboard and the reports call these and hold no logic of
their own.

- ``stored``: :func:`latest_recommendations`, :func:`recommendation_history`, :func:`model_table`,
  :func:`comparison_table`, :func:`applied_changes`, :func:`bench_runs`, :func:`bench_results`,
  :func:`bench_points`;
- ``whatif``: :func:`model_replay` (a :class:`ReplayView`), :func:`what_if` with a :class:`WhatIf`,
  :func:`what_if_table`, :func:`cost_change`, :func:`save_what_if`, :func:`scenario_path`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from advisor.lazy import lazy_names

if TYPE_CHECKING:
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
    from advisor.insights.whatif import (
        ReplayView,
        WhatIf,
        cost_change,
        model_replay,
        save_what_if,
        scenario_path,
        varied_scenario,
        what_if,
        what_if_table,
    )

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
            "ReplayView",
            "WhatIf",
            "cost_change",
            "model_replay",
            "save_what_if",
            "scenario_path",
            "varied_scenario",
            "what_if",
            "what_if_table",
        ),
        "advisor.insights.whatif",
    ),
}

__all__ = [
    "HISTORY_COLUMNS",
    "MODEL_COLUMNS",
    "ReplayView",
    "WhatIf",
    "applied_changes",
    "bench_points",
    "bench_results",
    "bench_runs",
    "comparison_table",
    "cost_change",
    "latest_recommendations",
    "model_replay",
    "model_row",
    "model_table",
    "recommendation_history",
    "save_what_if",
    "scenario_path",
    "varied_scenario",
    "what_if",
    "what_if_table",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
