"""Exports of a comparison: a self-contained HTML report and the per-user CSV.

The report is one HTML file that opens offline and stays small (well under 1 MB): it opens
with the decision, and its charts are inline SVG drawn here from the numbers (plotly.js
alone is 4.8 MB). Every text that could come from a user (dataset, split and run names) is
escaped with ``html.escape``.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from recsys_engine.compare.names import glossary, parse_metric
from recsys_engine.compare.options import TEST_LABELS
from recsys_engine.compare.pair import Comparison
from recsys_engine.compare.tables import fmt, guardrails_frame, metrics_frame, segments_frame
from recsys_engine.export import to_csv_bytes

VERDICT_COLOURS = {
    "Better": "#2E7D32",
    "Worse": "#C62828",
    "Neutral": "#1565C0",
    "Inconclusive": "#EF6C00",
}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:.2rem .6rem;font-weight:600}
.verdict{font-size:1.25rem;line-height:1.5;margin:.8rem 0}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child,td.text{text-align:left}td{white-space:nowrap}
.muted{color:#666;font-size:.85rem}
.decision{border-left:6px solid;padding:.6rem 1rem;margin:1rem 0;background:#fafafa}
.decision h2{margin:.2rem 0 .5rem}
"""
DECISION_COLOURS = {
    "switch": "#2E7D32",
    "keep": "#1565C0",
    "no_difference": "#546E7A",
    "trade_off": "#EF6C00",
}


def svg_forest(rows: list[tuple[str, float, float, float]], threshold: float) -> str:
    """Relative changes with their CIs as an inline SVG (one row per label): green when the
    CI lies above zero, red below, grey when it includes zero; the shaded band is
    ±threshold. ``rows`` are (label, change, CI low, CI high) as fractions."""
    rows = [r for r in rows if all(np.isfinite(x) for x in r[1:])]
    if not rows:
        return "<p>No interval to draw.</p>"
    label_w, plot_w, row_h, top = 300, 460, 26, 24
    span = max(max(abs(r[2]), abs(r[3])) for r in rows)
    span = max(span, threshold) * 1.1 or 0.01

    def x(v: float) -> float:
        return label_w + (v + span) / (2 * span) * plot_w

    height = top + row_h * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 20}" '
        f'height="{height}" font-family="system-ui,sans-serif" font-size="12">',
        f'<rect x="{x(-threshold):.1f}" y="{top - 6}" width="{x(threshold) - x(-threshold):.1f}"'
        f' height="{row_h * len(rows)}" fill="#eee"/>',
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top - 6}" y2="{height - 10}" stroke="#999"/>',
    ]
    for v in (-span / 1.1, span / 1.1):
        parts.append(
            f'<text x="{x(v):.1f}" y="{top - 10}" text-anchor="middle" fill="#666">'
            f"{v * 100:+.0f}%</text>"
        )
    for i, (label, rel, low, high) in enumerate(rows):
        y = top + i * row_h + row_h / 2 - 6
        colour = "#2E7D32" if low > 0 else "#C62828" if high < 0 else "#757575"
        parts += [
            f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end">{html.escape(label)}'
            "</text>",
            f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="3"/>',
            f'<circle cx="{x(rel):.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>',
        ]
    return "".join(parts) + "</svg>"


