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


def item_label(title: str, item_id: str) -> str:
    """``title · id 55``; an item whose only label is its id shows it once (``id B0002F7IIK``).

    The id is named as an id, so a number in brackets is never read as a count.
    """
    title, item_id = str(title), str(item_id)
    if not title.strip() or title == item_id:
        return f"id {item_id}"
    return f"{title} · id {item_id}"
