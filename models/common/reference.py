"""Float64 NumPy operations: the vocabulary of every model's reference forward pass.

Layouts are the canonical ones: activations NCHW, conv weights OIHW, linear
weights (in, out) so that ``y = x @ W + b``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return x @ weight + bias  # (..., in) @ (in, out) -> (..., out)


def conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """Cross-correlation as every framework defines conv: (B, C, H, W) * (O, C, kh, kw)."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kh, kw = weight.shape[2:]
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("bchwij,ocij->bohw", windows, weight, optimize=True)  # (B, O, Ho, Wo)
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out


def max_pool2d(x: np.ndarray, size: int = 2) -> np.ndarray:
    """Non-overlapping max pooling; a ragged edge is dropped (floor), as in every framework."""
    b, c, h, w = x.shape
    ho, wo = h // size, w // size
    x = x[:, :, : ho * size, : wo * size].reshape(b, c, ho, size, wo, size)
    return x.max(axis=(3, 5))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy over every position: logits (..., K), integer targets (...)."""
    logp = log_softmax(logits.reshape(-1, logits.shape[-1]).astype(np.float64))
    flat = targets.reshape(-1)
    return float(-logp[np.arange(flat.size), flat].mean())
