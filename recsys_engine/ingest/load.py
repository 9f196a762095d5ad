"""Validate an upload plan completely, then load it in one transaction.

Errors block the load and nothing is written; warnings are stored with the dataset.
Every problem names the file, and where it can the line and the column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys_engine.errors import Problem, ValidationError
from recsys_engine.ingest.lines import LineMap
from recsys_engine.ingest.plan import (
    FilePlan,
    InteractionMapping,
    ItemMapping,
    TagMapping,
    TagNamesMapping,
    UploadPlan,
    UserMapping,
    stage_source,
)
from recsys_engine.ingest.rejects import MAX_EXAMPLES, reject_problems
from recsys_engine.ingest.side_files import read_items, read_users
from recsys_engine.ingest.timeparse import detect_time_format
from recsys_engine.store import Store
from recsys_engine.store.fast_load import FastPathRefused
from recsys_engine.store.names import check_name
from recsys_engine.store.readers import StageSource

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class LoadResult:
    """What a successful load stored."""

    dataset_id: int
    name: str
    n_interactions: int
    n_users: int
    n_items: int
    n_catalog_items: int
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json`` output)."""
        return {
            "dataset_id": self.dataset_id,
            "name": self.name,
            "n_interactions": self.n_interactions,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_catalog_items": self.n_catalog_items,
            "warnings": self.warnings,
        }


def validate_plan(store: Store, plan: UploadPlan) -> list[Problem]:
    """Checks that need no reading: roles, mapped columns, name. Errors and warnings."""
    out: list[Problem] = []
    opts = plan.options
    try:
        name = check_name(opts.name)
        if store.dataset_name_exists(name):
            out.append(
                Problem(
                    "error",
                    "dataset",
                    f"a dataset named {name!r} already exists; choose another name",
                )
            )
    except Exception as exc:  # ConfigError
        out.append(Problem("error", "dataset", str(exc)))
    for f in plan.files:
        if f.role != "ignore":
            out.extend(f.sniff.problems)
    inter = plan.by_role("interactions")
    if not inter:
        out.append(Problem("error", "upload", "no file is marked as the interactions file"))
    elif len(inter) > 1:
        names = ", ".join(f.name for f in inter)
        out.append(Problem("error", "upload", f"only one interactions file is allowed ({names})"))
    for role in ("items", "users", "tag_names"):
        if len(plan.by_role(role)) > 1:
            out.append(
                Problem("error", "upload", f"only one {role.replace('_', ' ')} file is allowed")
            )
    for f in plan.files:
        if f.role == "ignore" or not f.sniff.ok:
            continue
        for col in _mapped_columns(f):
            if col not in f.sniff.columns:
                out.append(
                    Problem(
                        "error",
                        f.name,
                        f"mapped column {col!r} is not in the file "
                        f"(columns: {', '.join(f.sniff.columns)})",
                    )
                )
        if isinstance(f.mapping, InteractionMapping):
            m = f.mapping
            if m.user_col == m.item_col:
                out.append(
                    Problem(
                        "error",
                        f.name,
                        "user and item must be different columns",
                        column=m.user_col,
                    )
                )
            if opts.feedback == "explicit" and not m.value_col:
                out.append(
                    Problem(
                        "error",
                        f.name,
                        "explicit feedback needs a rating column; "
                        "map one or choose implicit feedback",
                    )
                )
    return out


