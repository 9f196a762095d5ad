"""Figures of a study (plotly): the best validation NDCG@10 so far, parameter importance
and the metric against each searched setting (the last two from ``optuna.visualization``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from recsys_engine.tuning.trials import STATE_LABELS, VALUE_COLUMN

if TYPE_CHECKING:  # optuna is imported where a study runs
    import optuna

#: Fewer complete trials than this give an importance estimate that says little (Optuna's
#: PED-ANOVA compares the best tenth of the trials with the rest); the page says so instead.
MIN_IMPORTANCE_TRIALS = 8
STATE_COLOURS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "failed": "#d62728"}


def best_so_far_figure(table: pd.DataFrame) -> go.Figure:
    """Each trial's validation NDCG@10 (dots coloured by status) and the best complete
    trial so far (a step line): whether more trials still help."""
    fig = go.Figure()
    for state, colour in STATE_COLOURS.items():
        rows = table[table["Status"] == STATE_LABELS.get(state, state)]
        if not rows.empty:
            fig.add_scatter(
                x=rows["Trial"],
                y=rows[VALUE_COLUMN],
                mode="markers",
                name="pruned (last epoch reached)" if state == "pruned" else state,
                marker=dict(color=colour, size=9),
            )
    if not table.empty and table["Best so far"].notna().any():
        fig.add_scatter(
            x=table["Trial"],
            y=table["Best so far"],
            mode="lines",
            line=dict(shape="hv", color="#2ca02c", width=3),
            name="best so far",
        )
    fig.update_layout(
        template="plotly_white",
        height=280,
        margin=dict(l=10, r=10, t=40, b=10),
        title="Validation NDCG@10 per trial, and the best so far",
        xaxis_title="trial",
        yaxis_title="validation NDCG@10",
        legend=dict(orientation="h", y=-0.25),
    )
    fig.update_xaxes(dtick=1 if len(table) <= 12 else None)
    return fig


def importance_figure(study: optuna.Study) -> tuple[go.Figure | None, str]:
    """Optuna's parameter-importance chart, or None and why it is not shown.

    The note always says what the chart means (or why there is none): with fewer than
    ``MIN_IMPORTANCE_TRIALS`` complete trials, or only one searched setting, an importance
    estimate would look precise and mean nothing.
    """
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    searched = {k for t in complete for k in t.params}
    if not complete:
        return None, "No trial completed, so there is nothing to rank."
    if len(complete) < MIN_IMPORTANCE_TRIALS:
        return None, (
            f"Parameter importance needs at least {MIN_IMPORTANCE_TRIALS} completed trials; "
            f"this study has {len(complete)}, too few to tell which setting matters. "
            "The plots of the metric against each setting below show every trial instead."
        )
    if len(searched) < 2:
        return None, "Only one setting was searched, so there is nothing to rank."
    fig = optuna.visualization.plot_param_importances(study, target_name="validation NDCG@10")
    fig.update_layout(
        template="plotly_white",
        height=300,
        margin=dict(l=10, r=10, t=10, b=10),
        title=None,  # the page names the chart in plain words
        xaxis_title="share of the change in validation NDCG@10",
        yaxis_title=None,
    )
    return fig, (
        "How much of the change in validation NDCG@10 between trials each setting explains "
        f"(Optuna's PED-ANOVA estimate over {len(complete)} completed trials)."
    )


def slice_figure(study: optuna.Study) -> go.Figure | None:
    """Validation NDCG@10 against each searched setting, one panel per setting (Optuna's
    slice plot; darker dots are later trials). None before any trial completed."""
    import optuna

    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        return None
    fig = optuna.visualization.plot_slice(study, target_name="validation NDCG@10")
    fig.update_layout(
        template="plotly_white", height=320, margin=dict(l=10, r=10, t=10, b=10), title=None
    )
    return fig
