"""Showing user text safely: names, ids, titles and messages that quote them.

Streamlit renders markdown (and some HTML, e.g. images) in ``st.markdown``, captions,
alerts, subheaders and widget labels. Anything that came from an upload or was typed by a
user — dataset and file names, ids, titles, error messages quoting them — goes through
``md_escape`` first, so it shows as the literal text and never as a link, image or format.
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")
_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def md_escape(text: object) -> str:
    """User text made inert inside markdown: every markdown, HTML, LaTeX and emoji-code
    character is backslash-escaped and line breaks become spaces (no headings or lists)."""
    return _MD_SPECIAL.sub(r"\\\1", _BREAKS.sub(" ", str(text)))
