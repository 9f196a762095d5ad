"""AppTest of the Train and Models pages: split, train, watch, cancel, registry, delete."""

from __future__ import annotations

import json
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_DB", str(tmp_path / "db.duckdb"))
    st.cache_resource.clear()
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    yield at
    from ui.resources import get_runner

    get_runner().shutdown(wait=True)
    st.cache_resource.clear()


def _wait_runs(at: AppTest, n: int, timeout: float = 60.0) -> None:
    from ui.resources import get_store

    end = time.time() + timeout
    while time.time() < end:
        runs = get_store().list_runs()
        if len(runs) >= n and not runs["status"].isin(["queued", "running"]).any():
            return
        time.sleep(0.2)
    raise AssertionError("runs did not finish")


def _create_split(at: AppTest, strategy: str | None = None) -> None:
    """Create a split from the Train page's form: the suggested one, or ``strategy`` with
    that strategy's plain defaults."""
    at.switch_page("pages/train.py").run()
    assert not at.exception
    if strategy is not None:
        at.selectbox(key="split_strategy_1").set_value(strategy).run()
    at.button(key="split_preview_1").click().run()
    assert "Test users" in [m.label for m in at.metric]
    at.button(key="split_create_1").click().run()
    assert not at.exception
    assert at.selectbox(key="split_choice_1").value != -1


