"""Progress reports and the cancel check of a Keras fit (``keras_fit``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from recsys_engine.errors import FitCancelled
from recsys_engine.models.base import ProgressFn, StopFn

#: Mid-epoch progress reaches ``on_progress`` at most this often (seconds). A training job
#: writes every report to the database, which opens the file each time (~35 ms a write at
#: MovieLens-20M size, ~1 s of a one-epoch fit when it was every fifth step); epoch ends
#: are always reported, and cancellation is still checked every ``check_every`` steps.
PROGRESS_INTERVAL = 1.0


class Progress:
    """Progress reports to ``on_progress`` (with elapsed seconds) and the cancel check."""

    def __init__(
        self,
        total: int,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.total, self.on_progress, self.should_stop = total, on_progress, should_stop
        self.clock = clock
        self.t0 = clock()
        self.last: float | None = None  # when on_progress was last called

    def elapsed(self) -> float:
        """Seconds since training started."""
        return self.clock() - self.t0

    def report(self, done: int, info: dict[str, Any], periodic: bool = False) -> None:
        """Report ``done`` of ``total`` steps; raise ``FitCancelled`` when asked to stop.

        A ``periodic`` (mid-epoch) report is passed on only when ``PROGRESS_INTERVAL``
        seconds have gone by since the last one passed on; the cancel check always runs.
        """
        now = self.clock()
        due = not periodic or self.last is None or now - self.last >= PROGRESS_INTERVAL
        if self.on_progress is not None and due:
            self.last = now
            self.on_progress(done, self.total, {**info, "elapsed": now - self.t0})
        if self.should_stop is not None and self.should_stop():
            raise FitCancelled("training was cancelled")
