"""Item, user and tag files: read as text, checked, and turned into rows to store.

Each side file is read by DuckDB with every column as text (``Store.read_text_table``); ids
must be present and unique, numeric columns finite; problems name the file, line and column.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from recsys_engine.errors import Problem
from recsys_engine.ingest.lines import LineMap
from recsys_engine.ingest.plan import (
    FilePlan,
    ItemMapping,
    TagMapping,
    TagNamesMapping,
    UploadPlan,
    UserMapping,
)
from recsys_engine.ingest.rejects import MAX_EXAMPLES, reject_problems
from recsys_engine.store import Store


def _read_side(
    store: Store, f: FilePlan, problems: list[Problem]
) -> tuple[pd.DataFrame, LineMap] | None:
    s = f.sniff
    df, rejects = store.read_text_table(
        str(s.path), s.kind, s.columns, s.sep, s.header, s.encoding, s.quote
    )
    lines = LineMap(s, [int(r["line"]) for r in rejects], len(df))
    problems += reject_problems(f, rejects, lines)
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


def read_items(store: Store, plan: UploadPlan, problems: list[Problem]) -> pd.DataFrame | None:
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
    _report_bad_ids(f, df, ids, m.id_col, rl, problems, combine=m.combine_rows)
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
    out = out[ids != ""].reset_index(drop=True)
    if m.combine_rows and out["item_id"].duplicated().any():
        combined = combine_item_rows(out)
        n_ids = int(out["item_id"].duplicated(keep=False).groupby(out["item_id"]).any().sum())
        problems.append(
            Problem(
                "warning",
                f.name,
                f"combined {len(out):,} rows into {len(combined):,} items: "
                f"{_count(len(out) - len(combined), 'row repeated', 'rows repeated')} one of "
                f"{_count(n_ids, 'item id', 'item ids')} and merged into it (text joined, "
                "categories united, numbers averaged)",
                column=m.id_col,
            )
        )
        out = combined
    return out


def read_users(store: Store, plan: UploadPlan, problems: list[Problem]) -> pd.DataFrame | None:
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


def combine_item_rows(items: pd.DataFrame) -> pd.DataFrame:
    """One row per item id from rows that repeat ids, in first-seen order.

    The first non-empty title is kept; texts are joined with a space in file order;
    categories are united (first-seen order); each numeric column is averaged over the
    rows that have it.
    """
    rows: dict[str, dict[str, Any]] = {}
    for item_id, title, text, cats, numeric in zip(
        items["item_id"],
        items["title"],
        items["text"],
        items["categories"],
        items["numeric"],
        strict=True,
    ):
        r = rows.setdefault(
            item_id, {"title": None, "texts": [], "cats": [], "sums": {}, "counts": {}}
        )
        if r["title"] is None and isinstance(title, str) and title.strip():
            r["title"] = title
        if isinstance(text, str) and text.strip():
            r["texts"].append(text.strip())
        r["cats"] += [c for c in cats if c not in r["cats"]]
        for k, v in (json.loads(numeric) if isinstance(numeric, str) else {}).items():
            r["sums"][k] = r["sums"].get(k, 0.0) + v
            r["counts"][k] = r["counts"].get(k, 0) + 1
    return pd.DataFrame(
        {
            "item_id": list(rows),
            "title": [r["title"] for r in rows.values()],
            "text": [" ".join(r["texts"]) or None for r in rows.values()],
            "categories": [r["cats"] for r in rows.values()],
            "numeric": [
                json.dumps({k: v / r["counts"][k] for k, v in r["sums"].items()})
                if r["sums"]
                else None
                for r in rows.values()
            ],
        }
    )


def _report_bad_ids(
    f: FilePlan,
    df: pd.DataFrame,
    ids: pd.Series,
    col: str,
    lines: LineMap,
    problems: list[Problem],
    combine: bool | None = None,
) -> None:
    """Empty ids (located, first few) and repeated ids (one problem with the real counts).

    ``combine`` is None for files that cannot combine rows (users), else whether the item
    file's rows are combined per id (then repeats are no problem).
    """
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
    if dup.empty or combine:
        return
    first = int(df.index.get_loc(dup.index[0]))
    examples = ", ".join(repr(v) for v in dup.drop_duplicates().head(MAX_EXAMPLES))
    fix = (
        "; tick 'Combine rows per item' to merge each item's rows (text joined, categories "
        "united, numbers averaged), or map another id column"
        if combine is not None
        else "; each id must have one row"
    )
    problems.append(
        Problem(
            "error",
            f.name,
            f"{_count(len(dup), 'row repeats', 'rows repeat')} an id already seen: "
            f"{_count(dup.nunique(), 'id appears', 'ids appear')} more than once "
            f"(e.g. {examples}; the first repeat is on this line){fix}",
            line=_side_line(df, first, lines),
            column=col,
        )
    )


def _count(n: int, one: str, many: str) -> str:
    """``1 row repeats`` / ``2,418 rows repeat``."""
    return f"{n:,} {one if n == 1 else many}"


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
