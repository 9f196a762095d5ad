"""Explain: recommendations with their reasons for one user (being built)."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.widgets import active_dataset_id, page_link

state.ensure_defaults()
st.title("Explain")
st.write(
    "Here you will pick a user (or build a new one from a few items) and see their history, "
    "their top recommendations, and for each item why it was recommended — with a badge "
    "saying whether the explanation is exact, verified by re-scoring, or post hoc."
)
if active_dataset_id() is None:
    st.info("First load a dataset on the Data page.")
else:
    st.info("Explanations need a trained model: train one first. This view is not available yet.")
    page_link("pages/train.py", "Go to Train", icon=":material/model_training:")
