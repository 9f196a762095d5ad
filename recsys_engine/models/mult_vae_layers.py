"""Registered Keras 3 layer of the multinomial autoencoders (Mult-VAE / Mult-DAE).

Imported (it imports TensorFlow) by ``mult_vae`` when it trains and by
``keras_files.load_keras`` before a ``.keras`` file is read: registered under the
``recsys`` package, with ``get_config`` and an explicit ``build``, so a saved file loads
with ``safe_mode=True``.

The layer takes a dense batch of histories (batch × n_items, inherent to the model: the
encoder reads every catalogue column) and returns a dict:

- ``logits``: decoder logits over the catalogue (batch × n_items);
- ``kl``: KL(q(z|x) ‖ N(0, I)) of each row (0 for the deterministic ``dae``);
- ``beta``: the KL weight of this training step, broadcast to the batch.

β is annealed by the training steps already taken: β_t = min(beta_cap, t / anneal_steps)
(t counted in a non-trainable weight that each training call advances), so the KL term
starts at 0 and the model first learns to reconstruct.
"""

from __future__ import annotations

import keras
from keras import ops

from recsys_engine.models.keras_layers import PACKAGE

KINDS = ("vae", "dae")


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultAutoencoder(keras.layers.Layer):
    """Encoder → latent → decoder over the L2-normalised, dropout-corrupted history.

    Args:
        n_items: catalogue size (input and output width).
        hidden_dims: tanh hidden sizes of the encoder; the decoder mirrors them. Empty: the
            history maps straight to the latent code and the code straight to the logits.
        latent_dim: size of the latent code.
        kind: ``vae`` (Gaussian latent: mean and log-variance, one sample per row while
            training, the mean otherwise) or ``dae`` (deterministic tanh bottleneck).
        dropout: training-time dropout rate on the normalised input.
        beta_cap: largest KL weight.
        anneal_steps: training steps over which β rises linearly from 0 to 1 (capped).
        l2: L2 penalty on every kernel.
        decoder_l2: extra L2 penalty on the output kernel only (latent/hidden × n_items).
        seed: seed of the initialisers (offset per layer, so no two layers start from the
            same draw) and of the dropout and sampling generators.
    """

    def __init__(
        self,
        n_items: int,
        hidden_dims: tuple[int, ...] | list[int] = (600,),
        latent_dim: int = 200,
        kind: str = "vae",
        dropout: float = 0.5,
        beta_cap: float = 0.2,
        anneal_steps: int = 2000,
        l2: float = 0.0,
        decoder_l2: float = 0.0,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS} (got {kind!r})")
        self.n_items = int(n_items)
        self.hidden_dims = tuple(int(d) for d in hidden_dims)
        self.latent_dim = int(latent_dim)
        self.kind = kind
        self.dropout = float(dropout)
        self.beta_cap = float(beta_cap)
        self.anneal_steps = int(anneal_steps)
        self.l2 = float(l2)
        self.decoder_l2 = float(decoder_l2)
        self.seed = int(seed)
        offsets = iter(range(1, 1000))

        def dense(
            size: int, name: str, activation: str | None = "tanh", l2: float | None = None
        ) -> keras.layers.Dense:
            # a seeded Keras initialiser repeats its draw at every call: one seed per layer
            seed = self.seed * 1000 + next(offsets)
            rate = self.l2 if l2 is None else l2
            return keras.layers.Dense(
                size,
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                bias_initializer=keras.initializers.RandomNormal(stddev=0.001, seed=seed),
                kernel_regularizer=keras.regularizers.L2(rate) if rate > 0 else None,
                name=name,
            )

        self.encoder = [dense(d, f"encoder_{j}") for j, d in enumerate(self.hidden_dims)]
        self.mean = dense(self.latent_dim, "latent_mean", None)
        self.log_var = dense(self.latent_dim, "latent_log_var", None) if kind == "vae" else None
        self.decoder = [dense(d, f"decoder_{j}") for j, d in enumerate(reversed(self.hidden_dims))]
        self.output_layer = dense(self.n_items, "decoder_out", None, l2=self.l2 + self.decoder_l2)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def get_config(self):
        config = super().get_config()
        config.update(
            n_items=self.n_items,
            hidden_dims=list(self.hidden_dims),
            latent_dim=self.latent_dim,
            kind=self.kind,
            dropout=self.dropout,
            beta_cap=self.beta_cap,
            anneal_steps=self.anneal_steps,
            l2=self.l2,
            decoder_l2=self.decoder_l2,
            seed=self.seed,
        )
        return config

    def build(self, input_shape=None):
        width = self.n_items
        for layer in self.encoder:
            layer.build((None, width))
            width = layer.units
        self.mean.build((None, width))
        if self.log_var is not None:
            self.log_var.build((None, width))
        width = self.latent_dim
        for layer in self.decoder:
            layer.build((None, width))
            width = layer.units
        self.output_layer.build((None, width))
        #: training steps taken so far (drives the KL annealing; saved with the model)
        self.steps_done = self.add_weight(
            (), "zeros", name="steps_done", trainable=False, dtype="float32"
        )
        self.built = True

    def encode(self, history, training: bool = False):
        """(latent mean, log-variance or None) of dense histories."""
        norm = ops.sqrt(ops.sum(ops.square(history), axis=1, keepdims=True))
        h = history / ops.maximum(norm, 1e-12)
        if training and self.dropout > 0:
            h = keras.random.dropout(h, self.dropout, seed=self.seed_generator)
        for layer in self.encoder:
            h = layer(h)
        mean = self.mean(h)
        if self.kind == "dae":
            return ops.tanh(mean), None
        return mean, self.log_var(h)

    def decode(self, z):
        """Decoder logits over the catalogue."""
        for layer in self.decoder:
            z = layer(z)
        return self.output_layer(z)

    def call(self, history, training=None):
        training = bool(training)
        mean, log_var = self.encode(history, training)
        rows = ops.shape(history)[0]
        if log_var is None:
            z, kl = mean, ops.zeros((rows,))
        else:
            kl = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=1)
            z = mean
            if training:
                eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
                z = mean + ops.exp(0.5 * log_var) * eps
        if training and self.anneal_steps > 0:
            beta = ops.minimum(self.beta_cap, self.steps_done / float(self.anneal_steps))
        else:
            beta = ops.convert_to_tensor(self.beta_cap, "float32")
        if training:
            self.steps_done.assign(self.steps_done + 1.0)
        return {
            "logits": self.decode(z),
            "kl": kl,
            "beta": ops.ones((rows,)) * ops.cast(beta, "float32"),
        }


def multinomial_loss(y, outputs):
    """Per-row negative ELBO: −Σ_i y_i · log softmax(logits)_i + β · KL.

    ``y`` is the (binary) history, the reconstruction target; for ``dae`` KL is 0."""
    logp = ops.log_softmax(outputs["logits"], axis=-1)
    nll = -ops.sum(ops.cast(y, "float32") * logp, axis=-1)
    return nll + outputs["beta"] * outputs["kl"]
