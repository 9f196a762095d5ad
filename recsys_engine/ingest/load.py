"""Validate an upload plan completely, then load it in one transaction.

Errors block the load and nothing is written; warnings are stored with the dataset.
Every problem names the file, and where it can the line and the column.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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
from recsys_engine.ingest.timeparse import detect_time_format
from recsys_engine.store import Store
from recsys_engine.store.datasets import check_name
from recsys_engine.store.staging import (
    FastPathRefused,
    StageSource,
    fast_insert_interactions,
    read_text_table,
    set_dataset_warnings,
    unknown_items,
)

MAX_EXAMPLES = 3
MAX_REJECTS_SHOWN = 10

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
        items = _read_items(store, plan, problems)
        users = _read_users(store, plan, problems)
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
        with store.transaction() as cur:
            did = store.insert_dataset_row(
                cur,
                name=opts.name,
                feedback=opts.feedback,
                rating_scale=scale,
                sources=sources,
                warnings=warnings,
            )
            store.insert_staged_interactions(cur, staged.table, did, opts.feedback, opts.duplicates)
            if items is not None:
                store.insert_frame(cur, "items", did, items)
            if users is not None:
                store.insert_frame(cur, "users", did, users)
            counts = store.finish_dataset(cur, did)
        progress(4, 4, "done")
    finally:
        store.drop_stage(staged.table)
    return LoadResult(dataset_id=did, name=opts.name.strip(), warnings=warnings, **counts)


def _fast_load(
    store: Store, plan: UploadPlan, src: StageSource, problems: list[Problem], progress: Progress
) -> LoadResult | None:
    """Single-pass load of a clean file (the common case); None when anything needs the
    careful staged path, which then reports every problem with its line."""
    opts = plan.options
    inter = plan.by_role("interactions")[0]
    items = _read_items(store, plan, problems)
    users = _read_users(store, plan, problems)
    if any(p.severity == "error" for p in problems):
        return None
    scale = opts.rating_scale if opts.feedback == "explicit" else None
    sources = [_source_entry(f) for f in plan.files if f.role != "ignore"]
    progress(1, 4, f"loading {inter.name}")
    try:
        with store.transaction() as cur:
            did = store.insert_dataset_row(
                cur,
                name=opts.name,
                feedback=opts.feedback,
                rating_scale=scale,
                sources=sources,
                warnings=[],
            )
            known = fast_insert_interactions(cur, src, did, opts.feedback, scale)
            progress(3, 4, "writing item and user files")
            if items is not None:
                store.insert_frame(cur, "items", did, items)
                n_unknown, examples = unknown_items(cur, did)
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
                store.insert_frame(cur, "users", did, users)
            warnings = [str(p) for p in problems if p.severity == "warning"]
            set_dataset_warnings(cur, did, warnings)
            counts = store.finish_dataset(cur, did, known)
    except FastPathRefused:
        return None
    progress(4, 4, "done")
    return LoadResult(dataset_id=did, name=opts.name.strip(), warnings=warnings, **counts)


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


def _reject_problems(f: FilePlan, rejects: list[dict[str, Any]], lines: LineMap) -> list[Problem]:
    out: list[Problem] = []
    seen_lines: set[int] = set()
    width = len(f.sniff.columns)
    # One message per line; a wrong field count explains a failed cast on the same line.
    ragged = ("TOO MANY COLUMNS", "MISSING COLUMNS")
    for r in sorted(rejects, key=lambda r: (int(r["line"]), r["error_type"] not in ragged)):
        if int(r["line"]) in seen_lines:
            continue
        seen_lines.add(int(r["line"]))
        line = lines.reject(int(r["line"]))
        kind = str(r["error_type"])
        col = r["column_name"] if isinstance(r["column_name"], str) else None
        if kind == "CAST":
            value = _cell(r.get("csv_line", ""), f, col)
            msg = f"{value!r} is not a number"
        elif kind in ragged:
            n = _field_count(r.get("csv_line", ""), f)
            msg = f"the line has {n} fields; expected {width} (ragged row)"
            col = None
        elif kind in ("INVALID ENCODING", "INVALID UNICODE"):
            msg = (
                "bytes that are not valid UTF-8; the file may be latin-1 encoded "
                "(choose that encoding)"
            )
        elif kind == "UNQUOTED VALUE":
            msg = "a quote character inside an unquoted value"
        else:
            msg = str(r["error_message"])
        out.append(Problem("error", f.name, msg, line=line, column=col))
    if len(out) > MAX_REJECTS_SHOWN:
        extra = len(out) - MAX_REJECTS_SHOWN
        out = out[:MAX_REJECTS_SHOWN] + [
            Problem("error", f.name, f"{extra} more unreadable lines not listed")
        ]
    return out


def _cell(csv_line: Any, f: FilePlan, col: str | None) -> str:
    from recsys_engine.ingest.sniff import split_rows

    if not isinstance(csv_line, str) or col not in f.sniff.columns:
        return ""
    rows = split_rows([_strip_breaks(csv_line)], f.sniff.sep, f.sniff.quote)
    j = f.sniff.columns.index(col)
    return rows[0][j] if rows and j < len(rows[0]) else ""


def _field_count(csv_line: Any, f: FilePlan) -> int:
    from recsys_engine.ingest.sniff import split_rows

    if not isinstance(csv_line, str):
        return 0
    rows = split_rows([_strip_breaks(csv_line)], f.sniff.sep, f.sniff.quote)
    return len(rows[0]) if rows else 0


def _strip_breaks(csv_line: str) -> str:
    """DuckDB's ``csv_line`` of a CRLF file, or after blank lines, starts with line breaks."""
    return csv_line.strip("\r\n")


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
    problems += _reject_problems(f, rejects, lines)
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


