"""Train: splits and model runs from the browser (being built; CLI works today)."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.widgets import active_dataset_id

state.ensure_defaults()
st.title("Train")
st.write(
    "Here you will create a train/test split of the active dataset, pick models from the "
    "registry (reference, collaborative, content, hybrid) with their settings, and watch "
    "them train in the background with live progress and a cancel button."
)
if active_dataset_id() is None:
    st.info("First load a dataset on the Data page.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/upload_file:")
else:
    st.info(
        "Training from the browser is not available yet. Splits and reference models "
        "(popularity, ItemKNN, EASE) already run from the command line, and their runs will "
        "appear on the Models page:"
    )
    st.code(
        "python -m recsys_engine split DATASET --strategy random --test-fraction 0.2 --seed 42\n"
        "python -m recsys_engine train DATASET --split SPLIT --model ease",
        language="bash",
    )
