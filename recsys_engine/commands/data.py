"""CLI: ``ingest`` (load files as a dataset) and ``datasets`` (list them)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from recsys_engine.commands.common import add_json_flag, emit, terminal_safe, warn
from recsys_engine.errors import ConfigError, ValidationError
from recsys_engine.ingest import (
    DUPLICATE_RULES,
    FilePlan,
    InteractionMapping,
    ItemMapping,
    LoadResult,
    UploadPlan,
    UserMapping,
    guess_plan,
    load_dataset,
)
from recsys_engine.ingest.plan import observed_range, scale_at_load, snap_scale, with_sniff
from recsys_engine.store import Store

FORMATS = {
    "movielens-100k": ("u.data", "u.item", "u.user", "u.genre"),
    "movielens": ("ratings.csv", "movies.csv", "tags.csv"),
    "movielens-1m": ("ratings.dat", "movies.dat", "users.dat"),
    "hetrec-lastfm": ("user_artists.dat", "artists.dat", "tags.dat", "user_taggedartists.dat"),
}


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``ingest`` and ``datasets``."""
    p = sub.add_parser("ingest", help="load files as a new dataset (validated, all or nothing)")
    p.add_argument("--name", required=True, help="dataset name (unique)")
    p.add_argument("--format", choices=[*FORMATS, "auto"], help="a known layout, read from DIR")
    p.add_argument("dir", nargs="?", help="folder holding the files of --format")
    p.add_argument("--interactions", help="interactions file (CSV/TSV/any delimiter, Parquet)")
    p.add_argument("--sep", help="delimiter (default: guessed); use '\\t' for tab")
    p.add_argument("--encoding", choices=["utf-8", "utf-8-sig", "latin-1", "utf-16"])
    p.add_argument("--no-header", action="store_true", help="the file has no header line")
    p.add_argument("--columns", help="comma-separated column names (with --no-header)")
    for role in ("user", "item", "rating", "time"):
        p.add_argument(f"--{role}-col", help=f"column holding the {role}")
    p.add_argument(
        "--context-cols", help="comma-separated columns kept as context (device, country, ...)"
    )
    p.add_argument(
        "--derive-context",
        help="context derived from the time column: hour, weekday or hour,weekday",
    )
    p.add_argument(
        "--review-text-cols",
        help="comma-separated text columns of the interactions file kept as item content "
        "(read per item from each split's training fold only; default: guessed; 'none' keeps "
        "none)",
    )
    p.add_argument("--feedback", choices=["explicit", "implicit"])
    p.add_argument("--rating-scale", help="MIN,MAX of explicit ratings (default: from data)")
    p.add_argument("--duplicates", choices=DUPLICATE_RULES, default="reject")
    p.add_argument("--items", help="item file")
    p.add_argument("--item-id-col")
    p.add_argument("--title-col")
    p.add_argument("--text-col")
    p.add_argument("--categories-col")
    p.add_argument("--categories-sep")
    p.add_argument(
        "--combine-item-rows",
        action="store_true",
        help="combine item file rows that repeat an id (text joined, categories united, "
        "numbers averaged) instead of refusing them",
    )
    p.add_argument("--users", help="user feature file (id column guessed)")
    add_json_flag(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("datasets", help="list datasets")
    add_json_flag(p)
    p.set_defaults(func=cmd_datasets)


def build_cli_plan(args: argparse.Namespace, store: Store) -> UploadPlan:
    """Turn ``ingest`` arguments into an upload plan (guessed, then overridden)."""
    if args.format:
        if not args.dir:
            raise ConfigError("--format needs the folder holding the files (DIR)")
        folder = Path(args.dir)
        if not folder.is_dir():
            raise ConfigError(f"folder {str(folder)!r} does not exist")
        if args.format == "auto":
            paths = sorted(p for p in folder.iterdir() if p.is_file())
        else:
            paths = [folder / n for n in FORMATS[args.format] if (folder / n).is_file()]
            first = FORMATS[args.format][0]
            if not (folder / first).is_file():
                raise ConfigError(f"--format {args.format} needs {first} in {str(folder)!r}")
        return _with_context(_feedback(guess_plan(paths, name=args.name), args, store), args)
    if not args.interactions:
        raise ConfigError("give --interactions FILE, or --format FORMAT DIR")
    paths, roles = [Path(args.interactions)], ["interactions"]
    for extra, role in ((args.items, "items"), (args.users, "users")):
        if extra:
            paths.append(Path(extra))
            roles.append(role)
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"file {str(path)!r} does not exist")
    plan = guess_plan(paths, name=args.name)
    files = []
    # Roles come from the flags, by position (comparing path strings misses "./x.csv").
    for f, role in zip(plan.files, roles, strict=True):
        f = replace(f, role=role)
        if not f.sniff.ok:
            pass  # unreadable: load_dataset reports the file's own problems
        elif role == "interactions":
            f = _override_interactions(f, args)
        elif role == "items":
            f = _override_items(f, args)
        elif not isinstance(f.mapping, UserMapping):
            raise ConfigError(f"cannot find a user id column in {f.name}")
        files.append(f)
    plan = replace(plan, files=tuple(files))
    return _with_context(_feedback(plan, args, store), args)