# -- side files ---------------------------------------------------------------------------
def _read_side(
    store: Store, f: FilePlan, problems: list[Problem]
) -> tuple[pd.DataFrame, LineMap] | None:
    s = f.sniff
    df, rejects = read_text_table(
        store.cursor(), str(s.path), s.kind, s.columns, s.sep, s.header, s.encoding, s.quote
    )
    lines = LineMap(s, [int(r["line"]) for r in rejects], len(df))
    problems += _reject_problems(f, rejects, lines)
    if df.empty and not rejects:
        problems.append(Problem("error", f.name, "the file has no data rows"))
        return None
    return df, lines


def _read_role(
    store: Store, plan: UploadPlan, role: str, problems: list[Problem]
) -> tuple[FilePlan, pd.DataFrame, LineMap] | None:
    """The plan's file for ``role`` read as text columns; None when absent or empty."""
    files = plan.by_role(role)
    if not files:
        return None
    side = _read_side(store, files[0], problems)
    return None if side is None else (files[0], *side)


def _read_items(store: Store, plan: UploadPlan, problems: list[Problem]) -> pd.DataFrame | None:
    tags = _read_tags(store, plan, problems)
    if not plan.by_role("items"):
        if tags is None:
            return None
        return pd.DataFrame({"item_id": list(tags.index), "text": list(tags.values)})
    side = _read_role(store, plan, "items", problems)
    if side is None:
        return None
    f, df, rl = side
    m = f.mapping
    assert isinstance(m, ItemMapping)
    ids = df[m.id_col].str.strip()
    _report_bad_ids(f, df, ids, m.id_col, rl, problems)
    out = pd.DataFrame({"item_id": ids})
    out["title"] = df[m.title_col] if m.title_col else None
    text = None
    for c in m.text_cols:
        text = df[c] if text is None else text.str.cat(df[c], sep=" ")
    if tags is not None:
        t = ids.map(tags).fillna("")
        text = t if text is None else text.str.cat(t, sep=" ")
    out["text"] = text.str.strip() if text is not None else None
    cats: list[list[str]] = [[] for _ in range(len(df))]
    if m.categories_col:
        sep = m.categories_sep or "|"
        cats = [
            [c.strip() for c in v.split(sep) if c.strip() and c.strip() != "(no genres listed)"]
            for v in df[m.categories_col]
        ]
    for flag in m.flag_cols:
        col = df[flag].str.strip()
        bad = ~col.isin(["0", "1", ""])
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"category flag {df[flag].iloc[i]!r} is not 0 or 1",
                    line=_side_line(df, i, rl),
                    column=flag,
                )
            )
            continue
        for i in (col == "1").to_numpy().nonzero()[0]:
            cats[i].append(flag)
    out["categories"] = cats
    out["numeric"] = _numeric_json(f, df, m.numeric_cols, rl, problems)
    return out.reset_index(drop=True)


