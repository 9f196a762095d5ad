"""SQL for the context of interactions (issue 18): which fields a dataset has, their values
per interaction, and the checks and inserts of an upload's context columns.

A context field is categorical: a column of the interactions file (device, country,
channel, ...) or derived from the time of the interaction (``hour`` of day, ``weekday``).
An interaction is identified by (dataset_id, user_id, item_id), unique once duplicates are
rejected or merged, so ``interaction_context`` needs no row id; an empty cell is stored as
NULL (unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.sql import quote_ident

#: SQL of each derived field over a TIMESTAMP column (fixed text, never user input).
DERIVED_SQL: dict[str, str] = {
    "hour": "strftime({ts}, '%H')",  # "00" … "23"
    "weekday": "strftime({ts}, '%a')",  # "Mon" … "Sun"
}
DERIVED_PREFIX = "derived:"


@dataclass(frozen=True)
class ContextSpec:
    """One context field of an upload: its name and where its values come from.

    Attributes:
        field: the field's name in the dataset (a column name, or ``hour``/``weekday``).
        source: ``ctx_<j>`` (the j-th staged context column) or ``derived:hour`` /
            ``derived:weekday``.
        column: the upload's column name (or the time column for derived fields).
    """

    field: str
    source: str
    column: str


def _value_sql(spec: ContextSpec, ts: str = "ts") -> str:
    if spec.source.startswith(DERIVED_PREFIX):
        return DERIVED_SQL[spec.source[len(DERIVED_PREFIX) :]].format(ts=ts)
    return f"NULLIF(trim({quote_ident(spec.source)}), '')"


class ContextTables(StoreConnection):
    """Mixin of ``Store``: ``context_fields`` and ``interaction_context``."""

    # -- upload ------------------------------------------------------------------------
    def stage_context_counts(
        self, table: str, specs: list[ContextSpec], limit: int = 5
    ) -> dict[str, tuple[int, int, list[str]]]:
        """Per field: (distinct values, empty cells, the most frequent values) of a staged
        table, to refuse a column with too many values before anything is written."""
        out: dict[str, tuple[int, int, list[str]]] = {}
        cur = self.cursor()
        t = quote_ident(table)
        for spec in specs:
            v = _value_sql(spec)
            n, empty = cur.execute(
                f"SELECT count(DISTINCT {v}), count(*) FILTER (WHERE {v} IS NULL) FROM {t}"
            ).fetchall()[0]
            top = cur.execute(
                f"SELECT {v} AS v FROM {t} WHERE {v} IS NOT NULL GROUP BY v "
                "ORDER BY count(*) DESC, v LIMIT ?",
                [int(limit)],
            ).fetchall()
            out[spec.field] = (int(n), int(empty), [str(r[0]) for r in top])
        return out

    def insert_staged_context(
        self, table: str, dataset_id: int, specs: list[ContextSpec], duplicates: str
    ) -> None:
        """Copy the staged context of every interaction (inside the caller's transaction),
        with the same duplicate rule as ``insert_staged_interactions``: the last row of a
        merged (user, item) gives its context (derived fields: from the latest time when
        summing, the time the merged row keeps)."""
        cur = self.cursor()
        t = quote_ident(table)
        did = int(dataset_id)
        for pos, spec in enumerate(specs):
            cur.execute(
                "INSERT INTO context_fields (dataset_id, position, field, source) "
                "VALUES (?, ?, ?, ?)",
                [
                    did,
                    pos,
                    spec.field,
                    spec.source if spec.source.startswith(DERIVED_PREFIX) else spec.column,
                ],
            )
            v = _value_sql(spec)
            if duplicates == "sum":
                value = (
                    _value_sql(spec, "max(ts)")
                    if spec.source.startswith(DERIVED_PREFIX)
                    else f"arg_max({v}, rowid)"
                )
                sql = f"SELECT ?, ?, user_id, item_id, {value} FROM {t} GROUP BY user_id, item_id"
            elif duplicates == "keep-last":
                sql = (
                    f"SELECT ?, ?, user_id, item_id, {v} FROM {t} QUALIFY row_number() OVER "
                    "(PARTITION BY user_id, item_id ORDER BY rowid DESC) = 1"
                )
            else:
                sql = f"SELECT ?, ?, user_id, item_id, {v} FROM {t}"
            cur.execute(
                "INSERT INTO interaction_context (dataset_id, field, user_id, item_id, value) "
                + sql,
                [did, spec.field],
            )

    def insert_context_frame(self, dataset_id: int, frame: pd.DataFrame, fields: list[str]) -> None:
        """Store the context columns ``fields`` of an interactions frame (user_id, item_id,
        field columns; None/"" = unknown) inside the caller's transaction (tests,
        generators)."""
        cur = self.cursor()
        did = int(dataset_id)
        for pos, name in enumerate(fields):
            cur.execute(
                "INSERT INTO context_fields (dataset_id, position, field, source) "
                "VALUES (?, ?, ?, ?)",
                [did, pos, name, name],
            )
            values = frame[name].astype(object).where(frame[name].notna(), None)
            part = pd.DataFrame(
                {
                    "user_id": frame["user_id"].astype(str),
                    "item_id": frame["item_id"].astype(str),
                    "value": [None if v is None or str(v) == "" else str(v) for v in values],
                }
            )
            cur.register("_context_frame", part)
            try:
                cur.execute(
                    "INSERT INTO interaction_context (dataset_id, field, user_id, item_id, value) "
                    "SELECT ?, ?, user_id, item_id, CAST(value AS VARCHAR) FROM _context_frame",
                    [did, name],
                )
            finally:
                cur.unregister("_context_frame")

    # -- reading -----------------------------------------------------------------------
    def context_fields(self, dataset_id: int) -> list[dict[str, Any]]:
        """A dataset's context fields in order: ``field`` and ``source`` (the upload's
        column, or ``derived:hour`` / ``derived:weekday``); empty without context."""
        rows = (
            self.cursor()
            .execute(
                "SELECT field, source FROM context_fields WHERE dataset_id = ? ORDER BY position",
                [int(dataset_id)],
            )
            .fetchall()
        )
        return [{"field": r[0], "source": r[1]} for r in rows]

    def context_values(self, dataset_id: int) -> dict[str, np.ndarray]:
        """Each context field's value per interaction (object arrays, None = unknown),
        aligned with ``coded_interactions`` (sorted by user id, then item id)."""
        did = int(dataset_id)
        cur = self.cursor()
        out: dict[str, np.ndarray] = {}
        for f in self.context_fields(did):
            rows = cur.execute(
                "SELECT c.value FROM interactions x LEFT JOIN interaction_context c "
                "ON c.dataset_id = x.dataset_id AND c.field = ? AND c.user_id = x.user_id "
                "AND c.item_id = x.item_id WHERE x.dataset_id = ? "
                "ORDER BY x.user_id, x.item_id",
                [f["field"], did],
            ).fetchnumpy()["value"]
            values = np.asarray(np.ma.getdata(rows), dtype=object)
            values[np.ma.getmaskarray(rows)] = None
            out[f["field"]] = values
        return out
