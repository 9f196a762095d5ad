"""Compare page: the leaderboard's tuning budgets and the action that tunes every model of
the leaderboard on the split with the same budget (through the Tune panel's job path)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_engine.errors import RecsysError
from recsys_engine.jobs import StudyJob
from recsys_engine.models import model_title
from ui.text import md_escape
from ui.tune import budget_inputs, budget_text, start_studies, validation_rows


def tuned_only_toggle(done: pd.DataFrame) -> bool:
    """A toggle for a leaderboard of tuned runs only (shown once two of ``done``, the
    split's succeeded runs, are tuned)."""
    tuned = done["tuning"].notna().sum()
    if tuned < 2:
        return False
    return st.toggle(
        "Only tuned runs (a fair leaderboard)",
        key="compare_tuned_only",
        help="Hide runs trained with settings picked by hand, so every model on the leaderboard "
        "had its settings searched on the validation fold. Check the Tuning budget column: "
        "the fairest comparison gives every model the same budget.",
    )


def fair_budget_section(split_id: int, board: pd.DataFrame) -> None:
    """How the leaderboard's tuning budgets compare, and one click to tune every model of
    the leaderboard on this split with the same budget (one study per model)."""
    from recsys_engine.compare.fairness import budgets_summary

    models = list(dict.fromkeys(str(m) for m in board["model"]))
    summary = budgets_summary(list(board["tuning"]))
    with st.container(border=True):
        st.markdown("**Fair comparison: give every model the same tuning budget**")
        st.markdown(md_escape(summary))
        if not validation_rows(split_id):
            st.caption(
                "Tuning needs a split with a validation fold, and this one has none. On the "
                "Train page, choose *Tune settings first*: it offers to create one; then train "
                "and tune the models on that split."
            )
            return
        st.caption(
            f"Starts one study per model on this leaderboard ({len(models)}: "
            f"{md_escape(', '.join(model_title(m) for m in models))}), each with the budget "
            "below, in the background. Every best configuration is trained and tested once "
            "and joins this leaderboard; follow the studies on the Train page."
        )
        trials, minutes = budget_inputs("fair")
        if st.button(
            "Tune every model on this split with the same budget",
            key="fair_tune",
            icon="⚖️",
        ):
            try:
                jobs = start_studies(split_id, models, trials, minutes)
            except RecsysError as exc:
                st.error(md_escape(exc))
                return
            st.success(
                f"Started {len(jobs)} studies with the same budget "
                f"({budget_text(StudyJob(0, '', trials, minutes))} each). They run one "
                "after another; switch on *Only tuned runs* when they are done."
            )
