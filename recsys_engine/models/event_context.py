"""The context of events (issue 18) as models see it: integer codes per field.

A dataset may store categorical context per interaction (device, country, hour of day,
weekday, ...; ``store.context``). Models see each field as codes: 0 is *unknown* — an
empty cell, a value never seen in training, or the **neutral context** explanations
compare against — and 1…n are the field's training values in sorted order
(``ContextVocab``). ``EventContext`` holds the codes of a set of events (user, item,
codes), in the order of the ordered histories when the time order is known, so an
order-aware model reads ``codes[k]`` next to ``sequence_items[k]``; any model can look up
the codes of given (user, item) events.

A context-aware model adds a learned vector per (field, code) to the representation of the
event it predicts — the user tower of the pooled models (``pooled``), the predicting
position of a sequence model — with code 0's vector fixed at zero, so the neutral context
adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys_engine.errors import ConfigError
from recsys_engine.models.time_order import time_order

#: Code of an unknown value (and of the neutral context).
UNKNOWN = 0


@dataclass(frozen=True)
class ContextVocab:
    """The context fields of a dataset and the known values of each.

    Attributes:
        fields: field names, in the dataset's order.
        values: per field, its known values; code c ≥ 1 is ``values[f][c - 1]``.
    """

    fields: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Codes per field, the unknown code 0 included."""
        return tuple(len(v) + 1 for v in self.values)

    @classmethod
    def from_values(cls, values: Mapping[str, np.ndarray]) -> ContextVocab:
        """Sorted distinct non-empty values of each field (None = unknown, skipped)."""
        fields = tuple(values)
        vocab = tuple(
            tuple(sorted({str(v) for v in values[f] if v is not None and str(v) != ""}))
            for f in fields
        )
        return cls(fields, vocab)

    def encode(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Codes (n × fields, int32) of value arrays per field; unseen or missing → 0."""
        n = len(next(iter(values.values()))) if values else 0
        out = np.zeros((n, len(self.fields)), dtype=np.int32)
        for j, f in enumerate(self.fields):
            lookup = {v: c + 1 for c, v in enumerate(self.values[j])}
            col = values.get(f)
            if col is not None:
                out[:, j] = [lookup.get(str(v), UNKNOWN) if v is not None else 0 for v in col]
        return out

    def encode_one(self, choice: Mapping[str, str | None]) -> np.ndarray:
        """Codes (fields,) of one event's context; a field left out (or None) is neutral.

        Raises:
            ConfigError: an unknown field, or a value the field never had in training.
        """
        out = np.zeros(len(self.fields), dtype=np.int32)
        for name, value in choice.items():
            if name not in self.fields:
                raise ConfigError(
                    f"unknown context field {name!r} (fields: {', '.join(self.fields)})"
                )
            if value is None:
                continue
            j = self.fields.index(name)
            if str(value) not in self.values[j]:
                raise ConfigError(
                    f"context {name!r} has no training value {value!r} "
                    f"(values: {', '.join(self.values[j][:20])})"
                )
            out[j] = self.values[j].index(str(value)) + 1
        return out

    def decode(self, codes: np.ndarray) -> dict[str, str | None]:
        """One event's codes as {field: value or None (unknown/neutral)}."""
        codes = np.asarray(codes).ravel()
        return {
            f: (self.values[j][int(codes[j]) - 1] if int(codes[j]) > 0 else None)
            for j, f in enumerate(self.fields)
        }

    def neutral(self, n: int = 1) -> np.ndarray:
        """Codes of the neutral context (all unknown), n × fields."""
        return np.zeros((int(n), len(self.fields)), dtype=np.int32)


@dataclass(frozen=True)
class EventContext:
    """The context codes of a set of events.

    Attributes:
        vocab: fields and their values.
        users: internal user index per event (int64).
        items: internal item index per event (int64).
        codes: n_events × n_fields int32 codes (0 = unknown).

    Events are sorted by user, then time (item index on ties) when the times are known —
    the order of ``TrainData.sequence_items`` — else by user, then item.
    """

    vocab: ContextVocab
    users: np.ndarray
    items: np.ndarray
    codes: np.ndarray

    @classmethod
    def build(
        cls,
        vocab: ContextVocab,
        users: np.ndarray,
        items: np.ndarray,
        codes: np.ndarray,
        timestamps: np.ndarray | None = None,
    ) -> EventContext:
        """Sort the events as ``ordered_histories`` does (user, time, item), or by
        (user, item) when any time is missing."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        codes = np.asarray(codes, dtype=np.int32).reshape(len(users), len(vocab.fields))
        ts = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        if ts is None or np.isnan(ts).any():
            order = np.lexsort((items, users))
        else:
            order = time_order(users, items, ts)
        return cls(vocab, users[order], items[order], codes[order])

    def __len__(self) -> int:
        return len(self.users)

    def lookup(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Codes of the events (users[r], items[r]); 0 for events not held here."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        out = np.zeros((len(users), len(self.vocab.fields)), dtype=np.int32)
        if len(self) == 0 or len(users) == 0:
            return out
        keys = (self.users << 32) | self.items
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        want = (users << 32) | items
        pos = np.clip(np.searchsorted(sorted_keys, want), 0, len(keys) - 1)
        found = sorted_keys[pos] == want
        out[found] = self.codes[order[pos[found]]]
        return out

    def first_per_user(self, n_users: int) -> np.ndarray:
        """Codes of each user's first event in this order (the earliest when times are
        known), n_users × fields; 0 for users without events."""
        out = np.zeros((int(n_users), len(self.vocab.fields)), dtype=np.int32)
        if len(self) == 0:
            return out
        first = np.ones(len(self), dtype=bool)
        first[1:] = self.users[1:] != self.users[:-1]
        out[self.users[first]] = self.codes[first]
        return out


def check_context_codes(codes: np.ndarray, sizes: tuple[int, ...], n: int) -> np.ndarray:
    """``codes`` as an n × len(sizes) int32 array of valid codes.

    Raises:
        ConfigError: wrong shape or a code outside its field's range.
    """
    codes = np.asarray(codes, dtype=np.int32)
    if codes.ndim == 1:
        codes = np.broadcast_to(codes, (n, len(codes)))
    if codes.shape != (n, len(sizes)):
        raise ConfigError(
            f"context codes must be {n} × {len(sizes)} (got {' × '.join(map(str, codes.shape))})"
        )
    if len(sizes) and ((codes < 0) | (codes >= np.asarray(sizes)[None, :])).any():
        raise ConfigError(f"context codes out of range (codes per field: {list(sizes)})")
    return np.ascontiguousarray(codes)


def fold_contexts(
    values: Mapping[str, np.ndarray],
    arrays: Mapping[str, Any],
    in_train: np.ndarray,
    positive: np.ndarray,
) -> tuple[EventContext | None, EventContext | None, EventContext | None]:
    """Event context of a split's train, validation and test folds (positives only).

    Args:
        values: ``Store.context_values`` (value per interaction and field).
        arrays: ``Store.coded_interactions`` with folds (same interaction order).
        in_train: mask of the training events.
        positive: mask of the positive events.

    The vocabulary holds the values seen in the training fold; others are unknown (0).
    None for each fold when the dataset has no context.
    """
    if not values:
        return None, None, None
    vocab = ContextVocab.from_values({f: np.asarray(v)[in_train] for f, v in values.items()})
    codes = vocab.encode(values)
    fold = arrays["fold"]
    out = [
        EventContext.build(vocab, arrays["user"][m], arrays["item"][m], codes[m], arrays["ts"][m])
        for m in (in_train, (fold == 1) & positive, (fold == 2) & positive)
    ]
    return out[0], out[1], out[2]
