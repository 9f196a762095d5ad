"""Saving and loading the Keras part of a model next to its ``model.json``/``arrays.npz``.

``KerasFiles`` is mixed into every Keras recommender (the history-pooled towers and the
per-user-embedding models): ``save`` adds ``model.keras``; ``load`` reads it in safe mode
and hands it to the model's ``_set_from_keras``, which rebuilds the numpy arrays used for
scoring. TensorFlow is imported only when a ``.keras`` file is actually read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recsys_engine.errors import RecsysError
from recsys_engine.models.keras_backend import keras_backend

KERAS_FILE = "model.keras"


class KerasFiles:
    """``save``/``load`` of a ``Recommender`` that keeps its Keras model in
    ``_keras_model`` (None when there is none, e.g. a model built from arrays only)."""

    _keras_model: Any = None

    def _set_from_keras(self, model: Any) -> None:
        """Rebuild the scoring arrays from a (trained or loaded) Keras model."""
        raise NotImplementedError

    def _fit_and_keep(self, build: Any, source: Any, config: Any, **options: Any) -> None:
        """Train through ``fit_keras`` (progress, cancel, early stopping, weight averaging)
        and keep the result: ``fit_result``, the Keras model (saved with the recommender)
        and the scoring arrays read from it."""
        from recsys_engine.models.keras_fit import fit_keras

        model, self.fit_result = fit_keras(build, source, config, **options)
        self._keras_model = model
        self._set_from_keras(model)

    def save(self, directory: str | Path) -> Path:
        """``model.json`` + ``arrays.npz`` (the recommender's) + ``model.keras``."""
        path = super().save(directory)  # type: ignore[misc]
        if self._keras_model is not None:
            self._keras_model.save(path / KERAS_FILE)
        return path

    @classmethod
    def load(cls, directory: str | Path):
        """Load, reading ``model.keras`` with ``safe_mode=True``; the scoring arrays are
        recomputed from the loaded Keras model."""
        model = super().load(directory)  # type: ignore[misc]
        keras_model = load_keras(Path(directory), model.name)
        if keras_model is not None:
            model._keras_model = keras_model
            model._set_from_keras(keras_model)
        return model


def load_keras(path: Path, name: str) -> Any | None:
    """Load ``path/model.keras`` in safe mode (None when the file is absent).

    Raises:
        RecsysError: the file is refused (e.g. it contains a ``Lambda`` layer) or broken.
    """
    file = path / KERAS_FILE
    if not file.exists():
        return None
    keras = keras_backend()
    import recsys_engine.models.keras_layers  # noqa: F401  (registers the custom layers)
    import recsys_engine.models.mult_vae_layers  # noqa: F401
    import recsys_engine.models.neumf_layers  # noqa: F401
    import recsys_engine.models.sequence_layers  # noqa: F401
    from recsys_engine.models.sparse_product import forget_traced_gradients

    try:
        return keras.models.load_model(file, safe_mode=True, compile=False)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise RecsysError(f"refusing to load {name!r} model file '{file}': {exc}") from None
    finally:  # rebuilding the layers traced them: free what the registry would keep
        forget_traced_gradients()
