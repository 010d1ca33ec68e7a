"""What every page of the dashboard shares: settings, cached reads of the store, the scenario and model
pickers (kept in the URL so a page can be linked), number formats and the in-page error message.

Only presentation lives here; every figure comes from ``advisor`` (``advisor.insights`` and the stored
documents).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import plotly.graph_objects as go
import streamlit as st

import advisor
import advisor.render as render
from advisor.insights import latest_recommendations
from advisor.recommendation import LeverSaving

EMPTY_STORE_HINT = (
    "No recommendation in the store yet ({db}). Run `make demo` (measures the two reference models, then "
    "recommends the demo scenario), or `advisor recommend examples/demo-scenario.yaml`, then reload."
)


def settings() -> advisor.Settings:
    """advisor's settings (ADVISOR_HOME and the rest of the environment)."""
    return advisor.load_settings()


@contextlib.contextmanager
def page_errors() -> Iterator[None]:
    """Show an error as one message in the page (what, where, how to fix), never a traceback page."""
    try:
        yield
    except advisor.AdvisorError as exc:
        st.error(str(exc))
    except Exception as exc:
        if type(exc).__module__.startswith("streamlit"):  # st.stop / rerun / page switch: not errors
            raise
        st.error(f"unexpected error ({type(exc).__name__}): {exc}. Please report it with the page's URL.")


@st.cache_data(ttl=15, show_spinner=False)
def latest(home: str) -> list[advisor.Recommendation]:
    """Newest recommendation per scenario (cached for a few seconds; ``home`` keys the cache)."""
    return latest_recommendations(settings=settings())


@st.cache_data(show_spinner=False)
def by_id(home: str, rec_id: str) -> advisor.Recommendation:
    """A stored recommendation (documents never change once stored, so cached for good)."""
    return advisor.stored_recommendation(rec_id, settings=settings())


def home_key() -> str:
    return str(settings().home.resolve())


def empty_hint() -> None:
    st.info(EMPTY_STORE_HINT.format(db=settings().db_path))


def pick_recommendation() -> advisor.Recommendation | None:
    """The scenario picker in the sidebar (``?scenario=`` in the URL; ``?rec=`` pins one document).

    Shows the empty-store hint and returns None when the store holds no recommendation.
    """
    home = home_key()
    recs = latest(home)
    if not recs:
        empty_hint()
        return None
    pinned = st.query_params.get("rec")
    if pinned:
        return by_id(home, pinned)
    names = [r.scenario for r in recs]
    asked = st.query_params.get("scenario")
    index = names.index(asked) if asked in names else 0
    name = st.sidebar.selectbox("Scenario", names, index=index, key="scenario")
    st.query_params["scenario"] = name
    return recs[names.index(name)]


def pick_model(
    rec: advisor.Recommendation, *, planned_only: bool = False, with_llm: bool = False
) -> str | None:
    """The model picker (``?model=`` in the URL); ``with_llm`` lists the language models too."""
    names = [m.model for m in rec.models if m.plan is not None or not planned_only]
    if with_llm:
        names += [m.model for m in rec.llm_models]
    if not names:
        if rec.llm_models:
            st.info(LLM_ONLY_HINT.format(models=", ".join(m.model for m in rec.llm_models)))
        else:
            st.info("No model of this recommendation has a plan.")
        return None
    asked = st.query_params.get("model")
    index = names.index(asked) if asked in names else 0
    name = st.sidebar.selectbox("Model", names, index=index, key="model")
    st.query_params["model"] = name
    return str(name)


def pick_llm_model(rec: advisor.Recommendation) -> str | None:
    """The language-model picker of the LLM page (``?model=`` in the URL); a hint when there is none."""
    names = [m.model for m in rec.llm_models]
    if not names:
        st.info(NO_LLM_HINT.format(scenario=rec.scenario))
        return None
    asked = st.query_params.get("model")
    index = names.index(asked) if asked in names else 0
    name = st.sidebar.selectbox("Language model", names, index=index, key="llm_model")
    st.query_params["model"] = name
    return str(name)


LLM_ONLY_HINT = "This recommendation's models are language models ({models}): see the LLM model page."
NO_LLM_HINT = (
    "No language model in the latest recommendation of {scenario}. A scenario lists one with an `llm:` key"
    " in `models` (the model, the TTFT and TPOT SLO, the request sizes); recommend it, then reload."
)

usd = render.usd  # one money formatter for every surface
pct = render.pct
per_m = render.per_m  # $/M tokens, as the CLI writes them


def caption_for(rec: advisor.Recommendation) -> None:
    """Which document the page shows: id, time, prices' dates, SLO budget."""
    p = rec.provenance
    st.caption(
        f"Recommendation `{rec.id}` of scenario `{rec.scenario}` ({rec.region}), "
        f"{rec.created_at:%Y-%m-%d %H:%M} UTC · prices as of {p.prices_as_of_oldest}–{p.prices_as_of_newest}"
        f" · SLO budget {p.slo_budget_pct_minutes:g}% of minutes · advisor {p.advisor_version}"
    )


def money_columns(*names: str) -> dict[str, Any]:
    """Column formats for $/month columns of ``st.dataframe``, headed in words (:func:`label`)."""
    return {n: st.column_config.NumberColumn(label(n), format="dollar") for n in names}  # $6,037.83


