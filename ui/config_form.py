"""Widgets generated from a frozen config dataclass (models, splits).

Field help comes from the class docstring's ``Attributes:`` section; a config class may
declare ``choices`` (field → allowed strings), ``advanced`` (fields folded away) and
``presets`` (name → partial config) as class attributes.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

import streamlit as st

#: Field labels that capitalising the field name gets wrong (acronyms, abbreviations).
LABELS = {
    "dim": "Dimension",
    "ema": "Weight averaging (EMA)",
    "id_dropout": "ID dropout",
    "l2": "L2 penalty",
    "lr_decay": "Learning-rate decay",
    "max_softmax_items": "Max. items for the full softmax",
    "max_softmax_cells": "Max. users × items for the full softmax",
    "max_text_features": "Max. text features",
    "min_df": "Min. items per term",
    "min_improvement": "Min. relative gain (early stopping)",
    "max_df": "Max. share of items per term",
    "stop_words": "Leave out stop-words",
    "mlp_layers": "MLP layers",
}


def field_help(cls: type) -> dict[str, str]:
    """Field descriptions parsed from the Google-style ``Attributes:`` docstring sections of
    the class and its bases (a subclass's description wins), so shared settings declared on
    a base config keep their help."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            out.update(_own_field_help(klass, {f.name for f in dataclasses.fields(cls)}))
    return {k: v.replace("``", "`") for k, v in out.items()}


def _own_field_help(cls: type, names: set[str]) -> dict[str, str]:
    doc = cls.__dict__.get("__doc__") or ""
    part = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
    out: dict[str, str] = {}
    current = None
    for line in part.splitlines():
        m = re.match(r"^\s{4,8}(\w+):\s*(.*)$", line)
        if m and m.group(1) in names:
            current = m.group(1)
            out[current] = m.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
        elif not line.strip():
            current = None
    return out


def config_widgets(
    cls: type, values: dict[str, Any], key: str, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Render one widget per field, advanced ones in an expander; returns the values.

    Nothing is validated here: the caller builds the config with ``from_dict`` and shows
    its ``ConfigError`` before anything starts.
    """
    helps = field_help(cls)
    choices: dict[str, tuple] = getattr(cls, "choices", {}) or {}
    advanced: tuple[str, ...] = getattr(cls, "advanced", ()) or ()
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    fields = [f for f in dataclasses.fields(cls) if f.name not in skip]
    basic = [f for f in fields if f.name not in advanced]
    adv = [f for f in fields if f.name in advanced]
    cols = st.columns(3)
    for i, f in enumerate(basic):
        with cols[i % 3]:
            out[f.name] = _widget(f, hints.get(f.name), values, helps, choices, key)
    if adv:
        with st.expander("Advanced settings"):
            cols = st.columns(3)
            for i, f in enumerate(adv):
                with cols[i % 3]:
                    out[f.name] = _widget(f, hints.get(f.name), values, helps, choices, key)
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _widget(
    f: dataclasses.Field,
    hint: Any,
    values: dict[str, Any],
    helps: dict[str, str],
    choices: dict[str, tuple],
    key: str,
) -> Any:
    label = LABELS.get(f.name) or f.name.replace("_", " ").capitalize()
    value = values.get(f.name, _default(f))
    k = f"{key}_{f.name}"
    help_text = helps.get(f.name)
    args = typing.get_args(hint)
    base = hint
    optional = type(None) in args
    if optional:
        base = next(a for a in args if a is not type(None))
    if f.name in choices:
        opts = list(choices[f.name])
        return st.selectbox(
            label, opts, index=opts.index(value) if value in opts else 0, key=k, help=help_text
        )
    if base is bool:
        return st.checkbox(label, value=bool(value), key=k, help=help_text)
    if base is int:
        return int(
            st.number_input(
                label, value=int(value if value is not None else 0), step=1, key=k, help=help_text
            )
        )
    if base is float:
        return float(
            st.number_input(
                label,
                value=float(value if value is not None else 0.0),
                format="%g",
                key=k,
                help=help_text,
            )
        )
    if typing.get_origin(base) is tuple:
        text = st.text_input(label, ", ".join(str(v) for v in (value or ())), key=k, help=help_text)
        inner = typing.get_args(base)[0] if typing.get_args(base) else str
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            return tuple(inner(p) for p in parts)
        except ValueError:
            return tuple(parts)
    text = st.text_input(label, "" if value is None else str(value), key=k, help=help_text)
    return (text or None) if optional else text
