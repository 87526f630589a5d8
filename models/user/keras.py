"""A user's Keras 3 model (framework ``keras``), as the Keras backends build it, plus its
float64 eager reference and its FLOP count, on whichever Keras backend this process runs
(KERAS_BACKEND, set before Keras is imported).

The weights: Keras's random initialisers draw different numbers on JAX, TensorFlow and
PyTorch from one seed, so the same model would hold different weights on each backend.
graphbench draws them itself from a NumPy generator seeded with the cell's seed
(``canonical_weights``): a weight whose initial values are all equal (zeros, ones: biases,
norms' scales, running statistics) is kept; any other is drawn uniformly within Glorot's
limit for its shape (Keras's default kernel initialiser), or within +-0.05 for a vector
(Keras's RandomUniform default). Every backend then runs the same numbers.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from models.user import UserConfig, UserModelError, checked_batch, one_line

FLOAT64 = "keras float64 eager on {backend}: a float64 copy, same weights and batch"
# A float64 copy whose output is float32 to the last bit: some layer computed in float32
# (Keras's LayerNormalization on torch does), so the reference is a float32 one.
PARTLY = (
    "keras float32 eager on {backend}: a float64 copy whose output is exactly float32 "
    "(a layer of it computes in float32), same weights and batch"
)
FLOAT32 = "keras float32 eager on {backend}, same weights and batch (float64 failed: {why})"


def _backend() -> str:
    return keras.backend.backend()


def _built(cfg: UserConfig, seed: int):
    """The user's model, its weights created (a subclassed model makes them on first call)."""
    keras.utils.set_random_seed(seed)
    model = cfg.spec.build(seed)
    if not isinstance(model, keras.Model):
        raise UserModelError(
            f"{cfg.source}: build({seed}) returned {type(model).__name__}; expected a "
            "keras.Model (framework 'keras')"
        )
    if not model.built or not model.weights:
        x, _ = checked_batch(cfg.spec, cfg.source, 1, seed)
        model(x)
    return model


def _drawn(value: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if value.size == 0 or np.all(value == value.flat[0]):
        return value  # a constant initialiser: the same on every backend
    if value.ndim >= 2:
        receptive = math.prod(value.shape[:-2])
        fan_in, fan_out = value.shape[-2] * receptive, value.shape[-1] * receptive
        limit = math.sqrt(6.0 / (fan_in + fan_out))
    else:
        limit = 0.05
    return rng.uniform(-limit, limit, value.shape).astype(value.dtype)


def canonical_weights(model, seed: int) -> list[np.ndarray]:
    """The model's weights drawn from NumPy with ``seed`` (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    return [_drawn(np.asarray(w), rng) for w in model.get_weights()]


def seeded_build(cfg: UserConfig, seed: int):
    model = _built(cfg, seed)
    model.set_weights(canonical_weights(model, seed))
    return model


def build(cfg: UserConfig, params: dict[str, np.ndarray]):
    return seeded_build(cfg, int(params["seed"]))


def export(cfg: UserConfig, model) -> dict[str, np.ndarray]:
    # By position and own name: a layer's path carries a counter that differs per build.
    return {f"{i}:{w.name}": np.asarray(w.numpy()) for i, w in enumerate(model.weights)}


def default_loss(logits, targets):
    """Mean cross-entropy, classes on the last axis, in keras.ops (any Keras backend) and in
    the logits' dtype (Keras's own sparse cross-entropy computes in float32 on JAX, which
    would make a float64 reference's loss a float32 one)."""
    ops = keras.ops
    log_p = ops.log_softmax(logits, axis=-1)
    index = ops.expand_dims(ops.cast(targets, "int32"), -1)
    return -ops.mean(ops.take_along_axis(log_p, index, axis=-1))


def keras_loss(cfg: UserConfig):
    """The loss ``model.compile`` gets: Keras calls it as ``loss(y_true, y_pred)``."""
    own = cfg.spec.loss or default_loss

    def loss(y_true, y_pred):
        return own(y_pred, y_true)

    return loss


def output(cfg: UserConfig, model, x, y, mode: str) -> np.ndarray:
    """What parity compares: the logits (infer), or the loss before the first update."""
    logits = model(keras.ops.convert_to_tensor(x), training=mode == "train")
    out = logits if mode == "infer" else keras_loss(cfg)(keras.ops.convert_to_tensor(y), logits)
    return np.asarray(keras.ops.convert_to_numpy(out))


def reference(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[np.ndarray, str]:
    x, y = batch
    backend = _backend()
    weights = canonical_weights(_built(cfg, seed), seed)
    try:
        if backend == "jax":  # JAX keeps float64 only with x64 on
            import jax

            jax.config.update("jax_enable_x64", True)
        previous = keras.config.floatx(), keras.config.dtype_policy()
        keras.config.set_floatx("float64")
        keras.config.set_dtype_policy("float64")
        try:
            wide = _built(cfg, seed)
            wide.set_weights([w.astype(np.float64) if w.dtype.kind == "f" else w for w in weights])
            x64 = x.astype(np.float64) if x.dtype.kind == "f" else x
            out = output(cfg, wide, x64, y, mode)
        finally:
            keras.config.set_floatx(previous[0])
            keras.config.set_dtype_policy(previous[1])
        if out.dtype != np.float64:
            raise TypeError(f"the float64 copy's output is {out.dtype}")
        if np.array_equal(out, out.astype(np.float32).astype(np.float64)):
            return out, PARTLY.format(backend=backend)
        return out, FLOAT64.format(backend=backend)
    except Exception as exc:  # e.g. a layer without a float64 kernel
        model = seeded_build(cfg, seed)
        fallback = output(cfg, model, x, y, mode).astype(np.float32)
        return fallback, FLOAT32.format(backend=backend, why=one_line(exc))


def count_flops(cfg: UserConfig, seed: int, batch, mode: str) -> tuple[int | None, str]:
    """FLOPs of one step: XLA's cost analysis of the jitted step on JAX, PyTorch's
    FlopCounterMode on torch, TensorFlow's graph profiler on TensorFlow."""
    backend = _backend()
    model = seeded_build(cfg, seed)
    x, y = batch
    loss = keras_loss(cfg)
    if backend == "jax":
        import jax

        from models.user import jax as user_jax

        trainable = [v.value for v in model.trainable_variables]
        other = [v.value for v in model.non_trainable_variables]

        def forward(t, x):
            logits, _ = model.stateless_call(t, other, x, training=mode == "train")
            return logits

        def step(t, x, y):
            if mode == "infer":
                return forward(t, x)
            return jax.value_and_grad(lambda q: loss(y, forward(q, x)))(t)

        compiled = jax.jit(step).lower(trainable, x, y).compile()
        return user_jax.flops_of(compiled), user_jax.COUNTER
    if backend == "torch":
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from models.user import torch as user_torch

        tx = keras.ops.convert_to_tensor(x)
        counter = FlopCounterMode(display=False)
        with counter:
            if mode == "infer":
                with torch.no_grad():
                    model(tx)
            else:
                loss(torch.as_tensor(y), model(tx, training=True)).backward()
        what = "forward" if mode == "infer" else "forward and backward"
        return int(counter.get_total_flops()), f"{user_torch.COUNTER} ({what})"
    import tensorflow as tf

    from models.user import tf as user_tf

    def tf_step(x, y):
        if mode == "infer":
            return model(x)
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        return tape.gradient(value, model.trainable_variables)

    what = "forward" if mode == "infer" else "forward and backward"
    return user_tf.graph_flops(tf_step, batch), f"{user_tf.COUNTER} ({what})"
