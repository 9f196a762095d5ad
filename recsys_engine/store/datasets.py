"""SQL reading and managing datasets and the rows that belong to them (interactions, items,
users): listing, lookup, frames, rename and delete. Writing a new dataset is
``store.dataset_writes``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from recsys_engine.errors import ConfigError, NotFoundError
from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.names import as_id, check_name

_DATASET_COLUMNS = (
    "id, name, created_at, feedback, rating_min, rating_max, n_interactions, n_users, "
    "n_items, n_catalog_items, has_timestamps, sources, warnings"
)


class DatasetTables(StoreConnection):
    """Mixin of ``Store``: datasets, interactions, items, users."""

    # -- reading -------------------------------------------------------------------------
    def list_datasets(self) -> pd.DataFrame:
        """All datasets, newest first, with their counts."""
        return (
            self.cursor().execute(f"SELECT {_DATASET_COLUMNS} FROM datasets ORDER BY id DESC").df()
        )

    def get_dataset(self, dataset_id: int) -> dict[str, Any]:
        """One dataset's row as a dict (``sources``/``warnings`` decoded from JSON)."""
        out = self._record(
            f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE id = ?", [int(dataset_id)]
        )
        if out is None:
            raise NotFoundError(f"no dataset with id {dataset_id}")
        out["sources"] = json.loads(out["sources"])
        out["warnings"] = json.loads(out["warnings"])
        return out

    def resolve_dataset(self, ref: str | int) -> int:
        """Dataset id from an id or an exact name (ids win when both could match)."""
        text = str(ref).strip()
        if (rid := as_id(text)) is not None:
            row = self._first("SELECT id FROM datasets WHERE id = ?", [rid])
            if row:
                return int(row[0])
        row = self._first("SELECT id FROM datasets WHERE name = ?", [text])
        if row is None:
            raise NotFoundError(f"no dataset with id or name {text!r}")
        return int(row[0])

    def dataset_name_exists(self, name: str) -> bool:
        """Whether a dataset already has this exact name."""
        row = self._first("SELECT count(*) FROM datasets WHERE name = ?", [name.strip()])
        return bool(row and row[0])

    def interactions_frame(self, dataset_id: int, limit: int | None = None) -> pd.DataFrame:
        """Interactions of a dataset as a DataFrame (user_id, item_id, rating, weight, ts)."""
        sql = "SELECT user_id, item_id, rating, weight, ts FROM interactions WHERE dataset_id = ?"
        params: list[Any] = [int(dataset_id)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self.cursor().execute(sql, params).df()

    def interaction_arrays(self, dataset_id: int) -> dict[str, np.ndarray]:
        """Interaction columns as numpy arrays (fast path for models; no DataFrame)."""
        return (
            self.cursor()
            .execute(
                "SELECT user_id, item_id, rating, weight, epoch(ts) AS ts FROM interactions "
                "WHERE dataset_id = ?",
                [int(dataset_id)],
            )
            .fetchnumpy()
        )

    def items_frame(self, dataset_id: int) -> pd.DataFrame:
        """Item metadata (item_id, title, text, categories, numeric JSON)."""
        return (
            self.cursor()
            .execute(
                "SELECT item_id, title, text, categories, numeric FROM items WHERE dataset_id = ? "
                "ORDER BY item_id",
                [int(dataset_id)],
            )
            .df()
        )

    def users_frame(self, dataset_id: int) -> pd.DataFrame:
        """User features (user_id, features JSON)."""
        return (
            self.cursor()
            .execute(
                "SELECT user_id, features FROM users WHERE dataset_id = ? ORDER BY user_id",
                [int(dataset_id)],
            )
            .df()
        )

    # -- writing -------------------------------------------------------------------------
    def rename_dataset(self, dataset_id: int, new_name: str) -> None:
        """Rename a dataset; names are unique."""
        name = check_name(new_name)
        self.get_dataset(dataset_id)
        clash = self._first(
            "SELECT id FROM datasets WHERE name = ? AND id <> ?", [name, int(dataset_id)]
        )
        if clash:
            raise ConfigError(f"a dataset named {name!r} already exists (id {clash[0]})")
        self.cursor().execute("UPDATE datasets SET name = ? WHERE id = ?", [name, int(dataset_id)])

    def delete_dataset(self, dataset_id: int) -> list[str]:
        """Delete a dataset and everything that belongs to it, in one transaction.

        Returns:
            Artefact paths of the deleted runs, for the caller to remove from disk.

        Raises:
            ConfigError: some of its runs are queued or training (nothing is deleted).
        """
        self.get_dataset(dataset_id)
        did = int(dataset_id)
        with self.transaction() as cur:
            active = [
                r[0]
                for r in cur.execute(
                    "SELECT id FROM runs WHERE dataset_id = ? "
                    "AND status IN ('queued', 'running') ORDER BY id",
                    [did],
                ).fetchall()
            ]
            if active:
                raise ConfigError(
                    f"runs {', '.join(map(str, active))} of this dataset are still queued or "
                    "training; cancel them on the Train page (or wait) before deleting it"
                )
            paths = [
                r[0]
                for r in cur.execute(
                    "SELECT artefact_path FROM runs WHERE dataset_id = ? "
                    "AND artefact_path IS NOT NULL",
                    [did],
                ).fetchall()
            ]
            run_ids = "SELECT id FROM runs WHERE dataset_id = ?"
            for table in ("run_progress", "metrics", "user_metrics", "recommendations"):
                cur.execute(f"DELETE FROM {table} WHERE run_id IN ({run_ids})", [did])
            cur.execute("DELETE FROM runs WHERE dataset_id = ?", [did])
            cur.execute(
                "DELETE FROM split_rows WHERE split_id IN "
                "(SELECT id FROM splits WHERE dataset_id = ?)",
                [did],
            )
            cur.execute("DELETE FROM splits WHERE dataset_id = ?", [did])
            for table in (
                "interactions",
                "interaction_text",
                "items",
                "users",
                "interaction_context",
                "context_fields",
            ):
                cur.execute(f"DELETE FROM {table} WHERE dataset_id = ?", [did])
            cur.execute("DELETE FROM datasets WHERE id = ?", [did])
        return paths
