"""Compare: leaderboard of every run on a split and an A/B verdict between two runs."""

from __future__ import annotations

import streamlit as st

from ui import compare, compare_ab, compare_ab_form, compare_fair, state
from ui.widgets import require_dataset

state.ensure_defaults()
st.title("Compare")
st.write(
    "Which model should we use? The leaderboard ranks every finished model on one split; "
    "the A/B test below tells you, with its uncertainty, whether a candidate really beats "
    "the model you have."
)
dataset_id = require_dataset()

runs = compare.dataset_runs(dataset_id)  # read once; every section filters it
c1, c2 = st.columns([3, 1])
with c1:
    split_id = compare.split_picker(dataset_id, runs)
if split_id is None:
    st.stop()
done = compare.succeeded_runs(runs, split_id)
with c2:
    k = compare.k_picker(split_id, done)
if k is None:
    st.stop()

st.subheader("Leaderboard")
tuned_only = compare_fair.tuned_only_toggle(done)
board = compare.leaderboard_section(split_id, k, done, tuned_only=tuned_only)
if board.empty:
    st.stop()
compare_fair.fair_budget_section(split_id, board)
compare.glossary_section(board)
compare.sweep_section(split_id, board, k, done)
charts = compare.charts_expander()
if charts.open:  # drawn only while open: the two Plotly charts are the page's dearest part
    with charts:
        compare.charts_section(board, k, done)

st.subheader("A/B test: is the candidate really better?")
if len(board) < 2:
    st.info(
        "Only one finished model on this split. Train another one on the same split to "
        "run an A/B test."
    )
    st.stop()
st.caption(
    "Both models were tested on the same users, so we compare them user by user. "
    "Pick the model you use today as A and the challenger as B, then press Compare: "
    "the answer starts with what to do."
)
request, changed = compare_ab_form.ab_form(board, k)
if request is None:
    st.caption("Choose A and B above and press **Compare A and B**.")
elif changed:
    compare_ab_form.stale_notice(changed)
else:
    compare_ab.ab_result(done, request)
