"""Plotly figures for the dataset profile (no Streamlit here).

Every builder takes plain arrays or frames (the fields of ``DatasetProfile``) and returns a
``plotly.graph_objects.Figure`` in one template, coloured from ``recsys_engine.palette``.
Titles, labels and hover texts are fixed strings and numbers; no user-supplied text reaches
a figure, so nothing can inject HTML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from recsys_engine.palette import ACCENT, MUTED, PRIMARY, TEMPLATE

if TYPE_CHECKING:
    from recsys_engine.profile.dataset import DatasetProfile

#: The long-tail curve keeps at most this many points (enough to look smooth).
MAX_CURVE_POINTS = 2_000


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.0, "xanchor": "left"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin={"l": 60, "r": 30, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        hovermode="x unified",
        bargap=0.1,
    )
    return fig


def _empty(title: str, message: str) -> go.Figure:
    """A figure without traces that says why (no data of this kind)."""
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.0, "xanchor": "left"})
    fig.add_annotation(
        text=message,
        showarrow=False,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        font={"size": 14, "color": "#666"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _curve_positions(n: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """0-based ranks to draw: all of them, or a log- and linear-spaced subset with the ends."""
    if n <= max_points:
        return np.arange(n)
    half = max_points // 2
    picks = np.concatenate(
        [
            np.geomspace(1, n, half).round() - 1,
            np.linspace(0, n - 1, half).round(),
        ]
    )
    return np.unique(picks.astype(np.int64))


def long_tail_figure(item_popularity: np.ndarray, log_axes: bool = False) -> go.Figure:
    """Items ranked by popularity: interactions per item and the cumulative share.

    Two traces: interactions per item (left axis) and cumulative share of interactions
    (right axis, 0–100%). The top 1% and 10% of items are marked on the curve, their shares
    written in one note.

    Args:
        item_popularity: interactions per item (any order).
        log_axes: logarithmic rank and count axes (the tail reads better on big catalogues).
    """
    title = "Item popularity: the long tail"
    counts = np.sort(np.asarray(item_popularity, dtype=np.float64))[::-1]
    if counts.size == 0 or counts.sum() <= 0:
        return _empty(title, "No interactions yet")
    cumulative = np.cumsum(counts) / counts.sum()
    pos = _curve_positions(counts.size)
    rank = pos + 1
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=rank,
            y=counts[pos],
            name="interactions per item",
            mode="lines",
            line={"color": PRIMARY, "width": 2},
            fill="tozeroy" if not log_axes else None,
            hovertemplate="rank %{x:,}: %{y:,} interactions<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=rank,
            y=100.0 * cumulative[pos],
            name="cumulative share",
            mode="lines",
            line={"color": ACCENT, "width": 2},
            yaxis="y2",
            hovertemplate="top %{x:,} items: %{y:.1f}% of interactions<extra></extra>",
        )
    )
    # The top 1% / 10% points are marked on the curve; their shares are written once, in
    # an empty area: with linear axes right of the head, below the curve and above the
    # tail; with log axes the two curves cross there, and the empty area is the bottom
    # right, under the cumulative share and left of where the tail drops.
    marks, notes = [], []
    for fraction, label in ((0.01, "1%"), (0.10, "10%")):
        k = max(1, int(np.ceil(fraction * counts.size - 1e-9)))
        if k < counts.size:
            share = 100.0 * cumulative[k - 1]
            marks.append((k, share, label))
            # shorter with log axes: its empty corner is narrower
            what = f"top {label}:" if log_axes else f"top {label} of items take"
            notes.append(f"{what} {share:.0f}% of interactions")
    if marks:
        fig.add_trace(
            go.Scatter(
                x=[m[0] for m in marks],
                y=[m[1] for m in marks],
                text=[f"top {m[2]}" for m in marks],
                mode="markers+text",
                textposition="middle right",
                marker={"color": ACCENT, "size": 9, "line": {"color": "white", "width": 1}},
                yaxis="y2",
                showlegend=False,
                hovertemplate="%{text} of items: %{y:.0f}% of interactions<extra></extra>",
            )
        )
        fig.add_annotation(
            x=0.92 if log_axes else 0.98,
            y=0.03 if log_axes else 0.5,
            xref="paper",
            yref="paper",
            xanchor="right",
            yanchor="bottom" if log_axes else "middle",
            showarrow=False,
            align="right",
            text="<br>".join(notes),
            font={"size": 12},
            bgcolor="rgba(255,255,255,0.85)",
        )
    _layout(fig, title, "item rank (most popular first)", "interactions per item")
    fig.update_layout(
        yaxis2={
            "title": {"text": "cumulative share of interactions (%)"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 100],
            "tickmode": "auto",
            "showgrid": False,
        },
        hovermode="closest",
    )
    # fixed x range: otherwise autorange stretches to fit the annotation boxes
    if log_axes:
        fig.update_layout(xaxis={"type": "log"}, yaxis={"type": "log"})
        if counts.size > 1:
            fig.update_xaxes(range=[0, float(np.log10(counts.size))])
    elif counts.size > 1:
        fig.update_xaxes(range=[1, counts.size])
    return fig


def _log_bins(max_value: int) -> list[int]:
    """Bin edges 1, 2, 3, 5, 10, 20, 50, 100, … up to past ``max_value``."""
    edges = [1, 2, 3, 5]
    step = 10
    while edges[-1] <= max_value:
        for m in (1, 2, 5):
            edges.append(m * step)
        step *= 10
    while len(edges) > 2 and edges[-2] > max_value:
        edges.pop()
    return edges


def _bin_label(lo: int, hi: int) -> str:
    return str(lo) if hi - lo == 1 else f"{lo:,}–{hi - 1:,}"


def user_activity_figure(
    user_activity: np.ndarray, light_threshold: int = 5, log_y: bool = False
) -> go.Figure:
    """Histogram of interactions per user in log-spaced bins (1, 2, 3–4, 5–9, 10–19, …).

    One bar trace; bars below ``light_threshold`` interactions are drawn in a muted colour.
    """
    title = "User activity: interactions per user"
    activity = np.asarray(user_activity, dtype=np.int64)
    if activity.size == 0:
        return _empty(title, "No interactions yet")
    edges = _log_bins(int(activity.max()))
    counts, _ = np.histogram(activity, bins=np.asarray(edges, dtype=np.float64) - 0.5)
    labels = [_bin_label(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    colors = [MUTED if hi <= light_threshold else PRIMARY for hi in edges[1:]]
    shares = 100.0 * counts / activity.size
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=counts,
            marker_color=colors,
            name="users",
            customdata=shares,
            hovertemplate="%{x} interactions: %{y:,} users (%{customdata:.1f}%)<extra></extra>",
        )
    )
    _layout(fig, title, f"interactions per user (pale bars: fewer than {light_threshold})", "users")
    fig.update_xaxes(type="category")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def rating_figure(
    rating_counts: pd.DataFrame, rating_scale: tuple[float, float] | None = None
) -> go.Figure:
    """Bar chart of rating values (or bins, for many distinct values).

    One bar trace; no traces when there are no ratings.

    Args:
        rating_counts: frame with ``rating``, ``count`` and ``width`` (0 = exact value).
        rating_scale: declared (min, max), used to frame the axis.
    """
    title = "Ratings"
    if rating_counts is None or len(rating_counts) == 0:
        return _empty(title, "No ratings (implicit feedback)")
    total = float(rating_counts["count"].sum())
    binned = bool((rating_counts["width"] > 0).any())
    fig = go.Figure(
        go.Bar(
            x=rating_counts["rating"],
            y=rating_counts["count"],
            name="interactions",
            width=rating_counts["width"] * 0.95 if binned else None,
            marker_color=PRIMARY,
            customdata=100.0 * rating_counts["count"] / total,
            hovertemplate="rating %{x:g}: %{y:,} (%{customdata:.1f}%)<extra></extra>",
        )
    )
    _layout(fig, title, "rating (bin centre)" if binned else "rating", "interactions")
    if not binned and len(rating_counts) <= 20:
        fig.update_xaxes(tickmode="array", tickvals=list(rating_counts["rating"]))
    if rating_scale is not None and not binned:
        lo, hi = rating_scale
        lo = min(lo, float(rating_counts["rating"].min()))
        hi = max(hi, float(rating_counts["rating"].max()))
        step = _min_step(rating_counts["rating"].to_numpy())
        fig.update_xaxes(range=[lo - step / 2, hi + step / 2])
    return fig


def _min_step(values: np.ndarray) -> float:
    diffs = np.diff(np.unique(values))
    return float(diffs.min()) if diffs.size else 1.0


def monthly_figure(monthly: pd.DataFrame) -> go.Figure:
    """Interactions per month (bars) and active users per month (line, right axis).

    Two traces; no traces when the dataset has no timestamps.
    """
    title = "Interactions over time"
    if monthly is None or len(monthly) == 0:
        return _empty(title, "No timestamps in this dataset")
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=monthly["month"],
            y=monthly["interactions"],
            name="interactions",
            marker_color=PRIMARY,
            xperiod="M1",
            xperiodalignment="middle",
            hovertemplate="%{y:,} interactions<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=monthly["month"],
            y=monthly["users"],
            name="active users",
            # Many months: markers would hide the bars; a thin line reads as a trend.
            mode="lines+markers" if len(monthly) <= 36 else "lines",
            line={"color": ACCENT, "width": 2 if len(monthly) <= 36 else 1.2},
            opacity=1.0 if len(monthly) <= 36 else 0.8,
            yaxis="y2",
            xperiod="M1",
            xperiodalignment="middle",
            hovertemplate="%{y:,} active users<extra></extra>",
        )
    )
    _layout(fig, title, "month", "interactions")
    fig.update_layout(
        yaxis2={
            "title": {"text": "active users"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "tickmode": "auto",
            "rangemode": "tozero",
        },
    )
    if len(monthly) <= 48:  # beyond four years plotly's automatic ticks read better
        fig.update_xaxes(dtick="M1" if len(monthly) <= 12 else "M3", tickformat="%b %Y")
    return fig


def profile_figures(profile: DatasetProfile, log_axes: bool = False) -> dict[str, go.Figure]:
    """All profile charts, keyed ``long_tail``, ``user_activity``, ``ratings``, ``monthly``."""
    return {
        "long_tail": long_tail_figure(profile.item_popularity, log_axes=log_axes),
        "user_activity": user_activity_figure(profile.user_activity, log_y=log_axes),
        "ratings": rating_figure(profile.rating_counts, profile.rating_scale),
        "monthly": monthly_figure(profile.monthly),
    }
