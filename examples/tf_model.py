"""A user's own TensorFlow (Keras) model: ``python -m bench run --models
examples/tf_model.py:make``. A plain ``tf.Module`` with a ``__call__`` works too."""

import keras
import numpy as np

from bench import ModelSpec


def build(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)  # the same weights for the same seed
    return keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),  # logits
        ]
    )


def batch(batch_size: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, 32), dtype=np.float32)
    return x, rng.integers(0, 10, batch_size)


def make() -> ModelSpec:
    return ModelSpec(framework="tf", build=build, make_batch=batch)
