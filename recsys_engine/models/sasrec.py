"""SASRec: causal self-attention over the user's ordered history (Kang & McAuley 2018),
trained with the cross-entropy recipe (full softmax on every position; sampled, log-Q
corrected softmax on big catalogues) instead of the original one-negative BCE.

Item embedding + learned position embedding, ``blocks`` pre-norm transformer blocks of
Keras 3 ``MultiHeadAttention`` with a causal mask, layer norm and dropout
(``sequence_layers``); training, scoring and explanations are the sequence base's
(``sequence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from recsys_engine.config import check_number
from recsys_engine.models.search_space import Choice, Param
from recsys_engine.models.sequence import SequenceConfig, SequenceModel


@dataclass(frozen=True)
class SASRecConfig(SequenceConfig):
    """SASRec settings (``SequenceConfig``'s plus the attention heads).

    Attributes:
        heads: attention heads per block, each of size ⌈dim / heads⌉ (the attention's output
            is projected back to ``dim``).
    """

    presets: ClassVar[dict[str, dict]] = {
        "quick": {"epochs": 8, "patience": 0, "dim": 32, "max_len": 20, "blocks": 1},
        "thorough": {"epochs": 200, "patience": 20},
    }
    search_space: ClassVar[dict[str, Param]] = {
        **SequenceConfig.search_space,
        "heads": Choice((1, 2)),
    }

    # chosen on the validation folds (BENCHMARKS.md, issue 18): learning rate 3e-3 over
    # 1e-3 on ml-100k; dim 128 and dropout 0.5 over 64 and 0.2 on ml-100k and ml-latest-small
    learning_rate: float = 3e-3
    dim: int = 128
    dropout: float = 0.5
    heads: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("heads", self.heads, low=1, high=16, integer=True)


class SASRec(SequenceModel):
    """Causal self-attention over the last ``max_len`` history items."""

    name = "sasrec"
    config_class = SASRecConfig
    encoder = "attention"

    def _heads(self) -> int:
        return int(self.config.heads)
