"""Hyper-parameter tuning on the validation fold (issue 15), with Optuna.

``objective``: one trial (train a sampled config, score it on validation); ``study``: the
study loop and the final tuned run; ``workers``: local worker processes on one study;
``storage``: which Optuna storage a database's studies use; ``trials``: a study's trials as
rows and tables (the CLI, the Tune panel, the browser); ``charts``: a study's figures;
``space_table``: a search space as the Tune panel's editable table.
Search spaces are declared by the model configs themselves
(``recsys_engine.models.search_space``). Importing this package imports Optuna, not
TensorFlow.
"""

from __future__ import annotations

from recsys_engine.tuning.objective import Objective
from recsys_engine.tuning.storage import default_storage, describe_storage
from recsys_engine.tuning.study import (
    TuneResult,
    default_pruner,
    tune,
    tuning_data,
    tuning_label,
)
from recsys_engine.tuning.trials import METRIC, load_study, study_trials, trial_row, trials_table

__all__ = [
    "METRIC",
    "Objective",
    "TuneResult",
    "default_pruner",
    "default_storage",
    "describe_storage",
    "load_study",
    "study_trials",
    "trial_row",
    "trials_table",
    "tune",
    "tuning_data",
    "tuning_label",
]
