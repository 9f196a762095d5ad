"""AppTest of the Explain page: item cards with reasons, what-if user, standalone page."""

from __future__ import annotations

import pytest
import streamlit as st
from explain_support import open_reasons
from streamlit.testing.v1 import AppTest

from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split
from ui.explain_panels import SCROLL_HINT_ITEMS


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
    assert any("Hit" in t or "held-out" in t for t in texts)
    assert at.dataframe  # the history table and reason tables
    # the taste table names its columns in words, not the reason's own keys
    columns = [set(d.value.columns) for d in at.dataframe]
    assert any("your items" in c for c in columns)
    assert not any("history_items" in c or "item_has_it" in c for c in columns)

    at.button(key="random_user_1").click().run()
    assert not at.exception

    at.session_state["explain_view"] = "What-if / new user"
    at.run()
    assert any("Pick a few items" in i.value for i in at.info)
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
        f"{len(many)} items (scroll the box to see them all) · answered in" in t
        for t in _texts(at)
    )

    at.session_state["explain_view"] = "Similar items"
    at.run()
    assert not at.exception and at.dataframe


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
