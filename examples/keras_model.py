"""A user's own Keras 3 model, on JAX, TensorFlow and PyTorch: ``python -m bench run
--models examples/keras_model.py:make --backends keras-jax,keras-tf,keras-tf-xla,keras-torch``."""

import keras
import numpy as np

from bench import ModelSpec


def build(seed: int) -> keras.Model:
    # Keras's initialisers draw different numbers per backend: graphbench redraws the
    # weights from the seed with NumPy, so every backend runs the same model.
    return keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(64, activation="gelu"),
            keras.layers.Dense(64, activation="tanh"),
            keras.layers.Dense(10),  # logits
        ]
    )


def batch(batch_size: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, 32), dtype=np.float32)
    return x, rng.integers(0, 10, batch_size)


def make() -> ModelSpec:
    return ModelSpec(framework="keras", build=build, make_batch=batch)
