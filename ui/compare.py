"""Compare page widgets: split and K pickers, leaderboard and metric@K curves.

The A/B panel of the same page is in ``ui.compare_ab_form`` (the request) and
``ui.compare_ab`` (its result).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.elements.lib.mutable_expander_container import ExpanderContainer

from recsys_engine.compare import charts, names, tables
from recsys_engine.compare import leaderboard as lb
from recsys_engine.compare.curves import metric_curves
from recsys_engine.compare.options import CompareOptions
from recsys_engine.compare.sweep import Sweep, best_against_rest
from recsys_engine.errors import RecsysError
from recsys_engine.models import model_title
from ui.resources import get_store
from ui.text import md_escape

HELP = names.MEANINGS  # column help of the leaderboard: what each metric means
SWEEP = "compare_sweep"  # (split, K, run ids) of the last "best against every other" request
SWEEP_ICON = {"switch": "✅", "keep": "🛡️", "no_difference": "🟰", "trade_off": "⚖️"}


# -- cached computations (inputs are ids and options, never frames) -----------------------
@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _leaderboard(
    split_id: int, k: int, primary: str, version: tuple, tuned_only: bool = False
) -> pd.DataFrame:
    return lb.leaderboard(get_store(), split_id, k, primary, tuned_only)


@st.cache_data(ttl=300, max_entries=16, show_spinner="Computing metric@K curves…")
def _curves(run_ids: tuple[int, ...], version: tuple):
    return metric_curves(get_store(), list(run_ids))


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _available_ks(split_id: int, version: tuple) -> list[int]:
    # one metrics query per run: computed once per set of runs, not once per render
    return lb.available_ks(get_store(), split_id)


@st.cache_resource(ttl=300, max_entries=32, show_spinner=False)
def _curves_figure(run_ids: tuple[int, ...], version: tuple, metric: str):
    # building a plotly figure costs ~50 ms (its template is deep-copied), and so does
    # unpickling one from ``st.cache_data``: every session is handed the same figure object
    # (st.plotly_chart only reads it) for the same runs
    curves, depths = _curves(run_ids, version)
    return charts.curves_figure(curves, metric, depths)


@st.cache_resource(ttl=300, max_entries=32, show_spinner=False)
def _tradeoff_figure(board: pd.DataFrame, k: int, x: str):
    # keyed on the leaderboard shown (a few rows to hash), so it follows whatever
    # options built that board
    return charts.tradeoff_scatter(board, k, x)


def dataset_runs(dataset_id: int) -> pd.DataFrame:
    """Every run of a dataset: the page reads them once per render and every section
    filters this frame (a read per section cost one query each)."""
    return get_store().list_runs(dataset_id)


def succeeded_runs(runs: pd.DataFrame, split_id: int) -> pd.DataFrame:
    """The succeeded runs of a split among ``runs`` (the rows every section of the page
    draws from)."""
    return runs[(runs["split_id"] == split_id) & (runs["status"] == "succeeded")]


def cache_version(runs: pd.DataFrame) -> tuple:
    """Changes when a run is added, deleted or re-evaluated (cache key)."""
    # zip, not itertuples: itertuples builds a namedtuple class per call (~3 ms on this
    # frame), and the page asks for the version several times per render
    return tuple((int(i), str(s)) for i, s in zip(runs["id"], runs["eval_seconds"], strict=True))


# -- pickers ------------------------------------------------------------------------------
def split_picker(dataset_id: int, runs: pd.DataFrame) -> int | None:
    """Split select box (default: the split with the most finished runs of ``runs``, the
    dataset's), or guidance."""
    splits = get_store().list_splits(dataset_id)
    done = runs[runs["status"] == "succeeded"].groupby("split_id").size()
    counts = {int(s): int(done.get(s, 0)) for s in splits["id"]}
    if not counts or max(counts.values()) < 2:
        st.info(
            "**Nothing to compare yet.** A comparison needs at least two finished models "
            "trained on the *same* split, so both are tested on the same users and "
            "held-out items.\n\n"
            "1. Open the Train page and create a split (or reuse one).\n"
            "2. Train a baseline such as **popularity** and at least one other model "
            "(e.g. **ease** or **itemknn**; the button *Train all reference models* does all "
            "three).\n"
            "3. Come back here when the runs show *succeeded*.",
            icon="ℹ️",
        )
        from ui.widgets import page_link

        page_link("pages/train.py", "Go to Train", icon="🏋️")
        return None
    names = {int(i): str(n) for i, n in zip(splits["id"], splits["name"], strict=True)}
    ids = sorted(counts, key=lambda s: (-counts[s], -s))
    return st.selectbox(
        "Split",
        ids,
        format_func=lambda s: f"{names[s]} · {counts[s]} finished runs",
        help="Only runs on the same split can be compared: they are tested on the same users.",
        key="compare_split",
    )


def k_picker(split_id: int, done: pd.DataFrame) -> int | None:
    """Cut-off K shared by every run of the split (default 10); ``done`` are its
    succeeded runs (``succeeded_runs``)."""
    ks = _available_ks(split_id, cache_version(done))
    if not ks:
        st.warning("The runs on this split share no cut-off K; re-evaluate them at one K.")
        return None
    return st.selectbox(
        "List length K",
        ks,
        index=ks.index(10) if 10 in ks else 0,
        help="Metrics are computed on each user's top-K recommendations.",
        key="compare_k",
    )


# -- leaderboard --------------------------------------------------------------------------
def leaderboard_section(
    split_id: int, k: int, done: pd.DataFrame, primary: str = "ndcg", tuned_only: bool = False
) -> pd.DataFrame:
    """The leaderboard table (only tuned runs with ``tuned_only``) with the best value per
    column highlighted, and warnings; ``done`` are the split's succeeded runs."""
    board = _leaderboard(split_id, k, primary, cache_version(done), tuned_only)
    if board.empty:
        st.info("No finished run on this split.")
        return board
    metrics = tables.board_metrics(board)
    table = tables.leaderboard_frame(board, k)
    primary_col = names.metric_label(f"{primary}@{k}")
    marked = {"Rank group", "Model", primary_col}

    def highlight(row: pd.Series) -> list[str]:
        top = str(row["Rank group"]).startswith("1 ")
        style = "background-color: #d4edda; font-weight: 600"
        return [style if top and col in marked else "" for col in row.index]

    st.dataframe(
        table.style.apply(highlight, axis=1),
        hide_index=True,
        width="stretch",
        column_config={
            "Rank group": st.column_config.TextColumn(
                pinned=True,
                help="Runs in group 1 cannot be told apart from the best one on "
                f"{primary_col} (paired test over test users, Holm-corrected).",
            ),
            "Model": st.column_config.TextColumn(pinned=True),
            **{
                names.metric_label(f"{m}@{k}"): st.column_config.TextColumn(
                    names.column_title(m, k), help=HELP.get(m)
                )
                for m in metrics
            },
        },
    )
    top = tables.runs_tied_for_best(board)
    if top > 1:
        best = (
            f"**{top} runs are tied for best** (highlighted): a paired test over the test "
            "users, corrected for testing several runs (Holm), cannot tell them apart from the "
            "top one, so the small differences between them may be luck. "
        )
    else:
        best = (
            "**The top run is best on its own** (highlighted): a paired test over the test "
            "users, corrected for testing several runs (Holm), tells every other run apart "
            "from it. "
        )
    st.caption(
        f"Rows are sorted by {names.PLAIN.get(primary, primary).lower()} ({primary_col}), best "
        f"first. {best}"
        "± is the half-width of the 95% confidence range over test users; coverage and "
        "personalization describe all lists together, so they have none. "
        "★ marks reference models (simple, strong baselines)."
        + (
            f" Recall@{k} and Hit rate@{k} read the same here: every test user has one "
            "held-out item, so finding it is both all of it and a hit."
            if tables.recall_is_hitrate(board)
            else ""
        )
    )
    losers = board[board["loses_to_popularity"]]
    for model, run_id in zip(losers["model"], losers["run_id"], strict=True):
        st.warning(
            f"**{model_title(model)} (run {run_id})** scores below the Popularity baseline on "
            f"{names.metric_label(f'{primary}@{k}')}: recommending the most popular items to "
            "everyone would do better. Do not ship it without a reason.",
            icon="⚠️",
        )
    if "popularity" not in set(board["model"]):
        st.caption("Tip: train the **popularity** model on this split as a baseline to beat.")
    return board


def glossary_section(board: pd.DataFrame) -> None:
    """An always-visible short glossary: the metrics of this leaderboard in plain words,
    then the statistical terms of the A/B test."""
    rows = names.glossary(tables.board_metrics(board))
    half = (len(rows) + 1) // 2
    with st.container(border=True):
        st.markdown("**What the words mean**")
        left, right = st.columns(2)
        for col, part in ((left, rows[:half]), (right, rows[half:])):
            col.markdown("\n".join(f"- **{term}**: {text}" for term, text in part))


CHARTS_KEY = "compare_charts"  # the charts expander's open state (a widget key)
CHARTS_OPEN = "compare_charts_open"  # the same, kept across page switches


def charts_expander() -> ExpanderContainer:
    """The collapsed "Charts" expander; it remembers being opened for the session.

    Its content is drawn only while it is open (``on_change`` reruns the page and the page
    checks ``.open``): the curves and the scatter are two Plotly charts, drawn on every
    visit whether or not anyone looked at them. Closed, a Compare visit costs one browser
    0.42 s of main-thread work instead of 0.61–0.68 s (BENCHMARKS.md, issue 17).
    Streamlit forgets a widget's state when its page is left, so the state is copied into
    ``CHARTS_OPEN`` at every run and given back as the default.
    """

    box = st.expander(
        "Charts: metric@K curves and accuracy vs coverage",
        expanded=bool(st.session_state.get(CHARTS_OPEN, False)),
        key=CHARTS_KEY,
        on_change="rerun",
    )
    st.session_state[CHARTS_OPEN] = bool(box.open)
    return box


def charts_section(board: pd.DataFrame, k: int, done: pd.DataFrame) -> None:
    """Metric@K curves and the accuracy vs coverage/novelty scatter of the runs of
    ``board`` (the leaderboard shown by ``leaderboard_section``)."""
    version = cache_version(done)
    ids = tuple(int(i) for i in board["run_id"])
    _, depths = _curves(ids, version)
    left, right = st.columns(2)
    with left:
        metric = st.segmented_control(
            "Curve metric",
            ["ndcg", "recall", "precision", "hitrate"],
            default="ndcg",
            format_func=lambda m: names.LABELS[m],
            key="compare_curve_metric",
        )
        st.plotly_chart(
            _curves_figure(ids, version, metric or "ndcg"), width="stretch", key="fig_curves"
        )
        depth = max(depths.values()) if depths else 0
        if depth < names.MAX_CURVE_K:
            st.caption(
                f"Curves stop at K = {depth}: each run stores its top-{depth} lists. "
                "Train with a larger cut-off (e.g. 50) to see longer lists."
            )
    with right:
        x = st.segmented_control(
            "Against",
            ["coverage", "novelty"],
            default="coverage",
            format_func=lambda m: names.LABELS[m],
            key="compare_tradeoff",
        )
        trade = _tradeoff_figure(board, k, x or "coverage")
        st.plotly_chart(trade, width="stretch", key="fig_trade")
        st.caption(
            "Accuracy is not everything: a model that recommends a wider part of the "
            "catalogue (coverage) or less obvious items (novelty) can be worth a small loss."
        )


@st.cache_data(ttl=300, max_entries=8, show_spinner="Comparing the best model with every other…")
def _sweep(run_ids: tuple[int, ...], primary: str, version: tuple) -> Sweep:
    return best_against_rest(get_store(), list(run_ids), CompareOptions(primary=primary))


def sweep_section(split_id: int, board: pd.DataFrame, k: int, done: pd.DataFrame) -> None:
    """One click: the leaderboard's best run against every other, one decision per pair.

    The result belongs to the split, K and runs it was asked for; when any of them changes
    it is not shown (no stale answers under new choices).
    """
    ids = tuple(int(r) for r in board["run_id"])
    if len(ids) < 2:
        return
    request = (split_id, k, ids)
    if st.button(
        "Compare the best model against every other",
        key="sweep_go",
        help="Runs the A/B test of the leaderboard's best model (as A) against each other "
        "model (as B), with the default options, and gives one decision per pair.",
    ):
        st.session_state[SWEEP] = request
    if st.session_state.get(SWEEP) != request:
        return
    try:
        sweep = _sweep(ids, f"ndcg@{k}", cache_version(done))
    except RecsysError as exc:
        st.error(md_escape(exc), icon="⛔")
        return
    best = sweep.pairs[0].run_a["label"]
    st.markdown(f"**{md_escape(best)} leads on ranking quality. Against each other model:**")
    for c in sweep.pairs:
        d = c.decision
        st.markdown(
            f"{SWEEP_ICON.get(d.kind, '•')} **{md_escape(c.run_b['label'])}** — "
            f"{md_escape(d.headline)}. {md_escape(' '.join(d.reasons))}"
        )
