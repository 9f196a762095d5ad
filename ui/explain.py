"""Streamlit glue of the Explain page: cached explainers, the run, user and context pickers
and the history table (the item cards and their reasons are in ``ui.explain_cards``; the
what-if, similar-items and two-runs panels in ``ui.explain_panels``).

Titles and categories come from uploads, so they are shown through ``md_escape`` (no
markdown or HTML from user text) or in dataframes.
"""

from __future__ import annotations

import random

import pandas as pd
import streamlit as st

from recsys_engine.explain import Explainer
from recsys_engine.models import model_title
from recsys_engine.paths import default_db_path
from ui import state
from ui.resources import get_store

NO_CONTEXT = "(no context)"
USER_KEY = "explain_user"  # the chosen user id (survives page changes)
RUN_KEY = state.EXPLAIN_RUN  # the chosen run id
@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def get_explainer(db_path: str, run_id: int) -> Explainer:
    """The loaded model and split of a run (cached per database file and run id)."""
    return Explainer.from_run(get_store(), run_id)


def explainer(run_id: int) -> Explainer:
    """The cached explainer of ``run_id``."""
    return get_explainer(str(default_db_path()), int(run_id))


def succeeded_runs(dataset_id: int) -> pd.DataFrame:
    """Succeeded runs of a dataset, newest first."""
    runs = get_store().list_runs(dataset_id)
    return runs[runs["status"] == "succeeded"].reset_index(drop=True)


def run_labels(runs: pd.DataFrame) -> dict[int, str]:
    """Run id → "Run 7 · EASE · split name · NDCG@10 0.375" for every row of ``runs`` (one
    pass over the columns: a row lookup per run cost ~0.5 ms each, per render)."""
    cols = (runs["id"], runs["model"], runs["split"], runs["ndcg_10"])
    return {
        int(i): f"Run {int(i)} · {model_title(m)} · split {'–' if pd.isna(s) else s}"
        + ("" if pd.isna(v) else f" · NDCG@10 {v:.3f}")
        for i, m, s, v in zip(*cols, strict=True)
    }


def best_recent_run(runs: pd.DataFrame) -> int:
    """The run the page opens on when none was picked: the best NDCG@10 among the runs on
    the newest run's split (the newest of equals). A stakeholder asks why the best model
    recommends what it does; scores on different splits are not comparable, so the newest
    split decides. ``runs`` are newest first, as ``succeeded_runs`` gives them."""
    split = runs["split"].iloc[0]
    same = runs[runs["split"] == split] if pd.notna(split) else runs.iloc[:1]
    scores = same["ndcg_10"].astype(float).fillna(-1.0).to_numpy()
    return int(same["id"].iloc[int(scores.argmax())])  # argmax: the first (newest) of ties


def run_picker(runs: pd.DataFrame, label: str, key: str, default: int | None = None) -> int:
    """Select box of runs (ids), labelled with model, split and NDCG@10."""
    ids = [int(i) for i in runs["id"]]
    if default not in ids:
        default = best_recent_run(runs)
    index = ids.index(default)
    labels = run_labels(runs)
    return st.selectbox(label, ids, index=index, format_func=labels.__getitem__, key=key)


def user_picker(ex: Explainer, run_id: int) -> str | None:
    """Searchable select box of test users plus a "random test user" button."""
    users = ex.test_users().tolist()
    if not users:
        st.info("This split has no test users.")
        return None
    pick_key = f"user_pick_{run_id}"
    if st.session_state.get(pick_key) not in users:
        current = st.session_state.get(USER_KEY)
        st.session_state[pick_key] = current if current in users else users[0]

    def pick_random() -> None:
        # A callback runs before the page, so the box and the heading both show the new
        # user; changing the box's value after it was drawn would leave the old one shown.
        st.session_state[pick_key] = random.choice(users)

    left, right = st.columns([4, 1], vertical_alignment="bottom")
    right.button("Random test user", icon="🎲", key=f"random_user_{run_id}", on_click=pick_random)
    user = left.selectbox(f"User ({len(users):,} test users; type to search)", users, key=pick_key)
    st.session_state[USER_KEY] = user
    return user


def show_history(ex: Explainer, user_id: str) -> None:
    """The user's history table (what the model saw, and what was held out)."""
    frame = ex.user_history(user_id)
    used = frame[frame["fold"] != "test"]
    held = frame[frame["fold"] == "test"]
    st.caption(
        f"{len(used)} item{'' if len(used) == 1 else 's'} in the history the model used · "
        f"{len(held)} held-out test item{'' if len(held) == 1 else 's'} "
        "(the ones a good model should find — they appear as **hits** below)."
    )
    cols = ["title", "categories", "rating", "date", "fold"]
    if frame["rating"].isna().all():
        cols.remove("rating")
    st.dataframe(
        frame[cols],
        hide_index=True,
        width="stretch",
        height=220,
        column_config={"date": st.column_config.DatetimeColumn("date", format="YYYY-MM-DD")},
    )


def context_picker(
    ex: Explainer, key: str, default: dict[str, str | None] | None
) -> dict[str, str | None] | None:
    """One select box per context field of a context-aware model (None otherwise): the
    event's context the list is ranked in; "no context" is the neutral one."""
    vocab = ex.context_vocab
    if vocab is None:
        return None
    default = default or {}
    st.markdown("**Context of the moment** (the model ranks differently per context)")
    cols = st.columns(min(len(vocab.fields), 4))
    out: dict[str, str | None] = {}
    for j, name in enumerate(vocab.fields):
        options = [NO_CONTEXT, *vocab.values[j]]
        value = default.get(name)
        choice = cols[j % len(cols)].selectbox(
            name,
            options,
            index=options.index(value) if value in options else 0,
            key=f"ctx_{key}_{name}",
        )
        out[name] = None if choice == NO_CONTEXT else choice
    return out
