"""Hyper-parameter tuning on the validation fold (issue 15), with Optuna.

``study``: the objective, the study loop, local worker processes and the final tuned run;
``storage``: which Optuna storage a database's studies use. Search spaces are declared by
the model configs themselves (``recsys_engine.models.search_space``). Importing this
package imports Optuna, not TensorFlow.
"""

from __future__ import annotations

from recsys_engine.tuning.storage import default_storage, describe_storage
from recsys_engine.tuning.study import (
    METRIC,
    Objective,
    TuneResult,
    default_pruner,
    trial_row,
    tune,
    tuning_data,
    tuning_label,
)

__all__ = [
    "METRIC",
    "Objective",
    "TuneResult",
    "default_pruner",
    "default_storage",
    "describe_storage",
    "trial_row",
    "tune",
    "tuning_data",
    "tuning_label",
]
