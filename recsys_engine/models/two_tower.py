"""ID-embedding two-tower (DESIGN §4): the collaborative workhorse.

Every catalogue item has a learned input vector, output vector and bias (ID embeddings);
the user is the weighted mean of the input vectors of their history. The architecture,
training and exact explanations are the pooled-history base's (``pooled``); its settings,
``TwoTowerConfig``, are shared with ``content`` and ``hybrid``, which add or swap in a
projection of content features.
"""

from __future__ import annotations

from recsys_engine.models.pooled import PooledHistoryModel
from recsys_engine.models.pooled_config import TwoTowerConfig


class TwoTower(PooledHistoryModel):
    """ID-embedding two-tower with a history-pooled user tower."""

    name = "two_tower"
    config_class = TwoTowerConfig
    family = "collaborative"
