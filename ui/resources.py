"""Every cached resource and query result of the app."""

from __future__ import annotations

import streamlit as st

from recsys_engine.paths import clear_uploads, default_db_path, upload_root
from recsys_engine.store import Store


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """The app's one Store (the server is the only process holding the DuckDB file).

    On first use: runs left unfinished by a previous server are marked interrupted and the
    demo dataset is loaded into an empty database.
    """
    from recsys_engine.demo import ensure_demo

    store = Store(default_db_path())
    store.mark_unfinished_runs_interrupted()
    clear_uploads(upload_root(store.path))  # left by closed tabs or a killed server
    ensure_demo(store)
    return store


@st.cache_resource(show_spinner=False)
def get_runner():
    """The background job runner (one worker thread; runs survive page changes)."""
    from recsys_engine.jobs import JobRunner

    return JobRunner(get_store())


def datasets_frame():
    """All datasets (cheap query; not cached so renames and deletes show at once)."""
    return get_store().list_datasets()
