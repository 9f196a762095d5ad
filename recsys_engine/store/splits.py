"""SQL for splits and their per-interaction folds.

A split stores one row per interaction in ``split_rows`` with its fold (``train``,
``validation`` or ``test``), so every run on the split sees exactly the same partition and
two runs pair up user by user.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from recsys_engine.errors import ConfigError, NotFoundError
from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.names import as_id

#: Fold names in storage order; the integer code of a fold is its position here.
FOLDS = ("train", "validation", "test")

_SPLIT_COLUMNS = "id, dataset_id, name, strategy, params, seed, created_at, stats"

# Users and items of a dataset with dense integer codes in sorted-id order. The catalogue
# is every item that appears in the interactions or in the item file.
_CODES_CTE = """
    cat AS (
        SELECT item_id FROM interactions WHERE dataset_id = $did
        UNION SELECT item_id FROM items WHERE dataset_id = $did
    ),
    icode AS (SELECT item_id, CAST(row_number() OVER (ORDER BY item_id) - 1 AS BIGINT) AS code
              FROM cat),
    ucode AS (SELECT user_id, CAST(row_number() OVER (ORDER BY user_id) - 1 AS BIGINT) AS code
              FROM (SELECT DISTINCT user_id FROM interactions WHERE dataset_id = $did))
