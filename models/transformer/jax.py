"""GPT in JAX: a pure function of a params dict (canonical layout as it is)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from models.common.jax import linear, stats_dtype, to_numpy
from models.transformer.spec import Config

LN_EPS = 1e-5


def layer_norm(x: jax.Array, weight: jax.Array, bias: jax.Array) -> jax.Array:
    """In at least float32 whatever x's dtype (the statistics of a bfloat16 row are too
    coarse); the result in x's dtype."""
    x32 = x.astype(stats_dtype(x.dtype))
    mean = jnp.mean(x32, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)  # biased
    out = (x32 - mean) / jnp.sqrt(var + LN_EPS) * weight.astype(x32.dtype)
    return (out + bias.astype(x32.dtype)).astype(x.dtype)


def causal_self_attention(cfg: Config, p: dict, prefix: str, x: jax.Array) -> jax.Array:
    B, T, C = x.shape
    nh, hd = cfg.n_heads, cfg.head_dim
    qkv = linear(x, p[prefix + "qkv.weight"], p[prefix + "qkv.bias"])  # (B, T, 3C)
    q, k, v = jnp.split(qkv, 3, axis=-1)  # (B, T, C) each
    q = q.reshape(B, T, nh, hd).transpose(0, 2, 1, 3)  # (B, nh, T, hd)
    k = k.reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    v = v.reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    att = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(hd)  # (B, nh, T, T)
    causal = jnp.tril(jnp.ones((T, T), dtype=bool))  # key j <= query i
    att = jnp.where(causal, att, -jnp.inf)
    att = jax.nn.softmax(att.astype(stats_dtype(att.dtype)), axis=-1).astype(x.dtype)
    y = att @ v  # (B, nh, T, hd)
    y = y.transpose(0, 2, 1, 3).reshape(B, T, C)  # heads merged in order
    return linear(y, p[prefix + "proj.weight"], p[prefix + "proj.bias"])  # (B, T, C)


def mlp(p: dict, prefix: str, x: jax.Array) -> jax.Array:
    h = jax.nn.gelu(linear(x, p[prefix + "fc.weight"], p[prefix + "fc.bias"]), approximate=True)
    return linear(h, p[prefix + "proj.weight"], p[prefix + "proj.bias"])  # (B, T, C)


def block(cfg: Config, p: dict, prefix: str, x: jax.Array) -> jax.Array:
    ln1 = layer_norm(x, p[prefix + "ln1.weight"], p[prefix + "ln1.bias"])
    x = x + causal_self_attention(cfg, p, prefix + "attn.", ln1)
    ln2 = layer_norm(x, p[prefix + "ln2.weight"], p[prefix + "ln2.bias"])
    return x + mlp(p, prefix + "mlp.", ln2)


def build(cfg: Config, params: dict[str, np.ndarray]) -> tuple[dict, dict]:
    return dict(params), {}  # canonical layout as it is; no state


def apply(cfg: Config, params: dict, state: dict, x: jax.Array, train: bool, lengths=None):
    """Logits (B, T, V); ``lengths`` is not needed: attention is causal, so right padding
    changes no logit before a row's end."""
    T = x.shape[1]  # static under jit
    h = params["wte.weight"][x] + params["wpe.weight"][:T]  # (B, T, C)
    for i in range(cfg.n_layers):
        h = block(cfg, params, f"h{i}.", h)
    h = layer_norm(h, params["ln_f.weight"], params["ln_f.bias"])
    return h @ params["wte.weight"].T, state  # (B, T, V): the tied head


def export(cfg: Config, params: dict, state: dict) -> dict[str, np.ndarray]:
    return to_numpy(params)
