"""Plotly figures of the Compare page and the HTML report (no Streamlit here).

Builders take a ``Comparison`` (``recsys_engine.compare.pair``), a leaderboard or metric@K
curves and return figures in the ``plotly_white`` template. Texts are fixed strings, metric
names, registry model names and numbers: no user-supplied text (dataset names, item titles)
reaches a figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from recsys_engine.compare.names import LABELS, metric_label
from recsys_engine.compare.pair import Comparison
from recsys_engine.models import model_title
from recsys_engine.palette import BAD, GOOD, MUTED, NEUTRAL, PALETTE, TEMPLATE


def _layout(
    fig: go.Figure, title: str, x_title: str, y_title: str, height: int = 380
) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.0, "xanchor": "left"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        margin={"l": 60, "r": 30, "t": 60, "b": 90},
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0},
    )
    return fig


def _colour(low: float, high: float) -> str:
    if np.isfinite(low) and low > 0:
        return GOOD
    if np.isfinite(high) and high < 0:
        return BAD
    return MUTED


def _forest(
    labels: list[str],
    rel: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    hover: list[str],
    threshold: float,
    title: str,
) -> go.Figure:
    """Horizontal forest plot of relative changes (%) with CI whiskers, top row first."""
    rel, low, high = (np.asarray(v, dtype=float) * 100 for v in (rel, low, high))
    fig = go.Figure()
    fig.add_vrect(
        x0=-threshold * 100,
        x1=threshold * 100,
        fillcolor="#EEEEEE",
        line_width=0,
        layer="below",
    )
    fig.add_vline(x=0, line_color="#444", line_width=1)
    for i, label in enumerate(labels):
        fig.add_trace(
            go.Scatter(
                x=[rel[i]],
                y=[label],
                mode="markers",
                marker={"size": 11, "color": _colour(low[i], high[i])},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [max(high[i] - rel[i], 0) if np.isfinite(high[i]) else 0],
                    "arrayminus": [max(rel[i] - low[i], 0) if np.isfinite(low[i]) else 0],
                    "thickness": 2,
                    "width": 6,
                },
                hovertext=hover[i],
                hoverinfo="text",
                showlegend=False,
            )
        )
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=labels)
    return _layout(fig, title, "Change of B vs A (%), 95% CI", "", 160 + 45 * len(labels))


def metric_forest(comparison: Comparison) -> go.Figure:
    """Relative change with its CI for the primary and secondary metrics."""
    rows = [comparison.primary, *comparison.secondary]
    labels = [r.label + (" (primary)" if i == 0 else "") for i, r in enumerate(rows)]
    hover = [
        f"{r.label}: A {r.mean_a:.4f} → B {r.mean_b:.4f}<br>change {r.rel_change * 100:+.1f}% "
        f"(CI {r.rel_ci_low * 100:+.1f}% to {r.rel_ci_high * 100:+.1f}%)<br>p = {r.p_value:.3g}"
        for r in rows
    ]
    return _forest(
        labels,
        np.array([r.rel_change for r in rows]),
        np.array([r.rel_ci_low for r in rows]),
        np.array([r.rel_ci_high for r in rows]),
        hover,
        comparison.options.threshold,
        "How much B changes each metric",
    )


def segment_forest(comparison: Comparison) -> go.Figure:
    """Relative change of the primary metric per user segment."""
    seg = comparison.segments
    if seg.empty:
        return _empty("Change by user segment", "no segment has enough users")
    # where A scores 0 a relative change has no base: no dot, and the label says why
    no_base = seg["rel_change"].isna().to_numpy()
    # the user count on a line of its own: one-line labels squeezed the plot in a half-page
    # column and cut its axis title
    labels = [
        f"{s}<br>{n:,} users" + (" · A scores 0: no % change" if blank else "")
        for s, n, blank in zip(seg["segment"], seg["users"], no_base, strict=True)
    ]
    hover = [
        f"{r.segment}<br>A {r.mean_a:.4f} → B {r.mean_b:.4f}<br>"
        + ("no relative change (A scores 0)" if blank else f"change {r.rel_change * 100:+.1f}%")
        + f"<br>p (BH-adjusted) = {r.p_bh:.3g}"
        for r, blank in zip(seg.itertuples(), no_base, strict=True)
    ]
    return _forest(
        labels,
        seg["rel_change"].to_numpy(),
        seg["rel_ci_low"].to_numpy(),
        seg["rel_ci_high"].to_numpy(),
        hover,
        comparison.options.threshold,
        f"Where the change in {comparison.primary.label} comes from",
    )


def difference_histogram(comparison: Comparison) -> go.Figure:
    """Per-user B − A of the primary metric (users with no difference noted, not drawn)."""
    key = f"{comparison.primary.metric} B-A"
    d = comparison.per_user[key].dropna().to_numpy(dtype=float)
    moved = d[d != 0]
    p = comparison.primary
    if not len(moved):
        return _empty(
            f"{p.label} per user: B minus A",
            f"every one of the {p.ties:,} users scores the same under both models",
        )
    fig = go.Figure()
    fig.add_trace(
        go.Histogram(
            x=moved[moved > 0], name=f"B better ({p.wins:,})", marker_color=GOOD, nbinsx=30
        )
    )
    fig.add_trace(
        go.Histogram(
            x=moved[moved < 0], name=f"A better ({p.losses:,})", marker_color=BAD, nbinsx=30
        )
    )
    fig.add_vline(x=0, line_color="#444", line_width=1)
    fig.update_layout(barmode="overlay")
    fig.update_traces(opacity=0.75)
    fig.add_annotation(
        text=f"{p.ties:,} users with no difference are not drawn",
        xref="paper",
        yref="paper",
        x=0,
        y=1.0,
        showarrow=False,
        font={"size": 11, "color": "#666"},
        xanchor="left",
        yanchor="bottom",  # above the plot area, under the title: never over the bars
    )
    return _layout(fig, f"{p.label} per user: B minus A", "Difference B − A", "Users")


def overlap_histogram(comparison: Comparison) -> go.Figure:
    """How similar the two models' lists are per user (Jaccard@K and RBO)."""
    ov = comparison.overlap
    k = comparison.options.k
    if ov.empty:
        return _empty("How similar are the two lists?", "no user has a list in both runs")
    fig = go.Figure()
    bins = {"start": 0, "end": 1.0001, "size": 0.05}
    fig.add_trace(
        go.Histogram(x=ov["jaccard"], name=f"Jaccard@{k}", xbins=bins, marker_color=NEUTRAL)
    )
    fig.add_trace(
        go.Histogram(
            x=ov["rbo"], name="Rank-biased overlap (p=0.9)", xbins=bins, marker_color=PALETTE[1]
        )
    )
    # side by side, not overlaid: where both measures agree (e.g. identical lists, all at
    # 1) one bar would hide the other
    fig.update_layout(barmode="group")
    fig = _layout(
        fig,
        f"How similar are the two top-{k} lists?",
        "Overlap per user (0 = nothing shared, 1 = identical)",
        "Users",
    )
    fig.update_xaxes(range=[0, 1.05])  # the scale ends at 1 = identical, whatever the data
    return fig


