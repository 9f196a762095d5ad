"""How long a running run has left, fit and evaluation together (issue 14).

The Train page shows one line per running run: the stage, the steps done, the time
elapsed and the time left for the *whole* run. Training's pace comes from its own progress
rows; the evaluation still to come from earlier evaluations on the same split, until the
evaluation starts and its own pace takes over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class RunEta:
    """Where a running run is and how long the whole of it (fit + evaluation) has left.

    Attributes:
        stage: ``fit``, ``evaluate`` or ``starting``.
        fraction: share of the current stage done (0–1), for a progress bar.
        elapsed: seconds since the run started.
        fit_left: estimated seconds of training left (0 once evaluating; None when unknown).
        eval_left: estimated seconds of evaluation left (None when unknown).
        text: one line for people, e.g. ``"fit: 120/400 steps · 30 s elapsed · about
            1 min 40 s left (training 1 min 10 s, then evaluation 30 s)"``.
    """

    stage: str
    fraction: float
    elapsed: float
    fit_left: float | None
    eval_left: float | None
    text: str

    @property
    def remaining(self) -> float | None:
        """Seconds left for the whole run (None while either part is unknown)."""
        if self.fit_left is None or self.eval_left is None:
            return None
        return self.fit_left + self.eval_left


def run_eta(progress: pd.DataFrame, eval_seconds: float | None = None) -> RunEta:
    """Estimate the time a run has left from its progress rows (``Store.run_progress``).

    Each stage's pace is measured on its own rows: training from its first row with a
    step > 0 to the last (the set-up and graph tracing before the first step do not count),
    evaluation from the step-0 row written when it starts. Time left in a stage is
    pace × (total − done), pace = (t_last − t_first) / (done_last − done_first). While
    training, the evaluation still to come is ``eval_seconds`` (e.g. ``typical_eval_seconds``
    of earlier runs on the split), unknown when None. Training that stops early finishes
    sooner than estimated.
    """
    if progress is None or progress.empty:
        return RunEta("starting", 0.0, 0.0, None, None, "starting…")
    stages = progress["stage"].fillna("fit") if "stage" in progress else None
    last = progress.iloc[-1]
    stage = "fit" if stages is None else str(stages.iloc[-1])
    elapsed = _num(last.get("wall_time")) or 0.0
    total, done = _num(last.get("total")), _num(last.get("step"))
    if not total or total <= 0 or done is None:
        return RunEta(stage, 0.0, elapsed, None, None, f"{format_seconds(elapsed)} elapsed")
    rows = progress if stages is None else progress[stages == stage]
    if stage == "fit":
        rows = rows[rows["step"] > 0]
    left = _stage_left(rows, total, done)
    fraction = min(1.0, done / total)
    unit = "users" if stage == "evaluate" else "steps"
    text = f"{stage}: {int(done):,}/{int(total):,} {unit} · {format_seconds(elapsed)} elapsed"
    if stage == "evaluate":
        fit_left, eval_left = 0.0, left
    else:
        fit_left = left
        eval_left = None if eval_seconds is None else max(0.0, float(eval_seconds))
    eta = RunEta(stage, fraction, elapsed, fit_left, eval_left, text)
    if eta.remaining is not None:
        text += f" · about {format_seconds(eta.remaining)} left"
        if stage == "fit":
            text += (
                f" (training {format_seconds(fit_left)}, "
                f"then evaluation {format_seconds(eval_left)})"
            )
    elif stage == "fit" and fit_left is not None:  # evaluating: the training is over
        text += f" · training about {format_seconds(fit_left)} left, then the evaluation"
    return RunEta(stage, fraction, elapsed, fit_left, eval_left, text)


def _stage_left(rows: pd.DataFrame, total: float, done: float) -> float | None:
    if len(rows) < 2:
        return None
    first, last = rows.iloc[0], rows.iloc[-1]
    t0, t1 = _num(first.get("wall_time")), _num(last.get("wall_time"))
    d0, d1 = _num(first.get("step")), _num(last.get("step"))
    if None in (t0, t1, d0, d1) or d1 <= d0 or t1 < t0:
        return None
    return (t1 - t0) / (d1 - d0) * max(0.0, total - done)


def _num(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def typical_eval_seconds(runs: pd.DataFrame, split_id: int, model: str) -> float | None:
    """Median evaluation time of the succeeded runs on a split (``Store.list_runs`` rows),
    of the same model when there are any, else of every model: the evaluation still to come
    in a run's ETA. None when nothing was evaluated on the split yet."""
    if runs is None or runs.empty or "eval_seconds" not in runs:
        return None
    done = runs[
        (runs["split_id"] == int(split_id))
        & (runs["status"] == "succeeded")
        & runs["eval_seconds"].notna()
    ]
    same = done[done["model"] == model]
    pick = same if len(same) else done
    return float(pick["eval_seconds"].median()) if len(pick) else None


def format_seconds(seconds: float) -> str:
    """``42`` → ``"42 s"``, ``125`` → ``"2 min 05 s"``, ``4000`` → ``"1 h 06 min"``."""
    s = int(round(max(0.0, float(seconds))))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
