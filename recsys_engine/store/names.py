"""Display names and references: what a dataset or split may be called, and how a
reference typed by a user (``"12"`` or ``"movies"``) is told apart as an id or a name."""

from __future__ import annotations

import unicodedata

from recsys_engine.errors import ConfigError

MAX_NAME_LENGTH = 100

#: Unicode categories that do not show as a character: controls, format characters
#: (zero-width space, BOM, bidi overrides), line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp"})


def check_name(name: str, what: str = "dataset name") -> str:
    """Return a valid display name or raise ``ConfigError`` naming the problem.

    The name is stripped and put in Unicode NFC form (so "é" typed either way is one name).
    Refused: empty or invisible names, names over ``MAX_NAME_LENGTH``, and control or
    format characters (line breaks, zero-width and right-to-left override characters),
    which would make two names look alike or break the lines they are shown in.
    """
    if not isinstance(name, str):
        raise ConfigError(f"{what} must be text (got {name!r})")
    given, name = name, unicodedata.normalize("NFC", name).strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"{what} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    hidden = sorted({f"U+{ord(c):04X}" for c in name if unicodedata.category(c) in _HIDDEN})
    if hidden:
        raise ConfigError(
            f"{what} contains control or invisible characters ({', '.join(hidden)}): {name!r}"
        )
    if not name:
        raise ConfigError(f"{what} must not be empty (got {given!r})")
    return name


def as_id(text: str) -> int | None:
    """The id a reference spells (``"12"``), or None: only plain ASCII digits without
    leading zeros count, so names like ``"²"``, ``"١"`` or ``"007"`` stay names."""
    if text.isascii() and text.isdigit() and str(int(text)) == text:
        return int(text)
    return None
