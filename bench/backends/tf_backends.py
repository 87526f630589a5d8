"""TensorFlow backends: eager, tf.function (graph) and tf.function(jit_compile=True) (XLA).

Adam is written out here rather than taken from Keras: Keras adds epsilon to sqrt(v)
before bias correction, PyTorch and optax after it. Writing the PyTorch/optax form
keeps the three frameworks on one algorithm (the cross-framework test checks it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import models
from bench.backends.base import ADAM, Backend, DeviceMemory, timeit_per_call
from bench.matrix.precision import LOSS_SCALE_FACTOR, LOSS_SCALE_GROWTH_INTERVAL, LOSS_SCALE_INIT
from bench.matrix.precision import get as precision_policy

DTYPES = {"float32": tf.float32, "bfloat16": tf.bfloat16, "float16": tf.float16}


class Adam(tf.Module):
    """torch.optim.Adam's update: p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)."""

    def __init__(self, variables: list[tf.Variable]):
        super().__init__()
        self.variables_ = variables
        self.t = tf.Variable(0.0, trainable=False, name="adam_t")
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

    def apply(self, grads: list[tf.Tensor]) -> None:
        self.t.assign_add(1.0)
        correction1 = 1.0 - tf.pow(ADAM.beta1, self.t)
        correction2 = 1.0 - tf.pow(ADAM.beta2, self.t)
        step_size = ADAM.lr / correction1
        for var, g, m, v in zip(self.variables_, grads, self.m, self.v, strict=True):
            g = tf.convert_to_tensor(g)  # embedding gradients arrive sparse; Adam is dense
            m.assign(ADAM.beta1 * m + (1.0 - ADAM.beta1) * g)
            v.assign(ADAM.beta2 * v + (1.0 - ADAM.beta2) * tf.square(g))
            # In the variable's dtype (bfloat16 weights keep bfloat16 state, as torch's Adam).
            denom = tf.sqrt(v) / tf.cast(tf.sqrt(correction2), v.dtype) + ADAM.eps
            var.assign_sub(tf.cast(step_size, var.dtype) * m / denom)


class LossScale(tf.Module):
    """Dynamic loss scaling for float16 (bench.matrix.precision's constants): halve and skip the
    step on an overflow, double after LOSS_SCALE_GROWTH_INTERVAL good steps in a row."""

    def __init__(self):
        super().__init__()
        self.scale = tf.Variable(LOSS_SCALE_INIT, trainable=False, dtype=tf.float32)
        self.good_steps = tf.Variable(0, trainable=False, dtype=tf.int32)

    def update(self, finite: tf.Tensor) -> None:
        good = tf.where(finite, self.good_steps + 1, 0)
        grow = good >= LOSS_SCALE_GROWTH_INTERVAL
        scale = tf.where(
            finite,
            tf.where(grow, self.scale * LOSS_SCALE_FACTOR, self.scale),
            self.scale / LOSS_SCALE_FACTOR,
        )
        self.scale.assign(scale)
        self.good_steps.assign(tf.where(grow, 0, good))


def cross_entropy(logits: tf.Tensor, targets: tf.Tensor, lengths: tf.Tensor | None = None):
    """Mean cross-entropy over every position; with ``lengths``, over the unpadded ones."""
    flat = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
    per_position = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.reshape(targets, [-1]), logits=flat
    )
    if lengths is None or targets.shape.rank < 2:
        return tf.reduce_mean(per_position)
    valid = tf.sequence_mask(lengths, maxlen=tf.shape(targets)[1], dtype=per_position.dtype)
    return tf.reduce_sum(per_position * tf.reshape(valid, [-1])) / tf.reduce_sum(valid)


def call(model, x, training: bool, lengths):
    """The model, told the true lengths only when there are some (padded sequences)."""
    if lengths is None:
        return model(x, training=training)
    return model(x, training=training, lengths=lengths)


