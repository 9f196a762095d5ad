"""Explain: a user's recommendations with reasons, a what-if history, similar items."""

from __future__ import annotations

import streamlit as st

from recsys_engine.errors import RecsysError
from ui import explain as ui_explain
from ui import explain_cards, explain_panels, state
from ui.text import md_escape
from ui.widgets import page_link, require_dataset

state.ensure_defaults()
st.title("Explain")
st.write(
    "Pick a model and a user to see their history, their recommendations and, for each "
    "item, why it was recommended. Every reason carries a badge: **exact** (the parts add "
    "up to the score), "
    "**verified by re-scoring** (checked by asking the model again) or **post hoc** (an "
    "after-the-fact reading). Each badge is decided by its own check: when the parts do "
    "not add up to the score or the re-scoring disagrees, the badge is lowered and says why."
)
dataset_id = require_dataset()
runs = ui_explain.succeeded_runs(dataset_id)
if runs.empty:
    st.info("Explanations need a trained model: train one on the Train page first.")
    page_link("pages/train.py", "Go to Train", icon="🏋️")
    st.stop()

left, right = st.columns([3, 1])
with left:
    run_id = ui_explain.run_picker(
        runs, "Model run", key="explain_run_pick", default=st.session_state.get(ui_explain.RUN_KEY)
    )
st.session_state[ui_explain.RUN_KEY] = run_id
k = right.number_input("List length (K)", min_value=1, max_value=50, value=10, key="explain_k")
try:
    ex = ui_explain.explainer(run_id)
except RecsysError as exc:
    st.error(md_escape(exc))
    st.stop()

view = st.segmented_control(
    "View",
    ["A user's recommendations", "What-if / new user", "Similar items", "Compare two runs"],
    default="A user's recommendations",
    key="explain_view",
    label_visibility="collapsed",
)
try:
    if view == "What-if / new user":
        st.subheader("What-if: build a history")
        explain_panels.what_if_panel(ex, run_id, st.session_state.get(ui_explain.USER_KEY), int(k))
    elif view == "Similar items":
        st.subheader("Similar items")
        explain_panels.similar_panel(ex, run_id)
    elif view == "Compare two runs":
        st.subheader("Two models, one user")
        user = ui_explain.user_picker(ex, run_id)
        explain_panels.compare_panel(runs, run_id, user, int(k))
    else:
        user = ui_explain.user_picker(ex, run_id)
        if user is not None:
            with st.expander("History of this user", expanded=False):
                ui_explain.show_history(ex, user)
            context = ui_explain.context_picker(ex, f"{run_id}_{user}", ex.user_context(user))
            rec = ex.recommend_user(user, int(k), context=context)
            hits = sum(bool(it.hit) for it in rec.items)
            st.subheader(f"Top {len(rec.items)} for user {md_escape(user)}")
            st.caption(
                f"{hits} of {len(rec.items)} are hits (items the user chose that were hidden "
                "from the model to test it). "
                f"{explain_cards.score_note(ex)} "
                f"Computed with all explanations in {rec.seconds * 1000:.0f} ms."
            )
            explain_cards.item_cards(rec, key=f"user_{run_id}")
except RecsysError as exc:
    st.error(md_escape(exc))
