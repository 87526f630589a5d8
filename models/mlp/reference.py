"""The MLP's definition: float64 NumPy forward pass."""

from __future__ import annotations

import numpy as np

from models.common.reference import linear, relu
from models.mlp.spec import Config


def forward(
    cfg: Config, params: dict[str, np.ndarray], x: np.ndarray, train: bool = False
) -> np.ndarray:
    """Logits; ``train`` changes nothing here (no dropout, no normalisation statistics)."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    h = x.astype(np.float64)  # (B, in)
    n_layers = len(cfg.widths) - 1
    for i in range(1, n_layers + 1):
        h = linear(h, p[f"fc{i}.weight"], p[f"fc{i}.bias"])
        if i < n_layers:
            h = relu(h)
    return h  # (B, classes)
