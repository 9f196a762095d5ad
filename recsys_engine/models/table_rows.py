"""Reading rows of a Keras variable without reading the whole table (issue 14).

``ops.take``/``tf.gather`` on a Keras variable first reads the variable as one dense
tensor. Once rows of that variable are written in place (``LazyAdam``'s scatter updates),
TensorFlow copies the whole buffer on every such dense read, so each training step copied
every 186k × 512 table several times (0.4 GB each): at 200,000 items the optimizer update
took 1.4 s per step and the forward pass 0.5 s. Gathering through the ``tf.Variable``
uses TensorFlow's resource gather (``sparse_read``), which reads only the rows named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

#: ``read(table, rows)``: the rows ``rows`` of a layer's weight ``table`` as some source
#: holds them (the whole weight for None) — the weight itself (``current_rows``) or the
#: optimizer's average of it (``early_stopping.averaged_reader``)
RowReader = Callable[[Any, Any], Any]


def current_rows(table: Any, rows: Any) -> Any:
    """The weight itself: ``table`` whole for None, else its rows read by row."""
    return table if rows is None else read_rows(table, rows)


def read_rows(table: Any, rows: Any) -> Any:
    """``table[rows]`` along the first axis; a Keras or TensorFlow variable is read by row
    (its gradient names the rows read), any other tensor is gathered as it is."""
    if isinstance(table, keras.Variable):
        table = table.value  # the tf.Variable, whose gather is ``sparse_read``
    return tf.gather(table, rows)


def write_rows(table: Any, rows: Any, values: Any) -> None:
    """``table[rows] = values`` along the first axis, in place (a scatter update of the
    rows named: the rest of the table is neither read nor copied)."""
    if isinstance(table, keras.Variable):
        table = table.value
    values = tf.cast(values, table.dtype)
    table.scatter_update(tf.IndexedSlices(values, rows))
