"""SQL writing a new dataset: its ``datasets`` row, its rows (interactions, items, users)
from frames, the counts and warnings it keeps. The load (``ingest.load``) calls these
inside one ``transaction()``."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from recsys_engine.errors import ConfigError
from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.names import check_name
from recsys_engine.store.sql import quote_ident


class DatasetWrites(StoreConnection):
    """Mixin of ``Store``: writing a new dataset."""

    def insert_dataset_row(
        self,
        *,
        name: str,
        feedback: str,
        rating_scale: tuple[float, float] | None,
        sources: list[dict[str, Any]],
        warnings: list[str],
    ) -> int:
        """Insert the ``datasets`` row (counts filled by ``finish_dataset``); returns its id.

        Called inside the caller's ``transaction()``, with the rows and counts that follow.
        """
        name = check_name(name)
        cur = self.cursor()
        if feedback not in ("explicit", "implicit"):
            raise ConfigError(f"feedback must be 'explicit' or 'implicit' (got {feedback!r})")
        if cur.execute("SELECT count(*) FROM datasets WHERE name = ?", [name]).fetchall()[0][0]:
            raise ConfigError(f"a dataset named {name!r} already exists; choose another name")
        lo, hi = rating_scale if rating_scale else (None, None)
        row = self._first(
            "INSERT INTO datasets (name, feedback, rating_min, rating_max, n_interactions, "
            "n_users, n_items, n_catalog_items, has_timestamps, sources, warnings) "
            "VALUES (?, ?, ?, ?, 0, 0, 0, 0, false, ?, ?) RETURNING id",
            [name, feedback, lo, hi, json.dumps(sources), json.dumps(warnings)],
        )
        return int(row[0])

    def settle_feedback(
        self, dataset_id: int, feedback: str, rating_scale: tuple[float, float] | None
    ) -> None:
        """Set the feedback and scale of a dataset whose rows were just inserted as explicit
        ratings (the load's own scale pick); implicit moves each value to ``weight``.

        Called inside the load's ``transaction()``, before ``finish_dataset``.
        """
        did = int(dataset_id)
        lo, hi = rating_scale if rating_scale else (None, None)
        cur = self.cursor()
        cur.execute(
            "UPDATE datasets SET feedback = ?, rating_min = ?, rating_max = ? WHERE id = ?",
            [feedback, lo, hi, did],
        )
        if feedback == "implicit":
            cur.execute(
                "UPDATE interactions SET weight = rating, rating = NULL WHERE dataset_id = ?",
                [did],
            )

    def finish_dataset(
        self, dataset_id: int, known: dict[str, int] | None = None
    ) -> dict[str, int]:
        """Compute and store a dataset's counts from its rows; returns them.

        Args:
            known: ``rows``, ``users``, ``items``, ``has_ts`` of the interactions when the
                caller has just counted them (saves a pass over a large table).
        """
        did = int(dataset_id)
        cur = self.cursor()
        if known is not None:
            n_int, n_users, n_items = known["rows"], known["users"], known["items"]
            has_ts = known["has_ts"]
        else:
            n_int, n_users, n_items, has_ts = cur.execute(
                "SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id), "
                "count(ts) > 0 FROM interactions WHERE dataset_id = ?",
                [did],
            ).fetchall()[0]
        n_catalog = n_items
        has_items = cur.execute(
            "SELECT count(*) > 0 FROM items WHERE dataset_id = ?", [did]
        ).fetchall()[0][0]
        if has_items:  # without an item file the catalogue is the interacted items
            n_catalog += cur.execute(
                "SELECT count(*) FROM (SELECT item_id FROM items WHERE dataset_id = ? "
                "EXCEPT SELECT item_id FROM interactions WHERE dataset_id = ?)",
                [did, did],
            ).fetchall()[0][0]
        cur.execute(
            "UPDATE datasets SET n_interactions = ?, n_users = ?, n_items = ?, "
            "n_catalog_items = ?, has_timestamps = ? WHERE id = ?",
            [n_int, n_users, n_items, n_catalog, bool(has_ts), did],
        )
        return {
            "n_interactions": int(n_int),
            "n_users": int(n_users),
            "n_items": int(n_items),
            "n_catalog_items": int(n_catalog),
        }

    def insert_frame(self, table: str, dataset_id: int, frame: pd.DataFrame) -> None:
        """Append a DataFrame to ``interactions``, ``items`` or ``users`` for one dataset.

        The frame holds the table's columns except ``dataset_id``; missing optional columns
        become NULL.
        """
        columns = {
            "interactions": ["user_id", "item_id", "rating", "weight", "ts"],
            "items": ["item_id", "title", "text", "categories", "numeric"],
            "users": ["user_id", "features"],
        }[table]
        df = frame.copy()
        for col in columns:
            if col not in df.columns:
                df[col] = None
        df = df[columns]
        view = f"_frame_{table}"
        cur = self.cursor()
        cur.register(view, df)
        try:
            select = ", ".join(_cast(table, c) for c in columns)
            cur.execute(
                f"INSERT INTO {table} (dataset_id, {', '.join(columns)}) "
                f"SELECT ?, {select} FROM {view}",
                [int(dataset_id)],
            )
        finally:
            cur.unregister(view)

    def create_dataset_from_frames(
        self,
        name: str,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        *,
        feedback: str = "explicit",
        rating_scale: tuple[float, float] | None = None,
        sources: list[dict[str, Any]] | None = None,
        warnings: list[str] | None = None,
        context: tuple[str, ...] = (),
    ) -> int:
        """Store already-clean frames as a new dataset in one transaction (tests, generators).

        Uploads go through ``recsys_engine.ingest``, which validates first; this path trusts
        its input apart from the column set. ``context`` names columns of ``interactions``
        stored as context fields (``store.context``).
        """
        inter = interactions.copy()
        if "weight" not in inter.columns:
            inter["weight"] = 1.0
        with self.transaction():
            did = self.insert_dataset_row(
                name=name,
                feedback=feedback,
                rating_scale=rating_scale,
                sources=sources or [],
                warnings=warnings or [],
            )
            self.insert_frame("interactions", did, inter)
            if context:
                self.insert_context_frame(did, inter, list(context))  # type: ignore[attr-defined]
            if items is not None:
                self.insert_frame("items", did, items)
            if users is not None:
                self.insert_frame("users", did, users)
            self.finish_dataset(did)
        return did

    def unknown_items(self, dataset_id: int, limit: int = 5) -> tuple[int, list[str]]:
        """Interaction item ids of a dataset missing from its item rows: count and examples."""
        n, examples = self._first(
            "SELECT count(*), list(item_id ORDER BY item_id)[1:?] FROM "
            "(SELECT DISTINCT item_id FROM interactions WHERE dataset_id = ? "
            " EXCEPT SELECT item_id FROM items WHERE dataset_id = ?)",
            [int(limit), int(dataset_id), int(dataset_id)],
        )
        return int(n), list(examples or [])

    def set_dataset_warnings(
        self, dataset_id: int, warnings: list[str], sources: list[dict[str, Any]] | None = None
    ) -> None:
        """Replace a dataset's stored load warnings (and its source files' entries, when
        given: the load fills them in once their checksums are ready)."""
        cur = self.cursor()
        cur.execute(
            "UPDATE datasets SET warnings = ? WHERE id = ?", [json.dumps(warnings), int(dataset_id)]
        )
        if sources is not None:
            cur.execute(
                "UPDATE datasets SET sources = ? WHERE id = ?",
                [json.dumps(sources), int(dataset_id)],
            )


def _cast(table: str, column: str) -> str:
    types = {
        "user_id": "VARCHAR",
        "item_id": "VARCHAR",
        "rating": "DOUBLE",
        "weight": "DOUBLE",
        "ts": "TIMESTAMP",
        "title": "VARCHAR",
        "text": "VARCHAR",
        "categories": "VARCHAR[]",
        "numeric": "VARCHAR",
        "features": "VARCHAR",
    }
    return f"CAST({quote_ident(column)} AS {types[column]})"
