"""CLI: ``tune`` (search a model's settings on the validation fold, train the best)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from recsys_engine.commands.common import add_json_flag, emit
from recsys_engine.errors import ConfigError
from recsys_engine.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``tune``."""
    from recsys_engine.models import list_models

    names = ", ".join(s.name for s in list_models())
    p = sub.add_parser(
        "tune",
        help="tune a model on a split's validation fold, then train and test the best config",
    )
    p.add_argument("dataset", help="dataset id or name")
    p.add_argument("--split", required=True, help="split id or name (needs a validation fold)")
    p.add_argument("--model", required=True, help=f"registry name: {names}")
    p.add_argument("--trials", type=int, default=None, help="at most this many trials")
    p.add_argument(
        "--minutes", type=float, default=None, help="no trial starts after this many minutes"
    )
    p.add_argument(
        "--space",
        default=None,
        help='search space overrides as JSON, e.g. \'{"l2": [10, 1000], "binary": true}\'',
    )
    p.add_argument("--workers", type=int, default=1, help="local processes on the study")
    p.add_argument(
        "--storage",
        default=None,
        help="Optuna storage URL or journal file (default: a journal next to the database)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler")
    p.add_argument(
        "--positive-threshold",
        type=float,
        default=None,
        help="ratings >= this count as positive (tuning, train and test)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_tune)


def cmd_tune(args: argparse.Namespace, store: Store) -> int:
    """Run the study, train its best config; print the trials and the tuned run."""
    from recsys_engine.runs import run_metric_dict
    from recsys_engine.tuning import METRIC, tune, tuning_label

    did = store.resolve_dataset(args.dataset)
    split_id = store.resolve_split(args.split, did)
    space = _parse_space(args.space)
    on_trial = None if args.json else _print_trial
    result = tune(
        store,
        split_id,
        args.model,
        trials=args.trials,
        minutes=args.minutes,
        space=space,
        workers=args.workers,
        storage=args.storage,
        seed=args.seed,
        options={"positive_threshold": args.positive_threshold},
        on_trial=on_trial,
    )
    metrics = run_metric_dict(store, result.run_id)
    payload: dict[str, Any] = {
        "study": {
            "id": result.study_id,
            "name": result.study_name,
            "storage": result.storage,
        },
        "trials": result.trials,
        "best_trial": result.best_trial,
        f"best_validation_{METRIC}": result.best_value,
        "best_config": result.best_config,
        "run_id": result.run_id,
        "tuning": result.tuning,
        "test_metrics": metrics,
    }
    test = metrics.get(METRIC)
    text = (
        f"study {result.study_name} (id {result.study_id}, {result.storage})\n"
        f"best trial {result.best_trial}: validation {METRIC} {result.best_value:.4f}\n"
        f"run {result.run_id} ({args.model}, {tuning_label(result.tuning)}): "
        f"test {METRIC} {'-' if test is None else format(test, '.4f')}"
    )
    emit(args, payload, text)
    return 0


def _print_trial(row: dict[str, Any]) -> None:
    value = next((v for k, v in row.items() if k.startswith("validation_")), None)
    shown = "-" if value is None else format(value, ".4f")
    print(
        f"trial {row['number']:>3} {row['state']:<9} {shown}  {json.dumps(row['params'])}",
        file=sys.stderr,
    )


def _parse_space(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        space = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--space is not valid JSON ({exc.msg}): {text!r}") from None
    if not isinstance(space, dict):
        raise ConfigError(f"--space must be a JSON object (got {text!r})")
    return space
