"""NumPy helpers for the specs: deterministic weights and the FLOP-counting convention.

FLOPs are counted analytically from the config: every multiply-add of a matmul or
convolution counts 2; elementwise work (activations, normalisation, softmax, the
loss, the optimizer update) is not counted. A training step counts 3x the forward
pass: the backward pass computes gradients with respect to both the activations and
the weights, each costing one forward's worth of multiply-adds.
"""

from __future__ import annotations

import numpy as np

TRAIN_FLOPS_FACTOR = 3


def uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) in float32: PyTorch's default for Linear and Conv."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def step_flops(forward_flops: int, mode: str) -> int:
    if mode == "infer":
        return forward_flops
    if mode == "train":
        return TRAIN_FLOPS_FACTOR * forward_flops
    raise ValueError(f"mode must be 'infer' or 'train', got {mode!r}")


def image_batch(
    batch_size: int, channels: int, size: int, classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal NCHW float32 images and uniform int32 class ids, from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, channels, size, size)).astype(np.float32)
    y = rng.integers(0, classes, size=batch_size).astype(np.int32)
    return x, y


def nhwc(x: np.ndarray) -> np.ndarray:
    """A canonical NCHW batch in channels-last layout (what JAX and TF convolve)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
