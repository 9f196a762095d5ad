"""The two extra copies of the weights early stopping needs, without table-sized temporaries.

Validating the weight average and keeping the best epoch's weights each need a second set
of weights beside the model's. At 186k items × 512 each embedding table is 0.38 GB, and the
3M-row log trained to its stopping rule peaked 3 GiB above one epoch (issue 14,
BENCHMARKS.md) from these copies: the raw weights kept in numpy while the averages were
validated, and the best weights kept in numpy. So:

- ``swap_with_averages`` exchanges each variable with its average in place, a block of
  rows at a time; swapping twice gives back both unchanged, so no raw copy is kept.
  ``overwrite_with_averages`` (the end of training) copies the averages in the same way.
- ``BestWeights`` keeps small models' weights in memory, as before, and above
  ``SPILL_BYTES`` writes them to a temporary file, a block of rows at a time, and reads
  them back the same way.

Both read and write the big tables by row (``table_rows``): reading a whole table written
in place makes TensorFlow copy it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: rows exchanged or written at once (8 MB of a 512-wide float32 table)
BLOCK_ROWS = 4096
#: above this many bytes of weights the best ones go to a temporary file
SPILL_BYTES = 256 * 1024**2


def _blocks(n_rows: int) -> list[tuple[int, int]]:
    return [(start, min(start + BLOCK_ROWS, n_rows)) for start in range(0, n_rows, BLOCK_ROWS)]


def _is_big(variable: Any) -> bool:
    return len(variable.shape) > 0 and int(variable.shape[0]) > BLOCK_ROWS


def swap_with_averages(optimizer: Any, variables: list[Any]) -> None:
    """Exchange each of ``variables`` with the optimizer's weight average of it (Keras'
    ``use_ema``), in place. Called once the averages are up to date it puts the averages
    in the model; called again it puts everything back."""
    _put_averages(optimizer, variables, swap=True)


def overwrite_with_averages(optimizer: Any, variables: list[Any]) -> None:
    """Put the optimizer's weight average of each of ``variables`` into it, as Keras'
    ``finalize_variable_values`` does, but the big tables a block of rows at a time: Keras
    reads each average whole, a table-sized copy apiece (the averages are written in
    place, by row). The averages keep their values, so calling it twice changes nothing."""
    _put_averages(optimizer, variables, swap=False)


def _put_averages(optimizer: Any, variables: list[Any], swap: bool) -> None:
    """The averages into ``variables``; with ``swap``, the variables' values into the
    averages too."""
    import tensorflow as tf

    from recsys_engine.models.table_rows import read_rows, write_rows

    averages = optimizer._model_variables_moving_average  # Keras' list, in variable order
    for variable in variables:
        average = averages[optimizer._get_variable_index(variable)]
        if average is None:  # Keras keeps no average of it (``overwrite_with_gradient``)
            continue
        if not _is_big(variable):
            mine = np.array(variable) if swap else None
            variable.assign(np.array(average))
            if swap:
                average.assign(mine)
            continue
        for start, stop in _blocks(int(variable.shape[0])):
            rows = tf.range(start, stop, dtype="int64")
            mine = read_rows(variable, rows) if swap else None
            write_rows(variable, rows, read_rows(average, rows))
            if swap:
                write_rows(average, rows, mine)


class BestWeights:
    """A copy of a model's weights (all of ``model.weights``), to put back later. With
    ``source``, each weight's value is read from ``source(weight)`` instead (a variable of
    the same shape: e.g. the optimizer's average of it, ``early_stopping.averaged_source``),
    so the averages need not be swapped into the model to be kept.

    Up to ``SPILL_BYTES`` the copy is numpy arrays in memory; above, a temporary file
    written and read a block of rows at a time, so keeping it costs no table-sized memory
    (the file goes when ``close`` is called or the object is collected)."""

    def __init__(self, model: Any, source: Callable[[Any], Any] | None = None):
        weights = [w if source is None else source(w) for w in model.weights]
        size = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in weights)
        self._arrays: list[np.ndarray] | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        if size <= SPILL_BYTES:
            self._arrays = [np.array(w) for w in weights]
            return
        self._dir = tempfile.TemporaryDirectory(prefix="recsys-best-weights-")
        for i, w in enumerate(weights):
            with open(self._path(i), "wb") as f:
                if not _is_big(w):
                    f.write(np.ascontiguousarray(np.array(w)).tobytes())
                    continue
                for start, stop in _blocks(int(w.shape[0])):
                    f.write(np.ascontiguousarray(_read_block(w, start, stop)).tobytes())

    def _path(self, index: int) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / f"{index}.bin"

    @property
    def spilled(self) -> bool:
        """Whether the copy is on disk."""
        return self._dir is not None

    def restore(self, model: Any) -> None:
        """Put the copied weights back into ``model`` (the same architecture)."""
        if self._arrays is not None:
            model.set_weights(self._arrays)
            return
        import tensorflow as tf

        from recsys_engine.models.table_rows import write_rows

        for i, w in enumerate(model.weights):
            dtype, shape = np.dtype(w.dtype), tuple(int(d) for d in w.shape)
            with open(self._path(i), "rb") as f:
                if not _is_big(w):
                    w.assign(np.fromfile(f, dtype=dtype).reshape(shape))
                    continue
                row = int(np.prod(shape[1:]))
                for start, stop in _blocks(shape[0]):
                    block = np.fromfile(f, dtype=dtype, count=(stop - start) * row)
                    rows = tf.range(start, stop, dtype="int64")
                    write_rows(w, rows, block.reshape((stop - start, *shape[1:])))

    def close(self) -> None:
        """Drop the copy (and its file)."""
        self._arrays = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def _read_block(variable: Any, start: int, stop: int) -> np.ndarray:
    import tensorflow as tf

    from recsys_engine.models.table_rows import read_rows

    return np.asarray(read_rows(variable, tf.range(start, stop, dtype="int64")))
