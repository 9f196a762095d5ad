"""CLI: ``recommend RUN (--user U | --history a,b,c) [--k 10] [--explain] [--json]`` (§8)."""

from __future__ import annotations

import argparse
from typing import Any

from recsys_engine.commands.common import add_json_flag, emit
from recsys_engine.errors import ConfigError
from recsys_engine.explain.wording import item_label
from recsys_engine.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    """Register the ``recommend`` sub-command."""
    p = sub.add_parser(
        "recommend",
        help="top-K recommendations of a run for a user or an ad-hoc history, with reasons",
    )
    p.add_argument("run", help="run id")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", default=None, help="a user id of the run's dataset")
    who.add_argument(
        "--history",
        default=None,
        help="comma-separated item ids (a new user / what-if), oldest first: order-aware "
        "models (sasrec, gru4rec, transitions) read the last as the most recent",
    )
    p.add_argument("--k", type=int, default=10, help="list length (default 10)")
    p.add_argument("--explain", action="store_true", help="add the reasons for every item")
    add_json_flag(p)
    p.set_defaults(func=cmd_recommend)


def cmd_recommend(args: argparse.Namespace, store: Store) -> int:
    from recsys_engine.explain import Explainer

    if args.k < 1:
        raise ConfigError(f"--k must be a positive integer (got {args.k})")
    run_id = store.resolve_run(args.run)
    explainer = Explainer.from_run(store, run_id)
    if args.user is not None:
        rec = explainer.recommend_user(args.user, args.k, explain=args.explain)
    else:
        items = [i.strip() for i in args.history.split(",") if i.strip()]
        if not items:
            raise ConfigError("--history needs at least one item id (got an empty list)")
        rec = explainer.recommend_history(items, args.k, explain=args.explain)
    payload = rec.to_dict()
    if not args.explain:
        for item in payload["items"]:
            item.pop("reasons")
    emit(args, payload, _text(rec, args.explain))
    return 0


def _text(rec: Any, explain: bool) -> str:
    who = f"user {rec.user_id}" if rec.user_id is not None else "the given history"
    lines = [
        f"run {rec.run_id} ({rec.model}): top {rec.k} for {who} ({len(rec.history)} history items)"
    ]
    for it in rec.items:
        hit = "" if it.hit is None else ("  [hit]" if it.hit else "")
        cats = f" [{', '.join(it.categories)}]" if it.categories else ""
        label = item_label(it.title, it.item_id)
        lines.append(f"{it.rank:>3}. {label}{cats}  score {it.score:.4g}{hit}")
        if explain:
            for reason in it.reasons:
                badge = reason.fidelity or "not available"
                lines.append(f"       - {reason.title} ({badge}) {reason.summary}")
            lines.append(
                f"       - popularity percentile {it.popularity_percentile:g}; "
                f"{it.similar_users_chose} of {it.similar_users} users with a similar history "
                "chose it"
            )
    lines.extend(f"note: {n}" for n in rec.notes)
    return "\n".join(lines)
