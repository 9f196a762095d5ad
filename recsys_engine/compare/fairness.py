"""Tuning budgets of compared runs: what each run was tuned with, and a plain note when two
runs in an A/B test had very different budgets (DESIGN §6: "unequal budgets are called
out").

A comparison of a tuned model against one left at its default settings partly measures the
tuning, not the model (Rendle et al. 2019). A run's budget is its ``tuning`` record (set by
``recsys_engine.tuning``); a run trained with a given config has none and counts as 0
trials.
"""

from __future__ import annotations

from typing import Any

#: Budgets are "very different" when one run had at least this many times the trials of
#: the other (0 trials counts as fewer than any) ...
RATIO = 2.0
#: ... and at least this many more trials.
MIN_GAP = 5


def budget_trials(tuning: dict[str, Any] | None) -> int:
    """Trials a run was tuned with (0: trained with given settings)."""
    return int((tuning or {}).get("trials") or 0)


def budget_text(tuning: dict[str, Any] | None) -> str:
    """``"20 trials, 3.1 min"`` or ``"not tuned"`` (leaderboard and run tables)."""
    if not tuning:
        return "not tuned"
    minutes = float(tuning.get("minutes") or 0.0)
    took = "under 0.1 min" if minutes < 0.1 else f"{minutes:.1f} min"
    return f"{budget_trials(tuning)} trials, {took}"


def unequal_budgets(trials_a: int, trials_b: int) -> bool:
    """Whether two trial counts are very different (``RATIO`` × and ``MIN_GAP`` apart)."""
    low, high = sorted((int(trials_a), int(trials_b)))
    return high - low >= MIN_GAP and (low == 0 or high / low >= RATIO)


def _budget_words(label: str, trials: int) -> str:
    if trials == 0:
        return f"{label} was not tuned (settings picked by hand)"
    return f"{label} was tuned with {trials} trials on the validation fold"


def budget_note(
    run_a: dict[str, Any], run_b: dict[str, Any], verdict: str | None = None
) -> str | None:
    """A plain note when A and B had very different tuning budgets, else None.

    Args:
        run_a, run_b: ``{"label": ..., "tuning": ...}`` of the baseline and the candidate.
        verdict: the A/B verdict (Better / Worse / Neutral / Inconclusive) of B against A;
            it decides whether the extra tuning may explain the result.
    """
    ta, tb = budget_trials(run_a.get("tuning")), budget_trials(run_b.get("tuning"))
    if not unequal_budgets(ta, tb):
        return None
    more, less = ("B", "A") if tb > ta else ("A", "B")
    words = (
        f"Unequal tuning: {_budget_words('A, ' + run_a['label'] + ',', ta)}, while "
        f"{_budget_words('B, ' + run_b['label'] + ',', tb)}. "
    )
    winner = {"Better": "B", "Worse": "A"}.get(verdict or "")
    if winner == more:
        words += (
            f"Part of {more}'s lead may come from that extra tuning rather than from the "
            "model itself."
        )
    elif winner == less:
        words += f"{less} wins although {more} was tuned more, so tuning does not explain it."
    else:
        words += f"With the same tuning, {less} might do better than it does here."
    return words + " For a fair test, tune both with the same budget."


def budgets_summary(tunings: list[dict[str, Any] | None]) -> str:
    """One sentence on the budgets of a leaderboard's runs, e.g. "Tuning budgets differ: 3
    runs use settings picked by hand, 1 was tuned with 40 trials." """
    counts: dict[int, int] = {}
    for t in tunings:
        counts[budget_trials(t)] = counts.get(budget_trials(t), 0) + 1
    n = len(tunings)

    def part(trials: int, runs: int) -> str:
        were = "run uses" if runs == 1 else "runs use"
        if trials == 0:
            return f"{runs} {were} settings picked by hand"
        return f"{runs} {'was' if runs == 1 else 'were'} tuned with {trials} trials"

    if list(counts) == [0]:
        return (
            f"No run here was tuned: all {n} use settings picked by hand (the defaults or a "
            "preset), which suit some models better than others."
        )
    if len(counts) == 1:
        (trials,) = counts
        return f"Every run here was tuned with {trials} trials: the budgets are equal."
    parts = [part(t, r) for t, r in sorted(counts.items())]
    low, high = min(counts), max(counts)
    lead = "Tuning budgets differ a lot" if unequal_budgets(low, high) else "Tuning budgets differ"
    return f"{lead}: " + ", ".join(parts[:-1]) + f" and {parts[-1]}."
