"""Item content for a split: the item file's metadata plus the training fold's review text.

Review text kept at upload (``InteractionMapping.text_cols``) is stored per interaction.
An item's content is built from the reviews in the split's *training* fold only: a test
review describing the item would otherwise leak the held-out interaction into the
features the model learns from and is scored with.

Reviews are turned into one document per item by counting, for each word, how many of the
item's reviews use it (stop-words and bare numbers left out). A word only one reviewer used
("candy" in a review of a pop filter) says more about that reviewer than about the item, so
an item with two or more reviews keeps only words at least two of them share. A word every
product gets ("buy", "works") says nothing about this one either: a word is kept only where
the item's reviews use it at least twice as often as reviews overall. The kept words
are repeated once per review that uses them, which is the term frequency the TF-IDF across
items then weighs (``models.features``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.models.features import WORD_PATTERN, stop_words
from recsys_engine.store import Store

#: What the app says about review content, at the mapping step and on the model picker.
REVIEW_CONTENT_NOTE = (
    "Review text becomes item content: for each split, an item's content is the text of "
    "its reviews in the training fold only — never validation or test reviews, so the "
    "held-out answers do not leak into what a model learns."
)

#: An item with at least this many reviews keeps only words that many of them share.
MIN_REVIEWS_PER_WORD = 2

#: A word is kept for an item when the share of the item's reviews using it is at least
#: this many times its share of all reviews: "capo" in capo reviews, not "buy" everywhere.
MIN_LIFT = 2.0

def split_item_content(store: Store, dataset_id: int, split_id: int) -> pd.DataFrame | None:
    """The items frame a model trained on ``split_id`` learns from (None when empty).

    Columns ``item_id``, ``title``, ``text``, ``categories``, ``numeric``: the item file's
    rows with each item's training-fold review words appended to its text (items known
    only from reviews get a row of their own).
    """
    items = store.items_frame(dataset_id)
    if store.count_interaction_texts(dataset_id):
        docs = review_documents(store.train_review_texts(dataset_id, split_id))
        items = merge_review_text(items, docs)
    return items if len(items) else None


def review_documents(
    reviews: pd.DataFrame,
    min_reviews: int = MIN_REVIEWS_PER_WORD,
    min_lift: float = MIN_LIFT,
) -> pd.DataFrame:
    """One document per item from its reviews (``item_id``, ``text`` per review).

    Each word (lower-cased, English stop-words and bare numbers left out) appears once per
    review of the item that uses it; an item with ``min_reviews`` or more reviews keeps
    only words used by at least ``min_reviews`` of them, and only words at least
    ``min_lift`` times as frequent in its reviews as in all reviews (words every product
    gets — "great", "buy", "works" — describe no product in particular).

    Returns:
        ``item_id``, ``text`` (the repeated words, most-used first), ``n_reviews``.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    empty = pd.DataFrame({"item_id": [], "text": [], "n_reviews": []})
    if reviews.empty:
        return empty
    vec = CountVectorizer(binary=True, stop_words=stop_words(), token_pattern=WORD_PATTERN)
    try:
        x = vec.fit_transform(reviews["text"].fillna("").astype(str).tolist())
    except ValueError:  # nothing but stop-words
        return empty
    codes, ids = pd.factorize(reviews["item_id"].astype(str), sort=True)
    group = sp.csr_matrix(
        (np.ones(len(codes), dtype=np.int32), (codes, np.arange(len(codes)))),
        shape=(len(ids), len(codes)),
    )
    counts = sp.csr_matrix(group @ x)  # items × words: reviews of the item using the word
    n_reviews = np.bincount(codes, minlength=len(ids))
    need = np.minimum(n_reviews, int(min_reviews))
    rows = np.repeat(np.arange(len(ids)), np.diff(counts.indptr))
    # lift: the share of the item's reviews using the word over its share of all reviews
    share_all = np.asarray(x.sum(axis=0)).ravel() / max(x.shape[0], 1)
    lift = (counts.data / n_reviews[rows]) / share_all[counts.indices]
    counts.data[(counts.data < need[rows]) | (lift < min_lift)] = 0
    counts.eliminate_zeros()
    vocab = vec.get_feature_names_out()
    texts = []
    for r in range(len(ids)):
        lo, hi = counts.indptr[r], counts.indptr[r + 1]
        cols, n = counts.indices[lo:hi], counts.data[lo:hi]
        order = np.lexsort((vocab[cols], -n))
        texts.append(" ".join(" ".join([vocab[cols[j]]] * int(n[j])) for j in order))
    return pd.DataFrame({"item_id": list(ids), "text": texts, "n_reviews": n_reviews})


def merge_review_text(items: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """``items`` with ``reviews`` (``item_id``, ``text``) appended to each item's text.

    Items without an item-file row are added with only their review text; items without
    reviews keep their own text unchanged. Sorted by item id.
    """
    if reviews.empty:
        return items
    cols = ["item_id", "title", "text", "categories", "numeric"]
    base = items.reindex(columns=cols)
    merged = base.merge(
        reviews[["item_id", "text"]].rename(columns={"text": "review_text"}),
        on="item_id",
        how="outer",
    )
    own = merged["text"].fillna("").astype(str).str.strip()
    extra = merged["review_text"].fillna("").astype(str).str.strip()
    joined = (own + " " + extra).str.strip()
    merged["text"] = joined.where(joined != "", None)
    return merged[cols].sort_values("item_id", kind="stable").reset_index(drop=True)


def has_review_content(store: Store, dataset_id: int) -> bool:
    """Whether review text was kept at upload (content models can learn from it)."""
    return store.count_interaction_texts(dataset_id) > 0


def probe_item_content(store: Store, dataset_id: int) -> pd.DataFrame:
    """Items with every review's words, to check *whether* a model would find content.

    Only for that check (the model picker): training reads ``split_item_content``, which
    takes the training fold's reviews only.
    """
    items = store.items_frame(dataset_id)
    if not has_review_content(store, dataset_id):
        return items
    reviews = store.review_texts(dataset_id)
    return merge_review_text(items, review_documents(reviews))