def test_train_reference_models_then_registry_and_delete(app, tmp_path):
    _create_split(app)
    app.button[1].click().run()  # Train all reference models
    assert "Queued runs 1, 2, 3" in app.success[0].value
    _wait_runs(app, 3)
    app.run()  # a redraw (as when a run ends) keeps the confirmation
    assert "Queued runs 1, 2, 3" in app.success[0].value
    cards = [m.value for m in app.markdown if "**Run" in m.value]
    assert len(cards) == 3 and all("succeeded" in c for c in cards)
    assert "3 runs on this split: 3 succeeded." in [c.value for c in app.caption]
    assert "NDCG@10" in [m.label for m in app.metric]

    app.switch_page("pages/models.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert sorted(table["model"]) == ["EASE", "Item-kNN", "Popularity"]
    # the command retrains in the app's database ($RECSYS_DB here), not the CLI's default
    db = tmp_path / "db.duckdb"
    assert any(f"python -m recsys_engine --db {db} train" in c.value for c in app.code)
    run_id = app.selectbox[-1].value
    app.checkbox(key=f"sure_{run_id}").check().run()
    app.button(key=f"delete_{run_id}").click().run()
    assert not app.exception
    assert len(app.dataframe[0].value) == 2
    assert any(f"Deleted run {run_id}" in s.value for s in app.success)
    app.switch_page("pages/train.py").run()  # leaving the page dropped the confirmation
    assert not [a for a in app.success if "Queued" in a.value]

    app.switch_page("pages/home.py").run()  # Home's recent runs name their dataset
    recent = next(t.value for t in app.table if "NDCG@10" in t.value.columns)
    assert set(recent["dataset"]) == {r"Demo\: movie nights"}  # escaped: a table cell is markdown


def test_rerun_of_an_older_run_trains_it_the_way_it_was_trained(app):
    """A NeuMF run stored before ``loss`` and ``ema`` existed is re-run with the sampled BCE
    loss and no weight averaging (how it was trained), not with today's defaults."""
    from ui.resources import get_store

    _create_split(app)
    store = get_store()
    old = {"epochs": 1, "batch_size": 4096, "factors": 4, "mlp_layers": [8, 4], "l2": 1e-5}
    split_id = app.selectbox(key="split_choice_1").value
    old_id = store.create_run(1, split_id, "neumf", old, status="failed")
    app.switch_page("pages/models.py").run()
    app.selectbox[-1].set_value(old_id).run()
    code = [c.value for c in app.code if "recsys_engine --db" in c.value]
    assert code and '"loss": "bce"' in code[0] and '"ema": 0.0' in code[0]
    app.button(key=f"rerun_{old_id}").click().run()
    assert not app.exception
    new_id = max(store.list_runs()["id"])
    assert new_id != old_id
    config = store.get_run(int(new_id))["config"]
    assert config["loss"] == "bce" and config["ema"] == 0.0 and config["batch_size"] == 4096
    _wait_runs(app, 2)
    assert store.get_run(int(new_id))["status"] == "succeeded"


def test_deep_models_on_a_split_without_validation_get_a_note(app):
    _create_split(app, "random")  # a random split's plain defaults: no validation fold
    app.checkbox(key="pick_ease").check().run()
    assert not [i for i in app.info if "validation fold" in i.value]  # EASE has no epochs
    app.checkbox(key="pick_two_tower").check().run()
    app.checkbox(key="pick_neumf").check().run()
    notes = [i.value for i in app.info if "validation fold" in i.value]
    assert notes == [
        "This split has no validation fold, so Two-tower and NeuMF will train for all of "
        "their epochs: nothing stops them early or keeps their best epoch. To let them stop "
        "early, create a split with a validation fraction (e.g. 0.1)."
    ]
    # a split with a validation fold: no note
    app.selectbox(key="split_choice_1").set_value(-1).run()
    app.selectbox(key="split_strategy_1").set_value("random").run()
    app.number_input(key="split_1_random_validation_fraction").set_value(0.1).run()
    app.button(key="split_create_1").click().run()
    assert not app.exception
    assert [m.value for m in app.metric if m.label == "Validation rows"] != ["0"]
    app.checkbox(key="pick_neumf").check().run()  # picks reset while "New split…" showed
    assert not [i for i in app.info if "validation fold" in i.value]


def test_the_suggested_split_keeps_time_order_and_has_a_validation_fold(app):
    """The demo has timestamps: the form proposes leave-last-1 with one validation event
    per user, says why, and the split it makes lets every model run and stop early."""
    at = app.switch_page("pages/train.py").run()
    assert at.selectbox(key="split_strategy_1").value == "leave-last"
    assert any("Suggested for this dataset" in c.value for c in at.caption)
    assert at.number_input(key="split_1_leave-last_validation_last").value == 1
    at.number_input(key="split_1_leave-last_n_last").set_value(2).run()
    assert not any("Suggested for this dataset" in c.value for c in at.caption)  # changed
    at.number_input(key="split_1_leave-last_n_last").set_value(1).run()
    assert any("Suggested for this dataset" in c.value for c in at.caption)
    _create_split(at)
    assert [m.value for m in at.metric if m.label == "Validation rows"] != ["0"]
    assert not [w for w in at.warning if "random split" in w.value]
    assert not at.checkbox(key="pick_transitions").disabled  # time order is kept
    at.checkbox(key="pick_two_tower").check().run()
    assert not [i for i in at.info if "validation fold" in i.value]  # it stops early
    # another strategy starts from its own plain defaults, with no "suggested" note
    at.selectbox(key="split_choice_1").set_value(-1).run()
    at.selectbox(key="split_strategy_1").set_value("temporal").run()
    assert not any("Suggested for this dataset" in c.value for c in at.caption)
    assert at.number_input(key="split_1_temporal_validation_fraction").value == 0.0


def test_bad_config_is_refused_before_anything_starts(app):
    _create_split(app)
    app.checkbox(key="pick_ease").check().run()
    app.number_input(key="cfg_ease_Default_l2").set_value(-5.0).run()
    app.button[0].click().run()
    # messages are markdown-escaped on the page: "l2 must be \\> 0" reads "l2 must be > 0"
    assert any("l2 must be \\> 0" in e.value for e in app.error), [e.value for e in app.error]
    from ui.resources import get_store

    assert get_store().list_runs().empty


def test_cancel_a_running_run(app):
    """The app trains in a child process (``job_process``): a long Two-tower run there
    shows Cancel, and the click stops the child and marks the run cancelled."""
    from ui.resources import get_store

    st.cache_resource.clear()
    app.run()
    _create_split(app)
    app.radio(key="train_preset").set_value("Quick").run()
    app.checkbox(key="pick_two_tower").check().run()
    app.number_input(key="cfg_two_tower_Quick_epochs").set_value(1000).run()
    app.button[0].click().run()
    end = time.time() + 60
    while time.time() < end and len(get_store().run_progress(1)) < 1:
        time.sleep(0.2)  # the child is training
    app.run()
    cancel = [b for b in app.button if b.label == "Cancel"]
    assert cancel, "a running run shows a Cancel button"
    cancel[0].click().run()
    _wait_runs(app, 1, timeout=60)
    app.run()
    assert get_store().get_run(1)["status"] == "cancelled"
    assert any("cancelled" in m.value for m in app.markdown if "**Run" in m.value)


def test_train_a_tiny_keras_model_to_completion(app):
    _create_split(app)
    app.radio(key="train_preset").set_value("Quick").run()
    app.checkbox(key="pick_two_tower").check().run()
    epochs = app.number_input(key="cfg_two_tower_Quick_epochs")
    epochs.set_value(2).run()
    notes = [c.value for c in app.caption]
    assert "Two-tower: not trained with these settings on this dataset yet." in notes, notes
    assert app.number_input(key="cfg_two_tower_Quick_dim").value == 128  # Quick is smaller
    app.button[0].click().run()
    assert not app.exception
    assert "Queued run 1" in app.success[0].value
    _wait_runs(app, 1, timeout=120)
    app.run()
    cards = [m.value for m in app.markdown if "**Run" in m.value]
    assert cards and "Two-tower" in cards[0] and "succeeded" in cards[0]
    from ui.resources import get_store

    run = get_store().get_run(1)
    assert run["config"]["epochs"] == 2
    assert run["artefact_path"]
    # the training curve stays on the finished run's card
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in app.get("plotly_chart")]
    assert "Training curve" in titles
    # the same settings now come with the time they took here
    notes = [c.value for c in app.caption]
    took = [n for n in notes if n.startswith("Two-tower with these settings took")]
    assert took and took[0].endswith("here last time (run 1)."), notes


