"""LSTM classifier in JAX: pure functions over the canonical params, jax.lax.scan over time."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.common.jax import linear, to_numpy
from models.lstm.spec import Config


def build(cfg: Config, params: dict[str, np.ndarray]) -> tuple[dict, dict]:
    return dict(params), {}  # the canonical layout is JAX's; no state


def lstm_layer(
    xs: jax.Array, w_ih: jax.Array, w_hh: jax.Array, bias: jax.Array, keep_sequence: bool
) -> tuple[jax.Array, jax.Array | None]:
    """xs (T, B, in) -> (h_T (B, H), every h_t (T, B, H) if keep_sequence else None)."""
    hidden = w_hh.shape[0]
    zx = xs @ w_ih + bias  # (T, B, 4H): the input projection of every step at once

    def step(carry, zx_t):  # zx_t (B, 4H)
        h, c = carry  # (B, H) each
        z = zx_t + h @ w_hh  # (B, 4H), gate blocks (i, f, g, o)
        zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(zf) * c + jax.nn.sigmoid(zi) * jnp.tanh(zg)
        h = jax.nn.sigmoid(zo) * jnp.tanh(c)
        return (h, c), (h if keep_sequence else None)

    zeros = jnp.zeros((xs.shape[1], hidden), xs.dtype)  # (B, H)
    (h, _), hs = jax.lax.scan(step, (zeros, zeros), zx)
    return h, hs


def apply(cfg: Config, params: dict, state: dict, x: jax.Array, train: bool, lengths=None):
    """Logits (B, classes); with ``lengths`` (B,), from each row's step lengths[b] - 1."""
    seq = jnp.take(params["embedding.weight"], x.T, axis=0)  # (T, B, E), time-major
    h = None
    for layer in range(1, cfg.layers + 1):
        p = {n: params[f"lstm{layer}.{n}"] for n in ("w_ih", "w_hh", "bias")}
        keep = layer < cfg.layers or lengths is not None
        h, seq = lstm_layer(seq, p["w_ih"], p["w_hh"], p["bias"], keep)
    if lengths is not None:
        h = seq[lengths - 1, jnp.arange(seq.shape[1])]  # (B, H): each row's own last step
    return linear(h, params["fc.weight"], params["fc.bias"]), state  # (B, classes)


def export(cfg: Config, params: dict, state: dict) -> dict[str, np.ndarray]:
    return to_numpy(params)
