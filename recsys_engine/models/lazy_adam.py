"""Adam whose embedding tables are updated only on the rows a batch touched ("lazy" Adam).

Keras 3's Adam, weight decay and weight average are dense: a gradient that reaches a
variable as ``tf.IndexedSlices`` (the rows an embedding lookup read) is made dense, so
every step rewrites each table, its two moments and its average even when the batch used
a few rows of it. At MovieLens-20M size that per-step work over two 26,744 × 512 tables
was most of a Two-tower epoch (issue 14). ``LazyAdam`` keeps Keras' Adam for dense
gradients and, for a sparse one, updates only the rows it names:

- **moments and step** (the standard lazy Adam variant): for the touched rows ``r`` with
  summed gradient ``g`` (duplicate indices added), at step ``t``
  ``m_r ← m_r + (1 − β₁)(g − m_r)``, ``v_r ← v_r + (1 − β₂)(g² − v_r)``,
  ``w_r ← w_r − α_t m_r / (√v_r + ε)``, ``α_t = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)``. Untouched
  rows keep their weights and moments until they are touched again. On a row touched at
  every step one step equals Keras' Adam step from the same state.
- **momentum catch-up**: dense Adam goes on moving an untouched row with its decaying
  moments (a gradient of 0: ``m ← β₁ m``, ``v ← β₂ v``), which carries about ten times the
  first step's move of a gradient; dropping that tail made rarely read rows learn far
  slower (validation NDCG@10 0.1509 → 0.1444 on ml-latest-small, BENCHMARKS.md, issue 14).
  So a row touched again after ``k`` untouched steps first takes those ``k`` steps at once:
  ``w_r ← w_r − α_t m_r / √v_r · Σⱼ₌₁ᵏ (β₁/√β₂)ʲ``, ``m_r ← β₁ᵏ m_r``, ``v_r ← β₂ᵏ v_r``
  (exact but for the step size, taken as this step's ``α_t`` instead of each skipped
  step's, and ε). A row's tail after its last touch of the run is not applied.
- **weight decay** (``weight_decay`` > 0): ``w_r ← w_r − lr · wd · w_r`` on touched rows.
- **L2 penalty of the rows read** (``penalise_rows``): a model whose loss would add
  l2 · Σ_r s_r ‖w_r‖² over the rows a step reads (s_r a per-row weight) can hand that
  penalty to the update instead: its gradient 2 · l2 · s_r · w_r is added to the touched
  rows' gradient inside the fused row arithmetic. The gradient is the same; what is saved
  is the model's own passes over the rows read (the squares and their sum forward, the
  penalty's gradient and its sum with the data gradient backward): 8 of 120 ms a step
  at MovieLens-20M shape (BENCHMARKS.md, issue 14).
- **weight average** (``use_ema``): *exact*, not an approximation. A row that no step
  touched kept its weight ``w``, so k steps of ``w̄ ← μ w̄ + (1 − μ) w`` give
  ``w̄ ← μᵏ w̄ + (1 − μᵏ) w`` in one go. Each table keeps per row the number of steps its
  stored average covers; a touched row is first brought up to date with its old weight,
  then averaged with its new one, and ``finalize_variable_values`` brings every row up to
  date — the same average as Keras' dense one over the same weights.

Every table, moment and average is read by row (``table_rows.read_rows``) and its shape
taken statically: a whole read of a table whose rows are written in place makes TensorFlow
copy it, which at 200,000 items cost more than the update itself. The arithmetic between
the reads and the writes (``_adam_rows``, ~25 elementwise passes) is compiled by XLA into
one pass (``_FUSED_ROWS``); XLA compiles once per row count, so the rows are padded to a
few bucket sizes (``_bucket``). The reads and writes stay TensorFlow's, which use both
cores where XLA's run on one (BENCHMARKS.md).

Which variables are sparse is read from the gradients' type when the step is traced, so a
model whose gradients are all dense trains exactly as with ``keras.optimizers.Adam``.
TensorFlow backend only (``tf.IndexedSlices``).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from recsys_engine.models.table_rows import read_rows
from recsys_engine.models.weight_copies import overwrite_with_averages

#: rows of a table ``LazyAdam.catch_up_averages`` brings up to date at once (8 MB of a
#: 512-wide float32 table)
CATCH_UP_ROWS = 4096


class LazyAdam(keras.optimizers.Adam):
    """Adam (with optional weight decay and weight average) whose sparse gradients update
    only the rows they name; dense gradients get Keras' own Adam (see the module doc).

    Args:
        **settings: ``keras.optimizers.Adam``'s arguments (``learning_rate``,
            ``weight_decay``, ``use_ema``, ``ema_momentum``, …); ``amsgrad`` and
            ``ema_overwrite_frequency`` are not supported.
    """

    def __init__(self, **settings: Any):
        if settings.get("amsgrad") or settings.get("ema_overwrite_frequency"):
            raise ValueError("LazyAdam supports neither amsgrad nor ema_overwrite_frequency")
        super().__init__(**settings)
        #: keys of the variables whose gradient was sparse (set while a step is traced)
        self._sparse_keys: set[Any] = set()
        self._step_keys: set[Any] = set()
        #: variable key → (l2, per-row weights or None, their column): ``penalise_rows``
        self._row_penalties: dict[Any, tuple[float, Any, int]] = {}

    def penalise_rows(self, variable: Any, l2: float, scale: Any = None, column: int = 0) -> None:
        """Apply the L2 penalty l2 · Σ_r s_r ‖w_r‖² of the rows each step's sparse gradient
        names in the update (module doc): s_r = ``scale[r, column]`` (a non-trainable
        n_rows × k variable), or 1 without ``scale``. Call before the first step; the
        variable's gradients must then be sparse."""
        self._row_penalties[self._var_key(variable)] = (float(l2), scale, int(column))

    def build(self, variables: list[Any]) -> None:
        """Adam's moments (and the averages), plus, with the average, per variable the
        number of steps each row's stored average covers (0 = not yet stored)."""
        if self.built:
            return
        super().build(variables)
        # per row: 1 + the step that last touched it (0 = never), for the momentum catch-up
        self._touched_steps = [
            self.add_variable((v.shape[0] if len(v.shape) else 1,), dtype="int64", name="touched")
            for v in variables
        ]
        self._average_steps = []
        if self.use_ema:
            for v in variables:
                rows = v.shape[0] if len(v.shape) else 1
                self._average_steps.append(
                    self.add_variable((rows,), dtype="int64", name="average_steps")
                )

    # -- which variables take the sparse path ----------------------------------------------
    def _backend_apply_gradients(self, grads: list[Any], trainable_variables: list[Any]):
        sparse = {
            self._var_key(v): isinstance(g, tf.IndexedSlices)
            for g, v in zip(grads, trainable_variables, strict=True)
        }
        if any(key in self._row_penalties and not is_sparse for key, is_sparse in sparse.items()):
            raise ValueError("a variable with a row penalty (penalise_rows) got a dense gradient")
        self._step_keys = {key for key, is_sparse in sparse.items() if is_sparse}
        self._sparse_keys |= self._step_keys
        return super()._backend_apply_gradients(grads, trainable_variables)

    def _apply_weight_decay(self, variables: list[Any]) -> None:
        # sparse variables decay their touched rows in ``update_step``
        dense = [v for v in variables if self._var_key(v) not in self._step_keys]
        super()._apply_weight_decay(dense)

    def _update_model_variables_moving_average(self, trainable_variables: list[Any]) -> None:
        if not self.use_ema:
            return
        momentum = ops.cast(ops.not_equal(self.iterations, 0), "float32") * self.ema_momentum
        for var, average in zip(
            trainable_variables, self._model_variables_moving_average, strict=True
        ):
            if average is None or self._var_key(var) in self._step_keys:
                continue  # sparse: averaged row by row in ``update_step``
            m = ops.cast(momentum, var.dtype)
            average.assign(m * average + (1 - m) * var)

    # -- the update ------------------------------------------------------------------------
    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """Keras' Adam step for a dense gradient; the lazy row update for a sparse one."""
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        rows, grad = _summed_rows(gradient)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
        shrink = tf.zeros([], dtype)
        if self.weight_decay is not None and self._use_weight_decay(variable):
            shrink = tf.cast(self.weight_decay, dtype) * lr

        # the rows are padded to a bucket size (see ``_bucket``); padding reads row 0 and
        # its results are dropped before the write
        count = tf.shape(rows)[0]
        padded = tf.pad(rows, [[0, _bucket(count, int(variable.shape[0])) - count]])
        grad = tf.cast(grad, dtype)
        grad = tf.pad(grad, [[0, tf.shape(padded)[0] - count]] + [[0, 0]] * (grad.shape.rank - 1))
        t = tf.cast(self.iterations, "int64")  # 0-based index of this step
        touched = self._touched_steps[index]
        skipped = read_rows(touched, padded)
        skipped = tf.where(skipped > 0, t - skipped, tf.zeros_like(skipped))
        m_var, v_var = self._momentums[index], self._velocities[index]
        rank_ones = [1] * (len(variable.shape) - 1)
        inputs = {
            "weight": read_rows(variable, padded),
            "m": read_rows(m_var, padded),
            "v": read_rows(v_var, padded),
            "grad": grad,
            "skipped": tf.reshape(tf.cast(skipped, dtype), [-1, *rank_ones]),
            "alpha": alpha,
            "shrink": shrink,
            "beta_1": beta_1,
            "beta_2": beta_2,
            "epsilon": tf.cast(self.epsilon, dtype),
        }
        penalty = self._row_penalties.get(self._var_key(variable))
        if penalty is not None:  # d/dw_r of l2 · s_r ‖w_r‖², added to the gradient
            l2, scale, column = penalty
            if scale is None:
                per_row = tf.ones(tf.shape(padded), dtype)
            else:
                per_row = tf.cast(read_rows(scale, padded)[:, column], dtype)
            inputs["penalty"] = tf.reshape(2 * l2 * per_row, [-1, *rank_ones])
        if self.use_ema:  # the average saw the stored weight over the skipped steps
            average = self._model_variables_moving_average[index]
            steps_var = self._average_steps[index]
            decay, never = _decay(read_rows(steps_var, padded), t, self.ema_momentum, variable)
            inputs |= {
                "average": read_rows(average, padded),
                "decay": decay,
                "never": never,
                "momentum": tf.cast(t > 0, dtype) * tf.cast(self.ema_momentum, dtype),
            }
        outputs = _FUSED_ROWS(**inputs)
        shape = tf.constant(variable.shape.as_list(), rows.dtype)  # static: no read of the table
        stamp = tf.IndexedSlices(tf.fill(tf.shape(rows), t + 1), rows, shape[:1])
        self.assign(touched, stamp)
        # a slice of the first rows shares the buffer: the padding costs no copy here
        self.assign(m_var, tf.IndexedSlices(outputs["m"][:count], rows, shape))
        self.assign(v_var, tf.IndexedSlices(outputs["v"][:count], rows, shape))
        self.assign(variable, tf.IndexedSlices(outputs["weight"][:count], rows, shape))
        if self.use_ema:
            average_rows = tf.IndexedSlices(outputs["average"][:count], rows, shape)
            self.assign(self._model_variables_moving_average[index], average_rows)
            self.assign(self._average_steps[index], stamp)

    def finalize_variable_values(self, var_list: list[Any]) -> None:
        """Bring the sparse variables' averages up to date, then copy every average into
        its variable, the big tables a block of rows at a time
        (``weight_copies.overwrite_with_averages``; Keras' own copy reads each average
        whole)."""
        if self.use_ema:
            self.catch_up_averages()
            overwrite_with_averages(self, var_list)

    def catch_up_averages(self) -> None:
        """Bring every row of the sparse variables' averages to the current step (rows no
        step touched since their last update average in their unchanged weight).

        The tables are brought up to date ``CATCH_UP_ROWS`` rows at a time, each block
        read by row: reading a whole table written in place is a copy, and every step of
        the whole-table blend was another table-sized temporary, so at 186k × 512 the
        end of training held four or so extra 0.38 GB tables at once (the peak memory of
        the 3M-row log once the optimizer is freed before evaluation, BENCHMARKS.md).
        Each row's decay is computed once for all rows and the blend is elementwise, so
        every value is the one the whole-table formula gives."""
        done = tf.cast(self.iterations, "int64")
        for variable in self._trainable_variables:
            if self._var_key(variable) not in self._sparse_keys:
                continue
            index = self._get_variable_index(variable)
            average = self._model_variables_moving_average[index]
            steps_var = self._average_steps[index]
            covered = ops.convert_to_tensor(steps_var)  # one int per row: small
            decay, never = _decay(covered, done, self.ema_momentum, average)
            n_rows = int(variable.shape[0])
            shape = tf.constant(average.shape.as_list(), "int64")
            for start in range(0, n_rows, CATCH_UP_ROWS):
                stop = min(start + CATCH_UP_ROWS, n_rows)
                rows = tf.range(start, stop, dtype="int64")
                value = _blend(
                    read_rows(average, rows),
                    read_rows(variable, rows),
                    decay[start:stop],
                    never[start:stop],
                )
                self.assign(average, tf.IndexedSlices(value, rows, shape))
            steps_var.assign(tf.fill(tf.shape(covered), done))


