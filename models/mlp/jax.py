"""MLP in JAX: a pure function of a params dict."""

from __future__ import annotations

import jax
import numpy as np

from models.common.jax import linear, to_numpy
from models.mlp.spec import Config


def build(cfg: Config, params: dict[str, np.ndarray]) -> tuple[dict, dict]:
    return dict(params), {}  # canonical layout is already (in, out); no state


def apply(cfg: Config, params: dict, state: dict, x: jax.Array, train: bool):
    n_layers = len(cfg.widths) - 1
    h = x  # (B, in)
    for i in range(1, n_layers + 1):
        h = linear(h, params[f"fc{i}.weight"], params[f"fc{i}.bias"])
        if i < n_layers:
            h = jax.nn.relu(h)
    return h, state  # (B, classes)


def export(cfg: Config, params: dict, state: dict) -> dict[str, np.ndarray]:
    return to_numpy(params)
