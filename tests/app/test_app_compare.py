"""AppTest of the Compare page: guidance without runs, leaderboard, A/B verdict, standalone."""

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
    st.cache_data.clear()
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    yield at
    from ui.resources import get_runner

    get_runner().shutdown(wait=True)
    st.cache_resource.clear()
    st.cache_data.clear()


def _train_two(config: SplitConfig | None = None) -> tuple[int, int]:
    """Popularity and EASE on the demo dataset, through the store functions."""
    from ui.resources import get_store

    store = get_store()
    did = int(store.list_datasets()["id"].iloc[0])
    sid = create_split(store, did, config or SplitConfig(test_fraction=0.2, seed=3))
    return run_model(store, sid, "popularity"), run_model(store, sid, "ease")


def test_without_runs_the_page_says_what_to_do(app):
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    text = " ".join(i.value for i in app.info)
    assert "Nothing to compare yet" in text and "Train" in text


def test_leaderboard_and_verdict(app):
    pop, ease = _train_two()
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    board = app.dataframe[0].value
    shown = board.data if hasattr(board, "data") else board  # a Styler or a frame
    assert list(shown["Run"]) == [ease, pop]  # sorted by NDCG, EASE first
    assert "NDCG@10" in shown.columns and "Coverage@10" in shown.columns
    assert app.selectbox(key="ab_a").value == pop and app.selectbox(key="ab_b").value == ease
    app.button[0].click().run()  # the form's "Compare A and B"
    assert not app.exception
    sentences = [s.value for s in (*app.success, *app.error, *app.info, *app.warning)]
    assert any("NDCG@10" in s and "95% CI" in s for s in sentences), sentences
    assert any("EASE (run" in s and "raises NDCG@10" in s for s in sentences)
    assert len(app.get("plotly_chart")) >= 6  # curves, trade-off, forest, hist, segments, overlap
    assert [b.label for b in app.get("download_button")] == [
        "Download the report (HTML)",
        "Download per-user differences (CSV)",
    ]
    # the options change the test; the page recomputes without error
    app.radio(key="ab_test").set_value("wilcoxon")
    app.button[0].click().run()
    assert not app.exception


def test_page_runs_standalone(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file("../../pages/compare.py", default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Compare"
    _train_two()
    at.run()
    assert not at.exception
    assert len(at.dataframe) >= 1
    st.cache_resource.clear()
    st.cache_data.clear()
