"""AppTest of the Tune panel (Train page): the no-validation-fold message and its offer, a
tiny study run in the background (trials table, tuned run), and the study browser."""

from __future__ import annotations

import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "artefacts"))
    st.cache_resource.clear()
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    yield at
    from ui.resources import get_runner

    get_runner().shutdown(wait=True)
    st.cache_resource.clear()


def _tune_mode(at: AppTest, strategy: str | None = None) -> None:
    """Tune mode on a new split: the suggested one, or ``strategy`` with its plain
    defaults (a random split's have no validation fold)."""
    at.switch_page("pages/train.py").run()
    assert not at.exception
    if at.selectbox(key="split_choice_1").value == -1:  # no split yet: create one
        if strategy is not None:
            at.selectbox(key="split_strategy_1").set_value(strategy).run()
        at.button(key="split_create_1").click().run()
    at.segmented_control(key="train_mode").set_value("Tune settings first").run()
    assert not at.exception


def _wait_study(timeout: float = 90.0):
    from ui.resources import get_runner

    end = time.time() + timeout
    while time.time() < end:
        jobs = get_runner().study_jobs()
        if jobs and all(j.status not in ("queued", "running") for j in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError("the study did not finish")


def test_the_suggested_split_can_be_tuned_at_once(app):
    _tune_mode(app)  # the demo has timestamps: leave-last with a validation event per user
    assert not [w for w in app.warning if "no validation fold" in w.value]
    assert [b for b in app.button if b.key == "tune_start"]


def test_a_split_without_validation_fold_is_refused_and_one_is_offered(app):
    _tune_mode(app, "random")  # a random split's defaults have no validation fold
    warning = " ".join(w.value for w in app.warning)
    assert "has no validation fold, so it cannot be used for tuning" in warning
    assert not [b for b in app.button if b.key == "tune_start"]
    app.number_input(key="tune_val_fraction").set_value(0.15).run()
    app.button(key="tune_make_split").click().run()
    assert not app.exception
    from ui.resources import get_store

    new = get_store().get_split(app.selectbox(key="split_choice_1").value)
    assert new["params"]["validation_fraction"] == 0.15
    assert new["stats"]["validation_rows"] > 0
    assert not [w for w in app.warning if "no validation fold" in w.value]
    assert app.button(key="tune_start").disabled  # no model chosen yet


def test_tune_a_fast_model_in_the_background_then_browse_the_study(app):
    _tune_mode(app, "random")
    app.number_input(key="tune_val_fraction").set_value(0.1).run()
    app.button(key="tune_make_split").click().run()
    app.multiselect(key="tune_models").set_value(["ease"]).run()
    assert "Search space of EASE" in [e.label for e in app.expander]
    space = next(d for d in app.dataframe if "Values tried" in d.value.columns).value
    assert list(space["Setting"]) == ["l2", "binary"]
    # 0 is a valid budget for either input and means "no limit"; the labels say so, and
    # minutes are whole minutes ("0", not "0.00")
    minutes = app.number_input(key="tune_minutes")
    assert minutes.label == "Minutes per model (0 = no time limit)"
    assert minutes.value == 0 and isinstance(minutes.value, int)
    assert app.number_input(key="tune_trials").label == "Trials per model (0 = no limit)"
    app.number_input(key="tune_trials").set_value(2).run()
    app.button(key="tune_start").click().run()
    assert not app.exception
    assert "Started 1 study" in app.success[0].value
    (job,) = _wait_study()
    assert job.status == "succeeded", job.error
    app.run()
    assert not app.exception
    assert any("Started 1 study" in a.value for a in app.success)  # kept on a redraw
    card = next(m.value for m in app.markdown if "Tuning EASE" in m.value)
    assert f"Study {job.study_id}" in card and "succeeded" in card and "2 of 2 trials" in card
    trials = next(d.value for d in app.dataframe if "Validation NDCG@10" in d.value.columns)
    assert list(trials["Trial"]) == [0, 1] and set(trials["Status"]) == {"complete"}
    done = " ".join(s.value for s in app.success)
    assert f"**Run {job.run_id}** was trained with the best settings" in done
    assert "Tuned\\: best of 2 trials on the validation fold" in done
    assert f"study {job.study_id}, which took " in done  # "1 second", not "1 seconds"
    # the run card below says how it was tuned
    assert any(c.value.startswith("🎯 Tuned: best of 2 trials") for c in app.caption)
    # the browser shows the finished study; too few trials for importance, and why
    assert app.selectbox(key="browse_study_1").value == job.study_id
    notes = " ".join(c.value for c in app.caption)
    assert "Parameter importance needs at least 8 completed trials; this study has 2" in notes
    # the summary line names only what happened, and the time in words (not "0.0 min")
    assert "2 complete · took " in notes and "0 pruned" not in notes
    figures = [c.proto.spec for c in app.get("plotly_chart")]
    assert any("best so far" in f for f in figures)
    assert any("validation NDCG@10" in f and "l2" in f for f in figures)  # slice plot
