"""Helpers shared by CLI sub-commands: output in text or ``--json``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` (one JSON document on stdout) to a sub-command."""
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    """Print ``payload`` as JSON when ``--json`` was given, else the human ``text``."""
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, default=str)
        sys.stdout.write("\n")
    else:
        print(text)


def warn(message: str) -> None:
    """A warning line on stderr (never on stdout, so ``--json`` output stays parseable)."""
    print(f"warning: {message}", file=sys.stderr)
