"""AppTest of the Explain page: item cards with reasons, what-if user, standalone page."""

from __future__ import annotations

import json
import math
import re

import pytest
import streamlit as st
from explain_support import open_reasons
from streamlit.testing.v1 import AppTest

from recsys_engine.models import get_model
from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split
from ui.explain_cards import OVERLAP_NOTE, RANKING_SCORE_NOTE, RATING_SCORE_NOTE, score_note
from ui.explain_panels import ORDER_NOTE, SCROLL_HINT_ITEMS


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    st.cache_resource.clear()
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    from ui.resources import get_store

    store = get_store()
    split_id = create_split(store, 1, SplitConfig(strategy="random", seed=1))
    run_model(store, split_id, "ease")
    yield at
    from ui.resources import get_runner

    get_runner().shutdown(wait=True)
    st.cache_resource.clear()


def _texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


def test_user_cards_with_explanations_and_what_if(app):
    at = app.switch_page("pages/explain.py").run()
    assert not at.exception
    open_reasons(at, "user_1")
    assert not at.exception
    texts = _texts(at)
    assert any(t.startswith("**#1 · ") for t in texts)
    assert any("Why this item?" == e.label for e in at.expander)
    assert any("Because you interacted with" in t and ":green-badge[exact]" in t for t in texts)
    assert any("What would change it" in t and "re-scoring" in t for t in texts)
    # a card says in plain words whether the user chose the item (a held-out test item)
    assert any("hit: the user chose it" in t or "not a hit" in t for t in texts)
    assert not any("held-out data" in t for t in texts)
    assert any("are hits (items the user chose that were hidden from the model" in t for t in texts)
    # a ranking model's score is not a predicted rating, and the caption says so
    assert any(RANKING_SCORE_NOTE in t for t in texts)
    assert at.dataframe  # the history table and reason tables
    # the taste table names its columns in words, not the reason's own keys; its
    # percentage says what it is a share of (the score lost), never a bare "share"
    tastes = [d.value for d in at.dataframe if "your items" in d.value.columns]
    assert tastes
    assert all("score lost" in t.columns and "share" not in t.columns for t in tastes)
    columns = [set(d.value.columns) for d in at.dataframe]
    assert not any("history_items" in c or "item_has_it" in c for c in columns)
    if any(len(t) > 1 for t in tastes):  # overlapping rows say they are not a split of 100%
        assert OVERLAP_NOTE in texts
    # popularity in words that cannot overstate: of the *other* items, or "the most popular"
    context = [t for t in texts if t.startswith("Context: ")]
    assert context and not any("of the catalogue" in t for t in context)
    assert all(
        re.match(
            r"Context: (more popular than [\d.]+% of the other items|the most popular "
            r"item in training), chosen by [\d,]+ training users\.",
            t,
        )
        for t in context
    ), context
    # every score of the list has the same number of decimals
    scores = [m.group(1) for t in texts if (m := re.search(r" score \*\*(-?[\d.]+)\*\*", t))]
    assert len(scores) == 10
    assert len({len(s.partition(".")[2]) for s in scores}) == 1, scores

    at.button(key="random_user_1").click().run()
    assert not at.exception

    user = at.session_state["explain_user"]
    at.session_state["explain_view"] = "What-if / new user"
    at.run()
    assert any("Pick a few items" in i.value for i in at.info)
    assert ORDER_NOTE not in _texts(at)  # EASE ignores the order of the history
    # the user was picked on the other view, so the button names them
    assert at.button(key="wi_load_1").label == f"Start from user {user}'s history"
    at.multiselect(key="whatif_items_1").set_value(["1", "2", "3"]).run()
    assert not at.exception
    open_reasons(at, "wi_1")
    texts = _texts(at)
    assert any("3 items · answered in" in t for t in texts)
    assert any(t.startswith("**#1 · ") for t in texts)
    assert any(":green-badge[exact]" in t for t in texts)
    # a long history says the box scrolls (its last visible row of chips is cut)
    many = [str(i) for i in range(1, SCROLL_HINT_ITEMS + 2)]
    at.multiselect(key="whatif_items_1").set_value(many).run()
    assert any(
        f"{len(many)} items (scroll the box to see them all) · answered in" in t for t in _texts(at)
    )

    at.session_state["explain_view"] = "Similar items"
    at.run()
    assert not at.exception and at.dataframe
    # one number of decimals for the whole score column: four significant digits of the
    # largest score (the grid's default dropped trailing zeros: "0.123" above "0.1194")
    table = at.dataframe[0]
    top = table.value["score"].abs().max()
    decimals = max(0, 3 - math.floor(math.log10(top)))
    config = json.loads(table.proto.columns)["score"]
    assert config["type_config"]["format"] == f"%.{decimals}f", config


def test_page_runs_standalone(app, monkeypatch):
    page = AppTest.from_file("../../pages/explain.py", default_timeout=60).run()
    assert not page.exception
    assert any(m.value.startswith("**#1 · ") for m in page.markdown)


def _heading_user(at: AppTest) -> str:
    heading = next(h.value for h in at.subheader if h.value.startswith("Top "))
    return heading.rsplit(" for user ", 1)[1].replace("\\", "")


