"""Local worker processes on one study: ``tune(..., workers=N)`` with N > 1.

Each worker is a spawned process (TensorFlow is not fork-safe) that loads the shared study
from its storage (a journal file or an RDB URL; never in memory) and runs its share of the
trials with its own sampler seed. The parent only waits, polls the cancel flag and
terminates the workers when asked; the trials and their results live in the storage.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING

from recsys_engine.errors import FitCancelled, RecsysError
from recsys_engine.models.base import StopFn
from recsys_engine.tuning.storage import open_storage

if TYPE_CHECKING:
    from recsys_engine.tuning.objective import Objective


def _worker(
    storage: str,
    name: str,
    objective: Objective,
    trials: int | None,
    minutes: float | None,
    seed: int,
) -> None:
    """One worker process: load the shared study and run its share of the trials."""
    import optuna

    # imported here, not at the top: ``study`` imports this module to start the workers
    from recsys_engine.tuning.study import _optimize, default_pruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=name,
        storage=open_storage(storage),
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=default_pruner(),
    )
    _optimize(study, objective, trials, minutes)


def run_workers(
    storage: str,
    name: str,
    objective: Objective,
    trials: int | None,
    minutes: float | None,
    workers: int,
    seed: int,
    should_stop: StopFn | None,
) -> None:
    """Start ``workers`` local processes on the study and wait for them; each runs an
    equal share of ``trials`` (the first ones one more when it does not divide), so the
    study ends with exactly ``trials`` trials. ``should_stop()`` terminates them."""
    ctx = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
    shares = [None] * workers if trials is None else _shares(trials, workers)
    procs = [
        ctx.Process(
            target=_worker,
            args=(storage, name, objective, share, minutes, int(seed) + i),
            daemon=True,
        )
        for i, share in enumerate(shares)
    ]
    with _neutral_main():
        for p in procs:
            p.start()
    try:
        while any(p.is_alive() for p in procs):
            if should_stop is not None and should_stop():
                raise FitCancelled("tuning was cancelled")
            for p in procs:
                p.join(timeout=0.5)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RecsysError(f"{len(failed)} of {workers} tuning workers failed (exit codes {failed})")


@contextlib.contextmanager
def _neutral_main() -> Iterator[None]:
    """Start spawned workers with a neutral ``__main__``.

    A spawned process first re-runs the parent's main module. Under Streamlit (and its
    AppTest) that module is the app script, which would open the database and draw the
    app in every worker; the workers need nothing from it (their target and objective
    are importable), so they are started while ``__main__`` is an empty module.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _shares(trials: int, workers: int) -> list[int]:
    """``trials`` split over ``workers`` as evenly as possible (they add up to ``trials``)."""
    base, extra = divmod(trials, workers)
    return [base + (1 if i < extra else 0) for i in range(workers)]
