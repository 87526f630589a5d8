"""EarlyExit's definition: float64 NumPy forward pass, the branch in plain Python."""

from __future__ import annotations

import numpy as np

from models.common.reference import linear, log_softmax, relu
from models.earlyexit.spec import Config


def confidence(logits: np.ndarray) -> float:
    """The batch's mean top softmax probability."""
    return float(np.exp(log_softmax(logits)).max(axis=-1).mean())


def forward(
    cfg: Config, params: dict[str, np.ndarray], x: np.ndarray, train: bool = False
) -> np.ndarray:
    p = {k: v.astype(np.float64) for k, v in params.items()}
    h = relu(linear(x.astype(np.float64), p["fc1.weight"], p["fc1.bias"]))
    early = linear(h, p["exit.weight"], p["exit.bias"])
    if confidence(early) > cfg.threshold:
        return early
    deep = relu(linear(h, p["fc2.weight"], p["fc2.bias"]))
    return early + linear(deep, p["head.weight"], p["head.bias"])
