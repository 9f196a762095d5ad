"""The single-pass load of a clean CSV: read straight into ``interactions``, then check.

Most uploads are clean, so the fast path reads the file once and checks the new rows with
one aggregate; anything unusual raises ``FastPathRefused`` and the caller falls back to the
staged path (``store.staging``), which locates every problem by line.
"""

from __future__ import annotations

import uuid
from typing import Any

import duckdb

from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.readers import (
    MAX_EPOCH_SECONDS,
    StageSource,
    csv_reader,
    epoch_timestamp,
)
from recsys_engine.store.sql import quote_ident


class FastPathRefused(Exception):  # noqa: N818 - a signal, not an error shown to users
    """The single-pass load found something to report; the careful path will say what."""


class FastLoad(StoreConnection):
    """Mixin of ``Store``: the single-pass load of a clean interactions file."""

    def fast_insert_interactions(
        self,
        src: StageSource,
        dataset_id: int,
        feedback: str,
        scale: tuple[float, float] | None,
    ) -> dict[str, int]:
        """Read a clean CSV straight into ``interactions`` (inside the caller's ``transaction()``).

        One read of the file that also checks every row as it streams past, then one
        aggregate over the two id columns of the new rows (distinct users, items and pairs).
        Anything unusual — a reader reject, an empty or blank id, a missing/non-finite/
        out-of-scale value, a missing or bad time, a duplicate pair, fewer than two users or
        items — raises ``FastPathRefused`` (the caller rolls back and runs the staged path,
        which locates every problem by line).

        Returns:
            Counts of the inserted rows: ``rows``, ``users``, ``items``, ``has_ts``, and the
            range of the value column (``value_min``, ``value_max``; None without one).
        """
        cur = self.cursor()
        tag = uuid.uuid4().hex[:12]
        rt, rs = f"_rejects_{tag}", f"_scan_{tag}"
        types = {c: "VARCHAR" for c in src.columns}
        if src.value_col:
            types[src.value_col] = "DOUBLE"
        if src.time_col and src.time_kind == "epoch":
            types[src.time_col] = "DOUBLE"
        reader = csv_reader(src, types, (rt, rs))
        params: list[Any] = [int(dataset_id)]
        value, value_params = _checked_value(src, feedback, scale)
        rating, weight = (value, "1.0") if feedback == "explicit" else ("NULL", value)
        params += value_params
        ts = "NULL"
        if src.time_col:
            t = quote_ident(src.time_col)
            bad = f"{t} IS NULL"
            if src.time_kind == "epoch":
                secs = f"({t} / {float(src.time_scale)!r})"
                # NaN compares above every number in DuckDB, so it fails the range test too
                bad += f" OR NOT abs({secs}) < {MAX_EPOCH_SECONDS}"
                conv = epoch_timestamp(secs)
            elif src.time_kind == "format":
                conv = f"strptime({t}, ?)"
                params.append(src.time_format)
            else:
                conv = f"CAST({t} AS TIMESTAMP)"
            ts = f"CASE WHEN {bad} THEN {_REFUSE} ELSE {conv} END"
        try:
            # The row checks run inside the read (``error()`` aborts the statement), so the
            # new rows are scanned once more only for the distinct counts below.
            rows = cur.execute(
                "INSERT INTO interactions (dataset_id, user_id, item_id, rating, weight, ts) "
                f"SELECT ?, {_checked_id(src.user_col)}, {_checked_id(src.item_col)}, "
                f"{rating}, {weight}, {ts} FROM {reader}",
                params,
            ).fetchall()[0][0]
            rejected = cur.execute(f"SELECT count(*) FROM {quote_ident(rt)}").fetchall()[0][0]
        except duckdb.Error as exc:  # a row check, NOT NULL ids, unparseable/out-of-range times
            # The transaction is aborted; the caller's rollback also drops the rejects tables.
            raise FastPathRefused(str(exc)) from None
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(rt)}")
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(rs)}")
        if rejected:
            raise FastPathRefused(f"{rejected} lines rejected by the reader")
        value = "rating" if feedback == "explicit" else "weight"
        users, items, pairs, lo, hi = cur.execute(
            "SELECT count(DISTINCT user_id), count(DISTINCT item_id), "
            # Sound, not exact: a true duplicate always repeats its hash, so no duplicate is
            # missed; a 64-bit collision (p ~ n^2 / 2^65) only sends the load down the staged
            # path, which checks pairs exactly. Saves a second GROUP BY scan.
            f"count(DISTINCT hash(user_id, item_id)), min({value}), max({value}) "
            "FROM interactions WHERE dataset_id = ?",
            [int(dataset_id)],
        ).fetchall()[0]
        if users < 2 or items < 2:
            raise FastPathRefused("fewer than two users or items")
        if pairs != rows:
            raise FastPathRefused("duplicate (user, item) pairs, or a hash collision")
        has_ts = rows if src.time_col else 0  # a missing time was refused above
        return {
            "rows": int(rows),
            "users": int(users),
            "items": int(items),
            "has_ts": has_ts,
            "value_min": None if lo is None or not src.value_col else float(lo),
            "value_max": None if hi is None or not src.value_col else float(hi),
        }


#: Aborts the load's statement (DuckDB's ``error()``): the row needs the careful path.
_REFUSE = "error('row refused by the single-pass load')"


def _checked_id(column: str) -> str:
    """The id column, refusing a blank id (an empty cell is NULL and fails NOT NULL).
    ``< '!'`` first: only ids starting with a space or control character pay for trim()."""
    c = quote_ident(column)
    return f"CASE WHEN {c} < '!' AND trim({c}) = '' THEN {_REFUSE} ELSE {c} END"


def _checked_value(
    src: StageSource, feedback: str, scale: tuple[float, float] | None
) -> tuple[str, list[Any]]:
    """The value column refusing missing, non-finite, out-of-scale (explicit) or negative
    (implicit) values, and its bound parameters; ``1.0`` when there is no value column."""
    if not src.value_col:
        return "1.0", []
    v = quote_ident(src.value_col)
    bad = f"{v} IS NULL OR isnan({v}) OR isinf({v})"
    params: list[Any] = []
    if feedback == "explicit" and scale is not None:
        bad += f" OR {v} < ? OR {v} > ?"
        params += [float(scale[0]), float(scale[1])]
    elif feedback == "implicit":
        bad += f" OR {v} < 0"
    return f"CASE WHEN {bad} THEN {_REFUSE} ELSE {v} END", params
