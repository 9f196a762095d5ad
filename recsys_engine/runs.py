"""The run lifecycle: queue, execute (fit, evaluate, save), reload, re-evaluate, delete.

A run is one model config trained on one split and evaluated with ``evaluation.evaluate``;
its status, timings, result rows and artefact folder live in the ``Store``. The background
jobs (``jobs.JobRunner``) and the CLI both call ``execute_run``, so a run behaves the same
whichever way it was started.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_engine.errors import ConfigError, FitCancelled, RecsysError
from recsys_engine.evaluation import EvalOptions, EvaluationResult, evaluate
from recsys_engine.models import get_model
from recsys_engine.models.base import ProgressFn, Recommender, StopFn
from recsys_engine.models.data import split_order_problem
from recsys_engine.models.keras_backend import keras_backend
from recsys_engine.models.keras_files import KerasFiles
from recsys_engine.split_data import load_split_data
from recsys_engine.store import Store


def queue_run(
    store: Store,
    split_id: int,
    model_name: str,
    config: dict[str, Any] | None = None,
    *,
    options: EvalOptions | dict[str, Any] | None = None,
) -> int:
    """Validate a model config and create a ``queued`` run; returns its id.

    Nothing is written when the model name, config or options are invalid, or when an
    order-aware model (``needs_order``) is asked to train on a split that does not keep
    time order (e.g. random).
    """
    model_config = check_run(store, split_id, model_name, config)
    opts = options if isinstance(options, EvalOptions) else EvalOptions.from_dict(options)
    split = store.get_split(split_id)
    return store.create_run(
        split["dataset_id"],
        split_id,
        model_name,
        model_config.to_dict(),
        status="queued",
        options=opts.to_dict(),
    )


def check_run(
    store: Store, split_id: int, model_name: str, config: dict[str, Any] | None = None
) -> Any:
    """The validated config of a run about to be queued (``ConfigError`` otherwise).

    Settings ``config`` leaves out take the model's defaults for this kind of split
    (``ModelConfig.split_defaults``, e.g. Content-based on a cold-items split). Besides the
    model name and config, checks what the model needs from the split: an
    order-aware model (``needs_order``) is refused on a split that does not keep time order
    (e.g. random), and ``use_context`` on a dataset without context, before anything is
    queued rather than after a failed fit; ``use_content`` likewise on a dataset without
    item content.
    """
    spec = get_model(model_name)
    strategy = store.get_split(split_id)["strategy"]
    model_config = spec.config_class.from_dict(spec.config_class.for_split(strategy, config))
    if spec.cls.needs_order:
        problem = split_order_problem(strategy)
        if problem is not None:
            raise ConfigError(
                f"model {model_name!r} learns from the order of events, but {problem}"
            )
    if getattr(model_config, "use_context", False):
        dataset_id = store.get_split(split_id)["dataset_id"]
        if not store.context_fields(dataset_id):
            raise ConfigError(
                f"use_context is on, but dataset {dataset_id} has no context: upload the "
                "interactions with columns mapped as context (device, country, ...) or "
                "with derived hour/weekday, or turn use_context off"
            )
    if getattr(model_config, "use_content", False):
        _check_item_content(store, store.get_split(split_id)["dataset_id"], model_config)
    return model_config


def _check_item_content(store: Store, dataset_id: int, model_config: Any) -> None:
    """Refuse ``use_content`` on a dataset whose items have no content features.

    Raises:
        ConfigError: no title, text, categories, numeric columns or review text.
    """
    from recsys_engine.item_content import probe_item_content
    from recsys_engine.models.features import item_features

    items = probe_item_content(store, dataset_id)
    ids = items["item_id"].astype(str).to_numpy() if len(items) else []
    if item_features(items, ids, model_config.feature_options()).n_features == 0:
        raise ConfigError(
            f"use_content is on, but dataset {dataset_id} has no item content: upload an "
            "items file (title, text, categories or numeric columns) or review text with "
            "the interactions, or turn use_content off"
        )


def execute_run(
    store: Store,
    run_id: int,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    stopped_as: Callable[[], tuple[str, str] | None] | None = None,
) -> None:
    """Fit, evaluate and save a ``queued`` run (the background jobs' executor).

    On success the run is ``succeeded`` with timings, artefact path and its metrics,
    per-user metrics and recommendations (written in one transaction). When
    ``should_stop()`` turns True it is ``cancelled``, unless ``stopped_as()`` then gives
    another (status, error): a training process whose server died records ``interrupted``
    in one write, so no reader ever sees it ``cancelled`` on the way. On any error it is
    ``failed`` with the error text, without result rows or artefacts, and the exception
    propagates. A run that is no longer queued (e.g. cancelled meanwhile) is left alone.
    """
    run = store.get_run(run_id)
    if run["status"] != "queued":
        return
    store.set_run_status(run_id, "running")
    path = Path(store.artefact_dir) / f"run_{run_id}"
    t0 = time.perf_counter()

    def fit_progress(done: int, total: int, info: dict[str, Any]) -> None:
        val = next((v for k, v in info.items() if k.startswith("val_")), None)
        store.add_progress(
            run_id,
            epoch=info.get("epoch"),
            step=int(done),
            total=int(total),
            loss=info.get("loss"),
            val_metric=val,
            stage="fit",
            wall_time=time.perf_counter() - t0,
        )
        if on_progress is not None:
            on_progress(done, total, {"stage": "fit", "detail": info})

    last_eval = [0.0]

    def eval_progress(done: int, total: int, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if done >= total or now - last_eval[0] > 0.5:  # a row per half second at most
            last_eval[0] = now
            store.add_progress(
                run_id, step=int(done), total=int(total), stage="evaluate", wall_time=now - t0
            )
        if on_progress is not None:
            on_progress(done, total, info)

    try:
        spec = get_model(run["model"])
        model = spec.cls(spec.config_class.from_dict(run["config"]))
        opts = EvalOptions.from_dict(run["options"])
        data = load_split_data(store, run["split_id"], opts.positive_threshold)
        if isinstance(model, KerasFiles):  # a Keras model imports Keras (~4 s) on first use
            keras_backend(catalogue_items=data.train.n_items)
        t_fit = time.perf_counter()  # fit time excludes loading the split and imports
        model.fit(data.train, on_progress=fit_progress, should_stop=should_stop)
        fit_seconds = time.perf_counter() - t_fit
        # a step-0 row marks the start of evaluation: its pace (and the run's ETA,
        # run_eta.py) is known after the first batch of users
        store.add_progress(
            run_id,
            step=0,
            total=int((data.test.getnnz(axis=1) > 0).sum()),
            stage="evaluate",
            wall_time=time.perf_counter() - t0,
        )
        result = evaluate(model, data, opts, on_progress=eval_progress)
        # Run ids are never reused within a database, so anything already here is left
        # over from an earlier file at this path: start from an empty folder.
        shutil.rmtree(path, ignore_errors=True)
        model.save(path)
        store.write_results(
            run_id,
            result.metrics_frame(),
            result.user_metrics_frame(),
            result.recommendations_frame(data.train.item_ids),
        )
        store.set_run_status(
            run_id,
            "succeeded",
            fit_seconds=fit_seconds,
            eval_seconds=result.info["seconds"],
            artefact_path=str(path),
            eval_info=result.info,
        )
    except FitCancelled as exc:
        status, error = (stopped_as and stopped_as()) or ("cancelled", str(exc))
        store.set_run_status(run_id, status, error=error)
    except BaseException as exc:
        shutil.rmtree(path, ignore_errors=True)
        store.set_run_status(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise


def run_model(
    store: Store,
    split_id: int,
    model_name: str,
    config: dict[str, Any] | None = None,
    on_progress: ProgressFn | None = None,
    *,
    options: EvalOptions | dict[str, Any] | None = None,
    should_stop: StopFn | None = None,
) -> int:
    """Create a run, fit, evaluate, save artefacts and results, in the foreground.

    ``queue_run`` then ``execute_run``; returns the run id (see ``execute_run`` for the
    final statuses). Invalid names/configs raise ``ConfigError`` before anything is written.
    """
    run_id = queue_run(store, split_id, model_name, config, options=options)
    execute_run(store, run_id, on_progress=on_progress, should_stop=should_stop)
    return run_id


def load_run_model(store: Store, run_id: int) -> Recommender:
    """The fitted model saved by a run."""
    run = store.get_run(run_id)
    if run["status"] != "succeeded" or not run["artefact_path"]:
        raise RecsysError(f"run {run_id} has no saved model (status {run['status']})")
    return Recommender.load(run["artefact_path"])


def evaluate_run(
    store: Store,
    run_id: int,
    ks: tuple[int, ...] | None = None,
    on_progress: ProgressFn | None = None,
) -> EvaluationResult:
    """Re-evaluate a finished run from its saved model (e.g. at other K); replaces its
    result rows in one transaction."""
    run = store.get_run(run_id)
    model = load_run_model(store, run_id)
    old = EvalOptions.from_dict(run["options"])
    opts = EvalOptions(
        ks=tuple(ks) if ks else old.ks,
        positive_threshold=old.positive_threshold,
        batch_size=old.batch_size,
    )
    data = load_split_data(store, run["split_id"], opts.positive_threshold)
    result = evaluate(model, data, opts, on_progress=on_progress)
    store.write_results(
        run_id,
        result.metrics_frame(),
        result.user_metrics_frame(),
        result.recommendations_frame(data.train.item_ids),
    )
    store.update_run_evaluation(
        run_id, eval_seconds=result.info["seconds"], eval_info=result.info, options=opts.to_dict()
    )
    return result


def delete_run(store: Store, run_id: int) -> None:
    """Delete a run's rows and its artefact folder."""
    path = store.delete_run(run_id)
    remove_artefacts(store, [path] if path else [])


def remove_artefacts(store: Store, paths: list[str]) -> None:
    """Remove run folders from disk, but only folders this database owns (a tampered or
    foreign ``artefact_path`` is left alone)."""
    for path in paths:
        if store.owns_artefact(path):
            shutil.rmtree(path, ignore_errors=True)


def run_metric_dict(store: Store, run_id: int) -> dict[str, float | None]:
    """A run's stored means keyed like ``"ndcg@10"``."""
    out: dict[str, float | None] = {}
    for row in store.run_metrics(run_id).itertuples(index=False):
        key = row.metric if pd.isna(row.k) else f"{row.metric}@{int(row.k)}"
        out[key] = None if pd.isna(row.value) else float(row.value)
    return out


def last_duration(
    store: Store, dataset_id: int, model: str, config: dict[str, Any]
) -> tuple[int, float] | None:
    """How long the newest succeeded run of ``model`` with exactly ``config`` took on this
    dataset (fit + evaluation seconds), as (run id, seconds); None when there is none.

    The Train page states it next to the presets, so "Quick" and "Thorough" come with the
    time they really took here rather than a guess.
    """
    runs = store.list_runs(int(dataset_id))
    runs = runs[(runs["model"] == model) & (runs["status"] == "succeeded")]
    wanted = get_model(model).config_class.from_dict(config).to_dict()
    for row in runs.itertuples(index=False):  # newest first
        stored = json.loads(row.config) if isinstance(row.config, str) else dict(row.config)
        try:
            same = get_model(model).config_class.from_stored(stored).to_dict() == wanted
        except RecsysError:
            continue
        if same:
            seconds = float(row.fit_seconds or 0.0) + float(row.eval_seconds or 0.0)
            return int(row.id), seconds
    return None
