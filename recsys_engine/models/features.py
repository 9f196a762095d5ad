"""Item content features (DESIGN §4): one sparse matrix aligned to ``TrainData.item_ids``.

Blocks, each scaled to unit L2 norm per item so no block dominates by size:

- TF-IDF (scikit-learn) of title + text (tags are part of the text at ingestion; review
  text of the training fold is appended per item by ``item_content``), one document per
  item, English stop-words removed and terms kept only when they occur in at least
  ``min_df`` items and at most a ``max_df`` share of them, so neither one-off typos nor a
  word in nearly every item ("guitar" in a guitar shop) dominates;
- multi-hot categories;
- numeric columns (the ``numeric`` JSON object), standardised (z-scores; missing → 0).

Items absent from the metadata frame get an all-zero row. Everything is vectorised; the
only Python loops are over columns and over the metadata rows while parsing JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.config import check_bool, check_number
from recsys_engine.errors import ConfigError


@dataclass(frozen=True)
class FeatureOptions:
    """What goes into the item feature matrix; the one definition of these settings.

    The content-aware model configs inherit them (``content.ContentConfig``), so the
    fields, their defaults, checks and help text are written here only.

    Attributes:
        text: use the TF-IDF of the items' title, text and tags.
        categories: use the items' categories (multi-hot).
        numeric: use the items' numeric columns (standardised).
        max_text_features: TF-IDF vocabulary cap.
        min_df: minimum number of items a term must occur in.
        max_df: maximum share of the items (with text) a term may occur in; commoner
            terms say nothing about an item. 1.0 keeps every term.
        stop_words: leave out scikit-learn's English stop-word list ("the", "and", "it" …,
            plus contraction pieces such as "don", "ve") and bare numbers ("10", "2014");
            words with a digit ("sm57") stay.
    """

    text: bool = True
    categories: bool = True
    numeric: bool = True
    max_text_features: int = 5000
    min_df: int = 2
    max_df: float = 0.5
    stop_words: bool = True

    def __post_init__(self) -> None:
        self.check_feature_options()

    def check_feature_options(self) -> None:
        """Refuse invalid feature settings (``ConfigError`` naming the field)."""
        for name in ("text", "categories", "numeric"):
            check_bool(name, getattr(self, name))
        check_number("max_text_features", self.max_text_features, low=1, integer=True)
        check_number("min_df", self.min_df, low=1, integer=True)
        check_number("max_df", self.max_df, low=0.0, high=1.0, low_open=True)
        check_bool("stop_words", self.stop_words)

    def feature_options(self) -> FeatureOptions:
        """Just the feature settings (of a config that inherits them)."""
        return FeatureOptions(**{f.name: getattr(self, f.name) for f in fields(FeatureOptions)})


@dataclass
class ItemFeatures:
    """Item feature matrix and the name of each column.

    Attributes:
        matrix: CSR n_items × n_features (float32), rows aligned to the item ids given.
        names: column names (``text:word``, ``category:Drama``, ``numeric:year``).
    """

    matrix: sp.csr_matrix
    names: np.ndarray

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]


def item_features(
    items: pd.DataFrame | None, item_ids: np.ndarray, options: FeatureOptions | None = None
) -> ItemFeatures:
    """Content features of ``item_ids`` from an items metadata frame.

    Args:
        items: columns ``item_id`` and any of ``title``, ``text``, ``categories`` (list of
            strings), ``numeric`` (JSON object or dict); None gives an empty matrix.
        item_ids: the catalogue order of the rows (``TrainData.item_ids``).
        options: which blocks to build.

    Returns:
        ``ItemFeatures`` with one row per item id (zero rows for items without metadata).
    """
    opts = options or FeatureOptions()
    n = len(item_ids)
    if items is None or len(items) == 0:
        return ItemFeatures(sp.csr_matrix((n, 0), dtype=np.float32), np.array([], dtype=str))
    if "item_id" not in items.columns:
        raise ConfigError("items frame needs an 'item_id' column")
    frame = items.drop_duplicates("item_id", keep="last")
    rows = pd.Index(frame["item_id"].astype(str)).get_indexer(
        np.asarray(item_ids, dtype=object).astype(str)
    )
    frame = frame.iloc[np.maximum(rows, 0)].reset_index(drop=True)
    present = rows >= 0
    blocks: list[sp.csr_matrix] = []
    names: list[np.ndarray] = []
    if opts.text:
        block, vocab = _text_block(frame, present, opts)
        blocks.append(block)
        names.append(vocab)
    if opts.categories and "categories" in frame.columns:
        block, vocab = _category_block(frame["categories"], present)
        blocks.append(block)
        names.append(vocab)
    if opts.numeric and "numeric" in frame.columns:
        block, vocab = _numeric_block(frame["numeric"], present)
        blocks.append(block)
        names.append(vocab)
    blocks = [b for b in blocks if b.shape[1] > 0]
    names = [v for v in names if len(v) > 0]
    if not blocks:
        return ItemFeatures(sp.csr_matrix((n, 0), dtype=np.float32), np.array([], dtype=str))
    matrix = sp.hstack(blocks, format="csr", dtype=np.float32)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return ItemFeatures(matrix, np.concatenate(names).astype(str))


#: Pieces the tokeniser leaves of contractions ("don't" → "don", "I've" → "ve"): as empty
#: as the words they come from.
CONTRACTION_PIECES = frozenset(
    "aren couldn didn doesn don hadn hasn haven isn ll shouldn ve wasn weren won wouldn".split()
)


def stop_words() -> list[str]:
    """scikit-learn's English stop-word list plus ``CONTRACTION_PIECES``, sorted."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(ENGLISH_STOP_WORDS | CONTRACTION_PIECES)

