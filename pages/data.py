"""Data: upload and map files, validate, load; profile, rename and delete datasets."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from recsys_engine.errors import RecsysError, ValidationError
from recsys_engine.ingest import UploadPlan, load_dataset
from recsys_engine.runs import remove_artefacts
from ui import data as data_ui
from ui import state
from ui.resources import datasets_frame, get_store
from ui.text import md_escape
from ui.widgets import active_dataset_id, problems_table, show_profile

#: Where the Manage tab shows the confirmation of a rename or delete (``state.flash``).
MANAGE = "data_manage"
#: Where the Profile tab confirms a load (``state.flash``, suffixed with the dataset's id):
#: until the page is left, with the load's notes open.
LOADED = "data_loaded"
#: Session key of the open tab. Only the open tab's code runs: the Profile's charts are not
#: drawn while files are mapped, nor every dataset's form while a profile is read. An upload
#: in progress is the exception: its files and mapping are widgets, which Streamlit forgets
#: when a run does not draw them, so a look at another tab must not lose them.
TAB = "data_tab"
#: The tab the next run opens (a widget's own key cannot be set once it is drawn): a load
#: ends on the new dataset's profile.
OPEN_NEXT = "data_open_next"


def upload_tab() -> None:
    """Files in, mapped, validated and loaded as a new dataset."""
    st.write(
        "Upload one or more files: an interactions file (user, item, optional rating or "
        "weight and time) and optionally item and user files. CSV/TSV with any delimiter, "
        "Parquet, and the MovieLens and Last.fm (HetRec) layouts are recognised."
    )
    loaded = list(datasets_frame()["name"])
    if loaded:  # a newcomer finds the demo already there, and where to read it
        shown = ", ".join(f"**{md_escape(n)}**" for n in loaded[:3])
        more = f" and {len(loaded) - 3:,} more" if len(loaded) > 3 else ""
        st.caption(
            f"Already loaded: {shown}{more} (read a dataset on the Profile tab). An upload "
            "adds a new dataset beside them."
        )
    k = f"up{st.session_state[state.UPLOAD_KEY]}"
    files = st.file_uploader("Files", accept_multiple_files=True, key=f"{k}_files")
    if files:
        names = tuple(f.name for f in files)
        plan = st.session_state[state.UPLOAD_PLAN]
        if plan is None or tuple(sorted(f.sniff.name for f in plan.files)) != tuple(sorted(names)):
            with st.spinner("Reading the files…"):
                plan = data_ui.save_uploads(files)
            st.session_state[state.UPLOAD_PLAN] = plan
            st.session_state[state.UPLOAD_PROBLEMS] = None
        # Widgets of a new set of files start from the new guesses, not the old choices.
        k = f"{k}_{Path(st.session_state[state.UPLOAD_DIR]).name}"
        for note in plan.notes:
            st.info(md_escape(note))
        edited = []
        for i, f in enumerate(plan.files):
            with st.expander(
                f"📄 {md_escape(f.name)} — {f.role}",
                expanded=f.role != "ignore",
            ):
                edited.append(data_ui.edit_file(f, i, k))
        st.subheader("Dataset")
        try:
            options = data_ui.edit_options(UploadPlan(tuple(edited), plan.options), k)
        except RecsysError as exc:
            st.error(md_escape(exc))
            options = None
        final = None if options is None else UploadPlan(tuple(edited), options, plan.notes)
        problems = data_ui.current_problems(final)  # none left over from an older mapping
        if final is not None and st.button("Validate and load", type="primary"):
            bar = st.progress(0.0, text="Starting…")
            try:
                result = load_dataset(
                    get_store(), final, lambda d, t, info: bar.progress(d / t, text=info)
                )
            except ValidationError as exc:
                data_ui.remember_problems(final, exc.problems)
                problems = exc.problems
            except RecsysError as exc:
                data_ui.remember_problems(None, None)
                problems = None
                st.error(md_escape(exc))
            else:
                data_ui.discard_upload()
                st.session_state[state.DATASET_ID] = result.dataset_id
                state.flash(
                    f"{LOADED}_{result.dataset_id}",
                    f"Loaded {result.name}: {result.n_interactions:,} interactions, "
                    f"{result.n_users:,} users, {result.n_items:,} items. It is now the active "
                    "dataset; its profile is below.",
                )
                st.session_state[OPEN_NEXT] = "Profile"
                st.rerun()
            bar.empty()
        if problems:
            problems_table(problems)


def profile_tab() -> None:
    """The active dataset's profile."""
    dataset_id = active_dataset_id()
    just_loaded = state.show_flash(f"{LOADED}_{dataset_id}")
    if dataset_id is None:
        st.info("Load a dataset first (Upload tab).")
    else:
        name = get_store().get_dataset(dataset_id)["name"]
        st.subheader(f"Profile of {md_escape(name)}")
        show_profile(dataset_id, notes_open=just_loaded)


def manage_tab() -> None:
    """Every dataset: rename or delete it (with its splits, runs and model files)."""
    state.show_flash(MANAGE)
    df = datasets_frame()
    if df.empty:
        st.info("No datasets.")
    for row in df.itertuples():
        with st.expander(f"{md_escape(row.name)} — {int(row.n_interactions):,} interactions"):
            d = get_store().get_dataset(int(row.id))
            st.caption(
                f"id {row.id} · {row.feedback} · loaded {row.created_at:%Y-%m-%d %H:%M} · files: "
                + ", ".join(md_escape(s["file"]) for s in d["sources"])
            )
            new = st.text_input("New name", row.name, key=f"rename_{row.id}", max_chars=100)
            c1, c2 = st.columns(2)
            if c1.button("Rename", key=f"rename_btn_{row.id}"):
                try:
                    get_store().rename_dataset(int(row.id), new)
                except RecsysError as exc:
                    st.error(md_escape(exc))
                else:
                    state.flash(MANAGE, f"Renamed {row.name} to {new.strip()}.")
                    st.rerun()
            sure = c2.checkbox(
                "Delete this dataset with its splits, runs and models", key=f"confirm_{row.id}"
            )
            if c2.button("Delete", key=f"delete_{row.id}", disabled=not sure, type="primary"):
                store = get_store()
                try:
                    remove_artefacts(store, store.delete_dataset(int(row.id)))
                except RecsysError as exc:
                    st.error(md_escape(exc))
                else:
                    if st.session_state[state.DATASET_ID] == int(row.id):
                        st.session_state[state.DATASET_ID] = None
                    state.flash(
                        MANAGE, f"Deleted {row.name} with its splits, runs and model files."
                    )
                    st.rerun()


state.ensure_defaults()
st.title("Data")
if OPEN_NEXT in st.session_state:
    st.session_state[TAB] = st.session_state.pop(OPEN_NEXT)
tabs = st.tabs(["Upload", "Profile", "Manage datasets"], key=TAB, on_change="rerun")
uploading = st.session_state[state.UPLOAD_PLAN] is not None
for tab, draw in zip(tabs, (upload_tab, profile_tab, manage_tab), strict=True):
    if tab.open or (draw is upload_tab and uploading):
        with tab:
            draw()
