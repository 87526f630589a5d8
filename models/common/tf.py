"""TensorFlow building blocks: a tf.Module holding canonical params as variables."""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf


class ParamModule(tf.Module):
    """Variables keyed by canonical name; models subclass this and define ``__call__``."""

    def __init__(self, params: dict[str, np.ndarray], trainable: bool = True):
        super().__init__()
        self.variables_by_name = {
            name: tf.Variable(value, trainable=trainable, name=name.replace(".", "_"))
            for name, value in params.items()
        }
        # Not tracked (a view holds tensors, not variables): see ``compute_view``.
        object.__setattr__(self, "_view", None)

    @property
    def p(self) -> dict:
        """The weights as the model reads them: the variables, or a compute view of them."""
        return self._view if self._view is not None else self.variables_by_name

    def numpy_params(self) -> dict[str, np.ndarray]:
        """Every variable on the host, 16-bit floats as float32 (bfloat16 has no NumPy dtype)."""
        return {
            name: tf.cast(var, stats_dtype(var.dtype)).numpy()
            if var.dtype.is_floating
            else var.numpy()
            for name, var in self.p.items()
        }

    def cast_variables(self, dtype: tf.DType) -> None:
        """Store every floating variable in ``dtype`` (new variables, same names and roles)."""
        for name, var in list(self.variables_by_name.items()):
            if var.dtype.is_floating and var.dtype != dtype:
                self.variables_by_name[name] = tf.Variable(
                    tf.cast(var, dtype), trainable=var.trainable, name=var.name.split(":")[0]
                )

    @contextlib.contextmanager
    def compute_view(self, dtype: tf.DType):
        """Within the block, the trainable weights read as ``dtype`` (casts of the variables,
        so gradients reach them); the variables themselves and non-trainable state (e.g.
        BatchNorm statistics, which the model updates) are untouched. A no-op where the
        weights are already ``dtype``."""
        view = {
            name: tf.cast(var, dtype) if var.trainable and var.dtype != dtype else var
            for name, var in self.variables_by_name.items()
        }
        object.__setattr__(self, "_view", view)
        try:
            yield
        finally:
            object.__setattr__(self, "_view", None)


def stats_dtype(dtype: tf.DType) -> tf.DType:
    """Where statistics (softmax, normalisation) are computed: at least float32 (a bfloat16
    row's are too coarse), float64 kept as float64."""
    return tf.float64 if dtype == tf.float64 else tf.float32


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