#: Tokens of two or more word characters with at least one letter (no bare numbers).
WORD_PATTERN = r"(?u)\b(?=\w*[^\W\d_])\w\w+\b"


def _text_block(
    frame: pd.DataFrame, present: np.ndarray, opts: FeatureOptions
) -> tuple[sp.csr_matrix, np.ndarray]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    parts = [frame[c].fillna("").astype(str) for c in ("title", "text") if c in frame.columns]
    if not parts:
        return sp.csr_matrix((len(frame), 0)), np.array([], dtype=str)
    docs = parts[0]
    for p in parts[1:]:
        docs = docs + " " + p
    docs = docs.where(present, "")
    n_docs = int((docs.str.strip() != "").sum())
    if n_docs == 0:
        return sp.csr_matrix((len(frame), 0)), np.array([], dtype=str)
    min_df = min(opts.min_df, n_docs)
    # a share of a handful of items could fall below min_df: then keep every term
    max_df = opts.max_df if opts.max_df * n_docs >= min_df else 1.0
    vectorizer = TfidfVectorizer(
        max_features=opts.max_text_features,
        min_df=min_df,
        max_df=max_df,
        stop_words=stop_words() if opts.stop_words else None,
        sublinear_tf=True,
        dtype=np.float32,
        token_pattern=WORD_PATTERN if opts.stop_words else r"(?u)\b\w\w+\b",
    )
    try:  # the vocabulary and IDF come from the items that have metadata
        vectorizer.fit(docs[present].tolist())
    except ValueError:  # only stop-words / too-rare terms: no text block
        return sp.csr_matrix((len(frame), 0)), np.array([], dtype=str)
    block = vectorizer.transform(docs.tolist())
    vocab = np.array([f"text:{t}" for t in vectorizer.get_feature_names_out()])
    return sp.csr_matrix(block), vocab


def _category_block(values: pd.Series, present: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    lists = [
        [str(c) for c in v] if ok and isinstance(v, list | tuple | np.ndarray) else []
        for v, ok in zip(values.tolist(), present, strict=True)
    ]
    lengths = np.array([len(v) for v in lists])
    flat = np.array([c for v in lists for c in v], dtype=object)
    if len(flat) == 0:
        return sp.csr_matrix((len(values), 0)), np.array([], dtype=str)
    codes, vocab = pd.factorize(flat, sort=True)
    rows = np.repeat(np.arange(len(lists)), lengths)
    block = sp.csr_matrix(
        (np.ones(len(codes), dtype=np.float32), (rows, codes)), shape=(len(lists), len(vocab))
    )
    block.sum_duplicates()
    block.data[:] = 1.0
    norms = np.sqrt(np.asarray(block.sum(axis=1)).ravel())
    block = sp.diags(1.0 / np.maximum(norms, 1.0)).astype(np.float32) @ block
    return sp.csr_matrix(block), np.array([f"category:{c}" for c in vocab])


def _numeric_block(values: pd.Series, present: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    records = []
    for v, ok in zip(values.tolist(), present, strict=True):
        if not ok or v is None or (isinstance(v, float) and np.isnan(v)):
            records.append({})
        elif isinstance(v, dict):
            records.append(v)
        else:
            try:
                parsed = json.loads(v)
            except (TypeError, ValueError):
                parsed = {}
            records.append(parsed if isinstance(parsed, dict) else {})
    table = pd.DataFrame.from_records(records, index=range(len(records)))
    table = table.apply(pd.to_numeric, errors="coerce")
    table = table.loc[:, table.notna().any()]
    if table.shape[1] == 0:
        return sp.csr_matrix((len(values), 0)), np.array([], dtype=str)
    x = table.to_numpy(dtype=np.float64)
    mean = np.nanmean(x, axis=0)
    std = np.nanstd(x, axis=0)
    z = (x - mean) / np.where(std > 0, std, 1.0)
    z = np.nan_to_num(z, nan=0.0)
    norms = np.sqrt((z**2).sum(axis=1, keepdims=True))
    z = z / np.maximum(norms, 1.0)
    names = np.array([f"numeric:{c}" for c in table.columns])
    return sp.csr_matrix(z.astype(np.float32)), names
