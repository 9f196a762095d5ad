"""Training progress: mid-epoch reports at most once per ``PROGRESS_INTERVAL``, epoch ends
always, the cancel check at every report (issue 14: a job writes each report to the
database)."""

from __future__ import annotations

import pytest

from recsys_engine.errors import FitCancelled
from recsys_engine.models.fit_progress import PROGRESS_INTERVAL, Progress


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_mid_epoch_reports_are_thinned_to_the_interval_and_epoch_ends_always_pass():
    clock, seen = _Clock(), []
    progress = Progress(10, lambda d, t, info: seen.append((d, info["elapsed"])), None, clock)
    progress.report(0, {"epoch": 0})
    for done, gap in [(1, 0.4), (2, 0.4), (3, 0.4), (4, 0.1), (5, 0.9)]:
        clock.now += gap * PROGRESS_INTERVAL
        progress.report(done, {"epoch": 1}, periodic=True)
    clock.now += 0.1 * PROGRESS_INTERVAL
    progress.report(6, {"epoch": 1})  # an epoch's end
    # 0 at t=0; 3 at 1.2 (≥ 1 interval after 0); 5 at 2.2 (1.0 after 3); 6 always
    assert [d for d, _ in seen] == [0, 3, 5, 6]
    assert seen[1][1] == pytest.approx(1.2 * PROGRESS_INTERVAL)


def test_the_cancel_check_runs_at_reports_that_are_not_passed_on():
    clock, stop = _Clock(), [False]
    progress = Progress(10, lambda d, t, info: None, lambda: stop[0], clock)
    progress.report(0, {})
    progress.report(1, {}, periodic=True)  # not passed on: too soon
    stop[0] = True
    with pytest.raises(FitCancelled):
        progress.report(2, {}, periodic=True)
