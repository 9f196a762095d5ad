"""Figures of a study (plotly): the best validation NDCG@10 so far, parameter importance
and the metric against each searched setting (the last two from ``optuna.visualization``).
"""

from __future__ import annotations

import math
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
#: Most labelled ticks on one log axis: a slice panel is a third of the page wide.
MAX_LOG_TICKS = 6


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
    readable_log_axes(fig)
    return fig


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Round tick values for a log axis over ``[low, high]`` (both > 0), and their labels.

    Why: plotly labels a log axis spanning less than a decade or two with bare leading
    digits ("8 9 100 2 3 4 5"), which reads as nonsense to anyone who does not know the
    convention. Ticks go at 1-2-5 steps (1-3 or decades when that makes more than
    ``MAX_LOG_TICKS``; every n-th decade over very wide ranges); when no such value falls
    inside the range, the nearest below ``low`` and above ``high`` are given (the axis
    range should then include them). Labels are plain numbers (``"50"``, ``"1,000"``,
    ``"0.005"``), or ``"1e-4"`` style on an axis that reaches below 0.001 or to a million.

    Raises:
        ValueError: ``low`` or ``high`` not a positive finite number, or ``low > high``.
    """
    if not (0 < low <= high < math.inf):
        raise ValueError(f"log_ticks needs 0 < low <= high (got low={low!r}, high={high!r})")
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))

    def candidates(mantissas: tuple[int, ...], every: int = 1) -> list[tuple[int, int]]:
        return [(m, e) for e in range(first, last + 1, every) for m in mantissas]

    def value(pair: tuple[int, int]) -> float:
        return float(f"{pair[0]}e{pair[1]}")  # exact decimal: 3e-05, not 3.0000000000000004e-05

    # a hair of slack so a range ending on a round value (1 to 100000) keeps that tick
    lo, hi = low * (1 - 1e-9), high * (1 + 1e-9)
    inside: list[tuple[int, int]] = []
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        inside = [p for p in candidates(mantissas) if lo <= value(p) <= hi]
        if len(inside) <= MAX_LOG_TICKS:
            break
    else:  # decades alone are too many: every n-th decade
        every = math.ceil(len(inside) / MAX_LOG_TICKS)
        inside = [p for p in candidates((1,), every) if lo <= value(p) <= hi]
    if len(inside) < 2:  # a narrow range: bracket it with the round values around it
        steps = candidates((1, 2, 5))  # from 10**first <= low to 10**last >= high
        below = [p for p in steps if value(p) <= low * (1 + 1e-9)][-1:]
        above = [p for p in steps if value(p) >= high * (1 - 1e-9)][:1]
        inside = sorted(set(below + inside + above), key=value)
    values = [value(p) for p in inside]
    scientific = values[0] < 1e-3 or values[-1] >= 1e6
    texts = [
        f"{m}e{e}" if scientific else (f"{v:,.0f}" if v >= 1 else f"{v:g}")
        for (m, e), v in zip(inside, values, strict=True)
    ]
    return values, texts


def readable_log_axes(fig: go.Figure) -> None:
    """Give each log-scale x axis of ``fig`` round, labelled ticks (``log_ticks``) over the
    x values drawn on it; the scale stays logarithmic. Axes without data are left alone."""
    for key in [k for k in fig.layout if k.startswith("xaxis")]:
        axis = fig.layout[key]
        if axis.type != "log":
            continue
        ref = "x" + key[len("xaxis") :]
        xs = [
            float(x)
            for trace in fig.data
            if (getattr(trace, "xaxis", None) or "x") == ref and trace.x is not None
            for x in trace.x
            if x is not None and float(x) > 0
        ]
        if not xs:
            continue
        values, texts = log_ticks(min(xs), max(xs))
        lo, hi = math.log10(min(min(xs), values[0])), math.log10(max(max(xs), values[-1]))
        pad = max(0.05 * (hi - lo), 0.1)  # room for the end dots (log10 units)
        axis.update(tickmode="array", tickvals=values, ticktext=texts, range=[lo - pad, hi + pad])