def load_dataset(store: Store, plan: UploadPlan, on_progress: Progress | None = None) -> LoadResult:
    """Validate every file of ``plan`` and load it as a new dataset in one transaction.

    Raises:
        ValidationError: with every problem found; the database is unchanged.
    """
    progress = on_progress or (lambda done, total, info: None)
    problems = validate_plan(store, plan)
    if any(p.severity == "error" for p in problems):
        raise ValidationError(problems)
    opts = plan.options
    inter = plan.by_role("interactions")[0]
    progress(0, 4, f"reading {inter.name}")
    src, time_note = _stage_source(store, inter)
    if time_note:
        problems.append(Problem("warning", inter.name, time_note, column=src.time_col))
    if opts.duplicates == "reject" and src.kind == "csv":
        result = _fast_load(store, plan, src, list(problems), progress)
        if result is not None:
            return result
    staged = store.stage_interactions(src)
    try:
        progress(1, 4, "checking interactions")
        stats = _check_interactions(store, inter, src, staged.table, opts, staged.rejects, problems)
        progress(2, 4, "reading item and user files")
        items = read_items(store, plan, problems)
        users = read_users(store, plan, problems)
        if items is not None and not any(p.severity == "error" for p in problems):
            n_unknown, examples = store.stage_unknown_items(staged.table, items["item_id"].tolist())
            if n_unknown:
                problems.append(
                    Problem(
                        "warning",
                        inter.name,
                        f"{n_unknown} item ids are not in the item file "
                        f"(e.g. {', '.join(map(repr, examples))}); they get no title or content",
                        column=src.item_col,
                    )
                )
        if any(p.severity == "error" for p in problems):
            raise ValidationError(problems)
        warnings = [str(p) for p in problems if p.severity == "warning"]
        if stats["duplicate_rows"] and opts.duplicates != "reject":
            removed = stats["duplicate_rows"] - stats["duplicate_pairs"]
            verb = "kept the last" if opts.duplicates == "keep-last" else "summed the weights"
            warnings.append(
                f"{removed} duplicate rows merged ({verb} of each): "
                f"{stats['duplicate_pairs']} (user, item) pairs occur more than once "
                f"in {inter.name}"
            )
        progress(3, 4, "writing")
        sources = [_source_entry(f) for f in plan.files if f.role != "ignore"]
        scale = opts.rating_scale if opts.feedback == "explicit" else None
        with store.transaction():
            did = store.insert_dataset_row(
                name=opts.name,
                feedback=opts.feedback,
                rating_scale=scale,
                sources=sources,
                warnings=warnings,
            )
            store.insert_staged_interactions(staged.table, did, opts.feedback, opts.duplicates)
            if items is not None:
                store.insert_frame("items", did, items)
            if users is not None:
                store.insert_frame("users", did, users)
            counts = store.finish_dataset(did)
        progress(4, 4, "done")
    finally:
        store.drop_stage(staged.table)
    return LoadResult(dataset_id=did, name=check_name(opts.name), warnings=warnings, **counts)


def _fast_load(
    store: Store, plan: UploadPlan, src: StageSource, problems: list[Problem], progress: Progress
) -> LoadResult | None:
    """Single-pass load of a clean file (the common case); None when anything needs the
    careful staged path, which then reports every problem with its line."""
    opts = plan.options
    inter = plan.by_role("interactions")[0]
    items = read_items(store, plan, problems)
    users = read_users(store, plan, problems)
    if any(p.severity == "error" for p in problems):
        return None
    scale = opts.rating_scale if opts.feedback == "explicit" else None
    sources = [_source_entry(f) for f in plan.files if f.role != "ignore"]
    progress(1, 4, f"loading {inter.name}")
    try:
        with store.transaction():
            did = store.insert_dataset_row(
                name=opts.name,
                feedback=opts.feedback,
                rating_scale=scale,
                sources=sources,
                warnings=[],
            )
            known = store.fast_insert_interactions(src, did, opts.feedback, scale)
            progress(3, 4, "writing item and user files")
            if items is not None:
                store.insert_frame("items", did, items)
                n_unknown, examples = store.unknown_items(did)
                if n_unknown:
                    problems.append(
                        Problem(
                            "warning",
                            inter.name,
                            f"{n_unknown} item ids are not in the item file "
                            f"(e.g. {', '.join(map(repr, examples))}); "
                            "they get no title or content",
                            column=src.item_col,
                        )
                    )
            if users is not None:
                store.insert_frame("users", did, users)
            warnings = [str(p) for p in problems if p.severity == "warning"]
            store.set_dataset_warnings(did, warnings)
            counts = store.finish_dataset(did, known)
    except FastPathRefused:
        return None
    progress(4, 4, "done")
    return LoadResult(dataset_id=did, name=check_name(opts.name), warnings=warnings, **counts)


# -- interactions -------------------------------------------------------------------------
def _stage_source(store: Store, f: FilePlan) -> tuple[StageSource, str | None]:
    m = f.mapping
    assert isinstance(m, InteractionMapping)  # validate_plan guarantees it
    src = stage_source(f)
    if not m.time_col:
        return src, None
    values = store.sample_column(src, m.time_col)
    tf = detect_time_format(values)
    src = StageSource(
        **{**src.__dict__, "time_kind": tf.kind, "time_format": tf.fmt, "time_scale": tf.scale}
    )
    return src, tf.note


