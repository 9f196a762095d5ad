"""The tables of a comparison as DataFrames with readable column names.

The Compare page and the HTML report show the same tables; both take them from here (the
page formats them for Streamlit, the report for HTML).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_engine.compare.fairness import budget_text
from recsys_engine.compare.names import ACCURACY, BEYOND, SHELF, metric_label, plain_title
from recsys_engine.compare.pair import Comparison
from recsys_engine.models import model_title

FAMILY_LABEL = {
    "reference": "Reference",
    "collaborative": "Collaborative",
    "content": "Content",
    "hybrid": "Hybrid",
    "sequence": "Sequence",
    "autoencoder": "Autoencoder",
}


def fmt(value: float | str | None, kind: str = "num") -> str:
    """A number for people: ``num`` 4 decimals, ``signed`` the same with its sign, ``pct``
    signed %, ``upct`` %, ``p`` p-value, ``int``; a missing value is a dash."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if kind == "pct":
        return f"{value * 100:+.1f}%"
    if kind == "upct":
        return f"{value * 100:.1f}%"
    if kind == "p":
        return "< 0.001" if value < 0.001 else f"{value:.3f}"
    if isinstance(value, str):
        return value
    if kind == "int":
        return f"{int(value):,}"
    if kind == "signed":
        return f"{value:+.4f}"
    return f"{value:.4f}"


def metrics_frame(comparison: Comparison) -> pd.DataFrame:
    """The metric table with readable column names (page and report)."""
    t = comparison.metrics_table()
    return pd.DataFrame(
        {
            "Metric": [
                plain_title(m) + (" · decision metric" if r == "primary" else "")
                for m, r in zip(t["metric"], t["role"], strict=True)
            ],
            "A": t["mean_a"],
            "B": t["mean_b"],
            "Change": t["diff"],
            "Relative change": t["rel_change"],
            "95% CI low": t["rel_ci_low"],
            "95% CI high": t["rel_ci_high"],
            "p-value": t["p_value"],
            "p (Holm)": t["p_adjusted"],
            "Users B better": t["wins"],
            "Same": t["ties"],
            "Users A better": t["losses"],
            "Effect size (dz)": t["effect_size"],
            "Detectable change": t["mde_rel"],
        }
    )


def segments_frame(comparison: Comparison) -> pd.DataFrame:
    """The segment table with readable column names (page and report). ``Change`` is B − A:
    where A scores 0 in a segment a relative change has no base, and the table still says how
    far B moved."""
    s = comparison.segments
    if s.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "Group": s["family"],
            "Segment": s["segment"],
            "Users": s["users"],
            "A": s["mean_a"],
            "B": s["mean_b"],
            "Change": s["diff"],
            "Relative change": s["rel_change"],
            "95% CI low": s["rel_ci_low"],
            "95% CI high": s["rel_ci_high"],
            "p (BH)": s["p_bh"],
        }
    )


def guardrails_frame(comparison: Comparison) -> pd.DataFrame:
    """Guardrail metrics: A, B, relative change and status."""
    status = {"ok": "OK", "breached": "Dropped too much", "unavailable": "Not available"}
    return pd.DataFrame(
        {
            "Guardrail": [plain_title(g.metric) for g in comparison.guardrails],
            "A": [g.value_a for g in comparison.guardrails],
            "B": [g.value_b for g in comparison.guardrails],
            "Relative change": [g.rel_change for g in comparison.guardrails],
            "Status": [status[g.status] for g in comparison.guardrails],
        }
    )


def recall_is_hitrate(board: pd.DataFrame) -> bool:
    """Whether Recall@K and Hit rate@K agree on every run (to 1e-9): they do when each test
    user has one held-out item (a leave-last-1 split), and two equal columns look like a bug
    unless the page says why."""
    if not {"recall", "hitrate"} <= set(board_metrics(board)):
        return False
    r = board["recall"].to_numpy(dtype=float)
    h = board["hitrate"].to_numpy(dtype=float)
    return bool(np.allclose(r, h, rtol=0.0, atol=1e-9, equal_nan=True))


def board_metrics(board: pd.DataFrame) -> list[str]:
    """The metric columns of a leaderboard that hold at least one value, in display order."""
    return [c for c in (*ACCURACY, *BEYOND, *SHELF) if c in board and board[c].notna().any()]


def _cell(value: float | None, low: float | None, high: float | None, metric: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    digits = 1 if metric == "arp" else 3
    text = f"{value:.{digits}f}"
    if low is not None and high is not None and pd.notna(low) and pd.notna(high):
        text += f" ± {(high - low) / 2:.{digits}f}"
    return text


def _column(board: pd.DataFrame, name: str) -> list:
    """The values of column ``name``, or a None per row when the board has no such column."""
    return board[name].tolist() if name in board else [None] * len(board)


def runs_tied_for_best(board: pd.DataFrame) -> int:
    """How many runs share the first rank group (the best and every run a paired test
    cannot tell apart from it); 0 when the board has no rank groups."""
    return int((board["rank_group"] == 1).sum()) if "rank_group" in board else 0


def leaderboard_frame(board: pd.DataFrame, k: int) -> pd.DataFrame:
    """The leaderboard as people read it: rank group (runs in group 1 are statistically
    tied with the best), model, run, type, tuning budget, each metric@K as ``value ±
    CI half-width``, training time and, when a run scores below the Popularity baseline, a
    note column that says so."""
    table = pd.DataFrame(
        {
            "Model": [
                f"{model_title(m)} ★" if ref else model_title(m)
                for m, ref in zip(board["model"], board["reference"], strict=True)
            ],
            "Run": board["run_id"].astype(int),
            "Type": [FAMILY_LABEL.get(f, str(f).capitalize()) for f in board["family"]],
        }
    )
    if "rank_group" in board:
        # "tied" only when the first group holds more than one run
        first = "1 · tied for best" if runs_tied_for_best(board) > 1 else "1 · best"
        table.insert(
            0,
            "Rank group",
            [
                "–" if pd.isna(g) else (first if int(g) == 1 else str(int(g)))
                for g in board["rank_group"]
            ],
        )
    if "tuning" in board:  # next to the model: two runs of one model differ by it
        table["Tuning budget"] = [budget_text(t) for t in board["tuning"]]
    for mt in board_metrics(board):
        # columns zipped, not board.iterrows(): a Series per row per metric cost the
        # Compare page ~10 ms a render for a handful of runs
        cells = zip(
            board[mt], _column(board, f"{mt} low"), _column(board, f"{mt} high"), strict=True
        )
        table[metric_label(f"{mt}@{k}")] = [_cell(v, lo, hi, mt) for v, lo, hi in cells]
    table["Training time"] = ["–" if pd.isna(s) else f"{s:.1f} s" for s in board["fit_seconds"]]
    if board["loses_to_popularity"].any():  # an empty column only widens the table
        table["Note"] = np.where(board["loses_to_popularity"], "⚠ below Popularity", "")
    return table