def test_content_models_are_not_offered_without_item_metadata(app, tmp_path):
    from recsys_engine.ingest import guess_plan, load_dataset
    from recsys_engine.splits import SplitConfig, create_split
    from ui import state
    from ui.resources import get_store

    store = get_store()
    log = tmp_path / "log.csv"
    log.write_text(
        "user_id,item_id\n"
        + "".join(f"u{u},i{(u * 7 + j) % 30}\n" for u in range(40) for j in range(6))
    )
    dataset = load_dataset(store, guess_plan([log], name="No metadata")).dataset_id
    create_split(store, dataset, SplitConfig.from_dict({"strategy": "random", "seed": 1}))
    app.session_state[state.DATASET_ID] = dataset
    app.switch_page("pages/train.py").run()
    assert not app.exception
    content = app.checkbox(key="pick_content")
    assert content.disabled and not content.value
    assert "needs item metadata" in content.help and "items file" in content.help
    captions = " ".join(c.value for c in app.caption)
    assert "Needs item metadata" in captions and "Data page" in captions
    assert "without its content part" in captions  # Hybrid still runs, and says how
    assert not app.checkbox(key="pick_hybrid").disabled
    assert not app.checkbox(key="pick_ease").disabled
    # the demo dataset has metadata: Content-based is offered there
    create_split(store, 1, SplitConfig.from_dict({"strategy": "random", "seed": 1}))
    app.session_state[state.DATASET_ID] = 1
    app.run()
    assert not app.checkbox(key="pick_content").disabled


def test_split_warning_uses_the_dropdown_names(app):
    at = app.switch_page("pages/train.py").run()
    strategy = at.selectbox(key="split_strategy_1")
    labels = [strategy.format_func(o) for o in strategy.options]
    strategy.set_value("random").run()
    at.button(key="split_preview_1").click().run()
    warning = next(w.value for w in at.warning if "random split on timestamped data" in w.value)
    assert "'global time cut'" in warning and "'leave the last N per user'" in warning
    assert "global time cut" in labels and "leave the last N per user" in labels
    assert "consider 'temporal'" not in warning and "(strategy temporal)" not in warning


def test_order_aware_models_are_greyed_out_on_a_random_split(app):
    """Transitions, SASRec and GRU4Rec (the "Sequence" column) on a random split: not
    runnable, and the caption says why and which split to make instead."""
    _create_split(app, "random")
    assert "**Sequence**" in [m.value for m in app.markdown]
    for name in ("transitions", "sasrec", "gru4rec"):
        assert app.checkbox(key=f"pick_{name}").disabled, name
    notes = [c.value for c in app.caption if "split that keeps time order" in c.value]
    # said once for the column, naming the three
    assert len(notes) == 1 and "'leave the last N per user'" in notes[0]
    assert notes[0].startswith("Transitions, SASRec and GRU4Rec need a split that keeps time")
    assert "They learn what comes next" in notes[0]
    assert not app.checkbox(key="pick_popularity").disabled
    # a leave-last split keeps time order: they can be picked
    app.selectbox(key="split_choice_1").set_value(-1).run()
    app.selectbox(key="split_strategy_1").set_value("leave-last").run()
    app.button(key="split_create_1").click().run()
    assert not app.exception
    for name in ("transitions", "sasrec", "gru4rec"):
        assert not app.checkbox(key=f"pick_{name}").disabled, name


def test_content_on_a_cold_items_split_starts_from_new_arrival_settings(app):
    """On a cold-items split Content-based's form starts from its new-arrivals settings
    and a caption says what they are and why; on a random split the plain defaults."""
    from recsys_engine.splits import SplitConfig, create_split
    from ui import state
    from ui.resources import get_store

    store = get_store()
    cold = create_split(store, 1, SplitConfig.from_dict({"strategy": "cold-items", "seed": 1}))
    app.session_state[state.DATASET_ID] = 1
    app.switch_page("pages/train.py").run()
    app.selectbox(key="split_choice_1").set_value(cold).run()
    assert not app.exception
    app.checkbox(key="pick_content").check().run()
    assert app.number_input(key="cfg_content_Default_cold-items_min_df").value == 5
    assert not app.checkbox(key="cfg_content_Default_cold-items_new_item_negatives").value
    notes = [c.value for c in app.caption if "settings for new arrivals" in c.value]
    assert len(notes) == 1 and notes[0].startswith("Content-based on a cold-items split")
    random = create_split(store, 1, SplitConfig.from_dict({"strategy": "random", "seed": 1}))
    app.run()  # the new split joins the list
    app.selectbox(key="split_choice_1").set_value(random).run()
    app.checkbox(key="pick_content").check().run()
    assert app.number_input(key="cfg_content_Default_min_df").value == 2
    assert not [c for c in app.caption if "settings for new arrivals" in c.value]
