"""A model's search space as an editable table (the Tune panel) and back to the overrides
``search_space.narrow_space`` takes.

One row per declared setting: whether it is searched, the values tried (``"1 – 100000"``
for a range, ``"true, false"`` for a choice), its scale, and the value used when it is not
searched (the config default until edited). Editing a row narrows or widens a range, drops
choices, or fixes a value; ``overrides_from_rows`` turns the table back into overrides and
names the setting whose text it cannot read.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, fields
from typing import Any

from recsys_engine.errors import ConfigError
from recsys_engine.models.search_space import Choice, Range, space_of

#: Columns of the table, in order.
COLUMNS = ("Setting", "Tune", "Values tried", "Scale", "Value when not tuned")
_RANGE_SEP = re.compile(r"\s*(?:–|—|\.\.|\bto\b|,|\s-\s)\s*")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _defaults(config_class: type) -> dict[str, Any]:
    out = {}
    for f in fields(config_class):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def _scale(param: Range | Choice) -> str:
    if isinstance(param, Choice):
        return "one of"
    parts = ["whole numbers" if param.integer else "decimals"]
    parts.append("log scale" if param.log else "even scale")
    return ", ".join(parts)


def space_rows(config_class: type) -> list[dict[str, Any]]:
    """The declared search space of a config class as table rows (every setting searched)."""
    defaults = _defaults(config_class)
    rows = []
    for name, param in space_of(config_class).items():
        tried = (
            ", ".join(_text(v) for v in param.values)
            if isinstance(param, Choice)
            else f"{_text(param.low)} – {_text(param.high)}"
        )
        rows.append(
            {
                "Setting": name,
                "Tune": True,
                "Values tried": tried,
                "Scale": _scale(param),
                "Value when not tuned": _text(defaults.get(name, "")),
            }
        )
    return rows


def _value(text: str) -> Any:
    """``"true"`` → True, ``"0.01"`` → 0.01, ``"50"`` → 50, any other text stays text."""
    text = str(text).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def overrides_from_rows(config_class: type, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The overrides (``narrow_space``'s format) that the edited ``rows`` ask for.

    A searched row whose values equal the declared ones adds nothing; a searched range row
    gives ``[low, high]`` (the declared scale), a choice row the list of values (one value
    fixes it); a row not searched gives its value (``None``, i.e. the default, when the
    value was not changed).

    Raises:
        ConfigError: a setting that is not in the declared space, or text that is not a
            range / list of values, named by setting.
    """
    declared = space_of(config_class)
    defaults = _defaults(config_class)
    out: dict[str, Any] = {}
    for row in rows:
        name = str(row["Setting"])
        param = declared.get(name)
        if param is None:
            raise ConfigError(f"{name!r} is not a tunable setting of {config_class.__name__}")
        if not row.get("Tune"):
            value = _value(row.get("Value when not tuned", ""))
            out[name] = None if value == defaults.get(name) else value
            continue
        text = str(row.get("Values tried") or "").strip()
        if isinstance(param, Choice):
            values = [_value(v) for v in text.split(",") if v.strip()]
            if not values:
                raise ConfigError(f"{name}: list at least one value to try")
            if tuple(values) != tuple(param.values):
                out[name] = values[0] if len(values) == 1 else values
            continue
        ends = [e for e in _RANGE_SEP.split(text) if e]
        try:
            low, high = (float(e) for e in ends)
        except ValueError:
            raise ConfigError(
                f"{name}: values tried must be a range such as "
                f"'{_text(param.low)} – {_text(param.high)}' (got {text!r})"
            ) from None
        if param.integer:
            if low != int(low) or high != int(high):
                raise ConfigError(f"{name}: takes whole numbers (got {text!r})")
            low, high = int(low), int(high)
        if low == high:
            out[name] = low  # a one-point range is a fixed value
        elif (low, high) != (param.low, param.high):
            out[name] = [low, high]
    return out
