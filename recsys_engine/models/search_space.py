"""Tuning search spaces as data: the ranges a config class declares next to its fields.

A model config declares ``search_space: ClassVar[dict[str, Param]]`` (field name → a
``Range`` or a ``Choice``); the Tune panel, the CLI's ``tune`` and the tests all read it
through ``space_of`` and check it with ``check_space``. This module holds no sampling code
and never imports Optuna: ``recsys_engine.tuning`` turns a space into trial suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from recsys_engine.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """A numeric range ``[low, high]`` (both ends included).

    Attributes:
        low: smallest value tried.
        high: largest value tried.
        log: sample uniformly in log space (learning rates, penalties, sizes that matter by
            their order of magnitude); needs ``low > 0``.
        integer: sample whole numbers (dimensions, neighbours, epochs).
    """

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"low", "high", "log", "int"}``, the JSON form ``--space`` also accepts."""
        return {"low": self.low, "high": self.high, "log": self.log, "int": self.integer}


@dataclass(frozen=True)
class Choice:
    """A categorical setting: one of ``values`` (strings or booleans)."""

    values: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"choices": [...]}``."""
        return {"choices": list(self.values)}


Param = Range | Choice


def space_of(config_class: type) -> dict[str, Param]:
    """The search space a config class declares (empty when it declares none)."""
    return dict(getattr(config_class, "search_space", {}) or {})


def check_space(config_class: type, space: dict[str, Param]) -> None:
    """Raise ``ConfigError`` unless ``space`` is a valid search space of ``config_class``.

    Every name must be a config field; a range must have ``low < high`` (``low > 0`` when
    log-scaled, whole numbers when integer); and the config must accept both ends of every
    range and every choice (the other settings at their defaults), so no trial can sample
    a value the config would refuse.
    """
    known = {f.name for f in fields(config_class)}
    where = config_class.__name__
    for name, param in space.items():
        if name not in known:
            raise ConfigError(
                f"search space of {where} names {name!r}, which is not one of its settings; "
                f"known: {', '.join(sorted(known))}"
            )
        if isinstance(param, Range):
            _check_range(name, param, where)
            values: tuple[Any, ...] = (param.low, param.high)
        elif isinstance(param, Choice):
            if not param.values:
                raise ConfigError(f"{name} in the search space of {where} has no choices")
            values = param.values
        else:
            raise ConfigError(f"{name} in the search space of {where} is not a range or choice")
        for value in values:
            try:
                config_class.from_dict({name: value})
            except ConfigError as exc:
                raise ConfigError(
                    f"search space of {where}: {name}={value!r} is refused ({exc})"
                ) from None


def _check_range(name: str, param: Range, where: str) -> None:
    for end in (param.low, param.high):
        if isinstance(end, bool) or not isinstance(end, int | float):
            raise ConfigError(f"{name} range in {where} must have numeric ends (got {end!r})")
        if param.integer and int(end) != end:
            raise ConfigError(f"{name} range in {where} is integer but has end {end!r}")
    if not param.low < param.high:
        raise ConfigError(
            f"{name} range in {where} must have low < high (got {param.low!r}, {param.high!r})"
        )
    if param.log and param.low <= 0:
        raise ConfigError(f"{name} range in {where} is log-scaled, so low must be > 0")


def narrow_space(
    config_class: type, overrides: dict[str, Any] | None
) -> tuple[dict[str, Param], dict[str, Any]]:
    """Apply the user's ``overrides`` to a config's declared space.

    Each override names a config setting and is one of:

    - ``[low, high]``: narrow or widen that setting's declared range (same scale);
    - ``{"low": .., "high": .., "log": .., "int": ..}``: a range for any numeric setting;
    - ``{"choices": [...]}``, or a list for a declared choice or of strings or
      booleans: the values to try;
    - ``null``: do not tune it (keep its default);
    - any other value: fix it (every trial uses that value).

    Returns:
        ``(space, fixed)``: the space to search and the fixed settings.

    Raises:
        ConfigError: naming the setting and what is wrong with its override.
    """
    space = space_of(config_class)
    fixed: dict[str, Any] = {}
    known = {f.name for f in fields(config_class)}
    if overrides is not None and not isinstance(overrides, dict):
        raise ConfigError(f"the search space overrides must be a JSON object (got {overrides!r})")
    for name, value in (overrides or {}).items():
        if name not in known:
            raise ConfigError(
                f"search space override {name!r} is not a setting of {config_class.__name__}; "
                f"known: {', '.join(sorted(known))}"
            )
        declared = space.pop(name, None)
        if value is None:
            continue
        if isinstance(value, dict) and "choices" in value:
            space[name] = Choice(tuple(value["choices"]))
        elif isinstance(value, dict):
            extra = sorted(set(value) - {"low", "high", "log", "int"})
            if extra or "low" not in value or "high" not in value:
                raise ConfigError(
                    f"{name}: a range needs low and high (optional log, int); got {value!r}"
                )
            space[name] = Range(
                value["low"],
                value["high"],
                bool(value.get("log", False)),
                bool(value.get("int", False)),
            )
        elif isinstance(value, list) and (
            isinstance(declared, Choice) or any(isinstance(v, bool | str) for v in value)
        ):
            space[name] = Choice(tuple(value))
        elif isinstance(value, list):
            if len(value) != 2:
                raise ConfigError(f"{name}: a range is [low, high] (got {value!r})")
            log = declared.log if isinstance(declared, Range) else False
            integer = (
                declared.integer
                if isinstance(declared, Range)
                else all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            )
            space[name] = Range(value[0], value[1], log, integer)
        else:
            fixed[name] = value
    check_space(config_class, space)
    try:
        config_class.from_dict(fixed)
    except ConfigError as exc:
        raise ConfigError(
            f"a fixed value in the search space overrides is refused: {exc}"
        ) from None
    return space, fixed


def describe_space(space: dict[str, Param]) -> dict[str, dict[str, Any]]:
    """The space as JSON (stored with a study, printed by the CLI)."""
    return {name: param.to_dict() for name, param in space.items()}


def default_point(
    config_class: type, space: dict[str, Param], strategy: str | None = None
) -> dict[str, Any]:
    """The config's default value of every searched setting that lies in its searched range
    or choices: a study tries it first, so a tuned model is never worse on validation than
    its defaults (settings whose default was searched away are sampled). With a split
    ``strategy``, the defaults a run gets on that kind of split (``split_defaults``)."""
    defaults = config_class.from_dict(config_class.for_split(strategy))
    point: dict[str, Any] = {}
    for name, param in space.items():
        value = getattr(defaults, name)
        if isinstance(param, Choice):
            if value in param.values:
                point[name] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if param.low <= value <= param.high and (not param.integer or int(value) == value):
                point[name] = int(value) if param.integer else float(value)
    return point
