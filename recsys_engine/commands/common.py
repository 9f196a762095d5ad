"""Helpers shared by CLI sub-commands: output in text or ``--json``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

#: C0 controls except tab and newline, DEL, and C1 controls: a title holding them could
#: retitle or clear the user's terminal (ANSI escape sequences) when printed raw.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN`` instead of acted upon."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` (one JSON document on stdout) to a sub-command."""
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    """Print ``payload`` as JSON when ``--json`` was given, else the human ``text``."""
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, default=str)
        sys.stdout.write("\n")
    else:
        print(terminal_safe(text))


def warn(message: str) -> None:
    """A warning line on stderr (never on stdout, so ``--json`` output stays parseable)."""
    print(terminal_safe(f"warning: {message}"), file=sys.stderr)
