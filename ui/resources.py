"""Every cached resource and query result of the app."""

from __future__ import annotations

import streamlit as st

from recsys_engine.paths import clear_uploads, default_db_path, upload_root
from recsys_engine.store import Store

#: Seconds the server keeps an idle database file open after a query, so the queries of one
#: page render share one open (an open costs about 20 ms, see ``bench/db_open.py``); the
#: file is released at once when the CLI is waiting for it.
APP_LINGER = 0.25


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """The app's one Store. It holds the DuckDB file only while it works (plus
    ``APP_LINGER``), so ``python -m recsys_engine`` can use the same file while the app runs.

    On first use: runs and tuning studies left unfinished by a previous server are marked
    interrupted (not those a live CLI process is working on) and the demo dataset is loaded
    into an empty database.
    """
    from recsys_engine.demo import ensure_demo

    store = Store(default_db_path(), linger=APP_LINGER)
    store.mark_unfinished_runs_interrupted()
    store.mark_unfinished_studies_interrupted()
    clear_uploads(upload_root(store.path))  # left by closed tabs or a killed server
    ensure_demo(store)
    return store


@st.cache_resource(show_spinner=False)
def get_runner():
    """The background job runner (one worker thread; runs survive page changes). Each run
    trains in its own lower-priority process (``job_process``), so pages render at full
    speed while a model trains; tuning studies run on the worker thread."""
    from recsys_engine.job_process import execute_in_child
    from recsys_engine.jobs import JobRunner

    return JobRunner(get_store(), execute=execute_in_child)


def datasets_frame():
    """All datasets (cheap query; not cached so renames and deletes show at once)."""
    return get_store().list_datasets()
