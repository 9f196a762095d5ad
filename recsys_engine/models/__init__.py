"""Model registry: name → (class, config dataclass, family, one-line description).

The UI's model picker and the CLI's ``--model`` read ``list_models()``. Classes are imported
lazily (``"module:Class"``), so listing models never imports TensorFlow. ``Recommender``
(the contract) and ``TrainData`` (what models learn from) are exported for callers; neither
imports TensorFlow.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from recsys_engine.errors import ConfigError
from recsys_engine.models.base import Recommender
from recsys_engine.models.data import TrainData

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "ModelSpec",
    "Recommender",
    "TrainData",
    "create_model",
    "get_model",
    "list_models",
    "model_title",
    "register_model",
]

FAMILIES = ("reference", "collaborative", "content", "hybrid", "sequence", "autoencoder")


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: registry name (``--model``).
        family: one of ``FAMILIES``.
        description: one line for pickers and ``--help``.
        target: ``"module:Class"`` of the ``Recommender`` subclass.
        title: the name people read in tables, charts and sentences (``--model`` takes
            ``name``).
    """

    name: str
    family: str
    description: str
    target: str
    title: str = ""

    @property
    def cls(self) -> type:
        """The model class (imported on first use)."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    @property
    def config_class(self) -> type:
        """The model's frozen config dataclass."""
        return self.cls.config_class

    def default_config(self, strategy: str | None = None) -> dict[str, Any]:
        """The default config as a JSON-ready dict; with a split ``strategy``, the defaults
        for that kind of split (``ModelConfig.split_defaults``)."""
        cls = self.config_class
        return cls.from_dict(cls.for_split(strategy)).to_dict()


REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> None:
    """Add (or replace) a registry entry."""
    if spec.family not in FAMILIES:
        raise ConfigError(f"family must be one of {', '.join(FAMILIES)} (got {spec.family!r})")
    REGISTRY[spec.name] = spec


def model_title(name: str) -> str:
    """Readable name of a registered model (``"ease"`` → ``"EASE"``); unknown names as is."""
    spec = REGISTRY.get(name)
    return spec.title if spec is not None and spec.title else name


def list_models(family: str | None = None) -> list[ModelSpec]:
    """Registered models in registration order, optionally of one family."""
    return [s for s in REGISTRY.values() if family is None or s.family == family]


def get_model(name: str) -> ModelSpec:
    """The registry entry of ``name`` (``ConfigError`` listing the known names otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}") from None


def create_model(name: str, config: dict[str, Any] | None = None) -> Any:
    """A new, unfitted model from its registry name and a config dict (validated)."""
    spec = get_model(name)
    return spec.cls(spec.config_class.from_dict(config or {}))


register_model(
    ModelSpec(
        "popularity",
        "reference",
        "Most popular items for everyone; the baseline every model must beat",
        "recsys_engine.models.popularity:Popularity",
        "Popularity",
    )
)
register_model(
    ModelSpec(
        "itemknn",
        "reference",
        "Item-based nearest neighbours (cosine with shrinkage); exact 'because you liked' reasons",
        "recsys_engine.models.itemknn:ItemKNN",
        "Item-kNN",
    )
)
register_model(
    ModelSpec(
        "ease",
        "reference",
        "EASE linear autoencoder (closed form, L2); strong and fast on small catalogues",
        "recsys_engine.models.ease:EASE",
        "EASE",
    )
)
# -- Keras models (issue 4); TensorFlow is imported only when one of them is used ------------
register_model(
    ModelSpec(
        "two_tower",
        "collaborative",
        "Two-tower: ID item embeddings, user = pooled history; works for new users at once",
        "recsys_engine.models.two_tower:TwoTower",
        "Two-tower",
    )
)
register_model(
    ModelSpec(
        "neumf",
        "collaborative",
        "Neural matrix factorisation (GMF + MLP, He et al. 2017); softmax over all items",
        "recsys_engine.models.neumf:NeuMF",
        "NeuMF",
    )
)
register_model(
    ModelSpec(
        "mf_explicit",
        "collaborative",
        "Biased matrix factorisation of explicit ratings (MSE); predicts ratings (RMSE/MAE)",
        "recsys_engine.models.mf_explicit:MFExplicit",
        "Rating MF",
    )
)
register_model(
    ModelSpec(
        "content",
        "content",
        "Content two-tower: item = projection of TF-IDF text, categories, numeric features",
        "recsys_engine.models.content:ContentModel",
        "Content-based",
    )
)
register_model(
    ModelSpec(
        "hybrid",
        "hybrid",
        "Hybrid two-tower: ID + content item tower; exact collaborative/content breakdown",
        "recsys_engine.models.hybrid:Hybrid",
        "Hybrid",
    )
)

# -- order-aware models (issue 18): they need a split that keeps time order ---------------
register_model(
    ModelSpec(
        "transitions",
        "sequence",
        "What comes next: successor counts of your last few items, recency-weighted; "
        "needs time order",
        "recsys_engine.models.transitions:Transitions",
        "Transitions",
    )
)
register_model(
    ModelSpec(
        "sasrec",
        "sequence",
        "SASRec: causal self-attention over your ordered history, predicts the next item; "
        "needs time order",
        "recsys_engine.models.sasrec:SASRec",
        "SASRec",
    )
)
register_model(
    ModelSpec(
        "gru4rec",
        "sequence",
        "GRU4Rec: a recurrent network over your ordered history, predicts the next item; "
        "needs time order",
        "recsys_engine.models.gru4rec:GRU4Rec",
        "GRU4Rec",
    )
)

# -- autoencoders (issue 18): the whole history in, a distribution over the catalogue out --
register_model(
    ModelSpec(
        "mult_vae",
        "autoencoder",
        "Multinomial variational autoencoder (Liang et al. 2018) over the whole history; "
        "Mult-DAE as an option",
        "recsys_engine.models.mult_vae:MultVAE",
        "Mult-VAE",
    )
)
