"""How names are joined in the plain-sentence summaries of the reasons.

Shared by every reason module, so the summaries read the same whichever reason wrote them.
"""

from __future__ import annotations


def join_names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
