"""Typed configs: one strict ``from_dict`` and the ``check_*`` validators.

Every frozen config dataclass in the engine (model configs, split configs, evaluation
options) is built from JSON-like dicts the same way: unknown keys are errors that name
them and the known ones, because a silently ignored typo trains the wrong model.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

import numpy as np

from recsys_engine.errors import ConfigError

C = TypeVar("C")


def from_dict(cls: type[C], data: dict[str, Any] | None, *, what: str) -> C:
    """Build the dataclass ``cls`` from ``data``, refusing keys it does not declare.

    Args:
        cls: a dataclass type.
        data: its fields as a dict (None means all defaults).
        what: how the keys are called in the error, e.g. ``"split parameter"``.

    Raises:
        ConfigError: naming the unknown keys and listing the known ones.
    """
    data = dict(data or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}"
        )
    return cls(**data)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)} (got {value!r})")


def check_bool(name: str, value: Any) -> None:
    """Raise ``ConfigError`` unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false (got {value!r})")


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    low_open: bool = False,
) -> None:
    """Raise ``ConfigError`` unless ``value`` is a number within the bounds."""
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value):
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {what} (got {value!r})")
    if low is not None and (value <= low if low_open else value < low):
        raise ConfigError(f"{name} must be {'>' if low_open else '>='} {low} (got {value!r})")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be <= {high} (got {value!r})")
