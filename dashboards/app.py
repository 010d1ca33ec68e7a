"""advisor's dashboard: what to run, why, and what-if, over the store under ADVISOR_HOME.

Start it with ``advisor dashboard`` (bound to 127.0.0.1:8501) or ``streamlit run dashboards/app.py``. The
pages import advisor's public API only and hold no business logic: figures come from the stored
recommendations, bench runs and the library's replay.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the pages import dashkit from here
    sys.path.insert(0, str(HERE))

st.set_page_config(page_title="advisor", page_icon="💸", layout="wide")
PAGES = [
    st.Page("views/overview.py", title="Overview", url_path="overview", default=True),
    st.Page("views/model.py", title="Model", url_path="model"),
    st.Page("views/llm.py", title="LLM model", url_path="llm"),
    st.Page("views/bench.py", title="Bench", url_path="bench"),
    st.Page("views/whatif.py", title="What-if", url_path="what-if"),
    st.Page("views/history.py", title="History", url_path="history"),
]
st.navigation(PAGES).run()
