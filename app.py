"""Recsys Workbench: the frame. Page config, navigation, shared sidebar, state defaults."""

from __future__ import annotations

import os

import streamlit as st

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from ui import state  # noqa: E402
from ui.resources import get_store  # noqa: E402
from ui.widgets import dataset_picker  # noqa: E402

st.set_page_config(page_title="Recsys Workbench", page_icon=":material/recommend:", layout="wide")
state.ensure_defaults()
get_store()

pages = {
    "Overview": [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)],
    "Work": [
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/balance:"),
        st.Page("pages/explain.py", title="Explain", icon=":material/lightbulb:"),
        st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
    ],
}
nav = st.navigation(pages)
dataset_picker()
nav.run()
