"""The objective of a study: train one sampled config on the train fold, score it on the
validation fold.

``Objective`` receives ``study.tuning_data``'s view of a split (train and validation folds,
nothing of the test fold). Keras models report their per-epoch validation NDCG@10 to the
trial (``fit_keras``'s progress callable), so the pruner can stop weak trials early; a
trial stopped by a cancel is marked so (Optuna records it as failed).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from recsys_engine.errors import FitCancelled
from recsys_engine.evaluation import EvalOptions, evaluate
from recsys_engine.models import get_model
from recsys_engine.models.base import StopFn
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_config import KerasTrainConfig
from recsys_engine.models.search_space import Choice, Param
from recsys_engine.split_data import SplitData
from recsys_engine.tuning.trials import METRIC

if TYPE_CHECKING:  # optuna is imported where a study runs
    import optuna

#: The key Keras models report their per-epoch validation NDCG@10 under (``fit_keras``).
EPOCH_METRIC = "val_ndcg@10"


def suggest(trial: optuna.Trial, space: dict[str, Param]) -> dict[str, Any]:
    """Sample one value of every setting in ``space`` through an Optuna trial."""
    params: dict[str, Any] = {}
    for name, param in space.items():
        if isinstance(param, Choice):
            params[name] = trial.suggest_categorical(name, list(param.values))
        elif param.integer:
            params[name] = trial.suggest_int(name, int(param.low), int(param.high), log=param.log)
        else:
            params[name] = trial.suggest_float(
                name, float(param.low), float(param.high), log=param.log
            )
    return params


class Objective:
    """Train one sampled config on the train fold and score it on the validation fold.

    Picklable (a model name, the data and plain dicts), so worker processes build their
    own copy. ``seen_data`` is what the objective works on: ``tuning_data``'s view, never
    the test fold.
    """

    def __init__(
        self,
        model_name: str,
        data: SplitData,
        space: dict[str, Param],
        fixed: dict[str, Any],
        should_stop: StopFn | None = None,
    ):
        self.model_name, self.data = model_name, data
        self.space, self.fixed, self.should_stop = space, fixed, should_stop

    def __call__(self, trial: Any) -> float:
        import optuna

        spec = get_model(self.model_name)
        config = spec.config_class.from_dict({**self.fixed, **suggest(trial, self.space)})
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("process", os.getpid())  # which worker ran it
        t0 = time.perf_counter()

        def report(done: int, total: int, info: dict[str, Any]) -> None:
            value, epoch = info.get(EPOCH_METRIC), info.get("epoch")
            if value is None or not epoch:
                return
            trial.report(float(value), int(epoch))
            trial.set_user_attr("epochs", int(epoch))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        model = spec.cls(config)
        if isinstance(config, KerasTrainConfig):  # before the first trial imports Keras
            keras_backend(catalogue_items=self.data.train.n_items)
        try:
            model.fit(self.data.train, on_progress=report, should_stop=self.should_stop)
        except FitCancelled:
            trial.set_user_attr("cancelled", True)  # Optuna records it as failed; say why
            raise
        fit_result = getattr(model, "fit_result", None)
        if fit_result is not None and isinstance(config, KerasTrainConfig):
            trial.set_user_attr("best_epoch", int(fit_result.best_epoch))
            trial.set_user_attr("epochs", int(fit_result.epochs))
        result = evaluate(model, self.data, EvalOptions(ks=(10,)))
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        return float(result.metric_dict()[METRIC])
