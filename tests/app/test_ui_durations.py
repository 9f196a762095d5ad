"""Fit times, the tuned-run note, the study summary and the training curve's labels, as
people read them (no Streamlit session needed)."""

from __future__ import annotations

import pandas as pd
import pytest

from ui.run_monitor import loss_figure, validation_label
from ui.studies import outcome_facts
from ui.text import short_seconds
from ui.tune import tuned_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.049, "0.05s"),  # the tuned EASE run: not "0.0s"
        (0.001, "<0.01s"),
        (1.52, "1.5s"),
        (204, "3.4 min"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_short_seconds(seconds, text):
    assert short_seconds(seconds) == text


def test_tuned_text_says_how_long_the_study_took_in_plain_words():
    tuning = {"trials": 6, "minutes": 0.01, "study_id": 1}
    assert tuned_text(tuning) == (
        "Tuned: best of 6 trials on the validation fold (study 1, which took 1 second)"
    )
    tuning = {"trials": 40, "minutes": 3.4, "study_id": 7}
    assert tuned_text(tuning).endswith("(study 7, which took 3.4 minutes)")


def test_study_summary_names_only_the_outcomes_that_happened():
    summary = {"trials": 6, "complete": 6, "pruned": 0, "failed": 0, "minutes": 0.01}
    assert outcome_facts(summary) == ["6 complete", "took 1 second"]
    summary = {"complete": 4, "pruned": 1, "failed": 1, "minutes": 3.4}
    assert outcome_facts(summary) == ["4 complete, 1 pruned, 1 failed", "took 3.4 minutes"]


def test_training_curve_names_the_validation_metric():
    assert validation_label("mult_vae") == "validation NDCG@10"
    assert validation_label("mf_explicit") == "validation RMSE"  # reports val_rmse
    assert validation_label("no_such_model") == "validation score"
    assert validation_label(None) == "validation score"
    progress = pd.DataFrame({"epoch": [1, 2], "loss": [3.0, 2.0], "val_metric": [0.1, 0.2]})
    fig = loss_figure(progress, "mult_vae")
    assert fig.data[1].name == "validation NDCG@10"
    assert fig.layout.yaxis2.title.text == "validation NDCG@10"
