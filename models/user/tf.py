"""A user's TensorFlow model (a ``tf.Module`` or Keras model called as ``model(x)``), as the
TF backends build a zoo model (models/<name>/tf.py), plus its reference: float64 for a
Keras model (a float64 copy with the same weights), float32 eager for a plain tf.Module
(its variables' dtypes are its own)."""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from models.user import UserConfig, UserModelError, one_line

FLOAT64 = "tf float64 eager: a float64 copy of the Keras model, same weights and batch"
FLOAT32 = "tf float32 eager, same weights and batch (a float64 copy failed: {why})"


def _is_keras(model) -> bool:
    import keras

    return isinstance(model, keras.Layer)


class UserTfModel:
    """What the TF backends call on a model: the user's model, float32 only."""

    def __init__(self, model):
        self.model = model

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        found = list(self.model.trainable_variables)
        # Keras 3 wraps each tf.Variable; the backends' Adam assigns to the tf.Variable.
        return [v.value if _is_keras(self.model) else v for v in found]

    def cast_variables(self, dtype: tf.DType) -> None:
        raise UserModelError("a user's TensorFlow model runs in float32 (and mixed precisions)")

    @contextlib.contextmanager
    def compute_view(self, dtype: tf.DType):
        if dtype != tf.float32:
            raise UserModelError(
                f"a user's TensorFlow model computes in the dtypes it was built with, not {dtype}"
            )
        yield

    def __call__(self, x, training: bool = False, lengths=None):
        if _is_keras(self.model):
            return self.model(x, training=training)
        return self.model(x)


def seeded_build(cfg: UserConfig, seed: int):
    tf.random.set_seed(seed)
    model = cfg.spec.build(seed)
    if not (isinstance(model, tf.Module) or _is_keras(model)):
        raise UserModelError(
            f"{cfg.source}: build({seed}) returned {type(model).__name__}; expected a "
            "tf.Module or a Keras model (framework 'tf')"
        )
    return model


def build(cfg: UserConfig, params: dict[str, np.ndarray]) -> UserTfModel:
    return UserTfModel(seeded_build(cfg, int(params["seed"])))


def export(cfg: UserConfig, wrapped: UserTfModel) -> dict[str, np.ndarray]:
    return {f"{i}:{v.name}": np.asarray(v.numpy()) for i, v in enumerate(wrapped.model.variables)}


def default_loss(logits, targets):
    """Mean cross-entropy, classes on the last axis."""
    flat = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
    labels = tf.reshape(tf.cast(targets, tf.int64), [-1])
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, flat))


def training_loss(cfg: UserConfig):
    own = cfg.spec.loss or default_loss

    def loss(logits, targets, lengths=None):
        return own(logits, targets)

    return loss


def output(cfg: UserConfig, model, x, y, mode: str) -> np.ndarray:
    logits = UserTfModel(model)(tf.constant(x), training=mode == "train")
    out = logits if mode == "infer" else training_loss(cfg)(logits, tf.constant(y))
    return np.asarray(out.numpy())


def reference(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[np.ndarray, str]:
    x, y = batch
    model = seeded_build(cfg, seed)
    model(tf.constant(x))  # a Keras model creates its weights on the first call
    try:
        if not _is_keras(model):
            raise TypeError("a tf.Module's variables keep the dtype they were made with")
        import keras

        weights = model.get_weights()
        previous = keras.config.floatx(), keras.config.dtype_policy()
        keras.config.set_floatx("float64")
        keras.config.set_dtype_policy("float64")
        try:
            wide = seeded_build(cfg, seed)
            x64 = x.astype(np.float64) if x.dtype.kind == "f" else x
            wide(tf.constant(x64))
            wide.set_weights([w.astype(np.float64) for w in weights])
            out = output(cfg, wide, x64, y, mode)
        finally:
            keras.config.set_floatx(previous[0])
            keras.config.set_dtype_policy(previous[1])
        if out.dtype != np.float64:
            raise TypeError(f"the float64 copy's output is {out.dtype}")
        return out, FLOAT64
    except Exception as exc:
        fallback = output(cfg, model, x, y, mode).astype(np.float32)
        return fallback, FLOAT32.format(why=one_line(exc))


COUNTER = "tf.compat.v1.profiler float_operation of the tf.function graph"


def graph_flops(step, batch) -> int:
    """FLOPs of ``step(x, y)`` traced as a tf.function, as TensorFlow's graph profiler
    counts them (the ops with a registered FLOP count: matmuls, convolutions, elementwise)."""
    specs = [tf.TensorSpec(a.shape, tf.as_dtype(a.dtype)) for a in batch]
    graph = tf.function(step).get_concrete_function(*specs).graph
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    info = tf.compat.v1.profiler.profile(
        graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options
    )
    return int(info.total_float_ops)


def count_flops(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[int | None, str]:
    """FLOPs of one step: the forward pass, and for training its gradient too."""
    wrapped = UserTfModel(seeded_build(cfg, seed))
    wrapped(tf.constant(batch[0]))  # a Keras model creates its weights on the first call
    loss = training_loss(cfg)

    def step(x, y):
        if mode == "infer":
            return wrapped(x)
        with tf.GradientTape() as tape:
            value = loss(wrapped(x, training=True), y)
        return tape.gradient(value, wrapped.model.trainable_variables)

    what = "forward" if mode == "infer" else "forward and backward"
    return graph_flops(step, batch), f"{COUNTER} ({what})"
