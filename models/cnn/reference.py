"""The CNN's definition: float64 NumPy forward pass (NCHW)."""

from __future__ import annotations

import numpy as np

from models.cnn.spec import Config
from models.common.reference import conv2d, linear, max_pool2d, relu


def forward(
    cfg: Config, params: dict[str, np.ndarray], x: np.ndarray, train: bool = False
) -> np.ndarray:
    """Logits; ``train`` changes nothing here (no dropout, no normalisation statistics)."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    h = x.astype(np.float64)  # (B, C, S, S)
    h = max_pool2d(relu(conv2d(h, p["conv1.weight"], p["conv1.bias"])))  # (B, c1, s1/2, s1/2)
    h = max_pool2d(relu(conv2d(h, p["conv2.weight"], p["conv2.bias"])))  # (B, c2, s, s)
    h = h.reshape(h.shape[0], -1)  # (B, c2*s*s) in (C, H, W) order
    h = relu(linear(h, p["fc1.weight"], p["fc1.bias"]))  # (B, hidden)
    return linear(h, p["fc2.weight"], p["fc2.bias"])  # (B, classes)