def curves_figure(curves: pd.DataFrame, metric: str, depths: dict[int, int]) -> go.Figure:
    """Metric@K for K = 1…depth, one line per run."""
    data = curves[curves["metric"] == metric]
    name = LABELS.get(metric, metric)
    if data.empty:
        return _empty(f"{name}@K", "no stored recommendations to draw from")
    fig = go.Figure()
    for i, (label, part) in enumerate(data.groupby("label", sort=False)):
        fig.add_trace(
            go.Scatter(
                x=part["k"],
                y=part["value"],
                mode="lines+markers",
                name=label,
                marker={"size": 4},
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    depth = max(depths.values()) if depths else 0
    fig.update_layout(hovermode="x unified")
    return _layout(fig, f"{name}@K for K = 1…{depth}", "K (length of the list)", name)


def tradeoff_scatter(
    board: pd.DataFrame, k: int, x: str = "coverage", y: str = "ndcg"
) -> go.Figure:
    """Accuracy against a beyond-accuracy metric, one point per run."""
    if board.empty or x not in board or y not in board:
        return _empty("Accuracy vs " + LABELS.get(x, x), f"no run has {x}@{k} and {y}@{k}")
    fig = go.Figure()
    runs = zip(board["model"], board["run_id"], strict=True)
    texts = [f"{model_title(m)} (run {r})" for m, r in runs]
    places = label_positions(board[x].to_numpy(float), board[y].to_numpy(float), texts)
    where = dict(zip(board["run_id"], places, strict=True))
    for family, part in board.groupby("family", sort=False):
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                mode="markers+text",
                name=str(family),
                text=[
                    f"{model_title(m)} (run {r})"
                    for m, r in zip(part["model"], part["run_id"], strict=True)
                ],
                textposition=[where[r] for r in part["run_id"]],
                marker={"size": 12},
                cliponaxis=False,
            )
        )
    for axis, col in (("xaxis", x), ("yaxis", y)):
        lo, hi = float(board[col].min()), float(board[col].max())
        pad = max((hi - lo) * 0.2, abs(hi) * 0.05, 1e-3)
        fig.update_layout({axis: {"range": [lo - pad, hi + pad]}})
    return _layout(
        fig,
        f"{metric_label(f'{y}@{k}')} vs {metric_label(f'{x}@{k}')} (up and right is better)",
        metric_label(f"{x}@{k}"),
        metric_label(f"{y}@{k}"),
    )


