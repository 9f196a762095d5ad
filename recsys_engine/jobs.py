"""Background job runner: trains queued runs in worker threads (DESIGN §9).

The UI holds one ``JobRunner`` (a Streamlit ``cache_resource``); the CLI runs the same
executor in the foreground. Status and progress live in DuckDB, not in the runner, so any
browser tab (or a new server after a restart) sees them; the runner only knows which runs
it is working on and which were asked to stop.

A job holds the database file only while it writes (status, a progress row, the results):
each ``Store`` call is its own unit of work, so a model that trains for minutes leaves the
file free for the CLI and for other processes in between.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from recsys_engine.store import Store

log = logging.getLogger(__name__)

#: ``execute(store, run_id, should_stop)`` trains and evaluates one queued run.
Executor = Callable[[Store, int, Callable[[], bool]], None]


class JobRunner:
    """Runs queued runs one at a time (or ``workers`` at a time) in daemon threads.

    Args:
        store: the ``Store``; each worker thread uses its own cursor, opened per call.
        execute: the executor (default ``recsys_engine.runs.execute_run``).
        workers: how many runs train at once (default 1: TensorFlow already uses the cores).
    """

    def __init__(self, store: Store, execute: Executor | None = None, workers: int = 1):
        if execute is None:
            from recsys_engine.runs import execute_run

            execute = _adapt(execute_run)
        self.store = store
        self._execute = execute
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._cancelled: set[int] = set()
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"recsys-job-{i}", daemon=True)
            for i in range(max(1, int(workers)))
        ]
        for t in self._threads:
            t.start()

    def submit(self, run_id: int) -> None:
        """Queue a run whose row already exists with status ``queued``."""
        self._queue.put(int(run_id))

    def cancel(self, run_id: int) -> None:
        """Ask a run to stop: a queued run is cancelled at once, a running one within a few
        training steps (the executor polls ``should_stop``)."""
        run_id = int(run_id)
        with self._lock:
            self._cancelled.add(run_id)
            running = run_id in self._running
        if not running:
            run = self.store.get_run(run_id)
            if run["status"] == "queued":
                self.store.set_run_status(run_id, "cancelled", error="cancelled before it started")

    def running(self) -> list[int]:
        """Ids of the runs being trained now."""
        with self._lock:
            return sorted(self._running)

    def pending(self) -> int:
        """How many submitted runs wait for a worker."""
        return self._queue.qsize()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers after the current runs (cancels them)."""
        with self._lock:
            self._cancelled.update(self._running)
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                t.join(timeout=60)

    def _work(self) -> None:
        while True:
            run_id = self._queue.get()
            if run_id is None:
                return
            with self._lock:
                if run_id in self._cancelled:
                    continue
                self._running.add(run_id)
            try:
                self._execute(self.store, run_id, lambda rid=run_id: rid in self._cancelled)
            except Exception:  # the executor records the failure on the run row
                log.exception("run %s failed", run_id)
            finally:
                with self._lock:
                    self._running.discard(run_id)
                    self._cancelled.discard(run_id)


def _adapt(fn: Callable[..., Any]) -> Executor:
    def execute(store: Store, run_id: int, should_stop: Callable[[], bool]) -> None:
        fn(store, run_id, should_stop=should_stop)

    return execute
