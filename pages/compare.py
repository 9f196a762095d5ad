"""Compare: leaderboard and A/B verdicts between runs (being built)."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.resources import get_store
from ui.widgets import active_dataset_id, page_link

state.ensure_defaults()
st.title("Compare")
st.write(
    "Here you will read a leaderboard of every run on a split, with confidence intervals, "
    "and a plain-language A/B verdict between a baseline and a candidate model: change, "
    "95% confidence interval, p-value and guardrails."
)
dataset_id = active_dataset_id()
if dataset_id is None:
    st.info("First load a dataset on the Data page.")
elif get_store().list_runs(dataset_id).empty:
    st.info("Train at least two models on the same split first.")
    page_link("pages/train.py", "Go to Train", icon=":material/model_training:")
else:
    st.info("The comparison view is not available yet; run metrics are on the Models page.")
