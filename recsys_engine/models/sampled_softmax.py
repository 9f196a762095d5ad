"""The in-batch sampled softmax's pieces: the log-Q correction, the removal of accidental
hits and the loss whose labels are the diagonal (issue 14). Used by the pooled towers
(``keras_layers``) and the sequence models (``sequence_layers``).
"""

from __future__ import annotations

import keras
from keras import ops

#: Added to the logits of items a row must not predict (its own input history).
MASK = -1e9


def log_q_corrected(logits, log_q):
    """In-batch logits with the sampling correction of Yi et al. (2019): column j's logit
    minus log q_j, q_j the probability that item j is drawn as a negative (its share of the
    training targets), so popular items are not punished just for being sampled often:
    s'_rj = s_rj − log q_j."""
    return logits - log_q[None, :]


def remove_accidental_hits(logits, target, in_history):
    """Mask the in-batch negatives that are in fact positives of the row.

    Column j (row j's target) is not a negative of row r ≠ j when it equals row r's own
    target or is in row r's history (``in_history[r, j]``); its logit becomes
    s_rj + ``MASK`` (≈ −10⁹, probability 0). The diagonal — each row's positive — stays.
    """
    same = target[:, None] == target[None, :]
    eye = ops.eye(ops.shape(target)[0], dtype="bool")
    drop = ops.logical_and(ops.logical_or(in_history, same), ops.logical_not(eye))
    return logits + MASK * ops.cast(drop, logits.dtype)


def in_batch_softmax_loss(y_true, y_pred):
    """Cross-entropy of an in-batch logits matrix whose diagonal holds the positives.

    The labels are derived from ``y_pred``'s own shape (``y_true`` is ignored), so the loss
    stays right when a distribution strategy splits the batch across replicas.
    """
    labels = ops.arange(ops.shape(y_pred)[0])
    return keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
