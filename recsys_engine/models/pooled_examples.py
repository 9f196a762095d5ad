"""Training examples of the history-pooled towers (``pooled.PooledHistoryModel``).

Per user and epoch, a random ``input_fraction`` of the history is pooled as input and the
rest are the targets (see ``pooled``); for the sampled losses, one random target per user
and one uniform negative. The input history of a batch is handed over as an embedding bag
(``padded_history``): item indices and weights padded to the batch's longest history, so
its size is bounded by the batch, never by the catalogue.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp

#: uniform draws ``uniform_below`` holds at once (8 MB)
DRAW_CHUNK = 1 << 20


def choose_loss(loss: str, n_examples: int, n_items: int, max_items: int, max_cells: int) -> str:
    """The loss ``auto`` stands for: the full softmax while it is affordable, else the
    sampled (in-batch, log-Q corrected) softmax; any other ``loss`` is kept.

    The full softmax computes a logit for every (training example, catalogue item) pair,
    so its epoch costs ``n_examples × n_items`` cells (× dim); the sampled softmax costs
    ``n_examples × batch``. Both limits must hold for the full softmax: ``n_items ≤
    max_items`` (its targets and logits are batch × catalogue) and ``n_examples × n_items
    ≤ max_cells`` (its epoch time; 0 = no limit). A MovieLens-20M-sized log (138k users ×
    27k items = 3.7·10⁹ cells) thus trains sampled although its catalogue is small, while
    ml-latest-small (610 × 9.7k = 5.9·10⁶) keeps the full softmax.
    """
    if loss != "auto":
        return loss
    cells = int(n_examples) * int(n_items)
    if n_items > max_items or (max_cells and cells > max_cells):
        return "sampled_softmax"
    return "softmax"


class HalfSplitSource:
    """Per-user examples: a random part of each history as input, the rest as targets."""

    def __init__(
        self,
        x: sp.csr_matrix,
        mode: str,
        input_fraction: float,
        targets: str = "rest",
    ):
        kept = np.diff(x.indptr) >= 2
        if kept.all() and x.has_sorted_indices:
            self.x = x  # read only: no copy of a matrix that is already as needed
        else:
            self.x = x[kept]
            self.x.sort_indices()
        self.mode, self.fraction = mode, input_fraction
        self.all_targets = targets == "all" and mode == "softmax"
        # each stored entry's row (int32: half the memory a draw walks through)
        self.rows = entry_rows(self.x)
        self.inputs = self.targets = None
        self.target = self.negative = None
        self.n_examples = 0

    def new_epoch(self, rng: np.random.Generator) -> int:
        x, rows = self.x, self.rows
        n_rows, lengths = x.shape[0], np.diff(x.indptr)
        is_input = uniform_below(rng, x.nnz, self.fraction)
        n_in = np.bincount(rows[is_input], minlength=n_rows)
        pick = x.indptr[:-1] + np.floor(rng.random(n_rows) * lengths).astype(np.int64)
        is_input[pick[n_in == 0]] = True  # at least one input and one target per row
        is_input[pick[n_in == lengths]] = False
        self.inputs = _masked(x, is_input)
        is_target = np.logical_not(is_input, out=is_input)  # is_input is not read again
        if self.mode == "softmax":  # the full softmax's target rows; the others draw one
            self.targets = x if self.all_targets else _masked(x, is_target)
        else:
            t_items = x.indices[is_target]
            # one random target per row: of the row's targets, the one a random
            # permutation of all targets puts first
            perm = rng.permutation(len(t_items))
            self.target = t_items[_first_in_order(rows[is_target], perm)].astype(np.int32)
            self.negative = rng.integers(0, x.shape[1], n_rows).astype(np.int32)
        self.n_examples = n_rows
        return n_rows

    def item_reads(self, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        """Per item, the examples of this epoch that read its input row (it is in the
        pooled history) and its output row (the target, or a BPR negative other than the
        target) — what ``row_read_chances`` counts."""
        inputs = self.inputs
        c_in = np.bincount(inputs.indices[inputs.data > 0], minlength=n_items)
        c_out = output_reads(self.target, self.negative, self.mode, n_items)
        return c_in.astype(np.float64), c_out

    def batch(self, index: np.ndarray):
        items, weights = padded_history(self.inputs[index])
        x = {"history_items": items, "history_weights": weights}
        if self.mode == "softmax":
            # the full softmax's targets are batch × catalogue like its logits (it is only
            # chosen below ``max_softmax_items``)
            y = self.targets[index].toarray()
            y /= np.maximum(y.sum(axis=1, keepdims=True), 1e-12)
            return x, y
        x["target"] = self.target[index]
        if self.mode == "bpr":
            x["negative"] = self.negative[index]
            return x, np.ones(len(index), dtype=np.float32)
        return x, np.zeros(len(index), dtype=np.int32)  # labels: the diagonal


class ReadCountingSource(Protocol):
    """An example source (``keras_fit.EpochSource``) that can also count, per item, the
    reads of its current epoch."""

    n_examples: int  # the examples of the current epoch (0 before the first draw)

    def new_epoch(self, rng: np.random.Generator) -> int:
        """Draw this epoch's examples; returns how many there are."""

    def item_reads(self, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        """Per item: examples reading its input row, examples reading its output row."""


def row_read_chances(
    source: ReadCountingSource, n_items: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the chance that one training step of ``batch_size`` examples reads its
    input row (the item is in an example's pooled history) and its output row (an
    example's target or BPR negative), from the source's current draw of examples:
    ``p_i = 1 − (1 − c_i / n)^B`` with ``c_i`` the examples naming item i among ``n``.

    The sampled losses penalise only the ID rows a step reads (``keras_layers``); weighting
    row i's term by ``1 / p_i`` makes the expected penalty of a step the full-table one, so
    an item read once in a hundred steps is not penalised a hundred times less than
    before (issue 14). ``keras_fit.fit_keras`` draws the first epoch before it builds the
    model, so the counts are that epoch's: no draw of their own (~1–2 s at
    MovieLens-20M size)."""
    n = int(source.n_examples)
    if n == 0:
        raise ValueError("row_read_chances needs a drawn epoch: call new_epoch first")
    c_in, c_out = source.item_reads(n_items)

    def chance(counts: np.ndarray) -> np.ndarray:
        return 1.0 - (1.0 - np.minimum(counts / max(n, 1), 1.0)) ** int(batch_size)

    return chance(c_in), chance(c_out)


def output_reads(
    target: np.ndarray, negative: np.ndarray, mode: str, n_items: int
) -> np.ndarray:
    """Per item, the examples whose target names it, plus (BPR) those whose negative does
    when it differs from the example's own target (a negative equal to it is one read)."""
    named = [target] if mode != "bpr" else [target, negative[negative != target]]
    return np.bincount(np.concatenate(named), minlength=n_items).astype(np.float64)


def _first_in_order(groups: np.ndarray, order: np.ndarray) -> np.ndarray:
    """For sorted group labels ``groups`` (0, 1, … each present) and a permutation
    ``order`` of their positions: per group, the position that comes first in ``order`` —
    what ``np.unique(groups[order], return_index=True)`` picks, read as ``order[first]``,
    in one pass instead of a sort (at MovieLens-20M size ~8M targets: ~3 s a draw)."""
    kind = _index_type(len(order))
    rank = np.empty(len(order), dtype=kind)
    rank[order] = np.arange(len(order), dtype=kind)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    return order[np.minimum.reduceat(rank, starts)]


def penalty_scale(chance: np.ndarray) -> np.ndarray:
    """``1 / p`` where a row can be read, 0 where it never is (float32)."""
    p = np.asarray(chance, dtype=np.float64)
    return np.where(p > 0, 1.0 / np.maximum(p, 1e-12), 0.0).astype(np.float32)


def padded_history(h: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``(items, weights)``, both rows × L with L the longest row of ``h`` (at least 1):
    row r holds its stored item indices and weights, then item 0 with weight 0 (padding).

    Only entries with a positive weight count as history (as in the dense form).
    """
    h = sp.csr_matrix(h)
    lengths = np.diff(h.indptr)
    width = max(int(lengths.max(initial=0)), 1)
    items = np.zeros((h.shape[0], width), dtype=np.int32)
    weights = np.zeros((h.shape[0], width), dtype=np.float32)
    rows = entry_rows(h)
    cols = np.arange(h.nnz) - np.repeat(h.indptr[:-1], lengths)
    items[rows, cols] = h.indices
    weights[rows, cols] = h.data
    return items, weights


def _masked(x: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    out = sp.csr_matrix((x.data * keep, x.indices.copy(), x.indptr.copy()), shape=x.shape)
    out.eliminate_zeros()
    return out


def entry_rows(x: sp.csr_matrix) -> np.ndarray:
    """The row of each stored entry of ``x``, in storage order."""
    return np.repeat(np.arange(x.shape[0], dtype=_index_type(x.shape[0])), np.diff(x.indptr))


def uniform_below(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """``rng.random(n) < fraction``, drawn ``DRAW_CHUNK`` values at a time: the same values
    from the same stream, without n float64 draws in memory at once (128 MB at
    MovieLens-20M size, most of a draw's time the first time the memory is touched)."""
    out = np.empty(n, dtype=bool)
    buffer = np.empty(min(n, DRAW_CHUNK))
    for start in range(0, n, DRAW_CHUNK):
        part = buffer[: min(DRAW_CHUNK, n - start)]
        rng.random(out=part)
        np.less(part, fraction, out=out[start : start + len(part)])
    return out


def _index_type(n: int) -> type:
    """int32 when every index below ``n`` fits it, else int64."""
    return np.int32 if n < np.iinfo(np.int32).max else np.int64
