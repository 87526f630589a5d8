"""LSTM classifier in TensorFlow: a tf.Module over raw ops, tf.while_loop over time."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.common.tf import ParamModule, linear
from models.lstm.spec import Config


def lstm_layer(
    xs: tf.Tensor, w_ih: tf.Variable, w_hh: tf.Variable, bias: tf.Variable, keep_sequence: bool
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """xs (T, B, in) -> (h_T (B, H), every h_t (T, B, H) if keep_sequence else None)."""
    steps = xs.shape[0] if xs.shape[0] is not None else tf.shape(xs)[0]
    zx = linear(xs, w_ih, bias)  # (T, B, 4H): every step's input projection at once
    zx_steps = tf.TensorArray(zx.dtype, size=steps).unstack(zx)
    zeros = tf.zeros([tf.shape(xs)[1], w_hh.shape[0]], xs.dtype)  # (B, H)

    def step(t, h, c, *hs):  # h, c (B, H); hs: the (T, B, H) outputs, if kept
        z = zx_steps.read(t) + tf.matmul(h, w_hh)  # (B, 4H), gate blocks (i, f, g, o)
        zi, zf, zg, zo = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(zf) * c + tf.sigmoid(zi) * tf.tanh(zg)
        h = tf.sigmoid(zo) * tf.tanh(c)
        return (t + 1, h, c, *(ta.write(t, h) for ta in hs))

    # An output TensorArray only where it is read: XLA cannot differentiate an unwritten one.
    outputs = (tf.TensorArray(xs.dtype, size=steps),) if keep_sequence else ()
    _, h, _, *hs = tf.while_loop(
        lambda t, *_: t < steps, step, (0, zeros, zeros, *outputs), maximum_iterations=steps
    )
    return h, (hs[0].stack() if keep_sequence else None)


class LSTMClassifier(ParamModule):
    def __init__(self, cfg: Config, params: dict[str, np.ndarray]):
        super().__init__(params)  # the canonical layout is TF's
        self.layers = cfg.layers

    def __call__(self, x: tf.Tensor, training: bool = False, lengths=None) -> tf.Tensor:
        """Logits (B, classes) for token ids (B, T); with ``lengths`` (B,), from each row's
        step lengths[b] - 1."""
        p = self.p
        seq = tf.gather(p["embedding.weight"], tf.transpose(x))  # (T, B, E), time-major
        h = None
        for layer in range(1, self.layers + 1):
            w_ih, w_hh, bias = (p[f"lstm{layer}.{n}"] for n in ("w_ih", "w_hh", "bias"))
            keep = layer < self.layers or lengths is not None
            h, seq = lstm_layer(seq, w_ih, w_hh, bias, keep)
        if lengths is not None:
            rows = tf.range(tf.shape(seq)[1], dtype=lengths.dtype)
            h = tf.gather_nd(seq, tf.stack([lengths - 1, rows], axis=1))  # (B, H)
        return linear(h, p["fc.weight"], p["fc.bias"])  # (B, classes)


def build(cfg: Config, params: dict[str, np.ndarray]) -> LSTMClassifier:
    return LSTMClassifier(cfg, params)


def export(cfg: Config, model: LSTMClassifier) -> dict[str, np.ndarray]:
    return model.numpy_params()
