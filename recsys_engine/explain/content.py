"""Reason 2 with a content tower: feature attributions of content and hybrid models.

The content score is linear in the user's pooled feature profile p (the weighted mean of
the history items' feature rows): content(p, i) = (p·C_in)·c_out_i. Feature f's
attribution is the score lost when p_f is set to the baseline p̄_f (a history of the same
length made of catalogue-average items): a_f = (p_f − p̄_f)·⟨C_in[f], c_out_i⟩. Because
the function is linear in p these toggles add up, and they equal integrated gradients
along the straight path from p̄ to p at any number of steps. The sum is checked against
the model's own score of the baseline profile (re-scoring), so the badge is *verified by
re-scoring*. Models without a content tower get category toggles (``taste``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_engine.errors import RecsysError
from recsys_engine.explain.results import RESCORED, Reason
from recsys_engine.explain.wording import join_names
from recsys_engine.models.base import Recommender

#: Keywords too common to mean anything to a reader (kept in the rows, left out of summaries).
_STOP_WORDS = frozenset(
    "a an and are as at be by for from has he her his in is it its of on or she that the "
    "their they this to was were will with who whom into about after over".split()
)


class ContentTower:
    """The linear content tower of a content/hybrid model (feature rows, projections)."""

    def __init__(self, features: sp.csr_matrix, c_in: np.ndarray, names: np.ndarray, dim: int):
        self.x = features
        self.c_in = c_in
        self.names = names
        self.id_dim = dim
        self.mean = np.asarray(features.mean(axis=0), dtype=np.float64).ravel()

    @classmethod
    def from_model(
        cls, model: Recommender, items: pd.DataFrame | None, item_ids: np.ndarray
    ) -> ContentTower | None:
        """The model's content tower, or None when it has none (or it does not check out)."""
        keras_model = getattr(model, "_keras_model", None)
        if keras_model is None or getattr(model, "v_in", None) is None:
            return None
        try:
            layer = keras_model.get_layer("towers")
        except ValueError:
            return None
        if not int(getattr(layer, "content_dim", 0) or 0):
            return None
        c_in = np.asarray(layer.content_in, dtype=np.float64)
        idx = np.asarray(layer.feature_indices)
        vals = np.asarray(layer.feature_values, dtype=np.float64)
        n_items, n_features = model.v_in.shape[0], c_in.shape[0]
        x = sp.csr_matrix((vals, (idx[:, 0], idx[:, 1])), shape=(n_items, n_features))
        d = int(model.id_dim)
        # only trust the tower when it reproduces the model's own item vectors
        if not np.allclose(x @ c_in, model.v_in[:, d:], atol=1e-4, rtol=1e-3):
            return None
        names = np.array([f"feature {j}" for j in range(n_features)], dtype=object)
        try:
            from recsys_engine.models.features import item_features

            feats = item_features(items, item_ids, model.config.feature_options())
            if feats.matrix.shape == x.shape and abs(feats.matrix - x).max() < 1e-4:
                names = feats.names.astype(object)
        except (RecsysError, AttributeError, ValueError):
            pass
        return cls(x, c_in, names, d)

    def reasons(
        self,
        model: Any,
        history: sp.csr_matrix,
        top: np.ndarray,
        top_scores: np.ndarray,
        title: str,
    ) -> list[Reason]:
        """Feature attributions against the catalogue-average profile, checked by
        re-scoring the baseline profile with the model's own item vectors."""
        h = model._weights(history)
        w = h.data.astype(np.float64) / max(float(model._norms(h)[0]), 1e-12)
        p = np.asarray(w @ self.x[h.indices].toarray()).ravel()  # pooled profile
        p_bar = float(w.sum()) * self.mean
        c_out = model.v_out[top, self.id_dim :].astype(np.float64)  # k × dc
        g = self.c_in @ c_out.T  # features × k
        attr = (p - p_bar)[:, None] * g
        # re-score: the same user with the baseline content profile
        u = model._user_vectors(h)[0].astype(np.float64)
        u_base = u.copy()
        u_base[self.id_dim :] = p_bar @ self.c_in
        full = np.asarray(model.score(history, top), dtype=np.float64)[0]
        base_scores = model.v_out[top].astype(np.float64) @ u_base + model.bias[top]
        diff = full - base_scores
        out = []
        for r, item in enumerate(top):
            col = attr[:, r]
            total = float(col.sum())
            item_feats = set(self.x[int(item)].indices.tolist())
            ranked = np.argsort(-col, kind="stable")
            ranked = ranked[col[ranked] > 0]
            shared = [f for f in ranked if int(f) in item_feats][:3]
            best = list(ranked[:8]) + [f for f in shared if f not in set(ranked[:8].tolist())]
            rows = []
            for f in best:
                kind, name = _feature_label(str(self.names[f]))
                rows.append(
                    {
                        "feature": name,
                        "kind": kind,
                        "contribution": float(col[f]),
                        "share": float(col[f] / diff[r]) if abs(diff[r]) > 1e-12 else None,
                        "item_has_it": int(f) in item_feats,
                    }
                )
            rel = abs(total - diff[r]) / max(abs(diff[r]), 1e-9)
            if rows:
                readable = [x for x in rows if x["feature"].lower() not in _STOP_WORDS]
                matched = [x for x in readable if x["item_has_it"]][:3] or readable[:3] or rows[:3]
                summary = (
                    f"Matches your taste for {join_names([_quoted(x) for x in matched])}: "
                    f"your content profile lifts its score by {diff[r]:.3g} over a "
                    "catalogue-average profile."
                )
            else:
                summary = "Your content profile does not lift this item above the average."
            out.append(
                Reason(
                    "taste",
                    title,
                    RESCORED,
                    summary,
                    rows,
                    {
                        "method": "toggle each feature of the pooled profile to the catalogue "
                        "average (= integrated gradients: the content score is linear)",
                        "sum_of_attributions": total,
                        "score_minus_baseline": float(diff[r]),
                        "relative_error": float(rel),
                        "score": float(full[r]),
                        "rescored": True,
                    },
                )
            )
        return out


def _feature_label(name: str) -> tuple[str, str]:
    """(kind, readable name) of a feature name such as ``text:story``."""
    kind, _, value = name.partition(":")
    return {"text": "keyword", "category": "category", "numeric": "numeric"}.get(kind, "feature"), (
        value or name
    )


def _quoted(row: dict[str, Any]) -> str:
    """A feature row's name for a summary: keywords in quotes."""
    return f"“{row['feature']}”" if row["kind"] == "keyword" else str(row["feature"])
