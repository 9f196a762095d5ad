"""Session-state keys (constants) and their defaults. State holds ids, never data."""

from __future__ import annotations

import sys

import streamlit as st

from ui.text import md_escape

DATASET_ID = "dataset_id"  # the active dataset (sidebar picker)
UPLOAD_DIR = "upload_dir"  # temp folder of the upload in progress
UPLOAD_PLAN = "upload_plan"  # UploadPlan being mapped (small: paths, names, previews)
UPLOAD_PROBLEMS = "upload_problems"  # problems of the last failed load
UPLOAD_KEY = "upload_key"  # bumps to reset the uploader after a load
EXPLAIN_RUN = "explain_run"  # the run Explain shows (its picker, or Compare's decision)

_DEFAULTS: dict[str, object] = {
    DATASET_ID: None,
    UPLOAD_DIR: None,
    UPLOAD_PLAN: None,
    UPLOAD_PROBLEMS: None,
    UPLOAD_KEY: 0,
}


FRAME = "_frame_ran"  # set by app.py: the navigation frame has run in this session
DEEP_LINK = "_deep_link"  # page a first visit asked for before the frame existed
PAGE = "_page"  # the page file this session's last script run drew
FLASH = "_flash"  # (place, message): an action's confirmation, kept until the page is left


def _enter_page(page: str) -> None:
    """Remember the page being drawn; leaving it drops its confirmation (``flash``)."""
    if st.session_state.get(PAGE) != page:
        st.session_state[PAGE] = page
        st.session_state.pop(FLASH, None)


def flash(place: str, message: str | None) -> None:
    """Keep an action's confirmation on screen across reruns of the page until it is left:
    a rename or delete reruns the page itself, and a run finishing redraws the whole Train
    page, either of which wiped a plain ``st.success`` at once; ``None`` drops it."""
    if message is None:
        st.session_state.pop(FLASH, None)
    else:
        st.session_state[FLASH] = (place, message)


def show_flash(place: str) -> bool:
    """Draw the confirmation kept for ``place``, if any (escaped: it may quote names);
    whether there was one."""
    kept = st.session_state.get(FLASH)
    if kept is not None and kept[0] == place:
        st.success(md_escape(kept[1]))
        return True
    return False


def ensure_defaults() -> None:
    """Set missing keys; every page calls this first so it also runs on its own.

    A first visit straight to a page URL (before ``app.py`` ever ran in this server) makes
    Streamlit run the page file alone, without the navigation frame; we then hand over to
    the frame, which opens the requested page.
    """
    for key, value in _DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
    caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
    page = "pages/" + caller.rsplit("/", 1)[-1]
    if "/pages/" in caller:
        _enter_page(page)
    if not st.session_state.get(FRAME):
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        main = getattr(ctx, "main_script_path", "") or ""
        if main.endswith("app.py"):  # served by app.py, but the frame did not run
            st.session_state[DEEP_LINK] = page
            st.switch_page("app.py")
