"""Session-state keys (constants) and their defaults. State holds ids, never data."""

from __future__ import annotations

import streamlit as st

DATASET_ID = "dataset_id"  # the active dataset (sidebar picker)
UPLOAD_DIR = "upload_dir"  # temp folder of the upload in progress
UPLOAD_PLAN = "upload_plan"  # UploadPlan being mapped (small: paths, names, previews)
UPLOAD_PROBLEMS = "upload_problems"  # problems of the last failed load
UPLOAD_KEY = "upload_key"  # bumps to reset the uploader after a load
LAST_LOADED = "last_loaded"  # id of the dataset loaded by this session, for a success note

_DEFAULTS: dict[str, object] = {
    DATASET_ID: None,
    UPLOAD_DIR: None,
    UPLOAD_PLAN: None,
    UPLOAD_PROBLEMS: None,
    UPLOAD_KEY: 0,
    LAST_LOADED: None,
}


def ensure_defaults() -> None:
    """Set missing keys; every page calls this first so it also runs on its own."""
    for key, value in _DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
