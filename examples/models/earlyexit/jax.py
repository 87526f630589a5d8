"""EarlyExit in JAX: the branch is ``lax.cond`` (a Python ``if`` on a traced value cannot
be jitted); both branches are traced and compiled, one runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.common.jax import linear, to_numpy
from models.earlyexit.spec import Config


def build(cfg: Config, params: dict[str, np.ndarray]) -> tuple[dict, dict]:
    return dict(params), {}


def apply(cfg: Config, params: dict, state: dict, x: jax.Array, train: bool):
    p = params
    h = jax.nn.relu(linear(x, p["fc1.weight"], p["fc1.bias"]))
    early = linear(h, p["exit.weight"], p["exit.bias"])
    confidence = jax.nn.softmax(early.astype(jnp.float32), axis=-1).max(axis=-1).mean()

    def deep(h: jax.Array) -> jax.Array:
        h2 = jax.nn.relu(linear(h, p["fc2.weight"], p["fc2.bias"]))
        return early + linear(h2, p["head.weight"], p["head.bias"])

    return jax.lax.cond(confidence > cfg.threshold, lambda h: early, deep, h), state


def export(cfg: Config, params: dict, state: dict) -> dict[str, np.ndarray]:
    return to_numpy(params)
