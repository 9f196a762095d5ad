"""SQL for loading an interactions file carefully: stage it with DuckDB's reader, check, insert.

The file is read once by DuckDB into a temporary table (typed, with reader errors captured
in a rejects table that records the line and column), every check is one aggregate query,
and the insert copies the staged rows; nothing touches the database file until the caller's
transaction inserts, so a failed upload leaves no trace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recsys_engine.store.readers import FileReaders, StageSource, table_reader, time_expr
from recsys_engine.store.sql import quote_ident


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

#: Ratings outside [?, ?]. NaN and infinity are left to "non_finite" (NaN compares greater
#: than every number in DuckDB, so it would otherwise be reported twice).
OUT_OF_SCALE = "isfinite(value) AND (value < ? OR value > ?)"


class StagingQueries(FileReaders):
    """Mixin of ``Store``: staging, checking and inserting uploaded interactions."""

    def stage_interactions(self, src: StageSource) -> Staged:
        """Read ``src`` into a temp table (user_id, item_id, value, value_raw, ts_raw, ts,
        and ``ctx_0``, ``ctx_1``, ... for ``src.context_cols``).

        Reader failures (ragged rows, non-numeric values, bad bytes) are not raised; they
        come back in ``rejects`` with their line and column.
        """
        cur = self.cursor()
        tag = uuid.uuid4().hex[:12]
        table, rt, rs = f"_stage_{tag}", f"_rejects_{tag}", f"_scan_{tag}"
        reader = table_reader(src, "DOUBLE", (rt, rs))
        u, i = quote_ident(src.user_col), quote_ident(src.item_col)
        v = quote_ident(src.value_col) if src.value_col else None
        if src.kind == "parquet":
            value = f"TRY_CAST({v} AS DOUBLE)" if v else "NULL"
            value_raw = f"CAST({v} AS VARCHAR)" if v else "NULL"
            user, item = f"CAST({u} AS VARCHAR)", f"CAST({i} AS VARCHAR)"
        else:
            value = v if v else "NULL"
            value_raw = "NULL"
            user, item = u, i
        ts_raw = f"CAST({quote_ident(src.time_col)} AS VARCHAR)" if src.time_col else "NULL"
        ts = time_expr(src, ts_raw)
        params: list[Any] = [src.time_format] if src.time_kind == "format" else []
        context = "".join(
            f", CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(f'ctx_{j}')}"
            for j, c in enumerate(src.context_cols)
        )
        cur.execute(
            f"CREATE TEMP TABLE {quote_ident(table)} AS "
            f"SELECT {user} AS user_id, {item} AS item_id, "
            f"CAST({value} AS DOUBLE) AS value, {value_raw} AS value_raw, "
            f"{ts_raw} AS ts_raw, {ts} AS ts{context} FROM {reader}",
            params,
        )
        rejects = self._take_rejects(rt, rs) if src.kind == "csv" else []
        # the temp table lives as long as the connection: hold the file until drop_stage
        self._hold_for(table)
        return Staged(table=table, rejects=rejects)

    def stage_counts(
        self, table: str, checks: list[str], scale: tuple[float, float] | None
    ) -> dict[str, int]:
        """Counts of rows failing each named check, plus totals and distinct counts."""
        parts = [f"count(*) FILTER (WHERE {CHECKS[c]}) AS {quote_ident(c)}" for c in checks]
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
        out = self._record(f"SELECT {', '.join(parts)} FROM {quote_ident(table)}", params)
        dup = (
            self.cursor()
            .execute(
                "SELECT count(*), coalesce(sum(n), 0) FROM "
                f"(SELECT count(*) AS n FROM {quote_ident(table)} "
                "WHERE user_id IS NOT NULL AND item_id IS NOT NULL "
                "GROUP BY user_id, item_id HAVING count(*) > 1)"
            )
            .fetchall()[0]
        )
        out["duplicate_pairs"], out["duplicate_rows"] = int(dup[0]), int(dup[1])
        return out

    def staged_value_range(self, table: str) -> tuple[float | None, float | None]:
        """Min and max of a staged table's finite values (None, None when there are none)."""
        row = self._first(
            f"SELECT min(value), max(value) FROM {quote_ident(table)} WHERE isfinite(value)"
        )
        return (
            None if row[0] is None else float(row[0]),
            None if row[1] is None else float(row[1]),
        )

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
                f"FROM {quote_ident(table)} WHERE {cond} ORDER BY rowid LIMIT ?",
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
                f"FROM {quote_ident(table)} GROUP BY user_id, item_id HAVING count(*) > 1 "
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
        cur.register(view, pd.DataFrame({"item_id": known}))
        try:
            n, examples = cur.execute(
                f"SELECT count(*), list(item_id ORDER BY item_id)[1:?] FROM "
                f"(SELECT DISTINCT item_id FROM {quote_ident(table)} "
                f"WHERE item_id NOT IN (SELECT item_id FROM {quote_ident(view)}))",
                [int(limit)],
            ).fetchall()[0]
        finally:
            cur.unregister(view)
        return int(n), list(examples or [])

    def insert_staged_interactions(
        self,
        table: str,
        dataset_id: int,
        feedback: str,
        duplicates: str,
    ) -> None:
        """Copy staged rows into ``interactions`` applying the duplicate rule.

        ``keep-last`` keeps the last row of each (user, item) in file order; ``sum`` adds the
        weights, keeps the last rating and the latest time. Called inside the caller's
        ``transaction()``.
        """
        if feedback == "explicit":
            rating, weight = "value", "1.0"
        else:
            rating, weight = "NULL", "coalesce(value, 1.0)"
        t = quote_ident(table)
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
        self.cursor().execute(
            "INSERT INTO interactions (dataset_id, user_id, item_id, rating, weight, ts) " + sql,
            [int(dataset_id)],
        )

    def drop_stage(self, table: str) -> None:
        """Remove a staged table and let go of the file ``stage_interactions`` held."""
        try:
            self.cursor().execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
        finally:
            self._let_go(table)
