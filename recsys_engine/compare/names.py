"""Metric names: keys like ``"ndcg@10"``, their parts and the labels people read."""

from __future__ import annotations

from recsys_engine.errors import ConfigError

ACCURACY = ("ndcg", "recall", "precision", "hitrate", "map", "mrr")
BEYOND = ("coverage", "novelty", "arp", "ild", "personalization")
#: The new-arrivals shelf of a cold-items split: only new items ranked (evaluation.py).
SHELF = ("shelf_ndcg", "shelf_recall", "shelf_hitrate")
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
    "shelf_ndcg": "Shelf NDCG",
    "shelf_recall": "Shelf recall",
    "shelf_hitrate": "Shelf hit rate",
}
#: Short plain names a business reader understands; the technical label goes beside them.
PLAIN = {
    "ndcg": "Ranking quality",
    "recall": "Share of next choices found",
    "precision": "Share of the list that was chosen",
    "hitrate": "Users with a hit",
    "map": "Early hits",
    "mrr": "First hit position",
    "coverage": "Catalogue coverage",
    "novelty": "Novelty",
    "arp": "Popularity of picks",
    "ild": "Variety within a list",
    "personalization": "Personalization",
    "shelf_ndcg": "New-arrivals ranking quality",
    "shelf_recall": "New arrivals found",
    "shelf_hitrate": "Users with a new-arrival hit",
}
#: What each metric means to a business, in one phrase (glossary, help, decision sentences).
MEANINGS = {
    "ndcg": "how near the top of the list a user's next choices appear (0–1)",
    "recall": "share of each user's next choices that appear in the list",
    "precision": "share of the list that the user went on to choose",
    "hitrate": "share of users whose list holds at least one of their next choices",
    "map": "how early in the list all of a user's next choices appear",
    "mrr": "how near the top the first of a user's next choices appears (1 = always first)",
    "coverage": "share of the catalogue ever recommended to anyone",
    "novelty": "how unfamiliar the recommended items are (higher = less mainstream)",
    "arp": "average popularity of the recommended items (lower = more niche)",
    "ild": "how different the items within one list are from each other",
    "personalization": "how different the lists of different users are",
    "shelf_ndcg": "ranking quality on a shelf of only the items new in the test period",
    "shelf_recall": "share of each user's chosen new arrivals that a new-arrivals shelf shows",
    "shelf_hitrate": "share of users whose new-arrivals shelf holds one of their choices",
}
#: The statistical words of the page and the report, in plain language (the glossary).
TERMS = {
    "Confidence range (95% CI)": "the range the true change lies in, given which users happened "
    "to be in the test set; when it excludes zero the change is not luck",
    "Smallest change that matters": "the relative change below which a difference is not worth "
    "acting on (set in the options)",
    "Smallest detectable change": "the smallest change this test set can reliably reveal; "
    "smaller true changes look like noise",
    "Guardrail": "a metric that must not fall by more than the tolerated margin, whatever "
    "happens to the decision metric",
    "Segment": "a group of test users (by activity, taste for popular items, or newness)",
    "Jaccard and rank-biased overlap (RBO)": "how alike two models' lists are for one user, "
    "from 0 (nothing in common) to 1 (the same list); RBO weighs the top of the list most",
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


def _plain_name(name: str) -> str | None:
    """The business name of a metric, None when it has none or it would only repeat the
    technical label ("Novelty", not "Novelty (Novelty@10)")."""
    plain = PLAIN.get(name)
    return None if not plain or plain.lower() == LABELS.get(name, name).lower() else plain


def plain_label(key: str) -> str:
    """``"ndcg@10"`` → ``"ranking quality (NDCG@10)"``: the business name first, the
    technical one beside it (lower case, to sit inside a sentence)."""
    plain = _plain_name(parse_metric(key)[0])
    technical = metric_label(key)
    return f"{plain[0].lower()}{plain[1:]} ({technical})" if plain else technical


def plain_title(key: str) -> str:
    """``plain_label`` to start a line or a table cell: ``"Ranking quality (NDCG@10)"``."""
    label = plain_label(key)
    return f"{label[0].upper()}{label[1:]}"


def column_title(name: str, k: int) -> str:
    """A leaderboard header: ``"Ranking quality · NDCG@10"``, the technical label alone when
    the plain name would only repeat it (``"Novelty@10"``)."""
    technical = metric_label(metric_key(name, k))
    plain = _plain_name(name)
    return f"{plain} · {technical}" if plain else technical


def meaning(key: str) -> str:
    """What a metric key (``"coverage@10"`` or ``"coverage"``) means to a business reader."""
    name = parse_metric(key)[0] if "@" in str(key) else str(key).strip().lower()
    return MEANINGS.get(name, "")


def glossary(metrics: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """(term, meaning) pairs for the given metric names (``"ndcg"``) followed by the
    statistical terms: the page's always-visible glossary and the report's."""
    rows = [
        (f"{PLAIN[m]} ({LABELS[m]})" if _plain_name(m) else PLAIN[m], MEANINGS[m])
        for m in metrics
        if m in PLAIN and m in MEANINGS
    ]
    return rows + list(TERMS.items())
