"""Showing user text safely: names, ids, titles and messages that quote them.

Streamlit renders markdown (and some HTML, e.g. images) in ``st.markdown``, captions,
alerts, subheaders and widget labels. Anything that came from an upload or was typed by a
user — dataset and file names, ids, titles, error messages quoting them — goes through
``md_escape`` first, so it shows as the literal text and never as a link, image or format.
It also words a fit's duration for a metric tile (``short_seconds``).
"""

from __future__ import annotations

import math
import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")
_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def md_escape(text: object) -> str:
    """User text made inert inside markdown: every markdown, HTML, LaTeX and emoji-code
    character is backslash-escaped and line breaks become spaces (no headings or lists)."""
    return _MD_SPECIAL.sub(r"\\\1", _BREAKS.sub(" ", str(text)))


def seconds_figure(seconds: float) -> str:
    """Seconds as a bare number: two decimals under a tenth of a second (a 0.049 s fit is
    not "0.0", which reads as "not measured"), one above (``"0.05"``, ``"12.3"``)."""
    return f"{seconds:.2f}" if seconds < 0.1 else f"{seconds:.1f}"


def short_seconds(seconds: float | None) -> str:
    """A short duration for a metric tile: ``"0.05s"``, ``"1.5s"``, ``"3.4 min"``.

    Why: a fit of 0.049 s shown as ``"0.0s"`` reads as "not measured"; under a tenth of a
    second two decimals show that it took a little time (``"<0.01s"`` below 5 ms).
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    if seconds < 0.005:
        return "<0.01s"
    if seconds < 60:
        return f"{seconds_figure(seconds)}s"
    return f"{seconds / 60.0:.1f} min"
