"""TensorFlow building blocks: a tf.Module holding canonical params as variables."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class ParamModule(tf.Module):
    """Variables keyed by canonical name; models subclass this and define ``__call__``."""

    def __init__(self, params: dict[str, np.ndarray], trainable: bool = True):
        super().__init__()
        self.p = {
            name: tf.Variable(value, trainable=trainable, name=name.replace(".", "_"))
            for name, value in params.items()
        }

    def numpy_params(self) -> dict[str, np.ndarray]:
        return {name: var.numpy() for name, var in self.p.items()}


def linear(x: tf.Tensor, weight: tf.Variable, bias: tf.Variable) -> tf.Tensor:
    return tf.matmul(x, weight) + bias  # (..., in) @ (in, out) -> (..., out)


def conv2d(
    x: tf.Tensor, weight: tf.Variable, bias: tf.Variable | None, stride: int = 1, padding: int = 0
) -> tf.Tensor:
    """x (B, H, W, C), weight HWIO."""
    if padding:
        x = tf.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    out = tf.nn.conv2d(x, weight, strides=stride, padding="VALID")
    return out if bias is None else out + bias


def max_pool2d(x: tf.Tensor, size: int = 2) -> tf.Tensor:
    return tf.nn.max_pool2d(x, ksize=size, strides=size, padding="VALID")
