"""The model contract (DESIGN §4): one interface for reference and Keras models.

Users are represented by their **history**: a row of a scipy CSR matrix (users × items) of
interaction weights over the internal item indexes. ``score(histories)`` therefore works
for users the model never saw, explanations can be exact, and an edited history is
re-scored at once. Internal indexes come from ``TrainData.item_ids``; string ids are only
translated at the edges.

A CSR row has no order. Order-aware models (``needs_order``) also take the **recency** of
each history item — a CSR of the same shape, 1 for the most recent item, 2 for the one
before (``TrainData.recency``) — through ``score_in_order`` and ``explain_in_order``.
Every other model inherits the default, which ignores it: callers that know the order
(evaluation, the Explain page) always call these two, and no other model changes.
"""

from __future__ import annotations

import json
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys_engine.config import check_number
from recsys_engine.errors import ConfigError, FitCancelled, RecsysError
from recsys_engine.models.data import TrainData, as_csr, mask_items, top_k
from recsys_engine.models.model_config import ModelConfig
from recsys_engine.models.score_block import ScoreBlock

#: ``on_progress(done, total, info)``: long work reports here (info: dict of extras).
ProgressFn = Callable[[int, int, dict[str, Any]], None]
#: ``should_stop()`` returns True when the user asked to cancel.
StopFn = Callable[[], bool]

ARTEFACT_FORMAT = 1


@dataclass(frozen=True)
class Explanation:
    """Why a model scored one item for one history.

    ``score == base + contributions.sum()`` when ``exact`` (to float precision).

    Attributes:
        item: internal item index explained.
        score: the model's score for it.
        base: part of the score not attributed to history items (e.g. popularity).
        history_items: internal indexes of the history items (CSR order).
        contributions: each history item's share of the score.
        exact: whether the parts sum to the score by construction.
    """

    item: int
    score: float
    base: float
    history_items: np.ndarray
    contributions: np.ndarray
    exact: bool

    @classmethod
    def linear(
        cls, item: int, history_items: np.ndarray, weights: np.ndarray, column: np.ndarray
    ) -> Explanation:
        """The exact explanation of a score linear in the history (EASE, Item-kNN,
        transitions): history item j contributes ``weights[j] · column[j]``, its weight
        times its coefficient for ``item``; no base. The score is their sum in float64 (the
        ranking's own product is float32)."""
        parts = np.asarray(weights, dtype=np.float64) * np.asarray(column, dtype=np.float64)
        return cls(
            item=int(item),
            score=float(parts.sum()),
            base=0.0,
            history_items=np.array(history_items, copy=True),
            contributions=parts,
            exact=True,
        )


