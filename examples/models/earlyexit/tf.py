"""EarlyExit in TensorFlow: the branch is a Python ``if`` on a tensor, which tf.function's
AutoGraph turns into ``tf.cond``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.common.tf import ParamModule, linear
from models.earlyexit.spec import Config


class EarlyExit(ParamModule):
    def __init__(self, cfg: Config, params: dict[str, np.ndarray]):
        super().__init__(params)
        self.threshold = cfg.threshold

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        p = self.p
        h = tf.nn.relu(linear(x, p["fc1.weight"], p["fc1.bias"]))
        early = linear(h, p["exit.weight"], p["exit.bias"])
        confidence = tf.reduce_mean(tf.reduce_max(tf.nn.softmax(tf.cast(early, tf.float32)), -1))
        if confidence > self.threshold:
            out = early
        else:
            deep = tf.nn.relu(linear(h, p["fc2.weight"], p["fc2.bias"]))
            out = early + linear(deep, p["head.weight"], p["head.bias"])
        return out


def build(cfg: Config, params: dict[str, np.ndarray]) -> EarlyExit:
    return EarlyExit(cfg, params)


def export(cfg: Config, model: EarlyExit) -> dict[str, np.ndarray]:
    return model.numpy_params()
