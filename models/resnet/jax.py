"""ResNet in JAX, channels-last (NHWC activations, HWIO kernels).

``params`` holds the trainable weights, ``state`` the BatchNorm running statistics; a train-mode
``apply`` returns the updated statistics as the new state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.common.jax import conv2d, linear, stats_dtype, to_numpy
from models.common.spec import nhwc
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


def build(cfg: Config, params: dict[str, np.ndarray]) -> tuple[dict, dict]:
    nhwc_params = channels_last(params)
    stats = set(buffers(cfg))
    trainable = {k: v for k, v in nhwc_params.items() if k not in stats}
    return trainable, {k: v for k, v in nhwc_params.items() if k in stats}


def prepare_input(x: np.ndarray) -> np.ndarray:
    return nhwc(x)


def max_pool2d(x: jax.Array, size: int = 3, stride: int = 2, padding: int = 1) -> jax.Array:
    """Overlapping max pooling, padded symmetrically with -inf (PyTorch's MaxPool2d(3, 2, 1))."""
    pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    window, strides = (1, size, size, 1), (1, stride, stride, 1)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, pad)


def batch_norm(x: jax.Array, params: dict, state: dict, new_state: dict, name: str, train: bool):
    """x (B, H, W, C); in train mode, writes the updated running statistics to new_state.

    Statistics and normalisation in at least float32 whatever x's dtype; the result in x's,
    the statistics in the state's."""
    f = stats_dtype(x.dtype)
    x32 = x.astype(f)
    mean_name, var_name = f"{name}.running_mean", f"{name}.running_var"
    if train:
        mean = x32.mean(axis=(0, 1, 2))  # (C,)
        var = jnp.square(x32 - mean).mean(axis=(0, 1, 2))  # biased: what normalises
        n = x.size // x.shape[-1]
        m = BN_MOMENTUM
        batch_mean, unbiased = jax.lax.stop_gradient((mean, var * n / (n - 1)))
        for key, batch in ((mean_name, batch_mean), (var_name, unbiased)):
            old = state[key]
            new_state[key] = ((1 - m) * old.astype(f) + m * batch).astype(old.dtype)
    else:
        mean, var = state[mean_name].astype(f), state[var_name].astype(f)
    scale = params[f"{name}.weight"].astype(f) * jax.lax.rsqrt(var + BN_EPS)
    out = (x32 - mean) * scale + params[f"{name}.bias"].astype(f)
    return out.astype(x.dtype)


def conv_bn(x, params, state, new_state, c: Conv, train: bool) -> jax.Array:
    h = conv2d(x, params[f"{c.name}.weight"], None, stride=c.stride, padding=c.padding)
    return batch_norm(h, params, state, new_state, c.bn, train)


def block(x, params, state, new_state, b: Block, train: bool) -> jax.Array:
    h = x  # (B, S, S, C_in)
    for j, c in enumerate(b.convs):
        h = conv_bn(h, params, state, new_state, c, train)
        if j < len(b.convs) - 1:
            h = jax.nn.relu(h)
    shortcut = x
    if b.downsample is not None:
        shortcut = conv_bn(x, params, state, new_state, b.downsample, train)
    return jax.nn.relu(h + shortcut)  # (B, S/stride, S/stride, C_out)


def apply(cfg: Config, params: dict, state: dict, x: jax.Array, train: bool):
    new_state = dict(state)  # infer mode leaves it as it is
    h = conv2d(x, params["conv1.weight"], None, stride=2, padding=3)  # (B, S/2, S/2, 64)
    h = jax.nn.relu(batch_norm(h, params, state, new_state, "bn1", train))
    h = max_pool2d(h)  # (B, S/4, S/4, 64)
    for stage in stages(cfg):
        for b in stage:
            h = block(h, params, state, new_state, b, train)  # (B, S/32, S/32, 512 * e) at the end
    h = h.mean(axis=(1, 2))  # (B, 512 * e): global average pool
    return linear(h, params["fc.weight"], params["fc.bias"]), new_state  # (B, classes)


def export(cfg: Config, params: dict, state: dict) -> dict[str, np.ndarray]:
    return channels_first({**to_numpy(params), **to_numpy(state)})
