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
from recsys_engine.store.readers import StageSource, csv_reader
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

        One read of the file, then one aggregate of the new rows (checks, distinct counts and
        the duplicate test together). Anything unusual — a reader
        reject, an empty or blank id, a missing/non-finite/out-of-scale value, a bad time, a
        duplicate pair, fewer than two users or items — raises ``FastPathRefused`` (the caller
        rolls back and runs the staged path, which locates every problem by line).

        Returns:
            Counts of the inserted rows: ``rows``, ``users``, ``items``, ``has_ts``.
        """
        cur = self.cursor()
        tag = uuid.uuid4().hex[:12]
        rt, rs = f"_rejects_{tag}", f"_scan_{tag}"
        value_type = "DOUBLE"
        types = {c: "VARCHAR" for c in src.columns}
        if src.value_col:
            types[src.value_col] = value_type
        if src.time_col and src.time_kind == "epoch":
            types[src.time_col] = "DOUBLE"
        reader = csv_reader(src, types, (rt, rs))
        v = quote_ident(src.value_col) if src.value_col else None
        if feedback == "explicit":
            rating, weight = (v or "NULL"), "1.0"
        else:
            rating, weight = "NULL", (v or "1.0")
        params: list[Any] = [int(dataset_id)]
        if not src.time_col:
            ts = "NULL"
        elif src.time_kind == "epoch":
            ts = f"to_timestamp({quote_ident(src.time_col)} / {float(src.time_scale)!r})::TIMESTAMP"
        elif src.time_kind == "format":
            ts = f"strptime({quote_ident(src.time_col)}, ?)"
            params.append(src.time_format)
        else:
            ts = f"CAST({quote_ident(src.time_col)} AS TIMESTAMP)"
        try:
            cur.execute(
                "INSERT INTO interactions (dataset_id, user_id, item_id, rating, weight, ts) "
                f"SELECT ?, {quote_ident(src.user_col)}, {quote_ident(src.item_col)}, "
                f"{rating}, {weight}, {ts} FROM {reader}",
                params,
            )
            rejected = cur.execute(f"SELECT count(*) FROM {quote_ident(rt)}").fetchall()[0][0]
        except duckdb.Error as exc:  # NOT NULL ids, unparseable times, out-of-range epochs
            # The transaction is aborted; the caller's rollback also drops the rejects tables.
            raise FastPathRefused(str(exc)) from None
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(rt)}")
        cur.execute(f"DROP TABLE IF EXISTS {quote_ident(rs)}")
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
