"""Registered Keras 3 layer of NeuMF's catalogue-wide (softmax) scoring.

Imported (it imports TensorFlow) by ``neumf`` when it trains and by
``keras_files.load_keras`` before any ``.keras`` file is read: it is registered under the
``recsys`` package so a saved file loads with ``safe_mode=True``.
"""

from __future__ import annotations

import keras
from keras import ops

from recsys_engine.models.keras_layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class NeuMFCatalogue(keras.layers.Layer):
    """Logits of each batch user for every catalogue item (batch × n_items):

        logit(u, i) = b + w_gᵀ (p_u ⊙ q_i) + w_mᵀ MLP([p'_u, q'_i])

    The same weights (and layer names) as the pointwise NeuMF model, so one numpy scorer
    serves both. The first MLP layer's kernel is split into its user and item halves,
    K₀ = [K_u; K_i], so its pre-activation for every pair is the broadcast sum
    p'_u K_u + q'_i K_i + b₀ — no user × item concatenation is ever built. The cost is
    batch × n_items × (the MLP's hidden products), which is why this mode wants small MLPs
    and batches of a few dozen users.

    Args:
        n_users, n_items: table sizes.
        factors: GMF embedding size.
        mlp_layers: hidden sizes; the MLP embeddings are half the first size.
        l2: L2 penalty per step: l2 · (mean over the batch's users of ‖p_u‖² + ‖p'_u‖²
            + (‖Q‖² + ‖Q'‖²) / n_users). Per-example like the activity regulariser of the
            pointwise model, so it does not grow with the batch size.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        factors: int = 32,
        mlp_layers: tuple[int, ...] | list[int] = (32, 16, 8),
        l2: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.factors = int(factors)
        self.mlp_layers = tuple(int(s) for s in mlp_layers)
        self.l2 = float(l2)
        self.embed = max(1, self.mlp_layers[0] // 2)
        init = keras.initializers.RandomNormal(stddev=0.01)

        def emb(n, d, name):
            return keras.layers.Embedding(n, d, embeddings_initializer=init, name=name)

        self.gmf_user = emb(self.n_users, self.factors, "gmf_user")
        self.gmf_item = emb(self.n_items, self.factors, "gmf_item")
        self.mlp_user = emb(self.n_users, self.embed, "mlp_user")
        self.mlp_item = emb(self.n_items, self.embed, "mlp_item")
        self.dense = [
            keras.layers.Dense(size, activation="relu", name=f"mlp_{j}")
            for j, size in enumerate(self.mlp_layers)
        ]
        self.output_layer = keras.layers.Dense(1, name="output")

    def get_config(self):
        config = super().get_config()
        config.update(
            n_users=self.n_users,
            n_items=self.n_items,
            factors=self.factors,
            mlp_layers=list(self.mlp_layers),
            l2=self.l2,
        )
        return config

    def build(self, input_shape=None):
        for layer in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            layer.build((None,))
        width = 2 * self.embed
        for layer in self.dense:
            layer.build((None, width))
            width = layer.units
        self.output_layer.build((None, self.factors + width))

    def call(self, inputs):
        user = ops.cast(inputs["user"], "int32")
        f, e = self.factors, self.embed
        w_out = self.output_layer.kernel[:, 0]
        p, p_mlp = self.gmf_user(user), self.mlp_user(user)
        q, q_mlp = self.gmf_item.embeddings, self.mlp_item.embeddings
        logits = ops.matmul(p * w_out[:f], ops.transpose(q))
        first = self.dense[0]
        left = ops.matmul(p_mlp, first.kernel[:e])
        right = ops.matmul(q_mlp, first.kernel[e:]) + first.bias
        h = ops.relu(left[:, None, :] + right[None, :, :])
        for layer in self.dense[1:]:
            h = layer(h)
        logits = logits + ops.matmul(h, w_out[f:]) + self.output_layer.bias[0]
        if self.l2 > 0:
            users = ops.mean(ops.sum(p * p, axis=1) + ops.sum(p_mlp * p_mlp, axis=1))
            items = (ops.sum(q * q) + ops.sum(q_mlp * q_mlp)) / self.n_users
            self.add_loss(self.l2 * (users + items))
        return logits