def _feedback(plan: UploadPlan, args: argparse.Namespace, store: Store) -> UploadPlan:
    """The plan's feedback and scale: ``--feedback`` and ``--rating-scale`` when given
    (``cmd_ingest`` applies the scale), else left to the load, which takes the scale from
    the whole value column in its own read (``LoadOptions.scale_at_load``)."""
    if args.rating_scale:
        return plan
    if not args.feedback:
        return scale_at_load(plan)
    if args.feedback == "implicit":
        opts = replace(plan.options, feedback="implicit", rating_scale=None)
        return replace(plan, options=opts)
    # explicit by request: the first million rows give the scale, or none when they look
    # like counts (explicit all the same: the user said so)
    inter = plan.by_role("interactions")
    lo, hi = observed_range(store, inter[0]) if inter else (None, None)
    scale = plan.options.rating_scale if lo is None or hi is None else snap_scale(lo, hi)
    opts = replace(plan.options, feedback="explicit", rating_scale=scale)
    return replace(plan, options=opts)


def _with_context(plan: UploadPlan, args: argparse.Namespace) -> UploadPlan:
    """Apply ``--context-cols`` / ``--derive-context`` to the interactions mapping."""
    if not (args.context_cols or args.derive_context):
        return plan

    def names(text: str | None) -> tuple[str, ...]:
        return tuple(c.strip() for c in (text or "").split(",") if c.strip())

    files = []
    for f in plan.files:
        if f.role == "interactions" and isinstance(f.mapping, InteractionMapping):
            mapping = replace(
                f.mapping,
                context_cols=names(args.context_cols),
                derived_context=names(args.derive_context),
            )
            f = replace(f, mapping=mapping)
        files.append(f)
    return replace(plan, files=tuple(files))


def _override_interactions(f: FilePlan, args: argparse.Namespace) -> FilePlan:
    changes: dict[str, object] = {}
    if args.sep:
        changes["sep"] = args.sep.replace("\\t", "\t")
    if args.encoding:
        changes["encoding"] = args.encoding
    if args.no_header:
        changes["header"] = False
    if changes:
        f = with_sniff(f, **changes)
    if args.columns:
        names = tuple(c.strip() for c in args.columns.split(","))
        f = replace(f, sniff=replace(f.sniff, columns=names))
    m = f.mapping if isinstance(f.mapping, InteractionMapping) else None
    cols = f.sniff.columns
    user = args.user_col or (m.user_col if m else None) or (cols[0] if cols else None)
    item = args.item_col or (m.item_col if m else None) or (cols[1] if len(cols) > 1 else None)
    if user is None or item is None:
        raise ConfigError(
            f"cannot tell the user and item columns of {f.name}; give --user-col and --item-col"
        )
    value = args.rating_col or (m.value_col if m else None)
    time = args.time_col or (m.time_col if m else None)
    text = m.text_cols if m else ()
    if args.review_text_cols:
        given = tuple(c.strip() for c in args.review_text_cols.split(",") if c.strip())
        text = () if given == ("none",) else given
    mapping = InteractionMapping(user, item, value, time, text_cols=text)
    return replace(f, role="interactions", mapping=mapping)


