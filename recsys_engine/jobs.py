"""Background job runner: trains queued runs and runs tuning studies in worker threads
(DESIGN §9).

The UI holds one ``JobRunner`` (a Streamlit ``cache_resource``) whose executor trains each
run in a child process (``job_process.execute_in_child``); the default executor trains on
the worker thread, and the CLI runs it in the foreground. Status and progress live in
DuckDB, not in the runner, so any browser tab (or a new server after a restart) sees
them; the runner only knows which runs it is working on and which were asked to stop.

A job holds the database file only while it writes (status, a progress row, the results):
each ``Store`` call is its own unit of work, so a model that trains for minutes leaves the
file free for the CLI and for other processes in between.

Two kinds of job share the queue: a run (its id; the row exists, status ``queued``) and a
study (a ``StudyJob``: tune one model on a split's validation fold, then train the best
config as a run). A study's trials live in Optuna's storage and its row in ``studies``;
the ``StudyJob`` only says which study a job is running, whether it is still queued, and
how it ended.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from recsys_engine.store import Store

log = logging.getLogger(__name__)

#: ``execute(store, run_id, should_stop)`` trains and evaluates one queued run.
Executor = Callable[[Store, int, Callable[[], bool]], None]


@dataclass
class StudyJob:
    """A tuning study asked of the runner, and what became of it.

    Attributes:
        split_id: the split (it must have a validation fold). model: registry name.
        trials: at most this many trials. minutes: no trial starts after this many
            minutes (at least one of the two). space: search space overrides
            (``search_space.narrow_space``). seed: seeds the sampler.
        job_id: given by ``JobRunner.submit_study``. status: ``queued``, ``running``,
            ``succeeded``, ``failed`` or ``cancelled``. stopping: a cancel was asked and
            the running trial is winding down. study_id: its ``studies`` row,
            once started. run_id: the run of its best config. error: why it failed.
    """

    split_id: int
    model: str
    trials: int | None = None
    minutes: float | None = None
    space: dict[str, Any] | None = None
    seed: int = 0
    job_id: int = 0
    status: str = "queued"
    stopping: bool = False
    study_id: int | None = None
    run_id: int | None = None
    error: str | None = None


#: ``tune(store, job, should_stop, on_start)`` runs one study and returns its best run's id;
#: ``on_start(study_id)`` is called once the study row exists.
StudyExecutor = Callable[[Store, StudyJob, Callable[[], bool], Callable[[int], None]], int | None]


class JobRunner:
    """Runs queued runs one at a time (or ``workers`` at a time) in daemon threads.

    Args:
        store: the ``Store``; each worker thread uses its own cursor, opened per call.
        execute: the executor (default ``recsys_engine.runs.execute_run``).
        workers: how many runs train at once (default 1: TensorFlow already uses the cores).
    """

    def __init__(
        self,
        store: Store,
        execute: Executor | None = None,
        workers: int = 1,
        tune: StudyExecutor | None = None,
    ):
        if execute is None:
            from recsys_engine.runs import execute_run

            execute = _adapt(execute_run)
        self.store = store
        self._execute = execute
        self._tune = tune or _tune_study
        self._queue: queue.Queue[int | StudyJob | None] = queue.Queue()
        self._studies: dict[int, StudyJob] = {}
        self._cancelled_studies: set[int] = set()
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

    def submit_study(self, job: StudyJob) -> int:
        """Queue a study; returns its job id (``study_jobs`` reports on it)."""
        with self._lock:
            job = replace(job, job_id=len(self._studies) + 1, status="queued")
            self._studies[job.job_id] = job
        self._queue.put(job)
        return job.job_id

    def study_jobs(self) -> list[StudyJob]:
        """Every study job of this runner (copies), oldest first."""
        with self._lock:
            return [replace(j) for j in self._studies.values()]

    def cancel_study(self, job_id: int) -> None:
        """Ask a study job to stop: a queued one never starts; a running one stops after its
        current trial (a Keras trial within a few training steps), and is ``cancelled``."""
        with self._lock:
            job = self._studies.get(int(job_id))
            if job is None:
                return
            self._cancelled_studies.add(job.job_id)
            job.stopping = job.status == "running"
            if job.status == "queued":
                job.status, job.error = "cancelled", "cancelled before it started"

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
            if isinstance(run_id, StudyJob):
                self._study(run_id.job_id)
                continue
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

    def _study(self, job_id: int) -> None:
        """Run one study job, recording on it how it went (the study row records the rest)."""
        from recsys_engine.errors import FitCancelled, RecsysError

        with self._lock:
            job = self._studies[job_id]
            if job_id in self._cancelled_studies:
                return
            job.status = "running"

        def started(study_id: int) -> None:
            with self._lock:
                job.study_id = int(study_id)

        try:
            run_id = self._tune(
                self.store, replace(job), lambda: job_id in self._cancelled_studies, started
            )
        except FitCancelled as exc:
            status, error, run_id = "cancelled", str(exc), None
        except RecsysError as exc:  # no validation fold, no trial completed, …
            status, error, run_id = "failed", str(exc), None
        except Exception as exc:  # a bug: keep the thread alive, show what happened
            log.exception("study job %s failed", job_id)
            status, error, run_id = "failed", f"{type(exc).__name__}: {exc}", None
        else:
            status, error = "succeeded", None
        with self._lock:
            job.status, job.error, job.run_id = status, error, run_id
            job.stopping = False


def _tune_study(
    store: Store,
    job: StudyJob,
    should_stop: Callable[[], bool],
    on_start: Callable[[int], None],
) -> int | None:
    """The default study executor: ``tuning.tune`` on the job's split and model."""
    from recsys_engine.tuning import tune

    result = tune(
        store,
        job.split_id,
        job.model,
        trials=job.trials,
        minutes=job.minutes,
        space=job.space,
        seed=job.seed,
        should_stop=should_stop,
        on_start=on_start,
    )
    return result.run_id


def _adapt(fn: Callable[..., Any]) -> Executor:
    def execute(store: Store, run_id: int, should_stop: Callable[[], bool]) -> None:
        fn(store, run_id, should_stop=should_stop)

    return execute
