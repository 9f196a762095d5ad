"""The best model against every other, in one pass: one paired comparison and one decision
per pair, with the leaderboard's best run as the baseline A.

This is the "which of these should we ship?" question a stakeholder asks of a whole
leaderboard: each pair answers it the way the A/B panel does (same statistics, same
decision rules), so the sentences agree with what the panel shows for that pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from recsys_engine.compare.options import CompareOptions
from recsys_engine.compare.pair import Comparison, compare_runs
from recsys_engine.errors import RecsysError

if TYPE_CHECKING:
    from recsys_engine.store import Store


@dataclass(frozen=True)
class Sweep:
    """The best run compared with each other run of a leaderboard.

    Attributes:
        best: run id of the baseline (best mean of the primary metric).
        pairs: one ``Comparison`` per other run, in leaderboard order (A = ``best``).
    """

    best: int
    pairs: tuple[Comparison, ...]

    def frame(self) -> pd.DataFrame:
        """One row per challenger: its label, the decision kind and the plain sentence."""
        return pd.DataFrame(
            [
                {
                    "challenger": c.run_b["label"],
                    "kind": c.decision.kind,
                    "decision": c.decision.headline,
                    "why": " ".join(c.decision.reasons),
                }
                for c in self.pairs
            ],
            columns=["challenger", "kind", "decision", "why"],
        )


def best_against_rest(
    store: Store, run_ids: list[int], options: CompareOptions | None = None
) -> Sweep:
    """Compare the first of ``run_ids`` (the leaderboard's best) with each of the others.

    Args:
        store: the store holding the runs.
        run_ids: succeeded runs of one split, best first (the leaderboard's order).
        options: the A/B options used for every pair.

    Raises:
        RecsysError: fewer than two runs, or runs that cannot be compared.
    """
    ids = list(dict.fromkeys(int(r) for r in run_ids))
    if len(ids) < 2:
        raise RecsysError(f"comparing the best model needs at least two runs (got {len(ids)})")
    best, others = ids[0], ids[1:]
    pairs = tuple(compare_runs(store, best, other, options) for other in others)
    return Sweep(best=best, pairs=pairs)
