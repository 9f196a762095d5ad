"""What a split is: its strategy, fractions and seed (``SplitConfig``), and the fold codes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from recsys_engine.config import from_dict
from recsys_engine.errors import ConfigError

STRATEGIES = ("random", "temporal", "leave-last", "cold-items")
#: The names people read (the Train page's dropdown and every message about a strategy).
STRATEGY_LABELS = {
    "random": "random per-user holdout",
    "temporal": "global time cut",
    "leave-last": "leave the last N per user",
    "cold-items": "cold items (held-out items)",
}
TRAIN, VALIDATION, TEST = 0, 1, 2

RANDOM_ON_TIME_WARNING = (
    "random split on timestamped data: test interactions may be older than training "
    f"ones (future leaks into training); consider a '{STRATEGY_LABELS['temporal']}' or "
    f"'{STRATEGY_LABELS['leave-last']}' split (on the command line: --strategy temporal or "
    "leave-last)"
)


@dataclass(frozen=True)
class SplitConfig:
    """How to split a dataset (validated on construction).

    Attributes:
        strategy: one of ``STRATEGIES``.
        test_fraction: per-user fraction (random), fraction of interactions after the cut
            (temporal, unless ``cut_date``) or fraction of items (cold-items); in (0, 1).
        validation_fraction: the same, applied to the training rows; 0 = no validation fold.
        min_interactions: per-user strategies only hold out from users with at least this
            many interactions (others stay whole in train).
        seed: random seed; the same seed gives the identical split.
        cut_date: temporal only; ISO date/time of the test cut (overrides test_fraction).
        n_last: leave-last only; most recent interactions per user held out for test.
        validation_last: leave-last only; next most recent per user for validation.
    """

    strategy: str = "random"
    test_fraction: float = 0.2
    validation_fraction: float = 0.0
    min_interactions: int = 2
    seed: int = 42
    cut_date: str | None = None
    n_last: int = 1
    validation_last: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})"
            )
        for name in ("test_fraction", "validation_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name} must be a number (got {value!r})")
        if not 0.0 < float(self.test_fraction) < 1.0:
            raise ConfigError(f"test_fraction must be in (0, 1) (got {self.test_fraction!r})")
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ConfigError(
                f"validation_fraction must be in [0, 1) (got {self.validation_fraction!r})"
            )
        for name, low in (("min_interactions", 1), ("n_last", 1), ("validation_last", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low} (got {value!r})")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer (got {self.seed!r})")
        if self.cut_date is not None:
            if self.strategy != "temporal":
                raise ConfigError(
                    f"cut_date only applies to strategy 'temporal' (got {self.strategy!r})"
                )
            parse_date(self.cut_date)
        if self.strategy == "leave-last" and self.validation_fraction:
            raise ConfigError(
                "validation_fraction does not apply to strategy 'leave-last'; use "
                f"validation_last (got validation_fraction={self.validation_fraction!r})"
            )
        if self.strategy != "leave-last" and self.validation_last:
            raise ConfigError(
                "validation_last only applies to strategy 'leave-last' "
                f"(got {self.validation_last!r} with {self.strategy!r})"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SplitConfig:
        """Build from a dict; unknown keys are errors."""
        return from_dict(cls, data, what="split parameter")

    def params(self) -> dict[str, Any]:
        """The parameters that matter for this strategy (what is stored with the split)."""
        out = asdict(self)
        out.pop("seed")
        if self.strategy != "temporal":
            out.pop("cut_date")
        if self.strategy != "leave-last":
            out.pop("n_last")
            out.pop("validation_last")
        else:
            out.pop("test_fraction")
            out.pop("validation_fraction")
        if self.strategy in ("temporal", "cold-items"):
            out.pop("min_interactions")
        if self.strategy == "temporal" and self.cut_date is not None:
            out.pop("test_fraction")
        return out

    def default_name(self) -> str:
        """A readable default split name, e.g. ``random-0.2-seed42``."""
        if self.strategy == "leave-last":
            core = f"leave-last-{self.n_last}"
        elif self.strategy == "temporal" and self.cut_date is not None:
            core = f"temporal-{self.cut_date}"
        else:
            core = f"{self.strategy}-{self.test_fraction:g}"
        return f"{core}-seed{self.seed}"


def suggested_config(has_timestamps: bool) -> SplitConfig:
    """The split the Train page proposes for a dataset (the engine's own default stays
    ``SplitConfig()``, what the command line uses when no strategy is given).

    With timestamps: leave the last interaction of each user for test and the one before
    it for validation. It keeps time order (no future in training, so the sequence models
    can run), tests every user with at least two interactions, and gives the deep models
    a validation fold to stop early on and the Tune panel one to search on. A global time
    cut also keeps order but leaves the users who arrive after the cut with nothing to be
    scored from (118 of 409 test users on the demo). Without timestamps there is no order
    to keep: a random 20% per user for test and 10% of the rest for validation.
    """
    if has_timestamps:
        return SplitConfig(strategy="leave-last", n_last=1, validation_last=1)
    return SplitConfig(strategy="random", validation_fraction=0.1)


def parse_date(text: str) -> float:
    """Seconds since the epoch (UTC) of an ISO date or date-time (``cut_date``)."""
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"cut_date must be an ISO date or date-time (got {text!r})") from exc
    if stamp is pd.NaT:
        raise ConfigError(f"cut_date must be an ISO date or date-time (got {text!r})")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return float(stamp.value) / 1e9


def iso_time(seconds: float) -> str:
    """ISO text of seconds since the epoch (how a temporal cut is reported)."""
    return pd.Timestamp(seconds, unit="s").isoformat()
