"""Small random implicit logs for the Keras models' fit tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys_engine.models.data import TrainData


def random_log(users: int, items: int, density: float, seed: int) -> TrainData:
    """A random implicit log: every entry 1, ids ``u0…`` and ``i0…``."""
    m = sp.random(users, items, density=density, random_state=seed, format="csr", dtype=np.float32)
    m.data[:] = 1.0
    m.sort_indices()
    return TrainData(
        matrix=m,
        user_ids=np.array([f"u{u}" for u in range(users)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(items)], dtype=object),
    )


def split_every(matrix: sp.spmatrix, every: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(kept, held): every ``every``-th stored interaction held out, the rest kept."""
    m = matrix.tocoo()
    held = np.arange(m.nnz) % every == 0

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((m.data[mask], (m.row[mask], m.col[mask])), shape=m.shape)

    return part(~held), part(held)


def with_validation(data: TrainData, every: int) -> TrainData:
    """``data`` with every ``every``-th interaction moved to the validation fold."""
    kept, held = split_every(data.matrix, every)
    return TrainData(matrix=kept, validation=held, user_ids=data.user_ids, item_ids=data.item_ids)
