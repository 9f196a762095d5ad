"""CLI: ``split`` (split a dataset into train/validation/test) and ``splits`` (list them)."""

from __future__ import annotations

import argparse
import json
import sys

from recsys_engine.commands.common import add_json_flag, emit, terminal_safe, warn
from recsys_engine.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``split`` and ``splits``."""
    from recsys_engine.splits import STRATEGIES

    p = sub.add_parser("split", help="split a dataset into train/validation/test")
    p.add_argument("dataset", help="dataset id or name")
    p.add_argument("--strategy", choices=STRATEGIES, default="random")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--validation-fraction", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--min-interactions", type=int, default=2)
    p.add_argument("--n-last", type=int, default=1, help="leave-last: test items per user")
    p.add_argument(
        "--validation-last", type=int, default=0, help="leave-last: validation items per user"
    )
    p.add_argument("--cut-date", default=None, help="temporal: ISO date of the test cut")
    p.add_argument("--name", default=None, help="split name (default from the parameters)")
    add_json_flag(p)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser("splits", help="list splits")
    p.add_argument("dataset", nargs="?", default=None)
    add_json_flag(p)
    p.set_defaults(func=cmd_splits)


def cmd_split(args: argparse.Namespace, store: Store) -> int:
    """Compute, store and summarise one split; its warnings go to stderr."""
    from recsys_engine.splits import SplitConfig, create_split, preview_split

    config = SplitConfig(
        strategy=args.strategy,
        test_fraction=args.test_fraction,
        validation_fraction=args.validation_fraction,
        min_interactions=args.min_interactions,
        seed=args.seed,
        cut_date=args.cut_date,
        n_last=args.n_last,
        validation_last=args.validation_last,
    )
    did = store.resolve_dataset(args.dataset)
    preview = preview_split(store, did, config)
    split_id = create_split(store, did, config, name=args.name, preview=preview)
    split = store.get_split(split_id)
    for w in split["stats"]["warnings"]:
        warn(w)
    for note in split["stats"].get("notes", []):
        print(terminal_safe(f"note: {note}"), file=sys.stderr)
    st = split["stats"]
    text = (
        f"split {split_id} '{split['name']}' ({config.strategy}, seed {config.seed}): "
        f"train {st['train_rows']}, validation {st['validation_rows']}, test {st['test_rows']} "
        f"rows; {st['test_users']} test users ({st['test_users_unseen']} unseen in train), "
        f"{st['test_items']} test items ({st['test_items_unseen']} unseen in train)"
    )
    emit(
        args,
        {
            "split_id": split_id,
            "name": split["name"],
            "dataset_id": did,
            "strategy": config.strategy,
            "seed": config.seed,
            "params": split["params"],
            "stats": st,
        },
        text,
    )
    return 0


def cmd_splits(args: argparse.Namespace, store: Store) -> int:
    """List splits (of one dataset when given) with their stats and run counts."""
    did = None if args.dataset is None else store.resolve_dataset(args.dataset)
    frame = store.list_splits(did)
    payload = []
    for row in frame.itertuples(index=False):
        payload.append(
            {
                "split_id": int(row.id),
                "dataset_id": int(row.dataset_id),
                "name": row.name,
                "strategy": row.strategy,
                "seed": row.seed,
                "params": json.loads(row.params),
                "stats": json.loads(row.stats),
                "runs": int(row.n_runs),
            }
        )
    lines = [
        f"{p['split_id']:>4}  {p['name']}  ({p['strategy']}, dataset {p['dataset_id']}, "
        f"{p['stats']['test_users']} test users, {p['runs']} runs)"
        for p in payload
    ]
    emit(args, {"splits": payload}, "\n".join(lines) or "no splits")
    return 0
