"""AppTest of fairness on the Compare page (issue 15): each run's tuning budget on the
leaderboard, the note next to the A/B decision when budgets differ a lot, the leaderboard of
tuned runs only, and "tune every model on this split with the same budget"."""

from __future__ import annotations

import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "artefacts"))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    yield at
    from ui.resources import get_runner

    get_runner().shutdown(wait=True)
    st.cache_resource.clear()
    st.cache_data.clear()


def _runs(validation: float) -> tuple[int, int, int]:
    """Popularity (not tuned) and EASE recorded as tuned with 40 trials, on the demo data."""
    from ui.resources import get_store

    store = get_store()
    did = int(store.list_datasets()["id"].iloc[0])
    sid = create_split(
        store, did, SplitConfig(test_fraction=0.2, validation_fraction=validation, seed=3)
    )
    pop, ease = run_model(store, sid, "popularity"), run_model(store, sid, "ease")
    store.set_run_tuning(ease, {"trials": 40, "minutes": 2.0, "study": "s", "study_id": 1})
    return sid, pop, ease


def _text(at) -> str:
    parts = (*at.success, *at.info, *at.warning, *at.error, *at.markdown, *at.caption)
    return " ".join(e.value for e in parts).replace("\\", "")


def test_unequal_budgets_are_called_out_next_to_the_decision(app):
    _, pop, ease = _runs(validation=0.0)
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    board = next(d.value for d in app.dataframe if "Tuning budget" in d.value.columns)
    assert dict(zip(board["Run"], board["Tuning budget"], strict=True)) == {
        pop: "not tuned",
        ease: "40 trials, 2.0 min",
    }
    text = _text(app)
    assert "Tuning budgets differ a lot: 1 run uses settings picked by hand and 1 was tuned" in text
    # no validation fold on this split: the action says what to do instead of a button
    assert "Tuning needs a split with a validation fold" in text
    assert not [b for b in app.button if b.key == "fair_tune"]
    app.selectbox(key="ab_a").set_value(pop)
    app.selectbox(key="ab_b").set_value(ease)
    app.select_slider(key="ab_resamples").set_value(1_000)
    app.button(key="ab_go").click().run()
    assert not app.exception
    (note,) = [w.value.replace("\\", "") for w in app.warning if "Unequal tuning" in w.value]
    assert f"A, Popularity (run {pop}), was not tuned (settings picked by hand)" in note
    assert f"B, EASE (run {ease}), was tuned with 40 trials" in note
    assert note.endswith("For a fair test, tune both with the same budget.")
    # the note sits with the decision, before the statistical "why"
    blocks = [m.value for m in app.markdown]
    assert any(v.startswith("**Why") for v in blocks)


def test_tune_every_model_with_the_same_budget(app):
    sid, pop, ease = _runs(validation=0.15)
    app.switch_page("pages/compare.py").run()
    assert not app.exception
    minutes = app.number_input(key="fair_minutes")
    assert minutes.label == "Minutes per model (0 = no time limit)" and minutes.value == 0
    app.number_input(key="fair_trials").set_value(2).run()
    app.button(key="fair_tune").click().run()
    assert not app.exception
    assert "Started 2 studies with the same budget (2 trials each)" in _text(app)
    from ui.resources import get_runner, get_store

    end = time.time() + 120
    while time.time() < end:
        jobs = get_runner().study_jobs()
        if all(j.status not in ("queued", "running") for j in jobs):
            break
        time.sleep(0.2)
    # one study per model of the leaderboard (best first), each with the same budget
    assert [(j.model, j.trials, j.status) for j in jobs] == [
        ("ease", 2, "succeeded"),
        ("popularity", 2, "succeeded"),
    ], [j.error for j in jobs]
    st.cache_data.clear()
    app.run()
    app.toggle(key="compare_tuned_only").set_value(True).run()
    assert not app.exception
    board = next(d.value for d in app.dataframe if "Tuning budget" in d.value.columns)
    tuned = {j.run_id for j in jobs} | {ease}
    assert set(board["Run"]) == tuned and pop not in set(board["Run"])
    store = get_store()
    assert all(store.get_run(j.run_id)["tuning"]["trials"] == 2 for j in jobs)
    assert store.get_run(jobs[0].run_id)["split_id"] == sid
