"""Validation of an upload: plan checks before anything is read, then row checks on the
staged interactions. Every problem names the file and, where it can, the line and column.
"""

from __future__ import annotations

from typing import Any

from recsys_engine.errors import Problem
from recsys_engine.ingest.lines import LineMap
from recsys_engine.ingest.plan import (
    FilePlan,
    InteractionMapping,
    ItemMapping,
    LoadOptions,
    TagMapping,
    TagNamesMapping,
    UploadPlan,
    UserMapping,
)
from recsys_engine.ingest.rejects import MAX_EXAMPLES, reject_problems
from recsys_engine.store import Store
from recsys_engine.store.names import check_name
from recsys_engine.store.readers import StageSource


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
            from recsys_engine.ingest.context import context_plan_problems

            out.extend(context_plan_problems(f))
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


def check_interactions(
    store: Store,
    f: FilePlan,
    src: StageSource,
    table: str,
    opts: LoadOptions,
    rejects: list[dict[str, Any]],
    problems: list[Problem],
) -> dict[str, Any]:
    """Row checks on the staged interactions table; adds located problems to ``problems``.

    Returns the staged counts (rows, users, items, each check's count).
    """
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
    """Every column the plan maps for file ``f`` (each must exist in the file)."""
    m = f.mapping
    if isinstance(m, InteractionMapping):
        cols = (m.user_col, m.item_col, m.value_col, m.time_col, *m.text_cols)
        return [c for c in cols if c] + list(m.context_cols)
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
