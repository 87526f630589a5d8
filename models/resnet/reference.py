"""The ResNet's definition: float64 NumPy forward pass (NCHW), BatchNorm as PyTorch defines it."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from models.common.reference import conv2d, linear, relu
from models.resnet.spec import BN_EPS, BN_MOMENTUM, Block, Config, Conv, stages


def max_pool2d(x: np.ndarray, size: int = 3, stride: int = 2, padding: int = 1) -> np.ndarray:
    """Overlapping max pooling over a -inf-padded input (PyTorch's MaxPool2d(3, 2, 1))."""
    pad = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    x = np.pad(x, pad, constant_values=-np.inf)
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(4, 5))  # (B, C, Ho, Wo)


def batch_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel batch mean, biased and unbiased variance over (B, H, W) of x (B, C, H, W)."""
    n = x.size // x.shape[1]
    mean = x.mean(axis=(0, 2, 3))
    var = ((x - mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
    return mean, var, var * n / (n - 1)


def batch_norm(
    x: np.ndarray, p: dict[str, np.ndarray], name: str, train: bool, updates: dict | None
) -> np.ndarray:
    """Normalise x (B, C, H, W) with batch (train) or running (infer) statistics.

    In train mode, the updated running statistics are written to ``updates`` if given.
    """
    if train:
        mean, var, unbiased = batch_stats(x)
        if updates is not None:
            m = BN_MOMENTUM
            updates[f"{name}.running_mean"] = (1 - m) * p[f"{name}.running_mean"] + m * mean
            updates[f"{name}.running_var"] = (1 - m) * p[f"{name}.running_var"] + m * unbiased
    else:
        mean, var = p[f"{name}.running_mean"], p[f"{name}.running_var"]
    scale = p[f"{name}.weight"] / np.sqrt(var + BN_EPS)
    return (x - mean[:, None, None]) * scale[:, None, None] + p[f"{name}.bias"][:, None, None]


def conv_bn(x, p, conv: Conv, train: bool, updates: dict | None) -> np.ndarray:
    h = conv2d(x, p[f"{conv.name}.weight"], None, stride=conv.stride, padding=conv.padding)
    return batch_norm(h, p, conv.bn, train, updates)


def block(x, p, blk: Block, train: bool, updates: dict | None) -> np.ndarray:
    h = x  # (B, C_in, S, S)
    for j, conv in enumerate(blk.convs):
        h = conv_bn(h, p, conv, train, updates)
        if j < len(blk.convs) - 1:
            h = relu(h)
    shortcut = x if blk.downsample is None else conv_bn(x, p, blk.downsample, train, updates)
    return relu(h + shortcut)  # (B, C_out, S/stride, S/stride)


def _forward(cfg: Config, params, x, train: bool, updates: dict | None) -> np.ndarray:
    p = {k: v.astype(np.float64) for k, v in params.items()}
    h = x.astype(np.float64)  # (B, C, S, S)
    h = conv2d(h, p["conv1.weight"], None, stride=2, padding=3)  # (B, 64, S/2, S/2)
    h = max_pool2d(relu(batch_norm(h, p, "bn1", train, updates)))  # (B, 64, S/4, S/4)
    for stage in stages(cfg):
        for blk in stage:
            h = block(h, p, blk, train, updates)  # (B, 512 * expansion, S/32, S/32) at the end
    h = h.mean(axis=(2, 3))  # (B, 512 * expansion): global average pool
    return linear(h, p["fc.weight"], p["fc.bias"])  # (B, classes)


def forward(
    cfg: Config, params: dict[str, np.ndarray], x: np.ndarray, train: bool = False
) -> np.ndarray:
    """Logits; ``train`` normalises with batch statistics, infer with the running ones."""
    return _forward(cfg, params, x, train, None)


def updated_buffers(
    cfg: Config, params: dict[str, np.ndarray], x: np.ndarray
) -> dict[str, np.ndarray]:
    """The running statistics after one train-mode forward pass over x (float64)."""
    updates: dict[str, np.ndarray] = {}
    _forward(cfg, params, x, True, updates)
    return updates