class Recommender(ABC):
    """Base class of every model. Subclasses set the class attributes and implement the
    abstract methods; ``recommend``/``save``/``load`` come for free.

    Class attributes:
        name: registry name. config_class: frozen config dataclass. family: registry family.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    family: ClassVar[str] = ""
    #: Whether ``predict_ratings`` is implemented (explicit-rating models; RMSE/MAE).
    predicts_ratings: ClassVar[bool] = False
    #: Whether the model uses the time order of histories (``score_in_order``); such models
    #: refuse data whose order is unknown or a split that does not keep it.
    needs_order: ClassVar[bool] = False
    #: Whether the model recognises a user only by their exact training history (one
    #: embedding per training user, ``models.user_embedding``). Evaluation and Explain then
    #: score test users from their training fold: a history that also holds the user's
    #: validation events matches no training user, and the model could score nobody.
    knows_users_by_training_history: ClassVar[bool] = False
    #: Set inside ``reusing_score_block``: models whose scores are one product per batch
    #: write them into it instead of a fresh block (the pooled models).
    _score_block: ScoreBlock | None = None

    def __init__(self, config: ModelConfig | dict[str, Any] | None = None):
        if config is None or isinstance(config, dict):
            config = self.config_class.from_dict(config)
        if not isinstance(config, self.config_class):
            raise ConfigError(
                f"{self.name} needs a {self.config_class.__name__} (got {type(config).__name__})"
            )
        self.config = config
        self.item_ids: np.ndarray | None = None

    # -- to implement --------------------------------------------------------------------
    @abstractmethod
    def fit(
        self,
        train: TrainData,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> Recommender:
        """Learn from ``train``; raise ``FitCancelled`` when ``should_stop()`` turns True."""

    @abstractmethod
    def score(self, histories: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Scores (float32, n_histories × n_items or × len(items)); higher is better.

        Returns a new array that the caller may modify in place (inside
        ``reusing_score_block``: an array valid until the next scoring call).
        """

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """The learned numpy arrays to save (no object arrays)."""

    @abstractmethod
    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the learned state from ``_arrays`` output."""

    # -- provided ------------------------------------------------------------------------
    def score_in_order(
        self,
        histories: sp.csr_matrix,
        recency: sp.csr_matrix | None,
        items: np.ndarray | None = None,
    ) -> np.ndarray:
        """``score`` when each history's time order is known.

        Args:
            histories: CSR n × n_items of weights.
            recency: same shape, each history item's recency rank (1 = most recent), or
                None when unknown. Models with ``needs_order`` False ignore it (this
                default); order-aware models override this method.
            items: score only these columns.
        """
        return self.score(histories, items)

    @property
    def uses_context(self) -> bool:
        """Whether the model reads the context of the event it predicts (issue 18;
        ``score_in_context``). Context-aware models override it (usually from their
        config's ``use_context``)."""
        return False

    def score_in_context(
        self,
        histories: sp.csr_matrix,
        recency: sp.csr_matrix | None,
        context: np.ndarray | None,
        items: np.ndarray | None = None,
    ) -> np.ndarray:
        """``score_in_order`` for events in a known context.

        Args:
            histories: CSR n × n_items of weights.
            recency: as in ``score_in_order`` (None when unknown).
            context: int codes n × fields of the event to predict (``event_context``;
                0 = unknown/neutral), or None for the neutral context. Models without
                ``uses_context`` ignore it (this default).
            items: score only these columns.
        """
        return self.score_in_order(histories, recency, items)

    @contextmanager
    def reusing_score_block(self, block: ScoreBlock | None = None) -> Iterator[None]:
        """Within it, the scoring methods may return a view of one block that the next call
        writes over, instead of a new array: for loops that use each batch's scores before
        scoring the next batch (evaluation, validation), where a fresh users × catalogue
        block per batch costs page faults (``score_block``). ``block`` carries one block
        over several uses (a new one when None). Models that build their scores otherwise
        ignore it. Nested uses share the outer block."""
        if self._score_block is not None:
            yield
            return
        self._score_block = ScoreBlock() if block is None else block
        try:
            yield
        finally:
            self._score_block = None

    def explain_in_order(
        self, history: sp.csr_matrix, recency: sp.csr_matrix | None, item: int
    ) -> Explanation:
        """``explain`` when the history's time order is known (``recency`` as in
        ``score_in_order``); the default ignores it."""
        return self.explain(history, item)

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return len(self.item_ids)

    def can_score(self, histories: sp.csr_matrix) -> np.ndarray:
        """Boolean per history: whether the model has any information for it.

        History-based models cannot score empty histories; such users count as 0 in
        evaluation instead of being ranked by ties.
        """
        return np.diff(sp.csr_matrix(histories).indptr) > 0

    def recommend(
        self,
        histories: sp.csr_matrix,
        k: int = 10,
        exclude_seen: bool = True,
        exclude: sp.csr_matrix | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indexes and scores per history, best first.

        Args:
            histories: CSR n × n_items.
            k: list length (at most the number of items).
            exclude_seen: drop the history's own items.
            exclude: further items to drop per row (same shape), e.g. validation items.

        Returns:
            ``(items, scores)``, both n × k; rows run out with item -1 and score -inf when
            fewer than k items are left.
        """
        check_number("k", k, low=1, integer=True)
        histories = as_csr(histories, self.n_items)
        scores = np.asarray(self.score(histories), dtype=np.float32)
        if exclude_seen:
            mask_items(scores, histories)
        if exclude is not None:
            mask_items(scores, as_csr(exclude, self.n_items))
        return top_k(scores, k)

    def predict_ratings(
        self, users: np.ndarray, histories: sp.csr_matrix, items: np.ndarray
    ) -> np.ndarray:
        """Predicted rating of ``items[r]`` for user ``users[r]`` with history row r.

        Only for models with ``predicts_ratings = True``.
        """
        raise RecsysError(f"model {self.name!r} does not predict ratings")

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items whose scores rise most for a one-item history of ``item``."""
        self._check_fitted()
        if not 0 <= int(item) < self.n_items:
            raise ConfigError(f"item index must be in [0, {self.n_items}) (got {item!r})")
        history = sp.csr_matrix(
            (np.ones(1, dtype=np.float32), ([0], [int(item)])), shape=(1, self.n_items)
        )
        items, scores = self.recommend(history, k=k, exclude_seen=True)
        return items[0], scores[0]

    def explain(self, history: sp.csr_matrix, item: int) -> Explanation:
        """Attribution of one item's score to the history items.

        The default is the "no attribution" answer (everything in ``base``), exact only
        when the model is not history-based; subclasses override with exact parts.
        """
        history = as_csr(history, self.n_items)[:1]
        s = float(self.score(history, np.array([int(item)]))[0, 0])
        return Explanation(
            item=int(item),
            score=s,
            base=s,
            history_items=history.indices.copy(),
            contributions=np.zeros(len(history.indices)),
            exact=False,
        )

    def save(self, directory: str | Path) -> Path:
        """Write ``model.json`` (name, config, format) and ``arrays.npz`` (no pickle)."""
        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"model": self.name, "format": ARTEFACT_FORMAT, "config": self.config.to_dict()}
        (path / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        arrays = dict(self._arrays())
        arrays["item_ids"] = np.asarray(self.item_ids, dtype=object).astype(str)
        np.savez(path / "arrays.npz", **arrays)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Recommender:
        """Load a saved model (this class or, from ``Recommender``, whichever was saved)."""
        path = Path(directory)
        try:
            meta = json.loads((path / "model.json").read_text())
        except FileNotFoundError:
            raise RecsysError(f"no saved model in '{path}' (model.json missing)") from None
        except (OSError, ValueError) as exc:  # unreadable, or not JSON
            raise RecsysError(
                f"the saved model in '{path}' is damaged (model.json: {exc})"
            ) from None
        if not isinstance(meta, dict) or "model" not in meta or "config" not in meta:
            raise RecsysError(f"the saved model in '{path}' is damaged (model.json incomplete)")
        if meta.get("format") != ARTEFACT_FORMAT:
            raise RecsysError(f"unsupported model format {meta.get('format')!r} in '{path}'")
        target = cls
        if cls is Recommender or cls.name != meta["model"]:
            from recsys_engine.models import get_model

            target = get_model(meta["model"]).cls
            if target.load.__func__ is not Recommender.load.__func__:
                return target.load(path)  # a subclass with its own files (e.g. .keras)
        model = target(target.config_class.from_stored(meta["config"]))
        try:
            with np.load(path / "arrays.npz", allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
            model.item_ids = arrays.pop("item_ids").astype(object)
            model._set_arrays(arrays)
        except FileNotFoundError:
            raise RecsysError(f"the saved model in '{path}' has no arrays.npz") from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise RecsysError(
                f"the saved model in '{path}' is damaged (arrays.npz: {type(exc).__name__})"
            ) from None
        return model

    def _check_fitted(self) -> None:
        if self.item_ids is None:
            raise RecsysError(f"model {self.name!r} is not fitted yet")

    def _report(
        self,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
        done: int,
        total: int,
        **info: Any,
    ) -> None:
        """Report progress and honour cancellation (call between steps of ``fit``)."""
        if on_progress is not None:
            on_progress(done, total, info)
        if should_stop is not None and should_stop():
            raise FitCancelled(f"training of {self.name!r} was cancelled")
