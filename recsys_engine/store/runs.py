"""SQL for runs, progress, metrics, per-user metrics and recommendations."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import pandas as pd

from recsys_engine.errors import ConfigError, NotFoundError
from recsys_engine.store.connection import StoreConnection
from recsys_engine.store.names import as_id

#: Every status a run can have (DESIGN §3).
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
#: Statuses after which a run never changes again.
FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "interrupted")

_RUN_COLUMNS = (
    "id, dataset_id, split_id, model, config, status, created_at, started_at, finished_at, "
    "fit_seconds, eval_seconds, error, artefact_path, options, eval_info, tuning"
)
_RESULT_TABLES = ("metrics", "user_metrics", "recommendations")


class RunTables(StoreConnection):
    """Mixin of ``Store``: ``runs``, ``run_progress``, ``metrics``, ``user_metrics``,
    ``recommendations``."""

    # -- runs ----------------------------------------------------------------------------
    def create_run(
        self,
        dataset_id: int,
        split_id: int,
        model: str,
        config: dict[str, Any],
        *,
        status: str = "queued",
        options: dict[str, Any] | None = None,
    ) -> int:
        """Insert a run row and return its id."""
        _check_status(status)
        row = (
            self.cursor()
            .execute(
                "INSERT INTO runs (dataset_id, split_id, model, config, status, options, "
                "started_at, owner) "
                "VALUES (?, ?, ?, ?, ?, ?, CASE WHEN ? THEN current_timestamp END, ?) "
                "RETURNING id",
                [
                    int(dataset_id),
                    int(split_id),
                    model,
                    json.dumps(config, sort_keys=True),
                    status,
                    json.dumps(options or {}, sort_keys=True),
                    status == "running",
                    this_process(),
                ],
            )
            .fetchall()[0]
        )
        return int(row[0])

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run's row as a dict (``config``/``options``/``eval_info`` decoded)."""
        out = self._record(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [int(run_id)])
        if out is None:
            raise NotFoundError(f"no run with id {run_id}")
        for key in ("config", "options", "eval_info"):
            out[key] = json.loads(out[key]) if out[key] else {}
        out["tuning"] = json.loads(out["tuning"]) if out["tuning"] else None
        return out

    def set_run_tuning(self, run_id: int, tuning: dict[str, Any]) -> None:
        """Record the tuning budget of a run trained from a study's best trial (what the
        run was chosen with: trials, minutes, study)."""
        done = (
            self.cursor()
            .execute(
                "UPDATE runs SET tuning = ? WHERE id = ? RETURNING id",
                [json.dumps(tuning, sort_keys=True), int(run_id)],
            )
            .fetchall()
        )
        if not done:
            raise NotFoundError(f"no run with id {run_id}")

    def resolve_run(self, ref: str | int) -> int:
        """Run id from its id (as int or text)."""
        text = str(ref).strip()
        rid = as_id(text)
        if rid is None:
            raise ConfigError(f"run must be a numeric id (got {text!r})")
        self.get_run(rid)
        return rid

    def set_run_status(
        self,
        run_id: int,
        status: str,
        *,
        error: str | None = None,
        fit_seconds: float | None = None,
        eval_seconds: float | None = None,
        artefact_path: str | None = None,
        eval_info: dict[str, Any] | None = None,
    ) -> None:
        """Change a run's status; ``running`` stamps ``started_at``, final ones ``finished_at``.

        Only the given optional fields are changed.
        """
        _check_status(status)
        sets = ["status = ?"]
        params: list[Any] = [status]
        if status == "running":
            sets.append("started_at = coalesce(started_at, current_timestamp)")
            sets.append("owner = ?")
            params.append(this_process())
        if status in FINISHED_STATUSES:
            sets.append("finished_at = current_timestamp")
        for column, value in (
            ("error", error),
            ("fit_seconds", fit_seconds),
            ("eval_seconds", eval_seconds),
            ("artefact_path", artefact_path),
        ):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        if eval_info is not None:
            sets.append("eval_info = ?")
            params.append(json.dumps(eval_info, sort_keys=True))
        params.append(int(run_id))
        cur = self.cursor()
        done = cur.execute(
            f"UPDATE runs SET {', '.join(sets)} WHERE id = ? RETURNING id", params
        ).fetchall()
        if not done:
            raise NotFoundError(f"no run with id {run_id}")

    def update_run_evaluation(
        self,
        run_id: int,
        *,
        eval_seconds: float,
        eval_info: dict[str, Any],
        options: dict[str, Any],
    ) -> None:
        """Record a re-evaluation of a finished run (new options, timings and summary)."""
        self.get_run(run_id)
        self.cursor().execute(
            "UPDATE runs SET eval_seconds = ?, eval_info = ?, options = ? WHERE id = ?",
            [
                float(eval_seconds),
                json.dumps(eval_info, sort_keys=True),
                json.dumps(options, sort_keys=True),
                int(run_id),
            ],
        )

    def mark_unfinished_runs_interrupted(self) -> int:
        """Mark queued/running runs ``interrupted`` (call once at server start); returns count.

        A run whose owner is another live process on this machine (a CLI training that
        shares the file) is left alone: it is still going and will write its own result.
        """
        cur = self.cursor()
        unfinished = cur.execute(
            "SELECT id, owner FROM runs WHERE status IN ('queued', 'running')"
        ).fetchall()
        stale = [rid for rid, owner in unfinished if not _owner_alive(owner)]
        if stale:
            cur.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = current_timestamp, "
                "error = coalesce(error, 'the server stopped before the run finished') "
                "WHERE id IN (SELECT unnest(?::INTEGER[]))",
                [stale],
            )
        return len(stale)

    def delete_run(self, run_id: int) -> str | None:
        """Delete a run and all its rows in one transaction.

        Returns:
            The run's artefact path (or None), for the caller to remove from disk.

        Raises:
            ConfigError: the run is queued or training (cancel it first).
        """
        run = self.get_run(run_id)
        if run["status"] in ("queued", "running"):
            raise ConfigError(f"run {run_id} is {run['status']}; cancel it before deleting it")
        with self.transaction() as cur:
            for table in ("run_progress", *_RESULT_TABLES):
                cur.execute(f"DELETE FROM {table} WHERE run_id = ?", [int(run_id)])
            cur.execute("DELETE FROM runs WHERE id = ?", [int(run_id)])
        return run["artefact_path"]

    def list_runs(self, dataset_id: int | None = None) -> pd.DataFrame:
        """Runs, newest first, with dataset/split names and NDCG@10 when evaluated."""
        sql = (
            "SELECT r.id, r.dataset_id, d.name AS dataset, r.split_id, s.name AS split, "
            "r.model, r.status, r.created_at, r.started_at, r.finished_at, r.fit_seconds, "
            "r.eval_seconds, r.error, r.config, r.artefact_path, r.tuning, "
            "(SELECT m.value FROM metrics m WHERE m.run_id = r.id AND m.metric = 'ndcg' "
            " AND m.k = 10) AS ndcg_10 "
            "FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id "
            "LEFT JOIN splits s ON s.id = r.split_id"
        )
        params: list[Any] = []
        if dataset_id is not None:
            sql += " WHERE r.dataset_id = ?"
            params.append(int(dataset_id))
        return self.cursor().execute(sql + " ORDER BY r.id DESC", params).df()

    # -- progress ------------------------------------------------------------------------
    def add_progress(
        self,
        run_id: int,
        *,
        epoch: int | None = None,
        step: int | None = None,
        loss: float | None = None,
        val_metric: float | None = None,
        wall_time: float | None = None,
        total: int | None = None,
        stage: str | None = None,
    ) -> None:
        """Append one progress row (epoch/step of total, loss, validation metric, seconds).

        Nothing is written when the run no longer exists (deleted while it trained).
        """
        self.cursor().execute(
            "INSERT INTO run_progress (run_id, epoch, step, loss, val_metric, wall_time, total, "
            "stage) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?)",
            [int(run_id), epoch, step, loss, val_metric, wall_time, total, stage, int(run_id)],
        )

    def run_progress(self, run_id: int) -> pd.DataFrame:
        """A run's progress rows in order."""
        return (
            self.cursor()
            .execute(
                "SELECT epoch, step, total, stage, loss, val_metric, wall_time FROM run_progress "
                "WHERE run_id = ? ORDER BY wall_time NULLS LAST, epoch, step",
                [int(run_id)],
            )
            .df()
        )

    # -- results -------------------------------------------------------------------------
    def write_results(
        self,
        run_id: int,
        metrics: pd.DataFrame,
        user_metrics: pd.DataFrame,
        recommendations: pd.DataFrame,
    ) -> None:
        """Replace a run's metrics, per-user metrics and recommendations in ONE transaction.

        Frames hold the table columns without ``run_id``: ``metrics`` (metric, k, value,
        ci_low, ci_high), ``user_metrics`` (user_id, metric, k, value), ``recommendations``
        (user_id, rank, item_id, score). Any failure rolls everything back, so a run never
        has partial result rows.

        Raises:
            NotFoundError: the run was deleted meanwhile (nothing is written).
        """
        rid = int(run_id)
        frames = {
            "metrics": (metrics, ["metric", "k", "value", "ci_low", "ci_high"]),
            "user_metrics": (user_metrics, ["user_id", "metric", "k", "value"]),
            "recommendations": (recommendations, ["user_id", "rank", "item_id", "score"]),
        }
        with self.transaction() as cur:
            if not cur.execute("SELECT count(*) FROM runs WHERE id = ?", [rid]).fetchall()[0][0]:
                raise NotFoundError(f"run {rid} was deleted; its results are not stored")
            for table, (frame, columns) in frames.items():
                cur.execute(f"DELETE FROM {table} WHERE run_id = ?", [rid])
                view = f"_new_{table}"
                cur.register(view, frame[columns])
                try:
                    cols = ", ".join(columns)
                    cur.execute(
                        f"INSERT INTO {table} (run_id, {cols}) SELECT ?, {cols} FROM {view}",
                        [rid],
                    )
                finally:
                    cur.unregister(view)

    def run_metrics(self, run_id: int) -> pd.DataFrame:
        """A run's aggregate metrics (metric, k, value, ci_low, ci_high)."""
        return (
            self.cursor()
            .execute(
                "SELECT metric, k, value, ci_low, ci_high FROM metrics WHERE run_id = ? "
                "ORDER BY metric, k NULLS FIRST",
                [int(run_id)],
            )
            .df()
        )

    def user_metrics_frame(
        self, run_id: int, metric: str | None = None, k: int | None = None
    ) -> pd.DataFrame:
        """A run's per-user metric rows (user_id, metric, k, value), optionally filtered."""
        sql = "SELECT user_id, metric, k, value FROM user_metrics WHERE run_id = ?"
        params: list[Any] = [int(run_id)]
        if metric is not None:
            sql += " AND metric = ?"
            params.append(metric)
        if k is not None:
            sql += " AND k = ?"
            params.append(int(k))
        return self.cursor().execute(sql + " ORDER BY metric, k, user_id", params).df()

    def recommendations_frame(self, run_id: int, user_id: str | None = None) -> pd.DataFrame:
        """A run's stored top-K lists (user_id, rank, item_id, score)."""
        sql = "SELECT user_id, rank, item_id, score FROM recommendations WHERE run_id = ?"
        params: list[Any] = [int(run_id)]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(str(user_id))
        return self.cursor().execute(sql + " ORDER BY user_id, rank", params).df()


def this_process() -> str:
    """``host:pid`` of this process, recorded as the owner of the runs it queues or runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    """Whether ``owner`` (``host:pid``) is another process on this machine that still runs.

    This process never counts (at its start it runs nothing), nor does another host (its
    processes cannot be checked from here)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _check_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise ConfigError(f"run status must be one of {', '.join(RUN_STATUSES)} (got {status!r})")
