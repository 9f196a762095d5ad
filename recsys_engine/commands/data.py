"""CLI: ingest, datasets."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Register the data sub-commands."""