def _table(frame: pd.DataFrame, kinds: dict[str, str]) -> str:
    """An escaped HTML table of the given columns (kinds: those of ``fmt``, and text)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in kinds)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for col, kind in kinds.items():
            value = row[col]
            text = html.escape(str(value)) if kind == "text" else fmt(value, kind)
            align = ' class="text"' if kind == "text" else ""
            cells.append(f"<td{align}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_report(comparison: Comparison, title: str | None = None) -> str:
    """The comparison as one self-contained HTML document."""
    c = comparison
    o = c.options
    esc = html.escape
    metric_rows = [
        (r.label, r.rel_change, r.rel_ci_low, r.rel_ci_high) for r in (c.primary, *c.secondary)
    ]
    segment_rows = (
        []
        if c.segments.empty
        else [
            (r.segment, r.rel_change, r.rel_ci_low, r.rel_ci_high)
            for r in c.segments.itertuples(index=False)
        ]
    )
    colour = VERDICT_COLOURS[c.verdict]
    a, b = c.run_a, c.run_b
    dataset = a.get("dataset_name") or f"dataset {a['dataset_id']}"
    split = a.get("split_name") or f"split {a['split_id']}"
    title = title or f"{b['label']} vs {a['label']} on {dataset} · {split}"
    d = c.decision
    reasons = "".join(f"<li>{esc(r)}</li>" for r in d.reasons)
    words = "".join(
        f"<li><b>{esc(term)}</b>: {esc(text)}</li>"
        for term, text in glossary(
            [parse_metric(m)[0] for m in (o.primary, *o.secondary, *o.guardrails)]
        )
    )
    mt = metrics_frame(c)
    metric_kinds = {
        "Metric": "text",
        "A": "num",
        "B": "num",
        "Relative change": "pct",
        "95% CI low": "pct",
        "95% CI high": "pct",
        "p-value": "p",
        "p (Holm)": "p",
        "Users B better": "int",
        "Same": "int",
        "Users A better": "int",
        "Effect size (dz)": "num",
        "Detectable change": "upct",
    }
    seg = segments_frame(c)
    seg_html = (
        _table(
            seg,
            {
                "Group": "text",
                "Segment": "text",
                "Users": "int",
                "A": "num",
                "B": "num",
                "Change": "signed",
                "Relative change": "pct",
                "95% CI low": "pct",
                "95% CI high": "pct",
                "p (BH)": "p",
            },
        )
        if not seg.empty
        else "<p>No segment has enough users.</p>"
    )
    guard_html = _table(
        guardrails_frame(c),
        {"Guardrail": "text", "A": "num", "B": "num", "Relative change": "pct", "Status": "text"},
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in [*([c.fairness] if c.fairness else []), *c.notes])
    ov = c.overlap
    overlap_line = (
        f"On average the two top-{o.k} lists share {ov['jaccard'].mean():.0%} of their items "
        f"(Jaccard) with rank-biased overlap {ov['rbo'].mean():.2f}, over {len(ov):,} users."
        if len(ov)
        else "No user has a list in both runs."
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{_CSS}</style></head><body>
<h1>{esc(title)}</h1>
<p class="muted">Baseline A: {esc(a["label"])} · Candidate B: {esc(b["label"])} ·
dataset {esc(dataset)} · split {esc(split)} (id {a["split_id"]}) · generated {stamp}</p>
<div class="decision" style="border-color:{DECISION_COLOURS[d.kind]}">
<h2>{esc(d.headline)}</h2><ul>{reasons}</ul><p class="muted">{esc(d.detectable)}</p></div>
<h2>Why: the statistical verdict</h2>
<p><span class="badge" style="background:{colour}">{esc(c.verdict)}</span></p>
<p class="verdict">{esc(c.sentence)}</p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Metrics</h2>
{_table(mt, metric_kinds)}
<p class="muted">Relative change = (mean B − mean A) / mean A. 95% confidence intervals from a
paired bootstrap over users ({o.n_resamples:,} resamples, seed {o.seed}); p-values from the
{esc(TEST_LABELS[o.test])}; secondary metrics Holm-adjusted. "Better" needs the interval
entirely above zero, p &lt; {o.alpha:g} and a change of at least {o.threshold:.1%};
"Detectable change" is the smallest change these users can reveal (80% power).</p>
<h2>Guardrails</h2>
{guard_html}
<p class="muted">A guardrail must not drop by more than {o.guardrail_margin:.0%}.</p>
<h2>Segments ({esc(c.primary.label)})</h2>
{seg_html}
<p class="muted">p-values Benjamini–Hochberg-adjusted across segments. Activity terciles by
training interactions; "mostly popular items" = at least half of a user's test items are in
the top {o.head_fraction:.0%} most popular items; new users have at most {o.cold_max}
training interactions.</p>
<h2>List overlap</h2>
<p>{esc(overlap_line)}</p>
<h2>Charts</h2>
<p class="muted">Change of B against A with its 95% confidence range: green = reliably up,
red = reliably down, grey = could be no change; the shaded band is the
±{o.threshold:.0%} too small to matter.</p>
{svg_forest(metric_rows, o.threshold)}
{svg_forest(segment_rows, o.threshold) if segment_rows else ""}
<h2>What the words mean</h2>
<ul>{words}</ul>
</body></html>
"""


def per_user_csv(comparison: Comparison) -> bytes:
    """Per-user values and differences (formula-escaped CSV)."""
    return to_csv_bytes(comparison.per_user)
