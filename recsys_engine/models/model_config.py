"""The base of every model's config: a frozen dataclass stored as JSON with each run.

Built on ``recsys_engine.config`` (the one strict ``from_dict``); ``from_stored`` rebuilds
the config an older run was trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from recsys_engine.config import from_dict


@dataclass(frozen=True)
class ModelConfig:
    """Base of every model's frozen config dataclass: ``from_dict`` refuses unknown keys."""

    #: Settings added after runs were first stored, each with the value that reproduces how
    #: a config stored without it was trained (see ``from_stored``).
    stored_defaults: ClassVar[dict[str, Any]] = {}
    #: Defaults that differ on one kind of split (split strategy → settings), each chosen
    #: on a validation fold; what the user sets still wins (see ``for_split``).
    split_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Per split strategy in ``split_defaults``: one sentence saying what changes and why.
    split_notes: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ModelConfig:
        """Build from a JSON-like dict; unknown keys are errors naming them."""
        return from_dict(cls, data, what=f"config key for {cls.__name__}")

    @classmethod
    def from_stored(cls, data: dict[str, Any] | None) -> ModelConfig:
        """The config a stored run or saved model was trained with. Keys it lacks (settings
        added since) take their ``stored_defaults`` value rather than today's default, so
        "re-run with the same config" trains the same model after an upgrade."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        older = {k: v for k, v in cls.stored_defaults.items() if k in known and k not in data}
        return cls.from_dict({**older, **data})

    @classmethod
    def for_split(cls, strategy: str | None, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """The settings ``data`` asks for on a split of ``strategy``: this kind of split's
        ``split_defaults`` first, then everything ``data`` sets (which wins)."""
        return {**cls.split_defaults.get(strategy or "", {}), **(data or {})}

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict (what runs store)."""
        return asdict(self)
