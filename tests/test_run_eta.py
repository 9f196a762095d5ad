"""The run's ETA (fit + evaluation) from given progress rows: no clock involved."""

from __future__ import annotations

import pandas as pd
import pytest

from recsys_engine.run_eta import format_seconds, run_eta, typical_eval_seconds
from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split


def _rows(*rows: tuple) -> pd.DataFrame:
    """(stage, step, total, wall_time) rows shaped like ``Store.run_progress``."""
    return pd.DataFrame(
        [
            {"epoch": None, "step": s, "total": t, "stage": st, "loss": None,
             "val_metric": None, "wall_time": w}
            for st, s, t, w in rows
        ]
    )  # fmt: skip


def test_fit_eta_adds_the_evaluation_to_come():
    # set-up until 12 s (step 0), then steps 10 → 40 of 100 in 30 s: 1 s per step
    progress = _rows(("fit", 0, 100, 2.0), ("fit", 10, 100, 12.0), ("fit", 40, 100, 42.0))
    eta = run_eta(progress, eval_seconds=25.0)
    assert eta.stage == "fit" and eta.fraction == pytest.approx(0.4)
    assert eta.fit_left == pytest.approx(60.0)  # 60 steps left at 1 s each
    assert eta.eval_left == 25.0 and eta.remaining == pytest.approx(85.0)
    assert "about 1 min 25 s left" in eta.text
    assert "training 1 min 00 s, then evaluation 25 s" in eta.text


def test_fit_eta_without_an_evaluation_estimate_says_so():
    progress = _rows(("fit", 10, 100, 12.0), ("fit", 40, 100, 42.0))
    eta = run_eta(progress)
    assert eta.remaining is None and eta.fit_left == pytest.approx(60.0)
    assert "training about 1 min 00 s left, then the evaluation" in eta.text


def test_evaluation_eta_is_paced_from_its_start():
    # training done; evaluation started at 100 s, 256 of 1,024 users after 8 s
    progress = _rows(
        ("fit", 10, 100, 12.0),
        ("fit", 100, 100, 102.0),
        ("evaluate", 0, 1024, 100.0),
        ("evaluate", 256, 1024, 108.0),
    )
    eta = run_eta(progress, eval_seconds=999.0)  # the measured pace wins over history
    assert eta.stage == "evaluate" and eta.fraction == pytest.approx(0.25)
    assert eta.fit_left == 0.0 and eta.eval_left == pytest.approx(24.0)
    assert eta.remaining == pytest.approx(24.0)
    assert eta.text == "evaluate: 256/1,024 users · 1 min 48 s elapsed · about 24 s left"


def test_an_evaluation_just_started_does_not_speak_of_training_left():
    """At the evaluation's first row its pace is unknown: the text says how far it is,
    never "training about 0 s left, then the evaluation" (the training is over)."""
    progress = _rows(("fit", 10, 100, 12.0), ("fit", 100, 100, 102.0), ("evaluate", 0, 610, 0.0))
    eta = run_eta(progress)
    assert eta.text == "evaluate: 0/610 users · 0 s elapsed"


def test_too_little_progress_gives_no_estimate():
    assert run_eta(pd.DataFrame()).text == "starting…"
    one = run_eta(_rows(("fit", 0, 100, 3.0), ("fit", 5, 100, 9.0)), eval_seconds=10.0)
    assert one.fit_left is None and one.remaining is None and "left" not in one.text


def test_typical_eval_seconds_prefers_the_same_model():
    runs = pd.DataFrame(
        {
            "split_id": [1, 1, 1, 1, 2],
            "model": ["ease", "hybrid", "hybrid", "hybrid", "hybrid"],
            "status": ["succeeded", "succeeded", "succeeded", "failed", "succeeded"],
            "eval_seconds": [2.0, 10.0, 14.0, None, 99.0],
        }
    )
    assert typical_eval_seconds(runs, 1, "hybrid") == 12.0
    assert typical_eval_seconds(runs, 1, "two_tower") == 10.0  # any model: median of 3
    assert typical_eval_seconds(runs, 3, "hybrid") is None
    assert typical_eval_seconds(pd.DataFrame(), 1, "hybrid") is None


def test_format_seconds():
    assert [format_seconds(s) for s in (0, 42.4, 125, 4000)] == [
        "0 s",
        "42 s",
        "2 min 05 s",
        "1 h 06 min",
    ]


def test_a_run_marks_the_start_of_its_evaluation(store, tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_ARTEFACTS", str(tmp_path / "artefacts"))
    df = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in range(12) for _ in range(4)],
            "item_id": [f"i{(u + j) % 9}" for u in range(12) for j in range(4)],
        }
    )
    did = store.create_dataset_from_frames("eta", df)
    split = create_split(store, did, SplitConfig(seed=0))
    run_id = run_model(store, split, "popularity", options={"batch_size": 4})
    rows = store.run_progress(run_id)
    evals = rows[rows["stage"] == "evaluate"]
    n_test = store.get_run(run_id)["eval_info"]["test_users"]
    assert evals["step"].iloc[0] == 0 and (evals["total"] == n_test).all()
    assert evals["step"].iloc[-1] == n_test