"""


class SplitTables(StoreConnection):
    """Mixin of ``Store``: ``splits`` and ``split_rows``."""

    # -- reading -------------------------------------------------------------------------
    def coded_interactions(
        self, dataset_id: int, split_id: int | None = None
    ) -> dict[str, np.ndarray]:
        """A dataset's interactions as integer-coded numpy arrays, sorted by (user, item).

        Args:
            dataset_id: the dataset.
            split_id: when given, also return each interaction's fold code (index in
                ``FOLDS``).

        Returns:
            ``user`` and ``item`` (int64 codes), ``rating`` (float, NaN when missing),
            ``weight``, ``ts`` (epoch seconds, NaN when missing), optionally ``fold``
            (int8), and the vocabularies ``user_ids``/``item_ids`` (code → string id).
            The item vocabulary is the whole catalogue (interactions and item file).
        """
        did = int(dataset_id)
        cur = self.cursor()
        params: dict[str, Any] = {"did": did}
        fold_sql = ""
        join_sql = ""
        if split_id is not None:
            params["sid"] = int(split_id)
            fold_sql = (
                ", CAST(CASE s.fold WHEN 'train' THEN 0 WHEN 'validation' THEN 1 ELSE 2 END "
                "AS TINYINT) AS fold"
            )
            join_sql = (
                "JOIN split_rows s ON s.split_id = $sid AND s.user_id = x.user_id "
                "AND s.item_id = x.item_id"
            )
        arrays = cur.execute(
            f"WITH {_CODES_CTE} SELECT u.code AS user, i.code AS item, "
            "CAST(x.rating AS DOUBLE) AS rating, CAST(x.weight AS DOUBLE) AS weight, "
            f"CAST(epoch(x.ts) AS DOUBLE) AS ts{fold_sql} "
            "FROM interactions x JOIN ucode u ON u.user_id = x.user_id "
            f"JOIN icode i ON i.item_id = x.item_id {join_sql} "
            "WHERE x.dataset_id = $did ORDER BY u.code, i.code",
            params,
        ).fetchnumpy()
        out: dict[str, Any] = {}
        for key, value in arrays.items():
            arr = np.ma.filled(value, np.nan) if np.ma.isMaskedArray(value) else value
            out[key] = np.asarray(arr)
        out["user"] = out["user"].astype(np.int64)
        out["item"] = out["item"].astype(np.int64)
        if "fold" in out:
            out["fold"] = out["fold"].astype(np.int8)
        for key in ("rating", "weight", "ts"):
            out[key] = out[key].astype(np.float64)
        out["user_ids"] = _ids(
            cur.execute(
                f"WITH {_CODES_CTE} SELECT user_id FROM ucode ORDER BY code", {"did": did}
            ).fetchnumpy()["user_id"]
        )
        out["item_ids"] = _ids(
            cur.execute(
                f"WITH {_CODES_CTE} SELECT item_id FROM icode ORDER BY code", {"did": did}
            ).fetchnumpy()["item_id"]
        )
        return out

    def get_split(self, split_id: int) -> dict[str, Any]:
        """One split's row as a dict (``params``/``stats`` decoded from JSON)."""
        out = self._record(f"SELECT {_SPLIT_COLUMNS} FROM splits WHERE id = ?", [int(split_id)])
        if out is None:
            raise NotFoundError(f"no split with id {split_id}")
        out["params"] = json.loads(out["params"])
        out["stats"] = json.loads(out["stats"])
        return out

    def list_splits(self, dataset_id: int | None = None) -> pd.DataFrame:
        """Splits (newest first) with their main counts, optionally of one dataset."""
        sql = (
            "SELECT s.id, s.dataset_id, d.name AS dataset, s.name, s.strategy, s.seed, "
            "s.created_at, s.params, s.stats, "
            "(SELECT count(*) FROM runs r WHERE r.split_id = s.id) AS n_runs "
            "FROM splits s JOIN datasets d ON d.id = s.dataset_id"
        )
        params: list[Any] = []
        if dataset_id is not None:
            sql += " WHERE s.dataset_id = ?"
            params.append(int(dataset_id))
        return self.cursor().execute(sql + " ORDER BY s.id DESC", params).df()

    def resolve_split(self, ref: str | int, dataset_id: int | None = None) -> int:
        """Split id from an id or an exact name (a name needs the dataset when ambiguous)."""
        cur = self.cursor()
        text = str(ref).strip()
        if (sid := as_id(text)) is not None:
            sql, params = "SELECT id FROM splits WHERE id = ?", [sid]
            if dataset_id is not None:
                sql += " AND dataset_id = ?"
                params.append(int(dataset_id))
            row = self._first(sql, params)
            if row:
                return int(row[0])
        sql, params = "SELECT id FROM splits WHERE name = ?", [text]
        if dataset_id is not None:
            sql += " AND dataset_id = ?"
            params.append(int(dataset_id))
        rows = cur.execute(sql + " ORDER BY id", params).fetchall()
        if not rows:
            where = f" in dataset {dataset_id}" if dataset_id is not None else ""
            raise NotFoundError(f"no split with id or name {text!r}{where}")
        if len(rows) > 1:
            raise ConfigError(
                f"split name {text!r} is used in several datasets; give the dataset or the id"
            )
        return int(rows[0][0])

    def split_name_exists(self, dataset_id: int, name: str) -> bool:
        """Whether the dataset already has a split with this exact name."""
        row = (
            self.cursor()
            .execute(
                "SELECT count(*) FROM splits WHERE dataset_id = ? AND name = ?",
                [int(dataset_id), name],
            )
            .fetchall()[0]
        )
        return bool(row and row[0])

    def split_rows_frame(self, split_id: int) -> pd.DataFrame:
        """A split's interactions with their fold (for export): user, item, fold, rating, ts."""
        split = self.get_split(split_id)
        return (
            self.cursor()
            .execute(
                "SELECT s.user_id, s.item_id, s.fold, x.rating, x.weight, x.ts "
                "FROM split_rows s JOIN interactions x ON x.dataset_id = ? "
                "AND x.user_id = s.user_id AND x.item_id = s.item_id "
                "WHERE s.split_id = ? ORDER BY s.user_id, s.item_id",
                [int(split["dataset_id"]), int(split_id)],
            )
            .df()
        )

    # -- writing -------------------------------------------------------------------------
    def insert_split(
        self,
        dataset_id: int,
        *,
        name: str,
        strategy: str,
        params: dict[str, Any],
        seed: int | None,
        stats: dict[str, Any],
        user_codes: np.ndarray,
        item_codes: np.ndarray,
        folds: np.ndarray,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
    ) -> int:
        """Store a split and one fold per interaction in one transaction; returns its id.

        ``user_codes``/``item_codes`` index ``user_ids``/``item_ids``; ``folds`` holds codes
        into ``FOLDS``.
        """
        if self.split_name_exists(dataset_id, name):
            raise ConfigError(f"dataset {dataset_id} already has a split named {name!r}")
        table = pa.table(
            {
                "user_id": pa.DictionaryArray.from_arrays(
                    pa.array(np.asarray(user_codes, dtype=np.int32)),
                    pa.array(np.asarray(user_ids, dtype=object), type=pa.string()),
                ),
                "item_id": pa.DictionaryArray.from_arrays(
                    pa.array(np.asarray(item_codes, dtype=np.int32)),
                    pa.array(np.asarray(item_ids, dtype=object), type=pa.string()),
                ),
                "fold": pa.DictionaryArray.from_arrays(
                    pa.array(np.asarray(folds, dtype=np.int8)), pa.array(list(FOLDS))
                ),
            }
        )
        with self.transaction() as cur:
            sid = cur.execute(
                "INSERT INTO splits (dataset_id, name, strategy, params, seed, stats) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                [int(dataset_id), name, strategy, json.dumps(params), seed, json.dumps(stats)],
            ).fetchall()[0][0]
            cur.register("_split_rows_new", table)
            try:
                cur.execute(
                    "INSERT INTO split_rows (split_id, user_id, item_id, fold) "
                    "SELECT ?, CAST(user_id AS VARCHAR), CAST(item_id AS VARCHAR), "
                    "CAST(fold AS VARCHAR) FROM _split_rows_new",
                    [int(sid)],
                )
            finally:
                cur.unregister("_split_rows_new")
        return int(sid)

    def delete_split(self, split_id: int) -> None:
        """Delete a split and its rows; refused while runs still use it."""
        self.get_split(split_id)
        runs = [
            r[0]
            for r in self.cursor()
            .execute("SELECT id FROM runs WHERE split_id = ? ORDER BY id", [int(split_id)])
            .fetchall()
        ]
        if runs:
            raise ConfigError(
                f"split {split_id} is used by runs {', '.join(map(str, runs))}; delete them first"
            )
        with self.transaction() as cur:
            cur.execute("DELETE FROM split_rows WHERE split_id = ?", [int(split_id)])
            cur.execute("DELETE FROM splits WHERE id = ?", [int(split_id)])


def _ids(values: Any) -> np.ndarray:
    """String ids as a numpy object array (never masked)."""
    return np.asarray(
        np.ma.filled(values, "") if np.ma.isMaskedArray(values) else values, dtype=object
    )