def _read_users(store: Store, plan: UploadPlan, problems: list[Problem]) -> pd.DataFrame | None:
    side = _read_role(store, plan, "users", problems)
    if side is None:
        return None
    f, df, lines = side
    m = f.mapping
    assert isinstance(m, UserMapping)
    ids = df[m.id_col].str.strip()
    _report_bad_ids(f, df, ids, m.id_col, lines, problems)
    feats = df[list(m.feature_cols)] if m.feature_cols else pd.DataFrame(index=df.index)
    features = [json.dumps(_typed(row), ensure_ascii=False) for row in feats.to_dict("records")]
    return pd.DataFrame({"user_id": ids, "features": features})


def _read_tags(store: Store, plan: UploadPlan, problems: list[Problem]) -> pd.Series | None:
    """Tags per item joined into one text string (tag ids resolved via a tag-names file)."""
    side = _read_role(store, plan, "tags", problems)
    if side is None:
        return None
    f, df, _ = side
    m = f.mapping
    assert isinstance(m, TagMapping)
    tags = df[m.tag_col].str.strip()
    names = _read_role(store, plan, "tag_names", problems)
    if names is not None:
        nf, ndf, _ = names
        nm = nf.mapping
        assert isinstance(nm, TagNamesMapping)
        lookup = dict(zip(ndf[nm.id_col].str.strip(), ndf[nm.value_col], strict=True))
        tags = tags.map(lookup).fillna("")
    frame = pd.DataFrame({"item_id": df[m.item_col].str.strip(), "tag": tags.str.lower()})
    frame = frame[frame["tag"] != ""]
    # Most frequent tags first, at most 20 per item, so text stays readable.
    counts = frame.groupby(["item_id", "tag"]).size().reset_index(name="n")
    counts = counts.sort_values(["item_id", "n", "tag"], ascending=[True, False, True])
    top = counts.groupby("item_id").head(20)
    return top.groupby("item_id")["tag"].agg(lambda s: " ".join(s))


def _report_bad_ids(
    f: FilePlan, df: pd.DataFrame, ids: pd.Series, col: str, lines: LineMap, problems: list[Problem]
) -> None:
    empty = (ids == "").to_numpy().nonzero()[0]
    for i in empty[:MAX_EXAMPLES]:
        problems.append(
            Problem(
                "error",
                f.name,
                "the id is missing or empty",
                line=_side_line(df, int(i), lines),
                column=col,
            )
        )
    dup = ids[ids.duplicated(keep="first") & (ids != "")]
    for i in dup.index[:MAX_EXAMPLES]:
        pos = int(df.index.get_loc(i))
        problems.append(
            Problem(
                "error",
                f.name,
                f"id {ids.loc[i]!r} appears more than once",
                line=_side_line(df, pos, lines),
                column=col,
            )
        )


def _side_line(df: pd.DataFrame, pos: int, lines: LineMap) -> int:
    return lines.row(int(df["_row"].iloc[pos]))


def _numeric_json(
    f: FilePlan, df: pd.DataFrame, cols: tuple[str, ...], lines: LineMap, problems: list[Problem]
) -> list[str | None]:
    if not cols:
        return [None] * len(df)
    values: dict[str, pd.Series] = {}
    for c in cols:
        num = pd.to_numeric(df[c].str.strip().replace("", None), errors="coerce")
        bad = num.isna() & (df[c].str.strip() != "")
        bad |= num.abs() == math.inf
        for i in bad.to_numpy().nonzero()[0][:MAX_EXAMPLES]:
            problems.append(
                Problem(
                    "error",
                    f.name,
                    f"{df[c].iloc[i]!r} is not a finite number",
                    line=_side_line(df, int(i), lines),
                    column=c,
                )
            )
        values[c] = num
    out = []
    for i in range(len(df)):
        d = {c: float(values[c].iloc[i]) for c in cols if not pd.isna(values[c].iloc[i])}
        out.append(json.dumps(d) if d else None)
    return out


def _typed(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        v = (v or "").strip()
        try:
            num = float(v)
            out[k] = num if math.isfinite(num) else v
        except ValueError:
            out[k] = v
    return out


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
