"""GPT in TensorFlow: a tf.Module over raw ops (canonical layout as it is)."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from models.common.tf import ParamModule, linear, stats_dtype
from models.transformer.spec import Config

LN_EPS = 1e-5


def layer_norm(x: tf.Tensor, weight: tf.Variable, bias: tf.Variable) -> tf.Tensor:
    """In at least float32 whatever x's dtype (the statistics of a bfloat16 row are too
    coarse); the result in x's dtype."""
    x32 = tf.cast(x, stats_dtype(x.dtype))
    mean = tf.reduce_mean(x32, axis=-1, keepdims=True)
    var = tf.reduce_mean(tf.square(x32 - mean), axis=-1, keepdims=True)  # biased
    out = (x32 - mean) / tf.sqrt(var + LN_EPS) * tf.cast(weight, x32.dtype)
    return tf.cast(out + tf.cast(bias, x32.dtype), x.dtype)


def causal_self_attention(cfg: Config, p: dict, prefix: str, x: tf.Tensor) -> tf.Tensor:
    B, T = tf.shape(x)[0], tf.shape(x)[1]  # dynamic: any T traces the same
    C, nh, hd = cfg.d_model, cfg.n_heads, cfg.head_dim
    qkv = linear(x, p[prefix + "qkv.weight"], p[prefix + "qkv.bias"])  # (B, T, 3C)
    q, k, v = tf.split(qkv, 3, axis=-1)  # (B, T, C) each
    q = tf.transpose(tf.reshape(q, [B, T, nh, hd]), [0, 2, 1, 3])  # (B, nh, T, hd)
    k = tf.transpose(tf.reshape(k, [B, T, nh, hd]), [0, 2, 1, 3])
    v = tf.transpose(tf.reshape(v, [B, T, nh, hd]), [0, 2, 1, 3])
    att = tf.matmul(q, k, transpose_b=True) / math.sqrt(hd)  # (B, nh, T, T)
    positions = tf.range(T)
    causal = positions[None, :] <= positions[:, None]  # (T, T): key j <= query i
    att = tf.where(causal, att, tf.constant(float("-inf"), att.dtype))
    att = tf.cast(tf.nn.softmax(tf.cast(att, stats_dtype(att.dtype)), axis=-1), x.dtype)
    y = tf.matmul(att, v)  # (B, nh, T, hd)
    y = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B, T, C])  # heads merged in order
    return linear(y, p[prefix + "proj.weight"], p[prefix + "proj.bias"])  # (B, T, C)


def mlp(p: dict, prefix: str, x: tf.Tensor) -> tf.Tensor:
    h = tf.nn.gelu(linear(x, p[prefix + "fc.weight"], p[prefix + "fc.bias"]), approximate=True)
    return linear(h, p[prefix + "proj.weight"], p[prefix + "proj.bias"])  # (B, T, C)


def block(cfg: Config, p: dict, prefix: str, x: tf.Tensor) -> tf.Tensor:
    ln1 = layer_norm(x, p[prefix + "ln1.weight"], p[prefix + "ln1.bias"])
    x = x + causal_self_attention(cfg, p, prefix + "attn.", ln1)
    ln2 = layer_norm(x, p[prefix + "ln2.weight"], p[prefix + "ln2.bias"])
    return x + mlp(p, prefix + "mlp.", ln2)


class GPT(ParamModule):
    def __init__(self, cfg: Config, params: dict[str, np.ndarray]):
        super().__init__(params)
        self.cfg = cfg

    def __call__(self, x: tf.Tensor, training: bool = False, lengths=None) -> tf.Tensor:
        """Logits (B, T, V) for token ids (B, T); ``lengths`` is not needed: attention is
        causal, so right padding changes no logit before a row's end."""
        p = self.p
        T = tf.shape(x)[1]
        h = tf.gather(p["wte.weight"], x) + p["wpe.weight"][:T]  # (B, T, C)
        for i in range(self.cfg.n_layers):
            h = block(self.cfg, p, f"h{i}.", h)
        h = layer_norm(h, p["ln_f.weight"], p["ln_f.bias"])
        return tf.matmul(h, p["wte.weight"], transpose_b=True)  # (B, T, V): the tied head


def build(cfg: Config, params: dict[str, np.ndarray]) -> GPT:
    return GPT(cfg, params)


def export(cfg: Config, model: GPT) -> dict[str, np.ndarray]:
    return model.numpy_params()
