"""JAX backends: op by op (jit disabled) and jax.jit of the whole step.

The train step is one pure function (loss, grad, optax Adam update); jax-jit compiles
it with the params, model state and optimizer state donated, so XLA updates them in
place, as a real training loop would.
"""

from __future__ import annotations

import functools
import os
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import models
from bench.backends.base import ADAM, Backend, DeviceMemory, timeit_per_call
from bench.matrix.precision import LOSS_SCALE_FACTOR, LOSS_SCALE_GROWTH_INTERVAL, LOSS_SCALE_INIT
from bench.matrix.precision import get as precision_policy


def cross_entropy(logits: jax.Array, targets: jax.Array, lengths: jax.Array | None = None):
    """Mean cross-entropy over every position; with ``lengths``, over the unpadded ones."""
    flat = logits.reshape(-1, logits.shape[-1])
    per_position = optax.softmax_cross_entropy_with_integer_labels(flat, targets.reshape(-1))
    if lengths is None or targets.ndim < 2:
        return per_position.mean()
    positions = jnp.arange(targets.shape[1])
    valid = (positions[None, :] < lengths[:, None]).reshape(-1).astype(per_position.dtype)
    return (per_position * valid).sum() / valid.sum()


def call(apply, params, state, x, train: bool, lengths):
    """The model, told the true lengths only when there are some (padded sequences)."""
    if lengths is None:
        return apply(params, state, x, train)
    return apply(params, state, x, train, lengths)


DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def cast_floats(tree, dtype):
    """Every floating-point array of a pytree in ``dtype`` (integers, e.g. token ids, kept)."""
    return jax.tree.map(
        lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
    )


def initial_loss_scale() -> dict:
    return {"scale": jnp.float32(LOSS_SCALE_INIT), "good_steps": jnp.int32(0)}


def next_loss_scale(scaling: dict, finite) -> dict:
    """Halve on an overflow; double after LOSS_SCALE_GROWTH_INTERVAL good steps in a row."""
    good = jnp.where(finite, scaling["good_steps"] + 1, 0)
    grow = good >= LOSS_SCALE_GROWTH_INTERVAL
    scale = jnp.where(
        finite,
        jnp.where(grow, scaling["scale"] * LOSS_SCALE_FACTOR, scaling["scale"]),
        scaling["scale"] / LOSS_SCALE_FACTOR,
    )
    return {"scale": scale, "good_steps": jnp.where(grow, 0, good).astype(jnp.int32)}


