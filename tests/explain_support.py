"""Helpers for AppTests of the Explain page."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ui.explain_cards import WHY_KEY


def open_reasons(at: AppTest, cards: str, n: int = 10) -> AppTest:
    """Open the first ``n`` "Why this item?" expanders of the cards keyed ``cards`` (e.g.
    ``user_1``, ``wi_1``; their reasons are drawn only while open) and rerun."""
    for pos in range(n):
        at.session_state[f"{WHY_KEY}{cards}_{pos}"] = True
    return at.run()
