"""Metric names: keys like ``"ndcg@10"``, their parts and the labels people read."""

from __future__ import annotations

from recsys_engine.errors import ConfigError

ACCURACY = ("ndcg", "recall", "precision", "hitrate", "map", "mrr")
BEYOND = ("coverage", "novelty", "arp", "ild", "personalization")
#: Metrics where a lower value is the desirable direction (for "best" highlighting).
LOWER_IS_BETTER = ("arp",)
LABELS = {
    "ndcg": "NDCG",
    "recall": "Recall",
    "precision": "Precision",
    "hitrate": "Hit rate",
    "map": "MAP",
    "mrr": "MRR",
    "coverage": "Coverage",
    "novelty": "Novelty",
    "arp": "ARP",
    "ild": "ILD",
    "personalization": "Personalization",
}
#: Deepest K of the metric@K curves (recommendation lists are stored 50 deep).
MAX_CURVE_K = 50


def metric_key(name: str, k: int) -> str:
    """``("ndcg", 10)`` → ``"ndcg@10"``."""
    return f"{name}@{int(k)}"


def parse_metric(key: str) -> tuple[str, int]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; ``ConfigError`` naming the value otherwise."""
    name, _, k = str(key).strip().lower().partition("@")
    if not name or not k.isdigit() or int(k) < 1:
        raise ConfigError(f"metric must look like 'ndcg@10' (got {key!r})")
    return name, int(k)


def metric_label(key: str) -> str:
    """``"ndcg@10"`` → ``"NDCG@10"`` for people."""
    name, k = parse_metric(key)
    return f"{LABELS.get(name, name)}@{k}"
