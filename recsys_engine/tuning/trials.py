"""A study's trials as rows and tables: what the CLI prints, the Tune panel shows while a
study runs and the study browser shows afterwards.

Trials live in Optuna's storage (``tuning.storage``); the ``studies`` table names the
storage and the Optuna study, so any process can reopen a study by its id, also while
another process (or a background job) is still adding trials to it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from recsys_engine.store import Store
from recsys_engine.tuning.storage import open_storage, reopen_spec

if TYPE_CHECKING:  # optuna is imported where a study runs
    import optuna

#: The metric every study maximises, on the validation fold.
METRIC = "ndcg@10"
#: The validation metric's column in a trials table.
VALUE_COLUMN = "Validation NDCG@10"
#: How the states of trials are shown.
STATE_LABELS = {
    "complete": "complete",
    "pruned": "pruned (stopped early: weak curve)",
    "fail": "failed",
    "cancelled": "cancelled",
    "running": "running",
    "waiting": "waiting",
}


def trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """One trial as JSON: number, state (Optuna's, or ``cancelled`` for a trial stopped by
    a cancel), params, validation NDCG@10 (the last reported
    epoch's for a pruned or running trial), epochs, seconds (so far, for a running one)."""
    value = trial.value
    if value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    seconds = trial.user_attrs.get("seconds")
    if seconds is None and trial.datetime_start is not None:
        end = trial.datetime_complete or datetime.now()
        seconds = (end - trial.datetime_start).total_seconds()
    state = trial.state.name.lower()
    if state == "fail" and trial.user_attrs.get("cancelled"):
        state = "cancelled"  # stopped by a cancel, not broken
    return {
        "number": int(trial.number),
        "state": state,
        "params": dict(trial.params),
        f"validation_{METRIC}": None if value is None else float(value),
        "epochs": trial.user_attrs.get("epochs"),
        "best_epoch": trial.user_attrs.get("best_epoch"),
        "seconds": seconds,
    }


def load_study(store: Store, study_id: int) -> Any:
    """The Optuna study of a ``studies`` row, reopened from its storage.

    Raises:
        NotFoundError: no such study. ConfigError: its trials cannot be reopened
            (kept in memory, or in a database whose password is not stored).
    """
    import optuna

    row = store.get_study(study_id)
    spec = reopen_spec(str(row["storage"]), str(row["name"]))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=str(row["name"]), storage=open_storage(spec))


def study_trials(store: Store, study_id: int) -> list[dict[str, Any]]:
    """Every trial of a study so far (``trial_row``), in trial order."""
    study = load_study(store, study_id)
    return [trial_row(t) for t in sorted(study.get_trials(deepcopy=False), key=_number)]


def _number(trial: Any) -> int:
    return int(trial.number)


def trials_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Trials as people read them: one row per trial with its status, validation NDCG@10,
    the best value so far (complete trials only: a pruned trial never becomes the best),
    epochs trained (Keras models only), seconds and one column per searched setting
    (floats to 4 significant digits)."""
    key = f"validation_{METRIC}"
    best = -math.inf
    table = []
    for r in rows:
        if r["state"] == "complete" and r[key] is not None:
            best = max(best, r[key])
        table.append(
            {
                "Trial": r["number"],
                "Status": STATE_LABELS.get(r["state"], r["state"]),
                VALUE_COLUMN: r[key],
                "Best so far": None if best == -math.inf else best,
                "Epochs trained": r["epochs"],
                "Seconds": None if r["seconds"] is None else round(float(r["seconds"]), 1),
                **{k: _short(v) for k, v in r["params"].items()},
            }
        )
    if not table:
        return pd.DataFrame(
            columns=["Trial", "Status", VALUE_COLUMN, "Best so far", "Epochs trained", "Seconds"]
        )
    frame = pd.DataFrame(table)
    if frame["Epochs trained"].isna().all():  # not a Keras model: it has no epochs
        frame = frame.drop(columns="Epochs trained")
    return frame


def _short(value: Any) -> Any:
    """A sampled float to 4 significant digits (554.7119… → 554.7): a table to read."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


def study_label(row: dict[str, Any] | pd.Series) -> str:
    """``"Study 3 · EASE · 20 trials · succeeded"`` for pickers (model by its title)."""
    from recsys_engine.models import model_title

    budget = row["budget"]
    if isinstance(budget, str):
        import json

        budget = json.loads(budget)
    parts = []
    if budget.get("trials"):
        parts.append(f"{budget['trials']} trials")
    if budget.get("minutes"):
        parts.append(f"{budget['minutes']:g} min")
    return (
        f"Study {int(row['id'])} · {model_title(str(row['model']))} · "
        + " / ".join(parts)
        + f" · {row['status']}"
    )
