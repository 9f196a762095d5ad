"""The Explain page's recommendation cards and their reasons: each item's title, score
and hit badge, and behind "Why this item?" every reason with its fidelity badge, table or
score breakdown, and the item's context (the pickers are in ``ui.explain``).

Titles and categories come from uploads, so they are shown through ``md_escape`` (no
markdown or HTML from user text) or in dataframes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys_engine.explain import EXACT, POST_HOC, RESCORED, Explainer, Recommendations
from ui.text import md_escape

WHY_KEY = "why_"  # + card key and position: whether that card's "Why this item?" is open
FIDELITY_COLOURS = {EXACT: "green", RESCORED: "blue", POST_HOC: "orange"}
FIDELITY_HELP = {
    EXACT: "The parts add up to the model's score by construction.",
    RESCORED: "Checked by asking the model to score the changed history again.",
    POST_HOC: "An after-the-fact reading; the model does not compute its score this way.",
}
SHORT_PARTS = {
    "base": "Item bias",
    "collaborative": "Collaborative",
    "content": "Content",
    "gmf": "GMF",
    "mlp": "MLP",
    "mean": "Mean",
    "user_bias": "User bias",
    "item_bias": "Item bias",
    "match": "Match",
    "context": "Context",
}



#: What a listed score is, for a model that ranks (most) and one that predicts ratings:
#: a 0.5–5 star dataset made a ranking score of 4.4 read as a predicted 4.4 stars.
RANKING_SCORE_NOTE = (
    "A score is the model's own ranking score, comparable only within one model's list; "
    "it is not a predicted rating."
)
RATING_SCORE_NOTE = "A score is the model's predicted rating of the item for this user."


def score_note(ex: Explainer) -> str:
    """The sentence saying what the cards' scores are: a predicted rating when the run's
    model predicts ratings (``predicts_ratings``), otherwise a ranking score that means
    nothing outside its own list (readers took SASRec's 4.4 for stars)."""
    return RATING_SCORE_NOTE if ex.model.predicts_ratings else RANKING_SCORE_NOTE


def badge_markdown(fidelity: str | None) -> str:
    """A coloured inline badge for a fidelity label (markdown directive)."""
    if fidelity is None:
        return ":gray-badge[not available]"
    return f":{FIDELITY_COLOURS.get(fidelity, 'gray')}-badge[{fidelity}]"


def breakdown_figure(rows: list[dict], score: float) -> go.Figure:
    """Waterfall of the additive score parts ending in the score."""
    fig = go.Figure(
        go.Waterfall(
            orientation="v",
            x=[SHORT_PARTS.get(r["key"], r["part"]) for r in rows] + ["Score"],
            y=[r["value"] for r in rows] + [score],
            measure=["relative"] * len(rows) + ["total"],
            text=[f"{r['value']:+.3g}" for r in rows] + [f"{score:.3g}"],
            textposition="outside",
            connector={"line": {"color": "#bbbbbb"}},
        )
    )
    fig.update_layout(
        template="plotly_white",
        height=260,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={"text": "How the score adds up", "font": {"size": 14}},
        showlegend=False,
    )
    return fig


#: Column widths (px) and formats of the reason tables. They sit in half-width item cards
#: (about 390 px of table on a 1400 px window), so the title gets a fixed width and the
#: numbers a short format: every column — a sequence model's "steps ago" too — stays inside
#: the card instead of behind a scroll bar; wider cards share out the rest.
REASON_COLUMNS = {
    # title + steps ago + contribution + without it = 385 px, as before "steps ago"
    # (wider than "recency") took 8 px from the title
    "title": st.column_config.TextColumn("title", width=132),
    # the reason's ``recency`` rank (1 = most recent), named by what it counts
    "steps ago": st.column_config.NumberColumn(
        "steps ago",
        width=78,
        help="1 = the most recent item of the history (the step just before this "
        "recommendation), 2 = the one before it, …; an item seen twice counts at its "
        "latest time",
    ),
    "contribution": st.column_config.NumberColumn("contribution", width=95, format="%.3f"),
    "without it": st.column_config.NumberColumn(
        "without it",
        width=80,
        format="%.3f",
        help="the item's score when the history is re-scored without this item",
    ),
    "similarity": st.column_config.NumberColumn("similarity", width=80, format="%.3f"),
    "your items": st.column_config.NumberColumn(
        "your items", width=75, help="items of the history in this category"
    ),
    # what each percentage is a share of is in its name: the parts are not always a split
    # of 100% (a reader added up "Action 64%, Comedy 39%, Drama 26%" to 129%)
    "share": st.column_config.TextColumn(
        "share",
        width=60,
        help="this item's part of the score the history adds; items that pull the score "
        "down have a negative share, so the others can add up to more than 100%",
    ),
    "score lost": st.column_config.TextColumn(
        "score lost",
        width=75,
        help="how much of the item's score is lost when your items of this category are "
        "removed; a history item counts in each of its categories, so the rows overlap and "
        "are not a split of 100%",
    ),
    "share of lift": st.column_config.TextColumn(
        "share of lift",
        width=85,
        help="this feature's part of the lift your profile gives over a catalogue-average "
        "one; features that lower it are not listed, so the rows can add up to more than 100%",
    ),
}
#: under a category-toggle table of two rows or more: its percentages are not a split
OVERLAP_NOTE = (
    "Each row removes one category's items from your history on its own; a history item "
    "counts in each of its categories, so the rows overlap and are not a split of 100%."
)


def _reason_table(reason) -> pd.DataFrame | None:
    if not reason.rows:
        return None
    frame = pd.DataFrame(reason.rows)
    if reason.kind == "history":
        head = frame.head(8).copy()
        if "share" in head:
            head["share"] = head["share"].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
        head = head.drop(columns=["item_id"]).rename(
            columns={"score_without": "without it", "recency": "steps ago"}
        )
        first = [c for c in ("steps ago", "title") if c in head]  # order first, then names
        return head[first + [c for c in head.columns if c not in first]]
    if reason.kind == "taste":
        # category toggles count "your items": each row is the score lost without them;
        # content-tower rows split the lift over a catalogue-average profile
        toggles = "history_items" in frame
        out = frame.rename(
            columns={
                "item_has_it": "in this item",
                "history_items": "your items",
                "share": "score lost" if toggles else "share of lift",
            }
        )
        for col in ("score lost", "share of lift"):
            if col in out:
                out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
        return out
    if reason.kind == "context":
        return frame.rename(columns={"context": "ranked with"})
    if reason.kind == "counterfactual":
        return frame.drop(columns=["item_id"]).rename(columns={"title": "remove these items"})
    return None


def show_reasons(item, key: str) -> None:
    """Every reason of one item, each with its fidelity badge."""
    for reason in item.reasons:
        st.markdown(f"**{md_escape(reason.title)}** {badge_markdown(reason.fidelity)}")
        if reason.downgraded:
            st.caption(f"Badge lowered by its own check: {md_escape(reason.downgraded)}.")
        st.markdown(md_escape(reason.summary))
        if reason.kind == "breakdown":
            st.plotly_chart(
                breakdown_figure(reason.rows, item.score), width="stretch", key=f"wf_{key}"
            )
            continue
        table = _reason_table(reason)
        if table is not None:
            config = {c: REASON_COLUMNS[c] for c in table.columns if c in REASON_COLUMNS}
            st.dataframe(table, hide_index=True, width="stretch", column_config=config)
            if "score lost" in table and len(table) > 1:
                st.caption(OVERLAP_NOTE)
    sim = (
        f" {item.similar_users_chose:,} of {item.similar_users:,} users who share your top "
        f"history items chose it ({item.similar_users_chose / item.similar_users:.0%})."
        if item.similar_users
        else ""
    )
    st.caption(
        f"Context: {popularity_words(item.more_popular_than)}, chosen by "
        f"{item.popularity:,} training users.{sim}"
    )


def popularity_words(more_popular_than: float) -> str:
    """How an item's training popularity compares with the other items, in words.

    ``more_popular_than`` is the percent of the *other* items strictly less popular,
    rounded down, so the sentence never claims more than is true; 100 means no other item
    is as popular, which is said as such.
    """
    if more_popular_than >= 100:
        return "the most popular item in training"
    return f"more popular than {more_popular_than:g}% of the other items"


def score_decimals(scores: Iterable[float]) -> int:
    """Decimals shared by every score of one view (a card grid, a table).

    Enough fixed decimals for four significant digits of the largest score: "-0.019" never
    stands next to "-0.0199" (as three significant digits each gave), and neighbouring
    scores of different ranks do not read as equal.
    """
    top = max((abs(float(s)) for s in scores if math.isfinite(s)), default=0.0)
    if top == 0:
        return 3
    return min(6, max(0, 3 - math.floor(math.log10(top))))


def item_cards(rec: Recommendations, key: str, columns: int = 2) -> None:
    """Item cards (title, categories, score, rank, hit/miss) with a "why" expander each.

    An expander's reasons (tables, a chart) are drawn only while it is open: opening one
    reruns the page (``on_change="rerun"``) and its card alone draws them. Drawing the
    reasons of all ten closed cards cost a page load 0.73 s of browser CPU instead of 0.33 s
    and 0.14 s of server CPU instead of 0.08 s (one reader, EASE; ten readers share two
    cores in ``bench/load.py``). Its open state lives in session state under
    ``f"{WHY_KEY}{key}_{position}"``. A row holding an open card is drawn one card under the
    other at full width: beside a card's tall reasons its neighbour left a tall empty gap.
    """
    if not rec.items:
        st.info("No items left to recommend for this history.")
        return
    for note in rec.notes:
        st.caption(f"ℹ️ {md_escape(note)}")
    fmt = f"{{:.{score_decimals(it.score for it in rec.items)}f}}"  # one format per list
    for start in range(0, len(rec.items), columns):
        row = range(start, min(start + columns, len(rec.items)))
        # one row per `columns` items keeps the ranks in reading order
        opened = any(st.session_state.get(f"{WHY_KEY}{key}_{pos}") for pos in row)
        grid = [st] * len(row) if opened else st.columns(columns)
        for pos in row:
            item = rec.items[pos]
            with grid[pos - start].container(border=True):
                st.markdown(f"**#{item.rank} · {md_escape(item.title)}**")
                cats = ", ".join(item.categories) or "no categories"
                st.markdown(
                    f"{hit_badge(item.hit)} score **{fmt.format(item.score)}** · {md_escape(cats)}"
                )
                why = st.expander("Why this item?", key=f"{WHY_KEY}{key}_{pos}", on_change="rerun")
                if why.open:
                    with why:
                        show_reasons(item, f"{key}_{pos}")


def hit_badge(hit: bool | None) -> str:
    """The card's badge: whether the item is one of the user's held-out test items.

    Worded as the page's caption words a hit (an item the user chose that was hidden from
    the model to test it); a list for a new history has no test items, so no badge.
    """
    if hit is None:
        return ""
    if hit:
        return ":green-badge[✅ hit: the user chose it]"
    return ":gray-badge[not a hit]"
