"""Train: choose or create a split, pick models, train them in the background."""

from __future__ import annotations

import streamlit as st

from recsys_engine.errors import RecsysError
from recsys_engine.models import list_models
from ui import run_monitor, state
from ui import studies as studies_ui
from ui import train as train_ui
from ui import tune as tune_ui
from ui.text import md_escape
from ui.widgets import require_dataset

state.ensure_defaults()
st.title("Train")
st.write(
    "Split the active dataset, pick models, and train them in the background. Training "
    "goes on when you leave this page; results appear below and on the Models page."
)
dataset_id = require_dataset(link=True)

st.subheader("1 · Split")
split_id = train_ui.split_section(dataset_id)

if split_id is not None:
    st.subheader("2 · Models")
    mode = tune_ui.mode_picker()
    if mode == tune_ui.TUNE:
        tune_ui.tune_panel(dataset_id, split_id)

        @st.fragment(run_every=2.0)
        def studies() -> None:
            tune_ui.studies_monitor(split_id)

        studies()
    else:
        chosen = train_ui.model_section(dataset_id, split_id)
        row = st.container(horizontal=True)  # the two buttons side by side, at the left
        train = row.button(
            f"Train {len(chosen)} model{'s' if len(chosen) != 1 else ''}",
            type="primary",
            disabled=not chosen,
        )
        reference = row.button(
            "Train all reference models",
            help="Popularity, Item-kNN and EASE with default settings: the "
            "baselines every deep model must beat.",
        )
        if reference:
            chosen = [(s.name, s.default_config()) for s in list_models("reference")]
        place = f"train_{split_id}"
        if train or reference:
            try:
                ids = train_ui.queue_models(split_id, chosen)
            except RecsysError as exc:
                state.flash(place, None)
                st.error(md_escape(exc))
            else:
                state.flash(
                    place,
                    f"Queued run{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}. "
                    "Training continues if you leave this page.",
                )
        state.show_flash(place)

    st.subheader("3 · Runs on this split")

    @st.fragment(run_every=1.5)
    def monitor() -> None:
        run_monitor.runs_monitor(dataset_id, split_id)

    monitor()
    if mode == tune_ui.TUNE:
        st.subheader("4 · Tuning studies on this dataset")

        @st.fragment(run_every=3.0 if tune_ui.studies_active() else None)
        def browser() -> None:  # refreshes while studies run, so new ones appear
            studies_ui.study_browser(dataset_id)

        browser()
