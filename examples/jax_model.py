"""A user's own JAX model: ``python -m bench run --models examples/jax_model.py:make``."""

import jax
import jax.numpy as jnp
import numpy as np

from bench import ModelSpec


def init(seed: int) -> dict:
    k1, k2 = jax.random.split(jax.random.key(seed))
    return {
        "w1": jax.random.normal(k1, (32, 64)) / jnp.sqrt(32.0), "b1": jnp.zeros(64),
        "w2": jax.random.normal(k2, (64, 10)) / jnp.sqrt(64.0), "b2": jnp.zeros(10),
    }  # fmt: skip


def apply(params: dict, x: jax.Array) -> jax.Array:
    h = jax.nn.gelu(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]  # logits


def batch(batch_size: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, 32), dtype=np.float32)
    return x, rng.integers(0, 10, batch_size)


def make() -> ModelSpec:
    return ModelSpec(framework="jax", build=init, apply=apply, make_batch=batch)