# Column names as a reader says them; the rest follow the unit suffixes below (never an identifier shown).
LABELS = {
    "usd_per_month": "$/month",
    "today_usd_per_month": "Today ($/month)",
    "current_usd_per_month": "Today ($/month)",
    "recommended_usd_per_month": "Recommended ($/month)",
    "with_commitment_usd_per_month": "With the Savings Plan ($/month)",
    "held_back_savings_usd_per_month": "Held back by the churn guard ($/month)",
    "saving_usd_per_month": "Saving ($/month)",
    "saving_pct": "Saving (%)",
    "savings_vs_current_pct": "Saving vs today (%)",
    "minutes_over_slo_pct": "% of minutes over the SLO",
    "minutes_over_slo_per_month": "Minutes over the SLO per month",
    "meets_slo_budget": "Meets the SLO budget",
    "within_slo_budget": "Within the SLO budget",
    "capacity_rps_per_replica": "Capacity per replica (req/s)",
    "capacity_provenance": "Capacity from",
    "capacity_rps": "Capacity (req/s)",
    "p99_ms": "p99 (ms)",
    "instance_types": "Instance types",
    "recommendation_id": "Recommendation",
    "created_at": "Created (UTC)",
    "started_at": "Started (UTC)",
    "dry_run": "Dry run",
    "rollback_of": "Rollback of",
    "id": "Id",
    # a language model's tables (advisor.render.llm_view)
    "gpus_per_replica": "GPUs per replica (tensor parallel)",
    "min_instances": "Fewest instances",
    "max_instances": "Most instances",
    "usd_per_hour": "$/hour",
    "instance_hours_per_month": "Instance-hours a month",
    "busiest_bucket_rps_per_instance": "Capacity per instance, busiest bucket (req/s)",
    "capacity_from": "Capacity from",
    "share_of_requests_pct": "Share of requests (%)",
    "usd_per_m_blended": "$/M blended tokens",
    "saves": "Recommended saves",
}
_SUFFIXES = (
    ("_usd_per_month", "($/month)"),
    ("_usd_per_hour", "($/hour)"),
    ("_pct", "(%)"),
    ("_rps", "(req/s)"),
    ("_ms", "(ms)"),
    ("_s", "(s)"),
)


def label(column: str) -> str:
    """``recommended_usd_per_month`` → "Recommended ($/month)": a column's name in words, with its unit."""
    if column in LABELS:
        return LABELS[column]
    for suffix, unit in _SUFFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):
            return f"{label(column.removesuffix(suffix))} {unit}"
    return first_upper(column.replace("_", " ").strip())


def dataframe(frame: Any, *, money: tuple[str, ...] = (), **config: Any) -> None:
    """``st.dataframe`` without the index, every column headed in words (:func:`label`), ``money``
    columns as dollars; ``config`` overrides a column's configuration."""
    columns = {str(c): st.column_config.Column(label(str(c))) for c in frame.columns}
    columns.update(money_columns(*money))
    columns.update(config)
    st.dataframe(frame, hide_index=True, column_config=columns)


action_words = render.action_words  # a model's action in words ("keep as today")


def first_upper(text: str) -> str:
    """``static on-demand at peak`` → "Static on-demand at peak" (the rest kept: "SageMaker" stays)."""
    return text[:1].upper() + text[1:]


LEVER_NOTE = (
    f"{first_upper(render.LEVER_METHOD)} (in this order); the Savings Plan is bought apart and is not in "
    "the totals."
)


def lever_waterfall(
    levers: list[LeverSaving], today: float | None, recommended: float | None, *, height: int = 360
) -> go.Figure | None:
    """Today → each lever → recommended (then the Savings Plan apart), as stored; None without levers."""
    if not levers or today is None or recommended is None:
        return None
    in_total = [p for p in levers if p.in_total]
    x = ["Today", *(render.LEVER_LABELS[p.lever] for p in in_total), "Recommended"]
    y = [today, *(-p.usd_per_month for p in in_total), 0.0]
    measure = ["absolute", *["relative"] * len(in_total), "total"]
    text = [usd(today), *(render.signed_usd(-p.usd_per_month) for p in in_total), usd(recommended)]
    hover = ["what runs today", *(render.LEVER_HELP[p.lever] for p in in_total), "the recommendation"]
    for p in levers:
        if not p.in_total:  # the Savings Plan, bought apart: after the recommended total
            x += ["Savings Plan", "With the Savings Plan"]
            y += [-p.usd_per_month, 0.0]
            measure += ["relative", "total"]
            text += [render.signed_usd(-p.usd_per_month), usd(p.usd_per_month_after)]
            hover += [render.LEVER_HELP[p.lever], "the recommendation with the Savings Plan"]
    fig = go.Figure(
        go.Waterfall(
            orientation="h", y=x, x=y, measure=measure, text=text, textposition="outside",
            hovertext=hover, hoverinfo="text+x",
            cliponaxis=False, decreasing={"marker": {"color": "#2ca02c"}},
            increasing={"marker": {"color": "#d62728"}}, totals={"marker": {"color": "#1f77b4"}},
            connector={"line": {"color": "#bbbbbb"}},
        )
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed")  # from today at the top down to what is recommended
    return fig.update_layout(
        height=max(height, 34 * len(x) + 60),
        margin={"l": 10, "r": 70, "t": 40, "b": 10},
        xaxis_title="$/month",
        showlegend=False,
    )


code_spans = render.code_spans  # identifiers and paths in a text as markdown code, for st.markdown and kin
