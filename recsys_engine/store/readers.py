"""Reading files with DuckDB: the ``read_csv``/``read_parquet`` text for a source, and the
reads that need no staging (a column sample, the value range, a side file as text).

DuckDB's table functions take no bound parameters, so the path, names and options are
written into the statement as quoted literals (``store.sql``); nothing is substituted into
the text afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.sql import path_literal, quote_ident, quote_literal

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
    context_cols: tuple[str, ...] = ()  # columns staged as text context (``ctx_0``, ...)


#: 9999-12-31: later (or NaN/infinite) unix times are reported as unreadable.
MAX_EPOCH_SECONDS = 253_402_300_800

#: DuckDB's name for each encoding the sniffer reports (anything else is read as UTF-8).
_ENCODINGS = {"utf-8-sig": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}


def table_reader(src: StageSource, value_type: str, rejects: tuple[str, str] | None = None) -> str:
    """The table function reading ``src``; reader errors go to the ``rejects`` (table,
    scan) temp tables, or are skipped when None (sampling)."""
    if src.kind == "parquet":
        return f"read_parquet({path_literal(src.path)})"
    types = {c: "VARCHAR" for c in src.columns}
    if src.value_col:
        types[src.value_col] = value_type
    return csv_reader(src, types, rejects)


def csv_reader(src: StageSource, types: dict[str, str], rejects: tuple[str, str] | None) -> str:
    """A strict ``read_csv`` call with explicit column types.

    Rejected lines are recorded in the ``rejects`` (table, scan) temp tables, or skipped
    when ``rejects`` is None. The path, names and options are SQL literals, quoted and
    escaped (DuckDB table functions take no bound parameters), and the text is built in
    one pass: nothing is substituted into it afterwards, so a name can never change it.
    A path with glob characters is refused (DuckDB would read every matching file).
    """
    cols = ", ".join(f"{quote_literal(c)}: {quote_literal(t)}" for c, t in types.items())
    cols = "{" + cols + "}"
    enc = _ENCODINGS.get(src.encoding, "utf-8")
    return (
        f"read_csv({path_literal(src.path)}, delim={quote_literal(src.sep)}, "
        f"header={str(src.header).lower()}, columns={cols}, encoding={quote_literal(enc)}, "
        f"quote={quote_literal(src.quote)}, escape={quote_literal(src.quote)}, auto_detect=false, "
        f"null_padding=false, strict_mode=true, {rejects_options(rejects)})"
    )


def rejects_options(rejects: tuple[str, str] | None) -> str:
    """The ``read_csv`` options that record rejected lines in the ``rejects`` (table, scan)
    temp tables, or skip them when None."""
    if rejects is None:
        return "ignore_errors=true"
    table, scan = rejects
    return (
        f"store_rejects=true, rejects_table={quote_literal(table)}, "
        f"rejects_scan={quote_literal(scan)}, rejects_limit=0"
    )


def epoch_timestamp(secs: str) -> str:
    """SQL turning the unix seconds ``secs`` (a DOUBLE expression within ±MAX_EPOCH_SECONDS)
    into a TIMESTAMP in UTC, to the microsecond.

    Built from microseconds rather than ``to_timestamp(secs)::TIMESTAMP``: that cast goes
    through the session's time zone (the machine's), so the same file would load as other
    wall times on another machine, and it costs a time-zone lookup per row.
    """
    return f"make_timestamp(CAST({secs} * 1000000 AS BIGINT))"


def time_expr(src: StageSource, raw: str) -> str:
    """SQL turning the raw time text ``raw`` into a TIMESTAMP the way ``src.time_kind``
    says (NULL where it cannot be read; a ``format`` takes one ``?`` parameter)."""
    if src.time_kind == "epoch":
        # Out-of-range, NaN or infinite epochs become NULL (reported by the "bad_time"
        # check with their line) instead of failing the whole read.
        secs = f"(TRY_CAST({raw} AS DOUBLE) / {float(src.time_scale)!r})"
        ok = f"abs({secs}) < {MAX_EPOCH_SECONDS}"
        return f"CASE WHEN {ok} THEN {epoch_timestamp(secs)} END"
    if src.time_kind == "format":
        return f"try_strptime({raw}, ?)"
    if src.time_kind == "auto":
        return f"TRY_CAST({raw} AS TIMESTAMP)"
    return "CAST(NULL AS TIMESTAMP)"


class FileReaders(StoreConnection):
    """Mixin of ``Store``: reads of upload files that need no staged table."""

    def sample_column(self, src: StageSource, column: str, n: int = 2000) -> list[str]:
        """Up to ``n`` non-empty values of one column as text, read with DuckDB."""
        plain = StageSource(**{**src.__dict__, "value_col": None})
        reader = table_reader(plain, "VARCHAR")
        rows = (
            self.cursor()
            .execute(
                f"SELECT CAST({quote_ident(column)} AS VARCHAR) FROM {reader} "
                f"WHERE {quote_ident(column)} IS NOT NULL LIMIT ?",
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
        reader = table_reader(plain, "VARCHAR")
        v = f"TRY_CAST({quote_ident(src.value_col)} AS DOUBLE)"
        row = self._first(
            f"SELECT min(v), max(v) FROM (SELECT {v} AS v FROM {reader} LIMIT ?)", [int(limit)]
        )
        return row[0], row[1]

    def read_text_table(
        self,
        path: str,
        kind: str,
        columns: tuple[str, ...],
        sep: str,
        header: bool,
        encoding: str,
        quote: str = '"',
    ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
        """Read a small side file (items, users, tags) as all-text columns.

        Returns:
            (DataFrame with a ``_row`` 0-based row index, reader rejects with line numbers).
        """
        cur = self.cursor()
        if kind == "parquet":
            df = cur.execute(f"SELECT * FROM read_parquet({path_literal(path)})").df()
            df = df.astype("string").fillna("")
            df.columns = [str(c) for c in df.columns]
            df["_row"] = range(len(df))
            return df, []
        tag = uuid.uuid4().hex[:12]
        rt, rs = f"_rejects_{tag}", f"_scan_{tag}"
        cols = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in columns) + "}"
        enc = _ENCODINGS.get(encoding, "utf-8")
        table = f"_side_{tag}"
        cur.execute(
            f"CREATE TEMP TABLE {quote_ident(table)} AS SELECT * FROM "
            f"read_csv({path_literal(path)}, "
            f"delim={quote_literal(sep)}, header={str(header).lower()}, columns={cols}, "
            f"encoding={quote_literal(enc)}, quote={quote_literal(quote)}, "
            f"escape={quote_literal(quote)}, auto_detect=false, strict_mode=true, "
            f"{rejects_options((rt, rs))})"
        )
        df = cur.execute(f"SELECT rowid AS _row, * FROM {quote_ident(table)} ORDER BY rowid").df()
        cur.execute(f"DROP TABLE {quote_ident(table)}")
        rejects = self._take_rejects(rt, rs)
        for c in columns:
            df[c] = df[c].fillna("")
        return df, rejects

    def _take_rejects(self, table: str, scan: str) -> list[dict[str, Any]]:
        """The reader's rejected lines (line, column, error) in file order; drops the
        ``rejects`` temp tables."""
        cur = self.cursor()
        rejects = (
            cur.execute(
                f"SELECT line, column_name, error_type, csv_line, error_message "
                f"FROM {quote_ident(table)} ORDER BY line"
            )
            .df()
            .to_dict("records")
        )
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(scan)}")
        return rejects
