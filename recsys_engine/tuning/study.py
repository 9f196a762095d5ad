"""Tune one model on a split's validation fold with Optuna, then train the best as a run.

Each trial samples a config from the model's search space (``models.search_space``, with
the user's overrides), trains on the train fold and is scored by full-ranking NDCG@10 on
the **validation** fold only (``tuning.objective``): the objective receives
``tuning_data``, a view of the split that holds the train and validation folds and nothing
of the test fold. Keras models report their per-epoch validation NDCG@10 to the trial, so
the pruner (the median rule by default) stops weak trials early.

The first trial is the model's default settings (those inside the searched space), so a
study never ends below the defaults on validation. When the budget (trials and/or minutes)
is spent, the best trial's config — for Keras models with the epochs its early stopping
kept — is trained as a normal run and evaluated once on test; the run records its tuning
budget ("tuned: N trials, M minutes, study S").
``workers`` > 1 starts that many local processes on one study (``tuning.workers``), sharing
Optuna's journal file (or an RDB URL for several machines).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys_engine.errors import ConfigError, FitCancelled, RecsysError
from recsys_engine.evaluation import EvalOptions
from recsys_engine.models import get_model
from recsys_engine.models.base import StopFn
from recsys_engine.models.search_space import (
    default_point,
    describe_space,
    narrow_space,
)
from recsys_engine.split_data import SplitData, load_split_data
from recsys_engine.store import Store
from recsys_engine.tuning.objective import Objective
from recsys_engine.tuning.storage import (
    default_storage,
    describe_storage,
    open_storage,
    shareable,
)
from recsys_engine.tuning.trials import METRIC, trial_row
from recsys_engine.tuning.workers import run_workers

TrialFn = Callable[[dict[str, Any]], None]


@dataclass
class TuneResult:
    """What a study produced.

    Attributes:
        study_id: the ``studies`` row. study_name: the Optuna study name.
        storage: where the trials live (``describe_storage``).
        trials: one dict per trial (number, state, params, validation metric, epochs,
            seconds), in trial order.
        best_trial: number of the best complete trial. best_config: the config trained
            as the final run. run_id: that run. tuning: the budget recorded on the run.
    """

    study_id: int
    study_name: str
    storage: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    best_trial: int | None = None
    best_value: float | None = None
    best_config: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    tuning: dict[str, Any] = field(default_factory=dict)


def tuning_data(store: Store, split_id: int, positive_threshold: float | None = None) -> SplitData:
    """The split as the objective sees it: train fold to learn from, validation fold as
    the held-out set, no test rows at all (``test`` is the validation fold, no test
    ratings). Refuses a split without a validation fold, naming it."""
    data = load_split_data(store, split_id, positive_threshold)
    if data.train.validation is None or data.train.validation.nnz == 0:
        raise ConfigError(
            f"split {split_id} has no validation fold, and tuning chooses on validation only "
            "(never on test); create a split with a validation fraction > 0"
        )
    return data.validation_view()


def tuning_label(tuning: dict[str, Any] | None) -> str:
    """``"tuned: 20 trials, 3.1 minutes, study S"`` (``"not tuned"`` for None; seconds
    under a minute)."""
    if not tuning:
        return "not tuned"
    took = duration_text(tuning["minutes"])
    return f"tuned: {tuning['trials']} trials, {took}, study {tuning['study']}"


def duration_text(minutes: float) -> str:
    """``"3.1 minutes"``; under a minute ``"14 seconds"``, ``"1 second"`` or ``"under a
    second"`` (not "0.0 minutes" or "1 seconds", which make a short study look broken)."""
    seconds = round(minutes * 60)
    if minutes * 60 < 0.5:
        return "under a second"
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    return "1 minute" if round(minutes, 1) == 1 else f"{minutes:.1f} minutes"