#: Where a point's label may go, in order of preference, with the label's centre offset
#: from the point in axis fractions (dx, dy) for a label of width w: (name, dx(w), dy).
_PLACES = (
    ("top center", lambda w: 0.0, 0.06),
    ("bottom center", lambda w: 0.0, -0.06),
    ("middle right", lambda w: w / 2 + 0.03, 0.0),
    ("middle left", lambda w: -w / 2 - 0.03, 0.0),
    ("top right", lambda w: w / 2 + 0.02, 0.06),
    ("bottom left", lambda w: -w / 2 - 0.02, -0.06),
    ("top left", lambda w: -w / 2 - 0.02, 0.06),
    ("bottom right", lambda w: w / 2 + 0.02, -0.06),
)
_CHAR_WIDTH = 0.013  # one label character as a fraction of the plot width (about 7 px / 520)
_LABEL_HEIGHT = 0.07  # one label line as a fraction of the plot height


def label_positions(xs: np.ndarray, ys: np.ndarray, texts: list[str]) -> list[str]:
    """A plotly ``textposition`` per point such that no two labels overlap where avoidable.

    Points are placed from the top down; each label takes the first of ``_PLACES`` whose
    box (approximate: characters × ``_CHAR_WIDTH`` by ``_LABEL_HEIGHT``, in fractions of
    the axis ranges) overlaps neither an earlier label nor a marker. Coordinates are scaled
    to [0, 1] per axis first, so the test is the same whatever the metric's scale.
    """
    n = len(texts)
    if n == 0:
        return []

    def unit(v: np.ndarray) -> np.ndarray:
        span = float(np.nanmax(v) - np.nanmin(v))
        return (v - np.nanmin(v)) / span if span > 0 else np.full(len(v), 0.5)

    ux, uy = unit(np.asarray(xs, float)), unit(np.asarray(ys, float))
    boxes: list[tuple[float, float, float, float]] = []
    out = ["top center"] * n
    for i in sorted(range(n), key=lambda j: (-uy[j], ux[j])):
        w = len(texts[i]) * _CHAR_WIDTH
        for name, dx, dy in _PLACES:
            cx, cy = ux[i] + dx(w), uy[i] + dy
            box = (cx - w / 2, cy - _LABEL_HEIGHT / 2, cx + w / 2, cy + _LABEL_HEIGHT / 2)
            clash = any(_overlaps(box, b) for b in boxes) or any(
                _overlaps(box, (ux[j] - 0.01, uy[j] - 0.02, ux[j] + 0.01, uy[j] + 0.02))
                for j in range(n)
            )
            if not clash:
                out[i] = name
                boxes.append(box)
                break
        else:  # crowded: keep the first choice (plotly still shows the hover text)
            boxes.append((ux[i] - w / 2, uy[i], ux[i] + w / 2, uy[i] + _LABEL_HEIGHT))
    return out


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.0}, height=300)
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
