"""Shared parts of the Keras models with one embedding per training user (NeuMF, explicit MF).

Such models only know the users seen at fit time, while the model contract passes
histories, not user ids: ``KnownUsers`` maps a history to the training user whose training
history is identical (a 16-byte hash of its sorted items); any other history cannot be
scored.
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp

from recsys_engine.models.base import Recommender
from recsys_engine.models.data import as_csr
from recsys_engine.models.keras_files import KerasFiles


class KnownUsers:
    """Maps a history (its set of items) to the training user with that training history."""

    def __init__(self, matrix: sp.csr_matrix):
        self.keys = np.array([_key(matrix, r) for r in range(matrix.shape[0])], dtype="S16")
        self._lookup = None

    @classmethod
    def from_keys(cls, keys: np.ndarray) -> KnownUsers:
        obj = cls.__new__(cls)
        obj.keys, obj._lookup = np.asarray(keys, dtype="S16"), None
        return obj

    def index(self, histories: sp.csr_matrix) -> np.ndarray:
        """Training-user index of each history row (-1 when unknown or empty)."""
        if self._lookup is None:
            self._lookup = {}
            for i, k in enumerate(self.keys):
                self._lookup.setdefault(bytes(k), i)  # identical histories: the first user
        h = sp.csr_matrix(histories)
        h.sort_indices()
        out = np.full(h.shape[0], -1, dtype=np.int64)
        for r in range(h.shape[0]):
            if h.indptr[r + 1] > h.indptr[r]:
                out[r] = self._lookup.get(_key(h, r), -1)
        return out


def _key(m: sp.csr_matrix, r: int) -> bytes:
    items = np.asarray(m.indices[m.indptr[r] : m.indptr[r + 1]], dtype=np.int64)
    items = items[np.asarray(m.data[m.indptr[r] : m.indptr[r + 1]]) != 0]
    return hashlib.blake2b(np.sort(items).tobytes(), digest_size=16).digest()


class UserEmbeddingModel(KerasFiles, Recommender):
    """Shared parts of the per-user-embedding Keras models (NeuMF, explicit MF)."""

    knows_users_by_training_history = True

    def __init__(self, config=None):
        super().__init__(config)
        self._keras_model = None
        self.known: KnownUsers | None = None
        self.fit_result = None

    def can_score(self, histories: sp.csr_matrix) -> np.ndarray:
        self._check_fitted()
        return self.known.index(as_csr(histories, self.n_items)) >= 0

    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Scores of known users; rows of unknown histories are NaN (cannot score)."""
        self._check_fitted()
        users = self.known.index(as_csr(histories, self.n_items))
        items = np.arange(self.n_items) if items is None else np.asarray(items)
        out = np.full((len(users), len(items)), np.nan, dtype=np.float32)
        ok = users >= 0
        if ok.any():
            out[ok] = self._score_users(users[ok], items)
        return out

    def _score_users(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _arrays(self) -> dict[str, np.ndarray]:
        """The saved arrays: the model's weights plus the known users' history keys."""
        return {**self.arrays, "user_keys": self.known.keys}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = {k: np.asarray(v) for k, v in arrays.items() if k != "user_keys"}
        self.known = KnownUsers.from_keys(arrays["user_keys"])


def weight_getter(weights: dict[str, np.ndarray]):
    """``get(layer, kind)``: the float32 weight ``kind`` of the layer named ``layer`` among
    ``weights`` (variable path → value), whatever the enclosing layers' names."""

    def get(layer: str, kind: str = "embeddings") -> np.ndarray:
        for path, value in weights.items():
            parts = path.split("/")
            if layer in parts and parts[-1] == kind:
                return value.astype(np.float32)
        raise KeyError(f"weight {layer}/{kind} not found")

    return get