class TfBackend(Backend):
    framework = "tf"
    device_memory_counter = "tf.config.experimental.get_memory_info('GPU:0')['peak']"
    peak_reset = "tf.config.experimental.reset_memory_stats('GPU:0')"
    in_use_counter = "tf.config.experimental.get_memory_info('GPU:0')['current']"

    @classmethod
    def configure(cls, device: str, threads: int, precision: str) -> dict[str, Any]:
        # These settings are fixed once TensorFlow's runtime starts: a worker calls this
        # first, so they take; in a test process that already ran TF they raise and
        # whatever is in effect is recorded instead.
        with contextlib.suppress(RuntimeError):
            if device == "cpu":
                tf.config.set_visible_devices([], "GPU")
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            # Grow GPU memory on demand (TensorFlow takes it all by default): its allocator's
            # peak is then use, not reservation.
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        # float32 means float32: TF32 only where the tf32 policy asks for it.
        tf32 = precision_policy(precision).tf32
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
        gpus = tf.config.list_physical_devices("GPU") if device != "cpu" else []
        # tf.function keeps nothing between processes; XLA's persistent cache directory
        # comes from the runner's environment (TF_XLA_FLAGS).
        return {
            "tf.config.threading.intra_op_parallelism_threads": (
                tf.config.threading.get_intra_op_parallelism_threads()
            ),
            "tf.config.threading.inter_op_parallelism_threads": (
                tf.config.threading.get_inter_op_parallelism_threads()
            ),
            "tensor_float_32_execution": tf.config.experimental.tensor_float_32_execution_enabled(),
            "TF_XLA_FLAGS": os.environ.get("TF_XLA_FLAGS"),
            "precision": precision,
            "memory_growth": [tf.config.experimental.get_memory_growth(g) for g in gpus],
            # cuDNN autotuning, TensorFlow's default (1): the policy of all three frameworks.
            "TF_CUDNN_USE_AUTOTUNE": os.environ.get("TF_CUDNN_USE_AUTOTUNE", "1 (default)"),
        }

    @classmethod
    def framework_version(cls) -> str:
        return tf.__version__

    referee = "timeit + Tensor.numpy()"

    @classmethod
    def standard_timer(cls, step, inputs, min_time_s: float) -> list[float]:
        # How a TensorFlow user times a step: a timeit loop that reads the output back
        # (``.numpy()`` waits for it), not graphbench's sync of every device.
        return timeit_per_call(lambda: step(inputs).numpy(), min_time_s)

    @classmethod
    def peak_matmul(cls, device, n, dtype, tf32):
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
        where = "/GPU:0" if device == "cuda" else "/CPU:0"
        with tf.device(where):
            a, b = (tf.cast(tf.random.normal((n, n)), DTYPES[dtype]) for _ in range(2))

        def run(calls: int) -> None:
            with tf.device(where):
                for _ in range(calls):
                    tf.linalg.matmul(a, b)
            tf.test.experimental.sync_devices()

        return run, f"tf.linalg.matmul (eager), tensor_float_32_execution={tf32}"

    @classmethod
    def peak_copy(cls, device, nbytes):
        where = "/GPU:0" if device == "cuda" else "/CPU:0"
        with tf.device(where):
            x = tf.ones(nbytes // 4, tf.float32)

        def run(calls: int) -> None:
            with tf.device(where):
                for _ in range(calls):
                    x + 1.0  # reads and writes as many bytes as a copy
            tf.test.experimental.sync_devices()

        return run, "tf x + 1 (eager, float32)"

    @classmethod
    def unavailable_reason(cls, device: str) -> str | None:
        if device == "cuda" and not tf.config.list_physical_devices("GPU"):
            return f"this TensorFlow build ({tf.__version__}) sees no GPU"
        return None

    @classmethod
    def cuda_build(cls) -> str | None:
        info = tf.sysconfig.get_build_info()
        return info.get("cuda_version") if info.get("is_cuda_build") else None

    @classmethod
    def is_out_of_memory(cls, exc: BaseException) -> bool:
        return isinstance(exc, (MemoryError, tf.errors.ResourceExhaustedError))

    def build(
        self, model, cfg, params, mode, device, strategy="exact", precision="float32"
    ) -> None:
        impl = self.implementation(model, "tf")
        self.impl, self.cfg, self.mode, self.strategy = impl, cfg, mode, strategy
        self.device_name = "/CPU:0" if device == "cpu" else "/GPU:0"
        self.prepare_input = models.prepare_input(impl)
        self.policy = policy = precision_policy(precision)
        compute = DTYPES[policy.compute]
        with tf.device(self.device_name):
            self.model = impl.build(cfg, params)
            if policy.storage != "float32":
                self.model.cast_variables(DTYPES[policy.storage])  # bf16: weights stored so

            def forward(x, training: bool, lengths):
                """The model in the compute dtype. Mixed precision: the float32 weights are read
                through casts inside the step (gradients flow back to them), Keras's mixed policy
                reaching no raw op; the logits come back in float32."""
                x = tf.cast(x, compute) if x.dtype.is_floating else x
                with self.model.compute_view(compute):
                    logits = call(self.model, x, training, lengths)
                return tf.cast(logits, tf.float32)

            if mode == "infer":

                def infer_step(x, lengths=None):
                    return forward(x, False, lengths)

                self._step = self.wrap(infer_step)
                return

            variables = list(self.model.trainable_variables)
            self.optimizer = Adam(variables)
            self.loss_scale = LossScale() if policy.loss_scaling else None
            # A user's model may bring its own loss (models.user.tf); the zoo's: cross_entropy.
            loss_of = getattr(impl, "training_loss", None)
            objective = cross_entropy if loss_of is None else loss_of(cfg)

            def train_step(x, y, lengths=None):
                with tf.GradientTape() as tape:
                    loss = objective(forward(x, True, lengths), y, lengths)  # float32
                    scaled = loss * self.loss_scale.scale if self.loss_scale else loss
                grads = tape.gradient(scaled, variables)
                if self.loss_scale is None:
                    self.optimizer.apply(grads)
                    return loss
                grads = [tf.convert_to_tensor(g) for g in grads]
                grads = [g / tf.cast(self.loss_scale.scale, g.dtype) for g in grads]
                finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
                if finite:  # a tf.cond under tf.function: skip the step that overflowed
                    self.optimizer.apply(grads)
                self.loss_scale.update(finite)
                return loss

            self._step = self.wrap(train_step)

    def wrap(self, fn):
        return fn

    def put(self, batch):
        x, *rest = batch
        arrays = (np.ascontiguousarray(self.prepare_input(x)), *rest)
        storage = DTYPES[self.policy.storage]
        with tf.device(self.device_name):
            # tf.identity moves the host constant onto the device before timing starts.
            tensors = [tf.identity(tf.constant(a)) for a in arrays]
            if tensors[0].dtype.is_floating:
                tensors[0] = tf.identity(tf.cast(tensors[0], storage))  # token ids stay ints
            return tuple(tensors)

    def step(self, inputs):
        x, y, *lengths = inputs
        with tf.device(self.device_name):
            if self.mode == "infer":
                return self._step(x, *lengths)
            return self._step(x, y, *lengths)

    def sync(self, out) -> None:
        # Waits for every op queued on every device (variable updates included).
        tf.test.experimental.sync_devices()

    def to_numpy(self, out) -> np.ndarray:
        return np.asarray(out.numpy(), dtype=np.float32)

    def export_params(self) -> dict[str, np.ndarray]:
        return self.impl.export(self.cfg, self.model)

    def device_memory(self) -> DeviceMemory | None:
        if self.device_name.startswith("/CPU"):
            return None
        info = tf.config.experimental.get_memory_info("GPU:0")
        # TensorFlow reports no reservation of its BFC allocator's pool.
        return DeviceMemory(int(info["peak"]), int(info["current"]), None)

    def reset_device_peak(self) -> None:
        if not self.device_name.startswith("/CPU"):
            tf.config.experimental.reset_memory_stats("GPU:0")

    def trace(self, run_steps, out_dir: Path) -> list[str]:
        """tf.profiler: the XSpace for TensorBoard, and its trace viewer's Chrome-trace JSON
        (converted by the profiler's own tool, as TensorBoard does)."""
        from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

        logdir = out_dir / "tf"
        tf.profiler.experimental.start(str(logdir))
        try:
            run_steps()
        finally:
            tf.profiler.experimental.stop()
        xplane = sorted(logdir.rglob("*.xplane.pb"))[-1]
        data, ok = plugin.xspace_to_tools_data([str(xplane)], "trace_viewer@")
        if not ok:
            raise RuntimeError(f"TensorFlow's profiler could not convert {xplane.name}")
        (out_dir / "trace.json").write_bytes(data if isinstance(data, bytes) else data.encode())
        xplane.rename(out_dir / "trace.xplane.pb")
        shutil.rmtree(logdir, ignore_errors=True)
        return ["trace.json", "trace.xplane.pb"]


class TfEager(TfBackend):
    name = "tf-eager"


class TfGraph(TfBackend):
    name = "tf-graph"
    jit_compile = False

    def wrap(self, fn):
        # reduce_retracing: after a new shape, trace once more with unknown dimensions
        # rather than once per shape (the "dynamic" strategy).
        self._function = tf.function(
            fn, jit_compile=self.jit_compile, reduce_retracing=self.strategy == "dynamic"
        )
        return self._function

    def compilations(self) -> int | None:
        return int(self._function.experimental_get_tracing_count())

    def diagnose(self):
        from bench.backends.tf_capture import FunctionDiagnosis

        def args_of(inputs):
            x, y, *lengths = inputs
            return (x, *lengths) if self.mode == "infer" else (x, y, *lengths)

        return FunctionDiagnosis(self._function, args_of, self.device_name)


class TfXla(TfGraph):
    name = "tf-xla"
    jit_compile = True
