"""GRU4Rec: a recurrent network over the user's ordered history (Hidasi et al. 2016),
trained like ``sasrec`` (every position predicts the next item, full or sampled softmax)
and scored from the GRU's last state, layer-normalised, · item embeddings. The layer norm
matters: the GRU's state is tanh-bounded and the output layer is the (tied) input
embedding, so without it the logits could not get sharp enough for a 9.7k-item catalogue
(``sequence_layers``, ``output_norm``). Training, scoring and explanations are the
sequence base's (``sequence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from recsys_engine.models.search_space import Param, Range
from recsys_engine.models.sequence import SequenceConfig, SequenceModel


@dataclass(frozen=True)
class GRU4RecConfig(SequenceConfig):
    """GRU4Rec settings: ``SequenceConfig``'s, where ``blocks`` counts stacked GRU layers."""

    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 8, "patience": 0, "dim": 32, "max_len": 20},
        "thorough": {"epochs": 200, "patience": 20},
    }
    search_space: ClassVar[dict[str, Param]] = {
        **SequenceConfig.search_space,
        "blocks": Range(1, 2, integer=True),
    }

    blocks: int = 1
    # chosen on the validation folds of ml-100k and the planted-order data (BENCHMARKS.md)
    learning_rate: float = 5e-3


class GRU4Rec(SequenceModel):
    """A GRU over the last ``max_len`` history items."""

    name = "gru4rec"
    config_class = GRU4RecConfig
    encoder = "gru"
