"""MLP in TensorFlow: a tf.Module over raw ops."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.common.tf import ParamModule, linear
from models.mlp.spec import Config


class MLP(ParamModule):
    def __init__(self, cfg: Config, params: dict[str, np.ndarray]):
        super().__init__(params)
        self.n_layers = len(cfg.widths) - 1

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:  # (B, in)
        for i in range(1, self.n_layers + 1):
            x = linear(x, self.p[f"fc{i}.weight"], self.p[f"fc{i}.bias"])
            if i < self.n_layers:
                x = tf.nn.relu(x)
        return x  # (B, classes)


def build(cfg: Config, params: dict[str, np.ndarray]) -> MLP:
    return MLP(cfg, params)


def export(cfg: Config, model: MLP) -> dict[str, np.ndarray]:
    return model.numpy_params()
