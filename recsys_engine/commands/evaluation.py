"""CLI: split, train, runs, evaluate, export (filled in by the evaluation work)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Register the evaluation sub-commands."""
