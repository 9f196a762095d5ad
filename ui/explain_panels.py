"""Explain page panels other than a user's own list: the what-if history, similar items,
and the same user's lists from two runs side by side.

The pickers they reuse are in ``ui.explain``, the recommendation cards and their reasons in
``ui.explain_cards``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_engine.explain import Explainer, overlap
from ui.explain import context_picker, explainer, run_labels, run_picker
from ui.explain_cards import item_cards, score_decimals
from ui.text import md_escape

#: History length from which the what-if box holds more chips than it shows at once.
SCROLL_HINT_ITEMS = 16
#: Under the what-if box of an order-aware model, which reads the history as a sequence.
ORDER_NOTE = (
    "This model reads the history in the order shown, oldest first and newest last; "
    "items you add go at the end, as the most recent."
)


def what_if_panel(ex: Explainer, run_id: int, user_id: str | None, k: int) -> None:
    """Build a history by title (or edit the user's) and see the list update at once.

    The box keeps the order items were picked in, and an order-aware model reads it as the
    time order (``Explainer.recommend_history``), so the user's history is loaded oldest
    first and a new pick is the most recent event."""
    if not ex.can_edit_history:
        st.warning(
            f"{ex.model.name} learns one embedding per training user, so it cannot score a "
            "new or edited history without retraining. Pick a history-based run (EASE, "
            "ItemKNN, two-tower, content, hybrid) for the what-if panel."
        )
        return
    labels = ex.item_labels()
    names = dict(zip(labels["item_id"], labels["label"], strict=True))
    key = f"whatif_items_{run_id}"
    buttons = st.container(horizontal=True)  # each button as wide as its label
    # the user is picked on another view, so the button names them
    if user_id is not None and buttons.button(
        f"Start from user {md_escape(user_id)}'s history", key=f"wi_load_{run_id}"
    ):
        # in time order (oldest first): an order-aware model then ranks exactly as it
        # ranks the user on the other view
        st.session_state[key] = ex.history_in_order(user_id)
    if buttons.button("Clear", key=f"wi_clear_{run_id}"):
        st.session_state[key] = []
    picked = st.multiselect(
        "History (search items by title; add or remove to see the list change)",
        labels["item_id"].tolist(),
        help="The list is recommended for exactly this history: a removed item counts as "
        "never seen, so it can come back among the recommendations.",
        format_func=lambda i: names.get(i, i),
        key=key,
        placeholder="Type a title…",
        select_all=False,  # one click must add one item, never every match
    )
    if ex.reads_order:
        st.caption(ORDER_NOTE)
    if not picked:
        st.info("Pick a few items to see recommendations for a new user.")
        return
    context = context_picker(ex, f"wi_{run_id}", None)
    rec = ex.recommend_history(picked, k, context=context)
    # past about four rows of chips the box scrolls, and its last visible row is cut
    scrolls = " (scroll the box to see them all)" if len(picked) > SCROLL_HINT_ITEMS else ""
    st.caption(f"{len(picked)} items{scrolls} · answered in {rec.seconds * 1000:.0f} ms")
    item_cards(rec, key=f"wi_{run_id}")


def similar_panel(ex: Explainer, run_id: int) -> None:
    """Nearest items of a chosen item in the model's item space."""
    labels = ex.item_labels()
    names = dict(zip(labels["item_id"], labels["label"], strict=True))
    item = st.selectbox(
        "Item (type to search)",
        labels["item_id"].tolist(),
        format_func=lambda i: names.get(i, i),
        key=f"similar_item_{run_id}",
    )
    n = st.slider("How many", 5, 30, 10, key=f"similar_n_{run_id}")
    frame = ex.similar_items(item, n)
    # one number of decimals for the whole score column (the grid's default drops
    # trailing zeros: "0.123" above "0.1194")
    score = st.column_config.NumberColumn("score", format=f"%.{score_decimals(frame['score'])}f")
    st.dataframe(
        frame.drop(columns=["item_id"]),
        hide_index=True,
        width="stretch",
        column_config={"score": score},
    )
    st.caption(
        "Per-user-embedding models: cosine of item embeddings. Other models: the items a "
        "one-item history of this item scores highest."
        if ex.per_user
        else "The items this model would recommend to someone who only interacted with it."
    )


def compare_panel(runs: pd.DataFrame, run_a: int, user_id: str | None, k: int) -> None:
    """The same user's top-K from two runs side by side, shared items highlighted."""
    if user_id is None:
        st.info("Pick a user first.")
        return
    others = runs[runs["id"] != run_a]
    if others.empty:
        st.info("Train a second model on this dataset to compare two lists.")
        return
    run_b = run_picker(others, "Compare with", key=f"compare_run_{run_a}")
    rec_a = explainer(run_a).recommend_user(user_id, k, explain=False)
    rec_b = explainer(run_b).recommend_user(user_id, k, explain=False)
    shared, jaccard = overlap(rec_a, rec_b)
    st.markdown(
        f"**{shared} of {k}** items in common (Jaccard {jaccard:.2f}). "
        "Shared items are marked :green-badge[in both]."
    )
    ids_a = {it.item_id for it in rec_a.items}
    ids_b = {it.item_id for it in rec_b.items}
    labels = run_labels(runs)
    left, right = st.columns(2)
    for col, rec, other, rid in ((left, rec_a, ids_b, run_a), (right, rec_b, ids_a, run_b)):
        with col.container(border=True):
            st.markdown(f"**{md_escape(labels[rid])}**")
            for it in rec.items:
                tag = " :green-badge[in both]" if it.item_id in other else ""
                hit = " :blue-badge[hit]" if it.hit else ""
                st.markdown(f"{it.rank}\\. {md_escape(it.title)}{tag}{hit}")
