"""Models: the run registry — details, downloads, re-run, delete."""

from __future__ import annotations

import streamlit as st

from recsys_engine.errors import RecsysError
from ui import models as models_ui
from ui import state
from ui.resources import get_store
from ui.text import md_escape
from ui.widgets import page_link, require_dataset

state.ensure_defaults()
st.title("Models")
st.write(
    "Every training run of the active dataset: model, split, status, timings and metrics. "
    "Runs made from the command line appear here too."
)
dataset_id = require_dataset()
state.show_flash(models_ui.DONE_PLACE)
runs = get_store().list_runs(dataset_id)
if runs.empty:
    st.info("No runs yet for this dataset. Train a model on the Train page.")
    page_link("pages/train.py", "Go to Train", icon="🏋️")
    st.stop()

view = models_ui.filtered_runs(runs)
st.dataframe(models_ui.runs_table(view), hide_index=True, width="stretch")
if view.empty:
    st.stop()
labels = models_ui.run_labels(view)
run_id = st.selectbox("Run details", list(labels), format_func=labels.__getitem__)
try:
    models_ui.run_details(run_id)
except RecsysError as exc:
    st.error(md_escape(exc))
