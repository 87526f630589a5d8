"""CNN in JAX, channels-last (NHWC activations, HWIO kernels)."""

from __future__ import annotations

import jax
import numpy as np

from models.cnn.spec import Config, channels_first, channels_last
from models.common.jax import conv2d, linear, max_pool2d, to_numpy
from models.common.spec import nhwc


def build(cfg: Config, params: dict[str, np.ndarray]) -> tuple[dict, dict]:
    return channels_last(cfg, params), {}


def prepare_input(x: np.ndarray) -> np.ndarray:
    return nhwc(x)


def apply(cfg: Config, params: dict, state: dict, x: jax.Array, train: bool):
    h = max_pool2d(jax.nn.relu(conv2d(x, params["conv1.weight"], params["conv1.bias"])))
    h = max_pool2d(jax.nn.relu(conv2d(h, params["conv2.weight"], params["conv2.bias"])))
    h = h.reshape(h.shape[0], -1)  # (B, s*s*c2) in (H, W, C) order, matching fc1's rows
    h = jax.nn.relu(linear(h, params["fc1.weight"], params["fc1.bias"]))  # (B, hidden)
    return linear(h, params["fc2.weight"], params["fc2.bias"]), state  # (B, classes)


def export(cfg: Config, params: dict, state: dict) -> dict[str, np.ndarray]:
    return channels_first(cfg, to_numpy(params))
