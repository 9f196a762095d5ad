"""Recsys Workbench engine: data store, ingestion, splits, models, evaluation.

A plain Python library. It never imports Streamlit, so tests and the CLI use it directly.
"""

from __future__ import annotations

__version__ = "0.1.0"
