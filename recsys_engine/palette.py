"""The colours every chart shares (dataset profile and comparison alike).

One place for the plotly template and the named colours, so the same meaning ("muted",
"better", "worse") looks the same on every page. Values are Vega/Tableau-10 blues and
oranges plus Material green, red and grey.
"""

from __future__ import annotations

TEMPLATE = "plotly_white"

#: Main series (bars, curves) and the one highlighted against it.
PRIMARY = "#4C78A8"
ACCENT = "#F58518"
#: De-emphasised marks: light users, non-significant differences, reference lines.
MUTED = "#9E9E9E"

#: A difference that is clearly better / clearly worse (interval above / below zero).
GOOD = "#2E7D32"
BAD = "#C62828"
#: Neutral single-series marks (e.g. an overlap histogram).
NEUTRAL = PRIMARY

#: Categorical series colours, in order (one per run or model).
PALETTE = (PRIMARY, ACCENT, "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6")