class JaxBackend(Backend):
    framework = "jax"
    device_memory_counter = "jax Device.memory_stats()['peak_bytes_in_use']"
    # JAX has no call that resets its peak: peak_reset stays None.
    in_use_counter = "jax Device.memory_stats()['bytes_in_use']"
    reserved_memory_counter = "jax Device.memory_stats()['peak_bytes_reserved']"

    @classmethod
    def configure(cls, device: str, threads: int, precision: str) -> dict[str, Any]:
        # Only the platform asked for is initialised (no GPU probing for a CPU cell).
        jax.config.update("jax_platforms", "cpu" if device == "cpu" else "cuda")
        # No TF32 or bfloat16 passes in float32 matmuls, but where the tf32 policy asks.
        matmul = "tensorfloat32" if precision_policy(precision).tf32 else "highest"
        jax.config.update("jax_default_matmul_precision", matmul)
        # JAX has no thread-count API: XLA:CPU sizes its pool from the schedulable
        # CPUs, which the worker has already limited with sched_setaffinity.
        # The persistent compilation cache is configured by the runner's environment
        # (JAX_COMPILATION_CACHE_DIR): empty for a cold start.
        return {
            "xla_cpu_threads": "schedulable CPUs (process affinity)",
            "jax_default_matmul_precision": matmul,
            "precision": precision,
            "jax_compilation_cache_dir": jax.config.values.get("jax_compilation_cache_dir"),
            # GPU memory on demand, not 75% reserved at start (the runner's environment).
            "XLA_PYTHON_CLIENT_PREALLOCATE": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
            # XLA autotunes GEMMs and convolutions on GPU by default: the policy of all three.
            "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
        }

    @classmethod
    def framework_version(cls) -> str:
        return (
            f"jax {jax.__version__}, jaxlib {metadata.version('jaxlib')}, optax {optax.__version__}"
        )

    referee = "timeit + jax.block_until_ready"

    @classmethod
    def standard_timer(cls, step, inputs, min_time_s: float) -> list[float]:
        # JAX's documented way to time: a timeit loop whose statement blocks on the result.
        return timeit_per_call(lambda: jax.block_until_ready(step(inputs)), min_time_s)

    @classmethod
    def peak_matmul(cls, device, n, dtype, tf32):
        key = jax.random.key(0)
        a, b = (jax.random.normal(k, (n, n), DTYPES[dtype]) for k in jax.random.split(key))
        with jax.default_matmul_precision("tensorfloat32" if tf32 else "highest"):
            matmul = jax.jit(jnp.matmul).lower(a, b).compile()

        def run(calls: int) -> None:
            jax.block_until_ready([matmul(a, b) for _ in range(calls)])

        return (
            run,
            f"jax.jit(jnp.matmul), matmul precision {'tensorfloat32' if tf32 else 'highest'}",
        )

    @classmethod
    def peak_copy(cls, device, nbytes):
        # XLA may alias a plain copy away: x + 1 reads and writes as many bytes.
        x = jnp.ones(nbytes // 4, jnp.float32)
        plus_one = jax.jit(lambda v: v + 1.0).lower(x).compile()

        def run(calls: int) -> None:
            jax.block_until_ready([plus_one(x) for _ in range(calls)])

        return run, "jax.jit(x + 1) (float32)"

    @classmethod
    def unavailable_reason(cls, device: str) -> str | None:
        platform = "cpu" if device == "cpu" else "gpu"
        try:
            jax.devices(platform)
        except RuntimeError as exc:
            return f"JAX has no {platform} backend here ({str(exc).splitlines()[0]})"
        return None

    @classmethod
    def cuda_build(cls) -> str | None:
        # The CUDA plugin is a distribution of its own: jax-cuda12-plugin, jax-cuda13-plugin.
        for major in (13, 12):
            try:
                metadata.version(f"jax-cuda{major}-plugin")
            except metadata.PackageNotFoundError:
                continue
            try:
                return ".".join(metadata.version("nvidia-cuda-runtime").split(".")[:2])
            except metadata.PackageNotFoundError:
                return str(major)
        return None

    @classmethod
    def is_out_of_memory(cls, exc: BaseException) -> bool:
        return isinstance(exc, MemoryError) or "RESOURCE_EXHAUSTED" in str(exc)

    def build(
        self, model, cfg, params, mode, device, strategy="exact", precision="float32"
    ) -> None:
        # jax.jit has no dynamic-shape mode: the runner never asks for strategy "dynamic".
        impl = self.implementation(model, "jax")
        self.impl, self.cfg, self.mode = impl, cfg, mode
        self.device = jax.devices("cpu" if device == "cpu" else "gpu")[0]
        self.prepare_input = models.prepare_input(impl)
        self.policy = policy = precision_policy(precision)
        storage, compute = DTYPES[policy.storage], DTYPES[policy.compute]
        model_params, model_state = impl.build(cfg, params)
        self.params = jax.device_put(cast_floats(model_params, storage), self.device)
        self.state = jax.device_put(cast_floats(model_state, storage), self.device)
        apply = functools.partial(impl.apply, cfg)

        def forward(params, state, x, train: bool, lengths):
            """The model in the compute dtype: weights and float inputs cast inside the step
            (mixed precision: the gradient flows back to the stored weights); logits and the
            new state back in float32 and the storage dtype."""
            logits, new_state = call(
                apply,
                cast_floats(params, compute),
                cast_floats(state, compute),
                cast_floats(x, compute),
                train,
                lengths,
            )
            return logits, cast_floats(new_state, storage)

        if mode == "infer":

            def infer_step(params, state, x, lengths=None):
                return forward(params, state, x, False, lengths)[0]

            self._infer = self.wrap(infer_step, donate=())
            return

        optimizer = optax.adam(learning_rate=ADAM.lr, b1=ADAM.beta1, b2=ADAM.beta2, eps=ADAM.eps)
        self.opt_state = jax.device_put(optimizer.init(self.params), self.device)

        # A user's model may bring its own loss (models.user.jax); the zoo's is cross_entropy.
        loss_of = getattr(impl, "training_loss", None)
        objective = cross_entropy if loss_of is None else loss_of(cfg)

        def loss_and_grads(params, state, x, y, lengths, scale):
            def loss_fn(p):
                logits, new_state = forward(p, state, x, True, lengths)
                loss = objective(logits.astype(jnp.float32), y, lengths)  # float32, always
                return loss * scale, (loss, new_state)

            (_, (loss, new_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            return loss, new_state, grads

        if not policy.loss_scaling:

            def train_step(params, state, opt_state, x, y, lengths=None):
                loss, new_state, grads = loss_and_grads(params, state, x, y, lengths, 1.0)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return optax.apply_updates(params, updates), new_state, opt_state, loss

            self._train = self.wrap(train_step, donate=(0, 1, 2))
            return

        # float16: dynamic loss scaling, written out (bench.matrix.precision's constants): scale
        # the loss up, unscale the gradients, skip a step whose gradients overflowed.
        self.opt_state = (self.opt_state, jax.device_put(initial_loss_scale(), self.device))

        def scaled_train_step(params, state, opt_state, x, y, lengths=None):
            adam_state, scaling = opt_state
            loss, new_state, grads = loss_and_grads(params, state, x, y, lengths, scaling["scale"])
            grads = jax.tree.map(lambda g: g / scaling["scale"].astype(g.dtype), grads)
            finite = jnp.all(
                jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
            )
            updates, new_adam = optimizer.update(grads, adam_state, params)
            keep = functools.partial(jax.tree.map, lambda new, old: jnp.where(finite, new, old))
            params = keep(optax.apply_updates(params, updates), params)
            adam_state = keep(new_adam, adam_state)
            state = keep(new_state, state)
            return params, state, (adam_state, next_loss_scale(scaling, finite)), loss

        self._train = self.wrap(scaled_train_step, donate=(0, 1, 2))

    def wrap(self, fn, donate: tuple[int, ...]):
        return fn

    def put(self, batch):
        x, *rest = batch
        x = np.ascontiguousarray(self.prepare_input(x))
        if x.dtype.kind == "f":
            x = x.astype(DTYPES[self.policy.storage])  # token ids stay integers
        return tuple(jax.device_put(a, self.device) for a in (x, *rest))

    def step(self, inputs):
        x, y, *lengths = inputs
        if self.mode == "infer":
            return self._infer(self.params, self.state, x, *lengths)
        self.params, self.state, self.opt_state, loss = self._train(
            self.params, self.state, self.opt_state, x, y, *lengths
        )
        return loss

    def sync(self, out) -> None:
        # JAX dispatches asynchronously: wait for the output and, after a train step,
        # for the updated weights and optimizer state (and loss scale) too.
        if self.mode == "infer":
            jax.block_until_ready(out)
        else:
            jax.block_until_ready((out, self.params, self.state, self.opt_state))

    def to_numpy(self, out) -> np.ndarray:
        return np.asarray(out, dtype=np.float32)

    def export_params(self) -> dict[str, np.ndarray]:
        return self.impl.export(self.cfg, self.params, self.state)

    def device_memory(self) -> DeviceMemory | None:
        if self.device.platform == "cpu":
            return None
        stats = self.device.memory_stats() or {}

        def read(name: str) -> int | None:
            return None if stats.get(name) is None else int(stats[name])

        return DeviceMemory(
            read("peak_bytes_in_use"), read("bytes_in_use"), read("peak_bytes_reserved")
        )

    def trace(self, run_steps, out_dir: Path) -> list[str]:
        """jax.profiler.trace: a Perfetto (Chrome-trace) JSON and the XSpace for TensorBoard."""
        logdir = out_dir / "jax"
        with jax.profiler.trace(str(logdir), create_perfetto_trace=True):
            run_steps()
        names = []
        for pattern, name in (
            ("perfetto_trace.json.gz", "trace.json.gz"),
            ("*.xplane.pb", "trace.xplane.pb"),
        ):
            found = sorted(logdir.rglob(pattern))
            if found:
                found[-1].rename(out_dir / name)
                names.append(name)
        shutil.rmtree(logdir, ignore_errors=True)
        return names


class JaxEager(JaxBackend):
    name = "jax-eager"

    def step(self, inputs):
        # Every jnp call dispatches one op; optax's internal jits are disabled too.
        with jax.disable_jit():
            return super().step(inputs)


class JaxJit(JaxBackend):
    name = "jax-jit"

    def wrap(self, fn, donate: tuple[int, ...]):
        self._jitted = jax.jit(fn, donate_argnums=donate)
        self._step_name = fn.__name__
        return self._jitted

    def diagnose(self):
        from bench.backends.jax_capture import JitDiagnosis

        return JitDiagnosis(self._jitted, self._step_name)

    def compilations(self) -> int | None:
        return int(self._jitted._cache_size())  # type: ignore[attr-defined]  # one entry per traced-and-compiled signature