def test_random_user_moves_the_user_box_and_the_heading_together(app):
    at = app.switch_page("pages/explain.py").run()
    box = at.selectbox(key="user_pick_1")
    assert _heading_user(at) == box.value
    seen = {box.value}
    for _ in range(6):  # random picks; the box and the heading must agree every time
        at.button(key="random_user_1").click().run()
        assert not at.exception
        box = at.selectbox(key="user_pick_1")
        # set_value tells the browser to show the new value; without it the browser keeps
        # showing (and sends back) the old user while the heading shows the new one
        assert box.proto.set_value
        assert _heading_user(at) == box.value == at.session_state["explain_user"]
        at.run()  # a plain rerun keeps the picked user
        assert at.selectbox(key="user_pick_1").value == box.value == _heading_user(at)
        seen.add(box.value)
    assert len(seen) > 1


def test_what_if_adds_one_item_per_click_and_labels_ids_as_ids(app):
    at = app.switch_page("pages/explain.py").run()
    at.session_state["explain_view"] = "What-if / new user"
    at.run()
    box = at.multiselect(key="whatif_items_1")
    assert box.proto.select_all == 0  # no "Select N matches" entry
    assert all(" · id " in o or o.startswith("id ") for o in box.options)
    assert not any(o.endswith(")") and " (" in o for o in box.options[:50])


def test_reasons_are_drawn_only_for_an_open_card(app):
    """Closed cards draw their header only; opening one draws that card's reasons and no
    other's, and they stay drawn on the next rerun."""
    at = app.switch_page("pages/explain.py").run()
    whys = [e for e in at.expander if e.label == "Why this item?"]
    assert len(whys) == 10
    assert not any(t.startswith("**Because you interacted with") for t in _texts(at))
    assert not at.get("plotly_chart")
    open_reasons(at, "user_1", n=1)
    assert not at.exception
    opened = [e for e in at.expander if e.label == "Why this item?"]
    inside = [[m.value for m in e.markdown] for e in opened]
    assert any(t.startswith("**Because you interacted with") for t in inside[0])
    assert all(not texts for texts in inside[1:])
    at.run()
    assert sum(t.startswith("**Because you interacted with") for t in _texts(at)) == 1


def test_an_open_card_takes_its_whole_row(app):
    """Beside an open card's tall reasons its neighbour left a tall empty gap: the row of
    an open card is drawn one card under the other at full width (the other rows keep two
    columns), the card stays open, and closing it brings the two columns back."""
    at = app.switch_page("pages/explain.py").run()
    closed = len(at.columns)
    open_reasons(at, "user_1", n=1)
    assert not at.exception
    assert len(at.columns) == closed - 2  # the first row's two columns are gone
    assert at.session_state["why_user_1_0"]
    first = [e for e in at.expander if e.label == "Why this item?"][0]
    assert any(m.value.startswith("**Because you interacted with") for m in first.markdown)
    at.session_state["why_user_1_0"] = False
    at.run()
    assert len(at.columns) == closed


#: a card's score line (after its hit badge, if any)
SCORE = r"(?:^|\s)score \*\*(-?[\d.]+)\*\*"


def _cards(at: AppTest) -> list[tuple[str, str]]:
    """(rank · title, score) of every item card on the page."""
    titles = [m.value for m in at.markdown if m.value.startswith("**#")]
    scores = [m.group(1) for t in _texts(at) if (m := re.search(SCORE, t))]
    return list(zip(titles, scores, strict=True))


def test_what_if_of_an_order_aware_model_starts_from_the_users_own_list(app):
    """Transitions reads the what-if history as a time order: the user's history, loaded
    oldest first, gives the user's own list (same items, order and scores)."""
    from ui.resources import get_store

    store = get_store()
    split_id = create_split(
        store, 1, SplitConfig(strategy="leave-last", n_last=1, validation_last=1)
    )
    run_id = run_model(store, split_id, "transitions")
    at = app.switch_page("pages/explain.py").run()
    at.selectbox(key="explain_run_pick").set_value(run_id).run()
    assert not at.exception
    user = at.session_state["explain_user"]
    own = _cards(at)
    assert len(own) == 10
    at.session_state["explain_view"] = "What-if / new user"
    at.run()
    assert ORDER_NOTE in _texts(at)
    at.button(key=f"wi_load_{run_id}").click().run()
    assert not at.exception
    assert at.button(key=f"wi_load_{run_id}").label == f"Start from user {user}'s history"
    assert _cards(at) == own


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("mf_explicit", RATING_SCORE_NOTE),
        ("sasrec", RANKING_SCORE_NOTE),
        ("ease", RANKING_SCORE_NOTE),
    ],
)
def test_the_score_note_says_a_rating_only_for_a_rating_model(name, note):
    """SASRec's 4.4 on a 0.5–5 star dataset read as stars: only a model that predicts
    ratings (``predicts_ratings``) says its score is one."""

    class Run:  # what score_note reads of an explainer: its model
        model = get_model(name).cls

    assert score_note(Run()) == note
