"""SQL for tuning studies: one row per study, naming where Optuna keeps its trials."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from recsys_engine.errors import NotFoundError
from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.runs import _owner_alive, this_process

#: Every status a study can have.
STUDY_STATUSES = ("running", "succeeded", "failed", "cancelled", "interrupted")

_STUDY_COLUMNS = (
    "id, dataset_id, split_id, model, name, storage, space, fixed, budget, status, "
    "created_at, finished_at, summary, best_run_id, error"
)
_JSON_COLUMNS = ("space", "fixed", "budget", "summary")


class StudyTables(StoreConnection):
    """Mixin of ``Store``: the ``studies`` table (Optuna holds the trials themselves)."""

    def create_study(
        self,
        dataset_id: int,
        split_id: int,
        model: str,
        *,
        name: str,
        storage: str,
        space: dict[str, Any],
        fixed: dict[str, Any],
        budget: dict[str, Any],
    ) -> int:
        """Insert a ``running`` study row and return its id."""
        row = (
            self.cursor()
            .execute(
                "INSERT INTO studies (dataset_id, split_id, model, name, storage, space, fixed, "
                "budget, status, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?) "
                "RETURNING id",
                [
                    int(dataset_id),
                    int(split_id),
                    model,
                    name,
                    storage,
                    json.dumps(space, sort_keys=True),
                    json.dumps(fixed, sort_keys=True),
                    json.dumps(budget, sort_keys=True),
                    this_process(),
                ],
            )
            .fetchall()[0]
        )
        return int(row[0])

    def finish_study(
        self,
        study_id: int,
        status: str,
        *,
        summary: dict[str, Any] | None = None,
        best_run_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Close a study with its final status, trial summary and best run."""
        if status not in STUDY_STATUSES:
            raise ValueError(f"unknown study status {status!r}")
        done = (
            self.cursor()
            .execute(
                "UPDATE studies SET status = ?, finished_at = current_timestamp, summary = ?, "
                "best_run_id = ?, error = ? WHERE id = ? RETURNING id",
                [
                    status,
                    None if summary is None else json.dumps(summary, sort_keys=True),
                    best_run_id,
                    error,
                    int(study_id),
                ],
            )
            .fetchall()
        )
        if not done:
            raise NotFoundError(f"no study with id {study_id}")

    def mark_unfinished_studies_interrupted(self) -> int:
        """Mark ``running`` studies whose process is gone ``interrupted`` (call once at
        server start, like ``mark_unfinished_runs_interrupted``); returns how many."""
        cur = self.cursor()
        running = cur.execute("SELECT id, owner FROM studies WHERE status = 'running'").fetchall()
        stale = [sid for sid, owner in running if not _owner_alive(owner)]
        if stale:
            cur.execute(
                "UPDATE studies SET status = 'interrupted', finished_at = current_timestamp, "
                "error = coalesce(error, 'the process running it stopped before it finished') "
                "WHERE id IN (SELECT unnest(?::INTEGER[]))",
                [stale],
            )
        return len(stale)

    def get_study(self, study_id: int) -> dict[str, Any]:
        """One study's row as a dict (JSON columns decoded)."""
        out = self._record(f"SELECT {_STUDY_COLUMNS} FROM studies WHERE id = ?", [int(study_id)])
        if out is None:
            raise NotFoundError(f"no study with id {study_id}")
        for key in _JSON_COLUMNS:
            out[key] = json.loads(out[key]) if out[key] else None
        return out

    def list_studies(self, split_id: int | None = None) -> pd.DataFrame:
        """Studies, newest first (of one split when given)."""
        sql = f"SELECT {_STUDY_COLUMNS} FROM studies"
        params: list[Any] = []
        if split_id is not None:
            sql += " WHERE split_id = ?"
            params.append(int(split_id))
        return self.cursor().execute(sql + " ORDER BY id DESC", params).df()
