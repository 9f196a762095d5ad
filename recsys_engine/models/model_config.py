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

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict (what runs store)."""
        return asdict(self)
