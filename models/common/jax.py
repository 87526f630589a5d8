"""JAX building blocks (channels-last, like TF)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def linear(x: jax.Array, weight: jax.Array, bias: jax.Array) -> jax.Array:
    return x @ weight + bias  # (..., in) @ (in, out) -> (..., out)


def conv2d(
    x: jax.Array, weight: jax.Array, bias: jax.Array | None, stride: int = 1, padding: int = 0
) -> jax.Array:
    """x (B, H, W, C), weight HWIO."""
    out = jax.lax.conv_general_dilated(
        x,
        weight,
        window_strides=(stride, stride),
        padding=[(padding, padding), (padding, padding)],
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return out if bias is None else out + bias


def max_pool2d(x: jax.Array, size: int = 2) -> jax.Array:
    window = (1, size, size, 1)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")


def stats_dtype(dtype) -> jnp.dtype:
    """Where statistics (softmax, normalisation) are computed: at least float32 (a bfloat16
    row's are too coarse), float64 kept as float64."""
    return jnp.promote_types(dtype, jnp.float32)


def to_numpy(tree: dict) -> dict[str, np.ndarray]:
    """Arrays back on the host; 16-bit floats as float32 (bfloat16 has no NumPy dtype)."""
    return {
        name: np.asarray(
            v.astype(stats_dtype(v.dtype)) if jnp.issubdtype(v.dtype, jnp.floating) else v
        )
        for name, v in tree.items()
    }
