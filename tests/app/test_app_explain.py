"""AppTest of the Explain page: item cards with reasons, what-if user, standalone page."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split


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
    texts = _texts(at)
    assert any(t.startswith("**#1 · ") for t in texts)
    assert any("Why this item?" == e.label for e in at.expander)
    assert any("Because you interacted with" in t and ":green-badge[exact]" in t for t in texts)
    assert any("What would change it" in t and "re-scoring" in t for t in texts)
    assert any("Hit" in t or "held-out" in t for t in texts)
    assert at.dataframe  # the history table and reason tables

    at.button(key="random_user_1").click().run()
    assert not at.exception

    at.session_state["explain_view"] = "What-if / new user"
    at.run()
    assert any("Pick a few items" in i.value for i in at.info)
    at.multiselect(key="whatif_items_1").set_value(["1", "2", "3"]).run()
    assert not at.exception
    texts = _texts(at)
    assert any("3 items · answered in" in t for t in texts)
    assert any(t.startswith("**#1 · ") for t in texts)
    assert any(":green-badge[exact]" in t for t in texts)

    at.session_state["explain_view"] = "Similar items"
    at.run()
    assert not at.exception and at.dataframe


def test_page_runs_standalone(app, monkeypatch):
    page = AppTest.from_file("../../pages/explain.py", default_timeout=60).run()
    assert not page.exception
    assert any(m.value.startswith("**#1 · ") for m in page.markdown)
