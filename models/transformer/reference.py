"""The transformer's definition: float64 NumPy forward pass."""

from __future__ import annotations

import math

import numpy as np

from models.common.reference import linear
from models.transformer.spec import Config

LN_EPS = 1e-5


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased, as every framework
    return (x - mean) / np.sqrt(var + LN_EPS) * weight + bias


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (GPT-2's)."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def causal_self_attention(cfg: Config, p: dict, prefix: str, x: np.ndarray) -> np.ndarray:
    B, T, C = x.shape
    nh, hd = cfg.n_heads, cfg.head_dim
    qkv = linear(x, p[prefix + "qkv.weight"], p[prefix + "qkv.bias"])  # (B, T, 3C)
    q, k, v = np.split(qkv, 3, axis=-1)  # (B, T, C) each
    q, k, v = (t.reshape(B, T, nh, hd).transpose(0, 2, 1, 3) for t in (q, k, v))  # (B, nh, T, hd)
    att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)  # (B, nh, T, T)
    causal = np.tril(np.ones((T, T), dtype=bool))  # key j <= query i
    att = softmax(np.where(causal, att, -np.inf))
    y = att @ v  # (B, nh, T, hd)
    y = y.transpose(0, 2, 1, 3).reshape(B, T, C)  # heads merged in order
    return linear(y, p[prefix + "proj.weight"], p[prefix + "proj.bias"])  # (B, T, C)


def mlp(p: dict, prefix: str, x: np.ndarray) -> np.ndarray:
    h = gelu(linear(x, p[prefix + "fc.weight"], p[prefix + "fc.bias"]))  # (B, T, 4C)
    return linear(h, p[prefix + "proj.weight"], p[prefix + "proj.bias"])  # (B, T, C)


def block(cfg: Config, p: dict, prefix: str, x: np.ndarray) -> np.ndarray:
    """Pre-LayerNorm residual block: x + attn(ln1(x)), then x + mlp(ln2(x))."""
    ln1 = layer_norm(x, p[prefix + "ln1.weight"], p[prefix + "ln1.bias"])
    x = x + causal_self_attention(cfg, p, prefix + "attn.", ln1)
    ln2 = layer_norm(x, p[prefix + "ln2.weight"], p[prefix + "ln2.bias"])
    return x + mlp(p, prefix + "mlp.", ln2)


def forward(
    cfg: Config, params: dict[str, np.ndarray], x: np.ndarray, train: bool = False
) -> np.ndarray:
    """Logits (B, T, V) for token ids (B, T), any T <= block_size; ``train`` changes nothing."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    T = x.shape[1]
    h = p["wte.weight"][x] + p["wpe.weight"][:T]  # (B, T, C)
    for i in range(cfg.n_layers):
        h = block(cfg, p, f"h{i}.", h)
    h = layer_norm(h, p["ln_f.weight"], p["ln_f.bias"])
    return h @ p["wte.weight"].T  # (B, T, V): the head is the token embedding