def _check_interactions(
    store: Store,
    f: FilePlan,
    src: StageSource,
    table: str,
    opts: Any,
    rejects: list[dict[str, Any]],
    problems: list[Problem],
) -> dict[str, Any]:
    explicit = opts.feedback == "explicit"
    checks = ["empty_user", "empty_item"]
    if src.value_col:
        checks += ["missing_value", "non_finite"]
        if not explicit:
            checks.append("negative")
    if src.time_col:
        checks += ["bad_time", "missing_time"]
    scale = opts.rating_scale if explicit and src.value_col else None
    stats = store.stage_counts(table, checks, scale)
    lines = LineMap(f.sniff, [int(r["line"]) for r in rejects], int(stats["rows"]))
    problems += reject_problems(f, rejects, lines)
    value_name = "rating" if explicit else "weight"
    texts = {
        "empty_user": ("the user id is missing or empty", src.user_col),
        "empty_item": ("the item id is missing or empty", src.item_col),
        "missing_value": (f"the {value_name} is missing", src.value_col),
        "non_finite": (f"the {value_name} is not a finite number", src.value_col),
        "negative": ("the weight is negative", src.value_col),
        "bad_time": ("the time cannot be read as unix seconds or a date", src.time_col),
        "out_of_scale": ("", src.value_col),
    }
    for check in [*checks, "out_of_scale"] if scale else checks:
        n = int(stats.get(check) or 0)
        if not n or check == "missing_time":
            continue
        message, col = texts[check]
        for ex in store.stage_examples(table, check, MAX_EXAMPLES, scale):
            line = lines.row(int(ex["row_index"]))
            msg = message
            if check == "out_of_scale":
                msg = (
                    f"rating {ex['value']:g} is outside the declared scale "
                    f"{scale[0]:g}–{scale[1]:g}"
                )
            elif check == "non_finite" and src.kind == "parquet":
                msg = f"{ex['value_raw']!r} is not a finite number"
            elif check == "missing_value" and ex.get("value_raw") not in (None, ""):
                msg = f"{ex['value_raw']!r} is not a number"
            elif check == "bad_time":
                msg = f"{ex['ts_raw']!r} cannot be read as unix seconds or a date"
            problems.append(Problem("error", f.name, msg, line=line, column=col))
        if n > MAX_EXAMPLES:
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"{n} rows in all have this problem: {message or 'rating outside the scale'}",
                    column=col,
                )
            )
    if stats.get("missing_time"):
        problems.append(
            Problem(
                "warning", f.name, f"{stats['missing_time']} rows have no time", column=src.time_col
            )
        )
    if stats["duplicate_pairs"] and opts.duplicates == "reject":
        for ex in store.stage_duplicate_examples(table, MAX_EXAMPLES):
            at = [lines.row(int(i)) for i in ex["row_indexes"]]
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"user {ex['user_id']!r} and item {ex['item_id']!r} appear more than once "
                    f"(lines {', '.join(map(str, at[:5]))}); choose 'keep last' or 'sum' to merge "
                    "duplicates",
                    line=at[-1],
                )
            )
        if stats["duplicate_pairs"] > MAX_EXAMPLES:
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"{stats['duplicate_pairs']} duplicated (user, item) pairs in all",
                )
            )
    if stats["rows"] == 0 and not rejects:
        problems.append(
            Problem(
                "error",
                f.name,
                "the file has no data rows" + (" (only a header line)" if f.sniff.header else ""),
            )
        )
    elif not any(p.severity == "error" for p in problems):
        if stats["users"] < 2:
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"only {stats['users']} distinct user; a recommender needs at least 2",
                    column=src.user_col,
                )
            )
        if stats["items"] < 2:
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"only {stats['items']} distinct item; a recommender needs at least 2",
                    column=src.item_col,
                )
            )
    return stats


def _mapped_columns(f: FilePlan) -> list[str]:
    m = f.mapping
    if isinstance(m, InteractionMapping):
        return [c for c in (m.user_col, m.item_col, m.value_col, m.time_col) if c]
    if isinstance(m, ItemMapping):
        cols = [
            m.id_col,
            m.title_col,
            m.categories_col,
            *m.text_cols,
            *m.numeric_cols,
            *m.flag_cols,
        ]
        return [c for c in cols if c]
    if isinstance(m, UserMapping):
        return [m.id_col, *m.feature_cols]
    if isinstance(m, TagMapping):
        return [m.item_col, m.tag_col]
    if isinstance(m, TagNamesMapping):
        return [m.id_col, m.value_col]
    return []


def _source_entry(f: FilePlan) -> dict[str, Any]:
    h = hashlib.sha256()
    with f.sniff.path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"file": f.name, "role": f.role, "bytes": f.sniff.size, "sha256": h.hexdigest()}
