"""What every page of the dashboard shares: settings, cached reads of the store, the scenario and model
pickers (kept in the URL so a page can be linked), number formats and the in-page error message.

Only presentation lives here; every figure comes from ``advisor`` (``advisor.insights`` and the stored
documents).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import streamlit as st

import advisor
import advisor.render as render
from advisor.insights import latest_recommendations

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


def pick_model(rec: advisor.Recommendation, *, planned_only: bool = False) -> str | None:
    """The model picker (``?model=`` in the URL)."""
    names = [m.model for m in rec.models if m.plan is not None or not planned_only]
    if not names:
        st.info("No model of this recommendation has a plan.")
        return None
    asked = st.query_params.get("model")
    index = names.index(asked) if asked in names else 0
    name = st.sidebar.selectbox("Model", names, index=index, key="model")
    st.query_params["model"] = name
    return str(name)


usd = render.usd  # one money formatter for every surface
pct = render.pct


def caption_for(rec: advisor.Recommendation) -> None:
    """Which document the page shows: id, time, prices' dates, SLO budget."""
    p = rec.provenance
    st.caption(
        f"Recommendation `{rec.id}` of scenario `{rec.scenario}` ({rec.region}), "
        f"{rec.created_at:%Y-%m-%d %H:%M} UTC · prices as of {p.prices_as_of_oldest}–{p.prices_as_of_newest}"
        f" · SLO budget {p.slo_budget_pct_minutes:g}% of minutes · advisor {p.advisor_version}"
    )


def money_columns(*names: str) -> dict[str, Any]:
    """Column formats for $/month columns of ``st.dataframe``."""
    return {n: st.column_config.NumberColumn(n.replace("_", " "), format="$%.2f") for n in names}