def hand_row_penalties(model: Any, optimizer: LazyAdam) -> None:
    """Let ``optimizer`` apply the L2 penalties of the rows read that ``model``'s layers
    hand over (a layer's ``hand_row_penalties()``: (table, l2, scale, column) tuples; the
    layer stops adding them to its loss, so the training loss reported is the data loss)."""
    for layer in model.layers:
        for table, l2, scale, column in getattr(layer, "hand_row_penalties", list)():
            optimizer.penalise_rows(table, l2, scale, column)


def _summed_rows(gradient: tf.IndexedSlices) -> tuple[Any, Any]:
    """Unique row indices of a sparse gradient and the sum of its slices per row."""
    rows, position = tf.unique(gradient.indices)
    values = tf.cond(  # the towers read distinct rows: then there is nothing to add up
        tf.size(rows) == tf.size(gradient.indices),
        lambda: gradient.values,
        lambda: tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0]),
    )
    return rows, values


def _decay(covered: Any, steps: Any, momentum: float, average: Any) -> tuple[Any, Any]:
    """Per row of ``average``: the weight μᵏ its stored average keeps after the k = steps −
    covered steps it misses, and whether it was never stored (covered 0); both shaped to
    broadcast against the rows of ``average``."""
    gap = tf.cast(steps - covered, average.dtype)
    decay = tf.pow(tf.cast(momentum, average.dtype), gap)
    # the rank is static: ``average`` may be a whole table (a dynamic rank would read it)
    shape = tf.concat([tf.shape(covered), tf.ones(len(average.shape) - 1, "int32")], 0)
    return tf.reshape(decay, shape), tf.reshape(covered == 0, shape)


