"""Tuning budgets on Compare (issue 15): what counts as very different budgets, the plain
note next to the verdict, and the budgets on the leaderboard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_engine.compare import CompareOptions, compare_runs, tables
from recsys_engine.compare import leaderboard as lb
from recsys_engine.compare.fairness import budget_note, budget_text, unequal_budgets
from recsys_engine.compare.report import html_report
from recsys_engine.runs import run_model
from recsys_engine.splits import SplitConfig, create_split
from recsys_engine.store import Store


def _tuned(trials: int, minutes: float = 1.5) -> dict:
    return {"trials": trials, "minutes": minutes, "study": "s", "study_id": 1}


@pytest.mark.parametrize(
    ("a", "b", "unequal"),
    [
        (0, 40, True),  # default settings against a 40-trial study
        (40, 0, True),
        (0, 5, True),  # 5 more trials than none
        (0, 4, False),  # fewer than MIN_GAP more
        (10, 20, True),  # twice as many, 10 more
        (20, 30, False),  # 1.5 times
        (30, 30, False),
        (0, 0, False),
    ],
)
def test_unequal_budgets(a, b, unequal):
    assert unequal_budgets(a, b) is unequal


def test_budget_text():
    assert budget_text(None) == "not tuned"
    assert budget_text(_tuned(20, 3.14)) == "20 trials, 3.1 min"
    assert budget_text(_tuned(2, 0.01)) == "2 trials, under 0.1 min"


def test_the_note_says_who_was_tuned_and_what_it_may_mean():
    a = {"label": "Popularity (run 1)", "tuning": None}
    b = {"label": "EASE (run 2)", "tuning": _tuned(40)}
    note = budget_note(a, b, "Better")
    assert note == (
        "Unequal tuning: A, Popularity (run 1), was not tuned (settings picked by hand), while "
        "B, EASE (run 2), was tuned with 40 trials on the validation fold. Part of B's lead "
        "may come from that extra tuning rather than from the model itself. For a fair test, "
        "tune both with the same budget."
    )
    assert "A wins although B was tuned more" in budget_note(a, b, "Worse")
    assert "With the same tuning, A might do better" in budget_note(a, b, "Inconclusive")
    assert budget_note(a, {**b, "tuning": _tuned(3)}, "Better") is None
    assert budget_note({**a, "tuning": _tuned(40)}, b, "Better") is None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("fair") / "db.duckdb")
    rng = np.random.default_rng(3)
    rows = [
        (f"u{u:02d}", f"i{i:02d}")
        for u in range(60)
        for i in rng.choice(40, size=int(rng.integers(4, 15)), replace=False)
    ]
    did = store.create_dataset_from_frames(
        "toy", pd.DataFrame(rows, columns=["user_id", "item_id"]), feedback="implicit"
    )
    sid = create_split(store, did, SplitConfig(test_fraction=0.25, seed=1))
    pop, ease = run_model(store, sid, "popularity"), run_model(store, sid, "ease")
    store.set_run_tuning(ease, _tuned(40, 2.0))
    yield store, sid, pop, ease
    store.close()


def test_compare_runs_carries_the_note_and_the_budgets(runs):
    store, _, pop, ease = runs
    c = compare_runs(store, pop, ease, CompareOptions(n_resamples=500))
    assert c.run_a["tuning"] is None and c.run_b["tuning"]["trials"] == 40
    assert c.fairness.startswith("Unequal tuning: A, Popularity (run ")
    assert "EASE (run" in c.fairness and "tuned with 40 trials" in c.fairness
    assert c.to_dict()["fairness"] == c.fairness
    assert "Unequal tuning" in html_report(c)
    same = compare_runs(store, ease, ease, CompareOptions(n_resamples=500))
    assert same.fairness is None


def test_leaderboard_shows_each_runs_budget(runs):
    store, sid, pop, ease = runs
    board = lb.leaderboard(store, sid, 10)
    by_run = dict(zip(board["run_id"], board["tuning"], strict=True))
    assert by_run[pop] is None and by_run[ease]["trials"] == 40
    table = tables.leaderboard_frame(board, 10)
    shown = dict(zip(table["Run"], table["Tuning budget"], strict=True))
    assert shown == {pop: "not tuned", ease: "40 trials, 2.0 min"}


def test_budgets_summary():
    from recsys_engine.compare.fairness import budgets_summary

    assert budgets_summary([None, None]) == (
        "No run here was tuned: all 2 use settings picked by hand (the defaults or a preset), "
        "which suit some models better than others."
    )
    assert budgets_summary([_tuned(20), _tuned(20)]) == (
        "Every run here was tuned with 20 trials: the budgets are equal."
    )
    assert budgets_summary([None, None, None, _tuned(40)]) == (
        "Tuning budgets differ a lot: 3 runs use settings picked by hand and 1 was tuned with "
        "40 trials."
    )
    assert budgets_summary([_tuned(20), _tuned(25), None]) == (
        "Tuning budgets differ a lot: 1 run uses settings picked by hand, 1 was tuned with "
        "20 trials and 1 was tuned with 25 trials."
    )
    assert budgets_summary([_tuned(20), _tuned(25)]) == (
        "Tuning budgets differ: 1 was tuned with 20 trials and 1 was tuned with 25 trials."
    )
