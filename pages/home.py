"""Home: what is loaded, what has been trained, what to do next."""

from __future__ import annotations

import streamlit as st

from ui import home_tables, state
from ui.resources import datasets_frame, get_store
from ui.widgets import page_link

state.ensure_defaults()
st.title("Recsys Workbench")
st.write(
    "Upload interaction data, train collaborative, content-based, hybrid, sequence-aware "
    "and autoencoder recommenders next to simple reference models, compare them with "
    "honest statistics, and see why each item was recommended."
)

datasets = datasets_frame()
runs = get_store().list_runs()
c = st.columns(3)
c[0].metric("Datasets", len(datasets))
c[1].metric(
    "Interactions stored", f"{int(datasets['n_interactions'].sum()) if len(datasets) else 0:,}"
)
c[2].metric("Model runs", len(runs))

# Static tables (st.table), not data grids: a handful of rows to read, not explore, and a
# grid costs each reader's browser about a third of Home's drawing time (bench/load.py).
st.subheader("Datasets")
if datasets.empty:
    st.info("No dataset yet.")
else:
    st.table(home_tables.datasets_table(datasets.head(home_tables.ROWS)), hide_index=True)
    if len(datasets) > home_tables.ROWS:
        st.caption(
            f"The {home_tables.ROWS} newest of {len(datasets)} datasets; every one is under "
            "Data → Manage datasets."
        )

st.subheader("Recent runs")
if runs.empty:
    st.caption("No model has been trained yet. Runs appear here with their status and metrics.")
else:
    st.table(home_tables.recent_runs_table(runs.head(home_tables.ROWS)), hide_index=True)

st.subheader("Getting started")
st.markdown(
    "1. **Data** — the demo dataset *Demo: movie nights* is already loaded. Upload your own "
    "files (CSV, TSV, Parquet, MovieLens or Last.fm layouts), check the mapping, load, and "
    "read the profile.\n"
    "2. **Train** — create a split (the form suggests one for your data) and train "
    "reference and deep-learning models.\n"
    "3. **Compare** — read the leaderboard and an A/B verdict between two runs.\n"
    "4. **Explain** — pick a user and see each recommendation with its reasons.\n"
    "5. **Models** — every run with its settings, metrics and training curve: download "
    "its recommendations or model, repeat it from the command line, re-run or delete it."
)
page_link("pages/data.py", "Open the Data page", icon="📤")
