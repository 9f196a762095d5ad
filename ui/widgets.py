"""Reusable widgets: the sidebar dataset picker, the "first load a dataset" guard, problem
tables, the dataset profile."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_engine.errors import Problem
from ui import state
from ui.resources import datasets_frame, get_store
from ui.text import md_escape


def dataset_picker() -> int | None:
    """Sidebar select box of datasets; keeps the choice in ``state.DATASET_ID``."""
    df = datasets_frame()
    if df.empty:
        st.sidebar.info("No dataset yet. Load one on the Data page.")
        st.session_state[state.DATASET_ID] = None
        return None
    ids = [int(i) for i in df["id"]]
    names = {int(i): str(n) for i, n in zip(df["id"], df["name"], strict=True)}
    current = st.session_state.get(state.DATASET_ID)
    if current not in ids:
        current = ids[0]
    choice = st.sidebar.selectbox(
        "Active dataset",
        ids,
        index=ids.index(current),
        format_func=lambda i: names[i],
        help="Every page works on this dataset. Load or manage datasets on the Data page.",
    )
    st.session_state[state.DATASET_ID] = choice
    return choice


def active_dataset_id() -> int | None:
    """The active dataset id, or None when there is none (checked against the store)."""
    df = datasets_frame()
    ids = [int(i) for i in df["id"]]
    current = st.session_state.get(state.DATASET_ID)
    if current in ids:
        return current
    return ids[0] if ids else None


def require_dataset(*, link: bool = False) -> int:
    """The active dataset id; without one, say so and stop the page here.

    Every page past the Data page needs a dataset, so they all start with this guard (the
    Data page is where one is loaded, so it never stops).

    Args:
        link: also show a link to the Data page under the message.
    """
    dataset_id = active_dataset_id()
    if dataset_id is None:
        st.info("First load a dataset on the Data page.")
        if link:
            page_link("pages/data.py", "Go to Data", icon="📤")
        st.stop()
    return dataset_id


def problems_table(problems: list[Problem]) -> None:
    """Errors and warnings as a table naming file, line and column."""
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        st.error(
            f"{len(errors)} problem{'s' if len(errors) > 1 else ''} found — nothing was loaded. "
            "Fix the file or the mapping and try again."
        )
    rows = [
        {
            "severity": p.severity,
            "file": p.file,
            # file-level problems have no line: show a blank, not "None"
            "line": "" if p.line is None else str(p.line),
            "column": p.column or "",
            "problem": p.message,
        }
        for p in errors + warnings
    ]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def show_profile(dataset_id: int, notes_open: bool = False) -> None:
    """The data scientist's profile of one dataset: key figures, charts, warnings; the notes
    from loading its files open when ``notes_open`` (right after the load)."""
    from recsys_engine.profile import profile_dataset
    from recsys_engine.profile.charts import profile_figures

    p = profile_dataset(get_store(), dataset_id)
    c = st.columns(4)
    c[0].metric("Users", f"{p.n_users:,}")
    c[1].metric("Items", f"{p.n_items:,}", help=f"{p.n_catalog_items:,} in the catalogue")
    c[2].metric("Interactions", f"{p.n_interactions:,}")
    c[3].metric(
        "Density",
        f"{p.density:.2%}" if p.density >= 0.001 else f"{p.density:.4%}",
        help="interactions ÷ (users × items)",
    )
    c = st.columns(4)
    c[0].metric("Top 1% of items take", f"{p.top1_share:.0%}", help="share of interactions")
    c[1].metric("Top 10% of items take", f"{p.top10_share:.0%}")
    c[2].metric("Users with < 5 interactions", f"{p.light_user_share:.0%}")
    c[3].metric("Median interactions per user", f"{p.activity_median:g}")
    c = st.columns(4)
    c[0].metric("Feedback", p.feedback)
    if p.rating_mean is not None:
        c[1].metric(
            "Mean rating", f"{p.rating_mean:.2f}", help=f"from {p.rating_min:g} to {p.rating_max:g}"
        )
    c[2].metric("Cold items", f"{p.cold_items:,}", help="in the item file, never interacted")
    dup = p.duplicates_removed or 0
    c[3].metric("Duplicates merged at load", f"{dup:,}")
    if p.ts_min is not None:
        st.caption(f"Interactions from {p.ts_min:%Y-%m-%d} to {p.ts_max:%Y-%m-%d}.")
    for w in p.warnings:
        st.warning(md_escape(w), icon="⚠️")
    if p.load_warnings:
        label = f"Notes from loading the files ({len(p.load_warnings)})"
        with st.expander(label, expanded=notes_open):
            for w in p.load_warnings:
                st.caption(md_escape(w))
    log = st.toggle("Logarithmic axes", value=False, key=f"profile_log_{dataset_id}")
    figs = profile_figures(p, log_axes=log)
    left, right = st.columns(2)
    for i, (name, fig) in enumerate(figs.items()):
        (left if i % 2 == 0 else right).plotly_chart(fig, width="stretch", key=f"fig_{name}")


def page_link(path: str, label: str, icon: str | None = None) -> None:
    """``st.page_link`` that degrades to a hint when the page runs on its own (AppTest)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(path, label=label, icon=icon)
    except StreamlitAPIException:
        st.caption(f"{label}: use the navigation in the sidebar.")
