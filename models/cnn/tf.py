"""CNN in TensorFlow, channels-last (NHWC activations, HWIO kernels)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.cnn.spec import Config, channels_first, channels_last
from models.common.spec import nhwc
from models.common.tf import ParamModule, conv2d, linear, max_pool2d


class CNN(ParamModule):
    def __init__(self, cfg: Config, params: dict[str, np.ndarray]):
        super().__init__(channels_last(cfg, params))

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:  # (B, S, S, C)
        p = self.p
        x = max_pool2d(tf.nn.relu(conv2d(x, p["conv1.weight"], p["conv1.bias"])))
        x = max_pool2d(tf.nn.relu(conv2d(x, p["conv2.weight"], p["conv2.bias"])))
        x = tf.reshape(x, [tf.shape(x)[0], -1])  # (B, s*s*c2) in (H, W, C) order
        x = tf.nn.relu(linear(x, p["fc1.weight"], p["fc1.bias"]))  # (B, hidden)
        return linear(x, p["fc2.weight"], p["fc2.bias"])  # (B, classes)


def build(cfg: Config, params: dict[str, np.ndarray]) -> CNN:
    return CNN(cfg, params)


def prepare_input(x: np.ndarray) -> np.ndarray:
    return nhwc(x)


def export(cfg: Config, model: CNN) -> dict[str, np.ndarray]:
    return channels_first(cfg, model.numpy_params())
