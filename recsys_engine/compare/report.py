"""Exports of a comparison: a self-contained HTML report and the per-user CSV.

The report is one HTML file (plotly.js inlined once) that opens offline. Every text that
could come from a user (dataset and run names, ids) is escaped with ``html.escape``.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pandas as pd
import plotly.io as pio

from recsys_engine.compare import charts
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
"""


def _table(frame: pd.DataFrame, kinds: dict[str, str]) -> str:
    """An escaped HTML table of the given columns (kinds: num, pct, p, int, text)."""
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
    figures = [
        charts.metric_forest(c),
        charts.difference_histogram(c),
        charts.segment_forest(c),
        charts.overlap_histogram(c),
    ]
    plots = "".join(
        pio.to_html(f, full_html=False, include_plotlyjs=(i == 0), config={"responsive": True})
        for i, f in enumerate(figures)
    )
    colour = VERDICT_COLOURS[c.verdict]
    title = title or (
        f"A/B comparison: candidate {c.run_b['label']} vs baseline {c.run_a['label']}"
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
    notes = "".join(f"<li>{esc(n)}</li>" for n in c.notes)
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
<p class="muted">Baseline A: {esc(c.run_a["label"])} · Candidate B: {esc(c.run_b["label"])} ·
split {c.run_a["split_id"]} · generated {stamp}</p>
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
{plots}
</body></html>
"""


def per_user_csv(comparison: Comparison) -> bytes:
    """Per-user values and differences (formula-escaped CSV)."""
    return to_csv_bytes(comparison.per_user)