def tune(
    store: Store,
    split_id: int,
    model_name: str,
    *,
    trials: int | None = None,
    minutes: float | None = None,
    space: dict[str, Any] | None = None,
    workers: int = 1,
    storage: str | None = None,
    seed: int = 0,
    pruner: Any = None,
    options: EvalOptions | dict[str, Any] | None = None,
    on_trial: TrialFn | None = None,
    should_stop: StopFn | None = None,
    on_start: Callable[[int], None] | None = None,
) -> TuneResult:
    """Run a study over ``model_name`` on ``split_id`` and train its best config as a run.

    Args:
        store: the database; the study row and the final run are written here.
        split_id: a split with a validation fold.
        model_name: registry name.
        trials: at most this many trials (over all workers).
        minutes: no trial starts after this many minutes. At least one of the two.
        space: overrides of the declared search space (``search_space.narrow_space``).
        workers: local processes working on the study (> 1 needs a shareable storage).
        storage: an Optuna storage URL or journal path (default: ``default_storage``).
        seed: seeds the sampler (worker i uses ``seed + i``).
        pruner: an Optuna pruner (default: the median rule after two trials).
        options: evaluation options of the final run (the threshold also applies to the
            tuning data).
        on_trial: called with each finished trial's row (in-process studies).
        should_stop: cancel flag, checked between trials and during Keras training.
        on_start: called with the study id once its row exists (the job runner uses it
            to tell which study a background job is running).

    Raises:
        ConfigError: no validation fold, no budget, a bad space or worker count.
        RecsysError: no trial completed (all pruned or failed).
    """
    import optuna

    spec = get_model(model_name)
    trials, minutes, workers = _check_budget(trials, minutes, workers)
    search, fixed = narrow_space(spec.config_class, space)
    if not search:
        raise ConfigError(f"nothing to tune: the search space of {model_name} is empty")
    opts = options if isinstance(options, EvalOptions) else EvalOptions.from_dict(options)
    data = tuning_data(store, split_id, opts.positive_threshold)
    spec_storage = storage if storage is not None else default_storage(store.path)
    if workers > 1 and not shareable(spec_storage):
        raise ConfigError(
            "--workers > 1 needs a study storage that other processes can open; an in-memory "
            "database keeps its studies in memory: give a storage URL or journal file"
        )
    split = store.get_split(split_id)
    name = f"{model_name}-split{split_id}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    budget = {"trials": trials, "minutes": minutes, "workers": workers}
    study_id = store.create_study(
        split["dataset_id"],
        split_id,
        model_name,
        name=name,
        storage=describe_storage(spec_storage),
        space=describe_space(search),
        fixed=fixed,
        budget=budget,
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if on_start is not None:
        on_start(study_id)
    t0 = time.perf_counter()
    try:
        # settings neither searched nor fixed take the defaults of this kind of split
        base = spec.config_class.for_split(split["strategy"], fixed)
        objective = Objective(model_name, data, search, base, should_stop)
        study = optuna.create_study(
            storage=open_storage(spec_storage),
            study_name=name,
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=int(seed)),
            pruner=pruner or default_pruner(),
        )
        start = default_point(spec.config_class, search, split["strategy"])
        if start:  # the defaults go first: tuning never ends below them on validation
            study.enqueue_trial(start, skip_if_exists=True)
        if workers == 1:
            _optimize(study, objective, trials, minutes, on_trial, should_stop)
        else:
            # the workers get their own objective: a cancel flag cannot cross processes
            shared = Objective(model_name, data, search, base)
            run_workers(spec_storage, name, shared, trials, minutes, workers, seed, should_stop)
            study = optuna.load_study(study_name=name, storage=open_storage(spec_storage))
        if should_stop is not None and should_stop():
            # stopped between trials: nothing is chosen from a study cut short
            raise FitCancelled(f"tuning was cancelled after {len(study.trials)} trials")
        elapsed = (time.perf_counter() - t0) / 60.0
        result = _result(study, study_id, name, describe_storage(spec_storage), elapsed, budget)
        if result.best_trial is None:
            raise RecsysError(
                f"no trial of study {name} completed ({len(result.trials)} pruned or failed); "
                "widen the search space or raise the budget"
            )
        result.run_id = _train_best(store, split_id, model_name, result, opts, should_stop)
    except FitCancelled as exc:
        store.finish_study(study_id, "cancelled", error=str(exc))
        raise
    except BaseException as exc:
        store.finish_study(study_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    store.finish_study(study_id, "succeeded", summary=result.tuning, best_run_id=result.run_id)
    return result


def default_pruner() -> Any:
    """The median stopping rule: from the third trial on, stop a trial whose validation
    NDCG@10 at an epoch (after the second) is below the median of earlier trials there."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)


def _check_budget(
    trials: int | None, minutes: float | None, workers: int
) -> tuple[int | None, float | None, int]:
    if trials is None and minutes is None:
        raise ConfigError("a study needs a budget: a number of trials and/or minutes")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int)):
        raise ConfigError(f"trials must be a whole number (got {trials!r})")
    if trials is not None and trials < 1:
        raise ConfigError(f"trials must be at least 1 (got {trials})")
    if minutes is not None and (isinstance(minutes, bool) or not minutes > 0):
        raise ConfigError(f"minutes must be a number > 0 (got {minutes!r})")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a whole number >= 1 (got {workers!r})")
    if trials is not None and workers > trials:
        raise ConfigError(f"workers ({workers}) cannot exceed trials ({trials})")
    return trials, None if minutes is None else float(minutes), workers


def _optimize(
    study: Any,
    objective: Objective,
    trials: int | None,
    minutes: float | None,
    on_trial: TrialFn | None = None,
    should_stop: StopFn | None = None,
) -> None:
    """Run trials in this process until the budget is spent or ``should_stop()``."""

    def after_trial(study: Any, trial: Any) -> None:
        if on_trial is not None:
            on_trial(trial_row(trial))
        if should_stop is not None and should_stop():
            study.stop()

    t0 = time.perf_counter()
    # the first trial (the defaults) always runs: Optuna checks its timeout before each
    # trial, so a tiny minutes budget on a busy machine could otherwise start none
    study.optimize(objective, n_trials=1, callbacks=[after_trial], catch=(ConfigError,))
    left = None if trials is None else trials - 1
    if left == 0 or (should_stop is not None and should_stop()):
        return
    timeout = None
    if minutes is not None:
        timeout = minutes * 60.0 - (time.perf_counter() - t0)
        if timeout <= 0:
            return
    study.optimize(
        objective, n_trials=left, timeout=timeout, callbacks=[after_trial], catch=(ConfigError,)
    )


def _result(
    study: Any, study_id: int, name: str, storage: str, minutes: float, budget: dict[str, Any]
) -> TuneResult:
    import optuna

    frozen = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    rows = [trial_row(t) for t in frozen]
    states = [t.state for t in frozen]
    complete = [t for t in frozen if t.state == optuna.trial.TrialState.COMPLETE]
    result = TuneResult(study_id=study_id, study_name=name, storage=storage, trials=rows)
    result.tuning = {
        "study_id": study_id,
        "study": name,
        "trials": len(frozen),
        "complete": len(complete),
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "failed": states.count(optuna.trial.TrialState.FAIL),
        "minutes": round(minutes, 3),
        "budget": budget,
        "metric": f"validation {METRIC}",
    }
    if complete:
        best = max(complete, key=lambda t: t.value)
        config = dict(best.user_attrs["config"])
        if best.user_attrs.get("best_epoch"):  # Keras: the epochs early stopping kept
            config["epochs"] = int(best.user_attrs["best_epoch"])
        result.best_trial, result.best_value = int(best.number), float(best.value)
        result.best_config = config
        result.tuning["best_trial"] = result.best_trial
        result.tuning[f"validation_{METRIC}"] = result.best_value
    return result


def _train_best(
    store: Store,
    split_id: int,
    model_name: str,
    result: TuneResult,
    options: EvalOptions,
    should_stop: StopFn | None,
) -> int:
    """Train the best config as a normal run (evaluated once on test) with its budget."""
    from recsys_engine.runs import execute_run, queue_run

    run_id = queue_run(store, split_id, model_name, result.best_config, options=options)
    store.set_run_tuning(run_id, result.tuning)
    execute_run(store, run_id, should_stop=should_stop)
    run = store.get_run(run_id)
    if run["status"] != "succeeded":
        raise RecsysError(f"the tuned run {run_id} {run['status']}: {run['error']}")
    return run_id
