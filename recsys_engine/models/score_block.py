"""One users × catalogue block of scores, reused from batch to batch.

Evaluation and validation score users a batch at a time; at a shop-sized catalogue each
batch's scores are a block of hundreds of megabytes (1,024 users × 186k items: 0.76 GB of
float32). A fresh block per batch costs the operating system's page faults every time, and
on a virtual machine they are slow and erratic (the same product took 1.05–2.6 s a batch,
BENCHMARKS.md); writing each batch's product into one kept block does not.
"""

from __future__ import annotations

import numpy as np


class ScoreBlock:
    """A float32 buffer handed out as ``rows × columns`` views; it grows to the largest
    block asked for and is kept until the object is dropped.

    A view is valid until the next ``take``: callers use each batch's scores before they
    ask for the next batch's.
    """

    def __init__(self) -> None:
        self._flat: np.ndarray | None = None

    def take(self, rows: int, columns: int) -> np.ndarray:
        """A C-contiguous ``rows × columns`` float32 view of the buffer (contents unset)."""
        size = rows * columns
        if self._flat is None or self._flat.size < size:
            self._flat = None  # free the smaller buffer before allocating the larger one
            self._flat = np.empty(size, dtype=np.float32)
        return self._flat[:size].reshape(rows, columns)
