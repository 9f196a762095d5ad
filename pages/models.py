"""Models: the run registry of the active dataset."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.resources import get_store
from ui.widgets import active_dataset_id

state.ensure_defaults()
st.title("Models")
st.write(
    "Every training run of the active dataset: model, split, status, timings and metrics. "
    "Runs made from the command line appear here too."
)
dataset_id = active_dataset_id()
if dataset_id is None:
    st.info("First load a dataset on the Data page.")
else:
    runs = get_store().list_runs(dataset_id)
    if runs.empty:
        st.info("No runs yet for this dataset. Train a model first (see the Train page).")
    else:
        st.dataframe(runs, hide_index=True, width="stretch")