def _override_items(f: FilePlan, args: argparse.Namespace) -> FilePlan:
    m = f.mapping if isinstance(f.mapping, ItemMapping) else None
    id_col = args.item_id_col or (m.id_col if m else f.sniff.columns[0])
    mapping = ItemMapping(
        id_col=id_col,
        title_col=args.title_col or (m.title_col if m else None),
        text_cols=(args.text_col,) if args.text_col else (m.text_cols if m else ()),
        categories_col=args.categories_col or (m.categories_col if m else None),
        categories_sep=args.categories_sep or (m.categories_sep if m else "|"),
        numeric_cols=m.numeric_cols if m else (),
        combine_rows=bool(getattr(args, "combine_item_rows", False)),
    )
    return replace(f, role="items", mapping=mapping)


def cmd_ingest(args: argparse.Namespace, store: Store) -> int:
    """Validate and load; on problems print each on stderr and exit 1."""
    plan = build_cli_plan(args, store)
    opts = plan.options
    if args.duplicates:
        opts = replace(opts, duplicates=args.duplicates)
    if args.rating_scale:
        try:
            lo, hi = (float(x) for x in args.rating_scale.split(","))
        except ValueError:
            raise ConfigError(
                f"--rating-scale must be MIN,MAX (got {args.rating_scale!r})"
            ) from None
        # a scale given means ratings, unless --feedback says otherwise
        opts = replace(opts, feedback=args.feedback or "explicit", rating_scale=(lo, hi))
    plan = replace(plan, options=opts)
    try:
        result = load_dataset(store, plan)
    except ValidationError as exc:
        for p in exc.problems:
            print(terminal_safe(f"  {p.severity}: {p}"), file=_stderr())
        n = len(exc.errors)
        raise ConfigError(
            f"{n} problem{'s' if n > 1 else ''} found (listed above); nothing was written"
        ) from None
    for w in result.warnings:
        warn(w)
    emit(
        args,
        result.as_dict(),
        f"loaded dataset {result.dataset_id} {result.name!r}: {result.n_interactions:,} "
        f"interactions, {result.n_users:,} users, {result.n_items:,} items; "
        + _values_read_as(result),
    )
    return 0


def _values_read_as(result: LoadResult) -> str:
    """How the loaded values are read, for the ``ingest`` summary line."""
    if result.feedback == "implicit":
        return "values read as implicit feedback (weights)"
    if result.rating_scale is None:
        return "ratings with no declared scale"
    lo, hi = result.rating_scale
    return f"ratings on a {lo:g}–{hi:g} scale"


def cmd_datasets(args: argparse.Namespace, store: Store) -> int:
    """List datasets with their counts."""
    df = store.list_datasets()
    rows = [
        {
            "dataset_id": int(r.id),
            "name": r.name,
            "feedback": r.feedback,
            "n_interactions": int(r.n_interactions),
            "n_users": int(r.n_users),
            "n_items": int(r.n_items),
            "created_at": str(r.created_at),
        }
        for r in df.itertuples()
    ]
    lines = [
        f"{'id':>4}  {'name':<32} {'feedback':<9} {'interactions':>12} {'users':>8} {'items':>8}"
    ]
    for r in rows:
        lines.append(
            f"{r['dataset_id']:>4}  {r['name'][:32]:<32} {r['feedback']:<9} "
            f"{r['n_interactions']:>12,} {r['n_users']:>8,} {r['n_items']:>8,}"
        )
    if not rows:
        lines = ["no datasets yet: load one with `ingest`"]
    emit(args, {"datasets": rows}, "\n".join(lines))
    return 0


def _stderr():
    import sys

    return sys.stderr
