"""Recsys Workbench: the frame. Page config, navigation, shared sidebar, state defaults."""

from __future__ import annotations

import os

import streamlit as st

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ui import state  # noqa: E402
from ui.resources import get_store  # noqa: E402
from ui.widgets import dataset_picker  # noqa: E402

st.set_page_config(page_title="Recsys Workbench", page_icon="🎯", layout="wide")
st.session_state[state.FRAME] = True
state.ensure_defaults()
get_store()

home = st.Page("pages/home.py", title="Home", icon="🏠", default=True)
work = {
    path: st.Page(path, title=title, icon=icon)
    for path, title, icon in [
        ("pages/data.py", "Data", "📤"),
        ("pages/train.py", "Train", "🏋️"),
        ("pages/compare.py", "Compare", "⚖️"),
        ("pages/explain.py", "Explain", "💡"),
        ("pages/models.py", "Models", "🗂️"),
    ]
}
nav = st.navigation({"Overview": [home], "Work": list(work.values())})
deep_link = st.session_state.pop(state.DEEP_LINK, None)
if deep_link in work:  # a first visit straight to a page URL: open that page
    st.switch_page(work[deep_link])
dataset_picker()
nav.run()
