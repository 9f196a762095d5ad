"""SQL for loading an interactions file fast: stage it with DuckDB's reader, check, insert.

The file is read once by DuckDB into a temporary table (typed, with reader errors captured
in a rejects table that records the line and column), every check is one aggregate query,
and the insert copies the staged rows; nothing touches the database file until the caller's
transaction inserts, so a failed upload leaves no trace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import duckdb

from recsys_engine.errors import ConfigError
from recsys_engine.store.datasets import first_row

#: Rows scanned to guess a rating scale (the full file is checked at load).
VALUE_RANGE_ROWS = 1_000_000


@dataclass(frozen=True)
class StageSource:
    """How to read one interactions file (all names are the file's own column names)."""

    path: str
    kind: str  # "csv" or "parquet"
    columns: tuple[str, ...]
    user_col: str
    item_col: str
    value_col: str | None = None
    time_col: str | None = None
    sep: str = ","
    quote: str = '"'
    header: bool = True
    encoding: str = "utf-8"
    time_kind: str = "none"  # "none", "epoch", "format" or "auto"
    time_format: str | None = None  # strptime format when time_kind == "format"
    time_scale: float = 1.0  # divide epoch numbers by this (1000 for milliseconds)


@dataclass(frozen=True)
class Staged:
    """A staged file: its temp table name and the reader's rejected lines."""

    table: str
    rejects: list[dict[str, Any]]


#: Row conditions checked on a staged table; fixed SQL fragments, never user text.
CHECKS: dict[str, str] = {
    "empty_user": "user_id IS NULL OR trim(user_id) = ''",
    "empty_item": "item_id IS NULL OR trim(item_id) = ''",
    "missing_value": "value IS NULL",
    "non_finite": "isnan(value) OR isinf(value)",
    "negative": "value < 0",
    "bad_time": "ts_raw IS NOT NULL AND trim(ts_raw) <> '' AND ts IS NULL",
    "missing_time": "ts_raw IS NULL OR trim(ts_raw) = ''",
}

#: 9999-12-31: later (or NaN/infinite) unix times are reported as unreadable.
MAX_EPOCH_SECONDS = 253_402_300_800

#: Ratings outside [?, ?]. NaN and infinity are left to "non_finite" (NaN compares greater
#: than every number in DuckDB, so it would otherwise be reported twice).
OUT_OF_SCALE = "isfinite(value) AND (value < ? OR value > ?)"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class StagingQueries:
    """Mixin of ``Store``: staging, checking and inserting uploaded interactions."""

    def cursor(self) -> duckdb.DuckDBPyConnection:  # provided by Store
        raise NotImplementedError

    def _reader(
        self, src: StageSource, value_type: str, rejects: tuple[str, str] | None = None
    ) -> str:
        """The table function reading ``src``; reader errors go to the ``rejects`` (table,
        scan) temp tables, or are skipped when None (sampling)."""
        if src.kind == "parquet":
            return f"read_parquet({_path_lit(src.path)})"
        types = {c: "VARCHAR" for c in src.columns}
        if src.value_col:
            types[src.value_col] = value_type
        return csv_reader(src, types, rejects)

    def stage_interactions(self, src: StageSource) -> Staged:
        """Read ``src`` into a temp table (user_id, item_id, value, value_raw, ts_raw, ts).

        Reader failures (ragged rows, non-numeric values, bad bytes) are not raised; they
        come back in ``rejects`` with their line and column.
        """
        cur = self.cursor()
        tag = uuid.uuid4().hex[:12]
        table, rt, rs = f"_stage_{tag}", f"_rejects_{tag}", f"_scan_{tag}"
        reader = self._reader(src, "DOUBLE", (rt, rs))
        u, i = _q(src.user_col), _q(src.item_col)
        if src.kind == "parquet":
            value = f"TRY_CAST({_q(src.value_col)} AS DOUBLE)" if src.value_col else "NULL"
            value_raw = f"CAST({_q(src.value_col)} AS VARCHAR)" if src.value_col else "NULL"
            user, item = f"CAST({u} AS VARCHAR)", f"CAST({i} AS VARCHAR)"
        else:
            value = _q(src.value_col) if src.value_col else "NULL"
            value_raw = "NULL"
            user, item = u, i
        ts_raw = f"CAST({_q(src.time_col)} AS VARCHAR)" if src.time_col else "NULL"
        ts = _time_expr(src, ts_raw)
        params: list[Any] = [src.time_format] if src.time_kind == "format" else []
        cur.execute(
            f"CREATE TEMP TABLE {_q(table)} AS SELECT {user} AS user_id, {item} AS item_id, "
            f"CAST({value} AS DOUBLE) AS value, {value_raw} AS value_raw, "
            f"{ts_raw} AS ts_raw, {ts} AS ts FROM {reader}",
            params,
        )
        rejects: list[dict[str, Any]] = []
        if src.kind == "csv":
            rejects = (
                cur.execute(
                    f"SELECT line, column_name, error_type, csv_line, error_message "
                    f"FROM {_q(rt)} ORDER BY line"
                )
                .df()
                .to_dict("records")
            )
            cur.execute(f"DROP TABLE IF EXISTS {_q(rt)}")
            cur.execute(f"DROP TABLE IF EXISTS {_q(rs)}")
        return Staged(table=table, rejects=rejects)

    def stage_counts(
        self, table: str, checks: list[str], scale: tuple[float, float] | None
    ) -> dict[str, int]:
        """Counts of rows failing each named check, plus totals and distinct counts."""
        parts = [f"count(*) FILTER (WHERE {CHECKS[c]}) AS {_q(c)}" for c in checks]
        params: list[Any] = []
        if scale is not None:
            parts.append(f'count(*) FILTER (WHERE {OUT_OF_SCALE}) AS "out_of_scale"')
            params += [scale[0], scale[1]]
        parts += [
            'count(*) AS "rows"',
            'count(DISTINCT user_id) AS "users"',
            'count(DISTINCT item_id) AS "items"',
            'min(value) AS "value_min"',
            'max(value) AS "value_max"',
            'min(ts) AS "ts_min"',
            'max(ts) AS "ts_max"',
        ]
        cur = self.cursor()
        row = first_row(
            cur.execute(f"SELECT {', '.join(parts)} FROM {_q(table)}", params).fetchall()
        )
        out = dict(zip([d[0] for d in cur.description], row, strict=True))
        dup = cur.execute(
            f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {_q(table)} "
            "WHERE user_id IS NOT NULL AND item_id IS NOT NULL "
            "GROUP BY user_id, item_id HAVING count(*) > 1)"
        ).fetchall()[0]
        out["duplicate_pairs"], out["duplicate_rows"] = int(dup[0]), int(dup[1])
        return out

    def stage_examples(
        self, table: str, check: str, limit: int = 3, scale: tuple[float, float] | None = None
    ) -> list[dict[str, Any]]:
        """First rows (0-based row index in file order) failing a check."""
        if check == "out_of_scale":
            cond, params = OUT_OF_SCALE, [scale[0], scale[1]]  # type: ignore[index]
        else:
            cond, params = CHECKS[check], []
        return (
            self.cursor()
            .execute(
                f"SELECT rowid AS row_index, user_id, item_id, value, value_raw, ts_raw "
                f"FROM {_q(table)} WHERE {cond} ORDER BY rowid LIMIT ?",
                [*params, int(limit)],
            )
            .df()
            .to_dict("records")
        )

    def stage_duplicate_examples(self, table: str, limit: int = 3) -> list[dict[str, Any]]:
        """Duplicated (user, item) pairs with the row indexes where they occur."""
        return (
            self.cursor()
            .execute(
                f"SELECT user_id, item_id, list(rowid ORDER BY rowid) AS row_indexes "
                f"FROM {_q(table)} GROUP BY user_id, item_id HAVING count(*) > 1 "
                "ORDER BY min(rowid) LIMIT ?",
                [int(limit)],
            )
            .df()
            .to_dict("records")
        )

    def stage_unknown_items(
        self, table: str, known: list[str], limit: int = 5
    ) -> tuple[int, list[str]]:
        """Count and examples of staged item ids missing from ``known``."""
        cur = self.cursor()
        view = f"_known_{uuid.uuid4().hex[:8]}"
        import pandas as pd

        cur.register(view, pd.DataFrame({"item_id": known}))
        try:
            n, examples = cur.execute(
                f"SELECT count(*), list(item_id ORDER BY item_id)[1:?] FROM "
                f"(SELECT DISTINCT item_id FROM {_q(table)} "
                f"WHERE item_id NOT IN (SELECT item_id FROM {_q(view)}))",
                [int(limit)],
            ).fetchall()[0]
        finally:
            cur.unregister(view)
        return int(n), list(examples or [])

    def insert_staged_interactions(
        self,
        cur: duckdb.DuckDBPyConnection,
        table: str,
        dataset_id: int,
        feedback: str,
        duplicates: str,
    ) -> None:
        """Copy staged rows into ``interactions`` applying the duplicate rule.

        ``keep-last`` keeps the last row of each (user, item) in file order; ``sum`` adds the
        weights, keeps the last rating and the latest time.
        """
        if feedback == "explicit":
            rating, weight = "value", "1.0"
        else:
            rating, weight = "NULL", "coalesce(value, 1.0)"
        t = _q(table)
        if duplicates == "sum":
            sql = (
                f"SELECT ?, user_id, item_id, arg_max({rating}, rowid), sum({weight}), max(ts) "
                f"FROM {t} GROUP BY user_id, item_id"
            )
        elif duplicates == "keep-last":
            sql = (
                f"SELECT ?, user_id, item_id, {rating}, {weight}, ts FROM {t} "
                "QUALIFY row_number() OVER (PARTITION BY user_id, item_id ORDER BY rowid DESC) = 1"
            )
        else:
            sql = f"SELECT ?, user_id, item_id, {rating}, {weight}, ts FROM {t}"
        cur.execute(
            "INSERT INTO interactions (dataset_id, user_id, item_id, rating, weight, ts) " + sql,
            [int(dataset_id)],
        )

    def drop_stage(self, table: str) -> None:
        """Remove a staged table."""
        self.cursor().execute(f"DROP TABLE IF EXISTS {_q(table)}")

    def sample_column(self, src: StageSource, column: str, n: int = 2000) -> list[str]:
        """Up to ``n`` non-empty values of one column as text, read with DuckDB."""
        plain = StageSource(**{**src.__dict__, "value_col": None})
        reader = self._reader(plain, "VARCHAR")
        rows = (
            self.cursor()
            .execute(
                f"SELECT CAST({_q(column)} AS VARCHAR) FROM {reader} "
                f"WHERE {_q(column)} IS NOT NULL LIMIT ?",
                [int(n)],
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def value_range(
        self, src: StageSource, limit: int = VALUE_RANGE_ROWS
    ) -> tuple[float | None, float | None]:
        """Min and max of the value column over the first ``limit`` rows (non-numeric
        cells ignored); used to guess the rating scale, which the load then checks in full."""
        plain = StageSource(**{**src.__dict__})
        reader = self._reader(plain, "VARCHAR")
        v = f"TRY_CAST({_q(src.value_col)} AS DOUBLE)"
        row = first_row(
            self.cursor()
            .execute(
                f"SELECT min(v), max(v) FROM (SELECT {v} AS v FROM {reader} LIMIT ?)", [int(limit)]
            )
            .fetchall()
        )
        return row[0], row[1]


def csv_reader(src: StageSource, types: dict[str, str], rejects: tuple[str, str] | None) -> str:
    """A strict ``read_csv`` call with explicit column types.

    Rejected lines are recorded in the ``rejects`` (table, scan) temp tables, or skipped
    when ``rejects`` is None. The path, names and options are SQL literals, quoted and
    escaped (DuckDB table functions take no bound parameters), and the text is built in
    one pass: nothing is substituted into it afterwards, so a name can never change it.
    A path with glob characters is refused (DuckDB would read every matching file).
    """
    cols = "{" + ", ".join(f"{_lit(c)}: {_lit(t)}" for c, t in types.items()) + "}"
    enc = {"utf-8-sig": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}.get(
        src.encoding, "utf-8"
    )
    return (
        f"read_csv({_path_lit(src.path)}, delim={_lit(src.sep)}, "
        f"header={str(src.header).lower()}, columns={cols}, encoding={_lit(enc)}, "
        f"quote={_lit(src.quote)}, escape={_lit(src.quote)}, auto_detect=false, "
        f"null_padding=false, strict_mode=true, {_rejects_options(rejects)})"
    )


def _rejects_options(rejects: tuple[str, str] | None) -> str:
    if rejects is None:
        return "ignore_errors=true"
    table, scan = rejects
    return (
        f"store_rejects=true, rejects_table={_lit(table)}, rejects_scan={_lit(scan)}, "
        "rejects_limit=0"
    )


#: Characters DuckDB's readers expand as a file pattern (``*``, ``?``, ``[...]``, ``{a,b}``).
GLOB_CHARS = frozenset("*?[]{}")


def _path_lit(path: str) -> str:
    """A file path as an SQL literal; refused when DuckDB would treat it as a pattern."""
    bad = sorted(GLOB_CHARS & set(str(path)))
    if bad:
        raise ConfigError(
            f"cannot read '{path}': DuckDB reads names with {' '.join(bad)} as a pattern of "
            "several files; rename the file (or copy it) without those characters"
        )
    return _lit(str(path))


def _time_expr(src: StageSource, raw: str) -> str:
    if src.time_kind == "epoch":
        # Out-of-range, NaN or infinite epochs become NULL (reported by the "bad_time"
        # check with their line) instead of failing the whole read in to_timestamp.
        secs = f"(TRY_CAST({raw} AS DOUBLE) / {float(src.time_scale)!r})"
        ok = f"abs({secs}) < {MAX_EPOCH_SECONDS}"
        return f"CASE WHEN {ok} THEN to_timestamp({secs})::TIMESTAMP END"
    if src.time_kind == "format":
        return f"try_strptime({raw}, ?)"
    if src.time_kind == "auto":
        return f"TRY_CAST({raw} AS TIMESTAMP)"
    return "CAST(NULL AS TIMESTAMP)"


def read_text_table(
    cur: duckdb.DuckDBPyConnection,
    path: str,
    kind: str,
    columns: tuple[str, ...],
    sep: str,
    header: bool,
    encoding: str,
    quote: str = '"',
) -> tuple[Any, list[dict[str, Any]]]:
    """Read a small side file (items, users, tags) as all-text columns.

    Returns:
        (DataFrame with a ``_row`` 0-based row index, reader rejects with line numbers).
    """
    if kind == "parquet":
        df = cur.execute(f"SELECT * FROM read_parquet({_path_lit(path)})").df()
        df = df.astype("string").fillna("")
        df.columns = [str(c) for c in df.columns]
        df["_row"] = range(len(df))
        return df, []
    tag = uuid.uuid4().hex[:12]
    rt, rs = f"_rejects_{tag}", f"_scan_{tag}"
    cols = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in columns) + "}"
    enc = {"utf-8-sig": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}.get(encoding, "utf-8")
    table = f"_side_{tag}"
    cur.execute(
        f"CREATE TEMP TABLE {_q(table)} AS SELECT * FROM read_csv({_path_lit(path)}, "
        f"delim={_lit(sep)}, header={str(header).lower()}, columns={cols}, "
        f"encoding={_lit(enc)}, quote={_lit(quote)}, escape={_lit(quote)}, auto_detect=false, "
        "strict_mode=true, "
        f"store_rejects=true, rejects_table={_lit(rt)}, rejects_scan={_lit(rs)}, "
        "rejects_limit=0)"
    )
    df = cur.execute(f"SELECT rowid AS _row, * FROM {_q(table)} ORDER BY rowid").df()
    cur.execute(f"DROP TABLE {_q(table)}")
    rejects = (
        cur.execute(
            f"SELECT line, column_name, error_type, csv_line, error_message "
            f"FROM {_q(rt)} ORDER BY line"
        )
        .df()
        .to_dict("records")
    )
    cur.execute(f"DROP TABLE IF EXISTS {_q(rt)}")
    cur.execute(f"DROP TABLE IF EXISTS {_q(rs)}")
    for c in columns:
        df[c] = df[c].fillna("")
    return df, rejects


class FastPathRefused(Exception):  # noqa: N818 - a signal, not an error shown to users
    """The single-pass load found something to report; the careful path will say what."""


def fast_insert_interactions(
    cur: duckdb.DuckDBPyConnection,
    src: StageSource,
    dataset_id: int,
    feedback: str,
    scale: tuple[float, float] | None,
) -> dict[str, int]:
    """Read a clean CSV straight into ``interactions`` (inside the caller's transaction).

    One read of the file, then one aggregate of the new rows (checks, distinct counts and
    the duplicate test together). Anything unusual — a reader
    reject, an empty or blank id, a missing/non-finite/out-of-scale value, a bad time, a
    duplicate pair, fewer than two users or items — raises ``FastPathRefused`` (the caller
    rolls back and runs the staged path, which locates every problem by line).

    Returns:
        Counts of the inserted rows: ``rows``, ``users``, ``items``, ``has_ts``.
    """
    tag = uuid.uuid4().hex[:12]
    rt, rs = f"_rejects_{tag}", f"_scan_{tag}"
    value_type = "DOUBLE"
    types = {c: "VARCHAR" for c in src.columns}
    if src.value_col:
        types[src.value_col] = value_type
    if src.time_col and src.time_kind == "epoch":
        types[src.time_col] = "DOUBLE"
    reader = csv_reader(src, types, (rt, rs))
    v = _q(src.value_col) if src.value_col else None
    if feedback == "explicit":
        rating, weight = (v or "NULL"), "1.0"
    else:
        rating, weight = "NULL", (v or "1.0")
    params: list[Any] = [int(dataset_id)]
    if not src.time_col:
        ts = "NULL"
    elif src.time_kind == "epoch":
        ts = f"to_timestamp({_q(src.time_col)} / {float(src.time_scale)!r})::TIMESTAMP"
    elif src.time_kind == "format":
        ts = f"strptime({_q(src.time_col)}, ?)"
        params.append(src.time_format)
    else:
        ts = f"CAST({_q(src.time_col)} AS TIMESTAMP)"
    try:
        cur.execute(
            "INSERT INTO interactions (dataset_id, user_id, item_id, rating, weight, ts) "
            f"SELECT ?, {_q(src.user_col)}, {_q(src.item_col)}, {rating}, {weight}, {ts} "
            f"FROM {reader}",
            params,
        )
        rejected = cur.execute(f"SELECT count(*) FROM {_q(rt)}").fetchall()[0][0]
    except duckdb.Error as exc:  # NOT NULL ids, unparseable times, out-of-range epochs
        # The transaction is aborted; the caller's rollback also drops the rejects tables.
        raise FastPathRefused(str(exc)) from None
    cur.execute(f"DROP TABLE IF EXISTS {_q(rt)}")
    cur.execute(f"DROP TABLE IF EXISTS {_q(rs)}")
    if rejected:
        raise FastPathRefused(f"{rejected} lines rejected by the reader")
    checks = [
        "count(*) AS rows",
        "count(DISTINCT user_id) AS users",
        "count(DISTINCT item_id) AS items",
        # Sound, not exact: a true duplicate always repeats its hash, so no duplicate is
        # missed; a 64-bit collision (p ~ n^2 / 2^65) only sends the load down the staged
        # path, which checks pairs exactly. Saves a second GROUP BY scan.
        "count(DISTINCT hash(user_id, item_id)) AS pairs",
        "count(ts) AS has_ts",
        "count(*) FILTER (WHERE user_id < '!' AND trim(user_id) = '') AS bad",
        "count(*) FILTER (WHERE item_id < '!' AND trim(item_id) = '') AS bad2",
    ]
    agg_params: list[Any] = []
    if src.value_col:
        col = "rating" if feedback == "explicit" else "weight"
        checks.append(
            f"count(*) FILTER (WHERE {col} IS NULL OR isnan({col}) OR isinf({col})) AS bad3"
        )
        if feedback == "explicit" and scale is not None:
            checks.append("count(*) FILTER (WHERE rating < ? OR rating > ?) AS bad4")
            agg_params += [scale[0], scale[1]]
        if feedback == "implicit":
            checks.append("count(*) FILTER (WHERE weight < 0) AS bad5")
    if src.time_col:
        checks.append("count(*) - count(ts) AS missing_ts")
    row = cur.execute(
        f"SELECT {', '.join(checks)} FROM interactions WHERE dataset_id = ?",
        [*agg_params, int(dataset_id)],
    ).fetchall()[0]
    stats = dict(zip([d[0] for d in cur.description], row, strict=True))
    if any(stats.get(k) for k in ("bad", "bad2", "bad3", "bad4", "bad5", "missing_ts")):
        raise FastPathRefused("some rows need a closer look")
    if stats["users"] < 2 or stats["items"] < 2:
        raise FastPathRefused("fewer than two users or items")
    if stats["pairs"] != stats["rows"]:
        raise FastPathRefused("duplicate (user, item) pairs, or a hash collision")
    return {k: int(stats[k]) for k in ("rows", "users", "items", "has_ts")}


def unknown_items(
    cur: duckdb.DuckDBPyConnection, dataset_id: int, limit: int = 5
) -> tuple[int, list[str]]:
    """Interaction item ids of a dataset missing from its item rows: count and examples."""
    n, examples = cur.execute(
        "SELECT count(*), list(item_id ORDER BY item_id)[1:?] FROM "
        "(SELECT DISTINCT item_id FROM interactions WHERE dataset_id = ? "
        " EXCEPT SELECT item_id FROM items WHERE dataset_id = ?)",
        [int(limit), int(dataset_id), int(dataset_id)],
    ).fetchall()[0]
    return int(n), list(examples or [])


def set_dataset_warnings(
    cur: duckdb.DuckDBPyConnection, dataset_id: int, warnings: list[str]
) -> None:
    """Replace a dataset's stored load warnings."""
    import json

    cur.execute(
        "UPDATE datasets SET warnings = ? WHERE id = ?", [json.dumps(warnings), int(dataset_id)]
    )
