"""ResNet in TensorFlow, channels-last (NHWC activations, HWIO kernels).

The BatchNorm running statistics are non-trainable variables in the same ``p`` dict as the
weights (so Adam never sees them); a ``training=True`` call assigns their updated values.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.common.spec import nhwc
from models.common.tf import ParamModule, conv2d, linear, stats_dtype
from models.resnet.spec import (
    BN_EPS,
    BN_MOMENTUM,
    Block,
    Config,
    Conv,
    buffers,
    channels_first,
    channels_last,
    stages,
)


def max_pool2d(x: tf.Tensor, size: int = 3, stride: int = 2, padding: int = 1) -> tf.Tensor:
    """Overlapping max pooling, padded symmetrically with -inf (never "SAME": asymmetric)."""
    pad = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    x = tf.pad(x, pad, constant_values=-np.inf)
    return tf.nn.max_pool2d(x, ksize=size, strides=stride, padding="VALID")


class ResNet(ParamModule):
    def __init__(self, cfg: Config, params: dict[str, np.ndarray]):
        stats = set(buffers(cfg))
        nhwc_params = channels_last(params)
        super().__init__({k: v for k, v in nhwc_params.items() if k not in stats})
        for name in buffers(cfg):
            self.p[name] = tf.Variable(
                nhwc_params[name], trainable=False, name=name.replace(".", "_")
            )
        self.stages = stages(cfg)

    def batch_norm(self, x: tf.Tensor, name: str, training: bool) -> tf.Tensor:
        """Statistics and normalisation in at least float32 whatever x's dtype; the result
        in x's."""
        p = self.p
        running_mean, running_var = p[f"{name}.running_mean"], p[f"{name}.running_var"]
        f = stats_dtype(x.dtype)
        x32 = tf.cast(x, f)
        if training:
            mean = tf.reduce_mean(x32, axis=[0, 1, 2])  # (C,)
            var = tf.reduce_mean(tf.square(x32 - mean), axis=[0, 1, 2])  # biased: normalises
            n = tf.cast(tf.size(x) // tf.shape(x)[-1], f)
            m = BN_MOMENTUM
            unbiased = tf.stop_gradient(var * n / (n - 1.0))
            new_mean = (1 - m) * tf.cast(running_mean, f) + m * tf.stop_gradient(mean)
            new_var = (1 - m) * tf.cast(running_var, f) + m * unbiased
            running_mean.assign(tf.cast(new_mean, running_mean.dtype))
            running_var.assign(tf.cast(new_var, running_var.dtype))
        else:
            mean, var = tf.cast(running_mean, f), tf.cast(running_var, f)
        scale = tf.cast(p[f"{name}.weight"], f) * tf.math.rsqrt(var + BN_EPS)
        out = (x32 - mean) * scale + tf.cast(p[f"{name}.bias"], f)
        return tf.cast(out, x.dtype)

    def conv_bn(self, x: tf.Tensor, c: Conv, training: bool) -> tf.Tensor:
        h = conv2d(x, self.p[f"{c.name}.weight"], None, stride=c.stride, padding=c.padding)
        return self.batch_norm(h, c.bn, training)

    def block(self, x: tf.Tensor, b: Block, training: bool) -> tf.Tensor:
        h = x  # (B, S, S, C_in)
        for j, c in enumerate(b.convs):
            h = self.conv_bn(h, c, training)
            if j < len(b.convs) - 1:
                h = tf.nn.relu(h)
        shortcut = x if b.downsample is None else self.conv_bn(x, b.downsample, training)
        return tf.nn.relu(h + shortcut)  # (B, S/stride, S/stride, C_out)

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:  # (B, S, S, C)
        p = self.p
        x = conv2d(x, p["conv1.weight"], None, stride=2, padding=3)  # (B, S/2, S/2, 64)
        x = max_pool2d(tf.nn.relu(self.batch_norm(x, "bn1", training)))  # (B, S/4, S/4, 64)
        for stage in self.stages:
            for b in stage:
                x = self.block(x, b, training)  # (B, S/32, S/32, 512 * e) at the end
        x = tf.reduce_mean(x, axis=[1, 2])  # (B, 512 * e): global average pool
        return linear(x, p["fc.weight"], p["fc.bias"])  # (B, classes)


def build(cfg: Config, params: dict[str, np.ndarray]) -> ResNet:
    return ResNet(cfg, params)


def prepare_input(x: np.ndarray) -> np.ndarray:
    return nhwc(x)


def export(cfg: Config, model: ResNet) -> dict[str, np.ndarray]:
    return channels_first(model.numpy_params())