def _blend(average: Any, weight: Any, decay: Any, never: Any) -> Any:
    """μᵏ w̄ + (1 − μᵏ) w per row (``_decay``): the average of a row whose weight w has not
    changed for the k steps its stored average misses; w itself where the average was never
    stored (Keras' first step sets w̄ = w, and w stayed)."""
    return tf.where(never, weight, decay * average + (1 - decay) * weight)


def _bucket(count: Any, n_rows: int) -> Any:
    """The row count a step's update is padded to: ``count`` rounded up to a multiple of
    max(64, 2^(⌊log₂ count⌋ − 3)) — at most 1/8 more rows — and never past the table's
    ``n_rows``. The fused update is compiled once per distinct row count, so a few buckets
    stand for the thousands of counts a training run meets."""
    octave = tf.math.floor(tf.math.log(tf.cast(tf.maximum(count, 1), "float32")) / np.log(2.0))
    quantum = tf.bitwise.left_shift(1, tf.maximum(tf.cast(octave, "int32") - 3, 6))
    return tf.minimum((count + quantum - 1) // quantum * quantum, n_rows)


def _adam_rows(
    weight: Any,
    m: Any,
    v: Any,
    grad: Any,
    skipped: Any,
    alpha: Any,
    shrink: Any,
    beta_1: Any,
    beta_2: Any,
    epsilon: Any,
    average: Any = None,
    decay: Any = None,
    never: Any = None,
    momentum: Any = None,
    penalty: Any = None,
) -> dict[str, Any]:
    """One lazy Adam step of the rows ``weight`` with moments ``m``, ``v`` and summed
    gradient ``grad`` (module doc): the ``skipped`` (per row) zero-gradient steps of step
    size ``alpha`` at once, the weight decay ``w ← w − shrink · w``, then Adam's step; with
    ``average`` the weight average's catch-up (``decay``, ``never`` from ``_decay``) and
    its step of ``momentum``; with ``penalty`` (per row 2 · l2 · s_r) the L2 penalty's
    gradient ``penalty · w`` added to ``grad``. Pure elementwise arithmetic, so XLA fuses
    it (``_FUSED_ROWS``)."""
    if penalty is not None:  # the penalty's gradient at the weight the step read
        grad = grad + penalty * weight
    ratio = beta_1 / tf.sqrt(beta_2)
    tail = ratio * (1 - tf.pow(ratio, skipped)) / (1 - ratio)  # Σ_{j=1..k} ratioʲ
    new = weight - alpha * tail * m / (tf.sqrt(v) + epsilon)
    m = m * tf.pow(beta_1, skipped)
    v = v * tf.pow(beta_2, skipped)
    new = new - new * shrink
    m = m + (grad - m) * (1 - beta_1)
    v = v + (tf.square(grad) - v) * (1 - beta_2)
    new = new - (m * alpha) / (tf.sqrt(v) + epsilon)
    out = {"weight": new, "m": m, "v": v}
    if average is not None:
        out["average"] = momentum * _blend(average, weight, decay, never) + (1 - momentum) * new
    return out


#: ``_adam_rows`` compiled by XLA: its ~25 elementwise passes over the rows become one
#: (at MovieLens-20M shape, 15k rows × 512: 45–57 ms → 13–18 ms a table; BENCHMARKS.md)
_FUSED_ROWS = tf.function(_adam_rows, jit_compile=True)
