"""The LSTM classifier's definition: float64 NumPy, one explicit loop over time steps."""

from __future__ import annotations

import numpy as np

from models.common.reference import linear
from models.lstm.spec import Config


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + exp(-x)) without overflow


def lstm_step(
    x_t: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    bias: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One step: x_t (B, in), h and c (B, H); gate blocks (i, f, g, o) along the 4H axis."""
    z = x_t @ w_ih + h @ w_hh + bias  # (B, 4H)
    zi, zf, zg, zo = np.split(z, 4, axis=-1)  # each (B, H)
    c = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zg)
    h = sigmoid(zo) * np.tanh(c)
    return h, c


def forward(
    cfg: Config, params: dict[str, np.ndarray], x: np.ndarray, train: bool = False
) -> np.ndarray:
    """Logits (B, classes) for token ids x (B, T); ``train`` changes nothing (no dropout)."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    batch, steps = x.shape
    seq = p["embedding.weight"][x]  # (B, T, E)
    for layer in range(1, cfg.layers + 1):
        w_ih, w_hh, bias = (p[f"lstm{layer}.{n}"] for n in ("w_ih", "w_hh", "bias"))
        h = np.zeros((batch, cfg.hidden))  # (B, H)
        c = np.zeros((batch, cfg.hidden))  # (B, H)
        outputs = []
        for t in range(steps):
            h, c = lstm_step(seq[:, t], h, c, w_ih, w_hh, bias)
            outputs.append(h)
        seq = np.stack(outputs, axis=1)  # (B, T, H): the next layer's input
    return linear(seq[:, -1], p["fc.weight"], p["fc.bias"])  # (B, classes)
